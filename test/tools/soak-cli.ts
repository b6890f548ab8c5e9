/**
 * `npm run soak -- --seconds N`: mixed I/O at full speed through the driver
 * (random reads and writes, stat, open/close, fsync) for N seconds; prints
 * ops, errors and RSS every second and fails if RSS keeps growing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { io } from '../../src/driver/index.js';

const i = process.argv.indexOf('--seconds');
const seconds = i >= 0 ? Number(process.argv[i + 1]) : 10;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uring-soak-'));
const file = path.join(dir, 'data');
fs.writeFileSync(file, Buffer.alloc(16 << 20, 1));
const ring = io();
const fd = await ring.open(file, fs.constants.O_RDWR);
const stx = new Uint8Array(256);
let ops = 0;
let errors = 0;
const deadline = Date.now() + seconds * 1000;
const rss: number[] = [];

async function worker(id: number): Promise<void> {
  const buf = Buffer.alloc(4096, id);
  let n = id;
  while (Date.now() < deadline) {
    n = (n * 1103515245 + 12345) >>> 0;
    const pos = (n % 4096) * 4096;
    try {
      switch (n % 16) {
        case 0: await ring.statx(file, stx); break;
        case 1: await ring.close(await ring.open(file, 0)); break;
        case 2: await ring.fsync(fd, true); break;
        case 3: case 4: case 5: await ring.write(fd, buf, pos); break;
        default: await ring.read(fd, buf, pos);
      }
      ops++;
    } catch {
      errors++;
    }
  }
}

const timer = setInterval(() => {
  const m = process.memoryUsage().rss;
  rss.push(m);
  console.log(`t=${rss.length}s ops=${ops} errors=${errors} rss=${(m / 1048576).toFixed(1)} MiB`);
}, 1000);
await Promise.all(Array.from({ length: 64 }, (_, id) => worker(id)));
clearInterval(timer);
await ring.close(fd);
await ring.driver.close();
fs.rmSync(dir, { recursive: true, force: true });
const half = rss.slice(Math.floor(rss.length / 2));
const growth = half.length > 1 ? (half[half.length - 1] - half[0]) / 1048576 : 0;
console.log(`soak: ${ops} ops in ${seconds}s (${Math.round(ops / seconds)}/s), ${errors} errors, RSS ${(rss[0] / 1048576).toFixed(1)} → ${(rss[rss.length - 1] / 1048576).toFixed(1)} MiB (second-half growth ${growth.toFixed(1)} MiB)`);
if (errors > 0 || growth > 32) process.exitCode = 1;
