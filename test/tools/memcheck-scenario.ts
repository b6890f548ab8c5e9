/** A small scenario for `npm run memcheck` (valgrind): the raw ring (CQE32, fixed buffers, double exit), the driver, the watcher lifecycle. */
// @ts-nocheck -- a script, typed loosely on purpose
import { queueInit, prepRead, registerBuffers } from '../../src/ring/index.js';
import { native } from '../../src/ring/native.js';
import { io } from '../../src/driver/index.js';
import fs from 'node:fs';
const file = `${process.env.TMPDIR ?? '/tmp'}/uring-memcheck.bin`;
fs.writeFileSync(file, Buffer.alloc(65536, 7));
const ring = queueInit(8, { cqe32: true });
const fd = fs.openSync(file, 'r');
const pool = Buffer.alloc(4096);
registerBuffers(ring, [pool]);
for (let i = 0; i < 200; i++) { const s = ring.getSqe(); prepRead(s, fd, pool, 4096, (i % 16) * 4096); s.userData = i; ring.submitAndWait(1); ring.cqeSeen(ring.peekCqe()); }
ring.queueExit(); ring.queueExit();
const d = io();
const bufs = Array.from({ length: 64 }, () => Buffer.alloc(512));
await Promise.all(bufs.map((b, i) => d.read(fd, b, i * 512)));
const efd = native.eventfd(); const w = native.watch(efd, () => {}); native.unwatch(w); native.unwatch(w); native.close(efd);
await d.driver.close();
console.log('memcheck scenario done');
