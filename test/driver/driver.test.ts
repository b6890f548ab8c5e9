/**
 * The event-loop driver on the real kernel: batching (one io_uring_enter per
 * turn), promise and callback APIs, AbortSignal cancellation, timeouts,
 * linked chains, fixed buffers, GC safety of in-flight buffers, close
 * draining, and the process exiting when idle.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Driver, IO } from '../../src/driver/index.js';
import { native } from '../../src/ring/native.js';
import { distUrl, fifo, runChild, tempDir } from '../helpers.js';

const dir = tempDir();

for (const taskrun of ['coop', 'defer', 'plain'] as const) {
  test(`read/write round trip and completion wake-up (${taskrun})`, async () => {
    const io = new IO(new Driver({ taskrun }));
    const file = path.join(dir, `rw-${taskrun}`);
    const fd = await io.open(file, fs.constants.O_CREAT | fs.constants.O_RDWR, 0o644);
    assert.equal(await io.write(fd, Buffer.from('hello io_uring'), 0), 14);
    const buf = Buffer.alloc(14);
    assert.equal(await io.read(fd, buf, 0), 14);
    assert.equal(buf.toString(), 'hello io_uring');
    // A completion that arrives later wakes the loop through the readiness watcher.
    const p = fifo();
    const pending = io.read(p.r, buf, -1);
    setTimeout(() => fs.writeSync(p.w, 'late'), 20);
    assert.equal(await pending, 4);
    p.close();
    await io.close(fd);
    await io.driver.close();
  });
}

test('ops started in one turn go to the kernel in one io_uring_enter', async () => {
  const io = new IO(new Driver());
  const original = native.enter;
  let enters = 0;
  (native as { enter: typeof native.enter }).enter = (...args) => { enters++; return original(...args); };
  try {
    const results = await Promise.all(Array.from({ length: 64 }, () => io.nop()));
    assert.equal(results.length, 64);
    assert.ok(results.every((r) => r === 0));
    assert.equal(enters, 1, 'one enter for a batch of 64 NOPs, completions reaped without a syscall');
  } finally {
    (native as { enter: typeof native.enter }).enter = original;
  }
  await io.driver.close();
});

test('AbortSignal cancels an in-flight op (AbortError); timeout cancels with ETIMEDOUT', async () => {
  const io = new IO(new Driver());
  const p = fifo();
  const ac = new AbortController();
  const buf = Buffer.alloc(8);
  const pending = io.read(p.r, buf, -1, { signal: ac.signal });
  setTimeout(() => ac.abort(), 10);
  await assert.rejects(pending, { name: 'AbortError', code: 'ABORT_ERR' });
  await assert.rejects(io.read(p.r, buf, -1, { signal: AbortSignal.abort() }), { name: 'AbortError' }, 'an aborted signal rejects before any SQE exists');
  const t0 = Date.now();
  await assert.rejects(io.read(p.r, buf, -1, { timeout: 30 }), { code: 'ETIMEDOUT', syscall: 'read' });
  assert.ok(Date.now() - t0 >= 25);
  assert.equal(io.driver.pending, 0);
  p.close();
  await io.driver.close();
});

test('linked chains: a failing op cancels the rest with ECANCELED', async () => {
  const io = new IO(new Driver());
  const file = path.join(dir, 'chain');
  fs.writeFileSync(file, 'chain-data');
  const fd = fs.openSync(file, 'r');
  const a = Buffer.alloc(5);
  const b = Buffer.alloc(5);
  const ok = await io.link(() => io.read(fd, a, 0), () => io.read(fd, b, 5));
  assert.deepEqual(ok.map((r) => r.status), ['fulfilled', 'fulfilled']);
  assert.equal(a.toString() + b.toString(), 'chain-data');
  const bad = await io.link(() => io.read(1_000_000, a, 0), () => io.nop(), () => io.nop());
  assert.deepEqual(bad.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : r.value)), ['EBADF', 'ECANCELED', 'ECANCELED']);
  fs.closeSync(fd);
  await io.driver.close();
});

test('callback API and fixed buffers: many ops, each completes exactly once', async () => {
  const io = new IO(new Driver({ entries: 64 }));
  const file = path.join(dir, 'cb');
  const data = Buffer.alloc(1 << 20);
  for (let i = 0; i < data.length; i++) data[i] = i & 0xff;
  fs.writeFileSync(file, data);
  const fd = fs.openSync(file, 'r');
  const pool = Buffer.alloc(4096 * 8);
  io.registerBuffers([pool]);
  const counts = new Uint8Array(256);
  let done = 0;
  await new Promise<void>((resolve, reject) => {
    const onRead = (res: number, i: number): void => {
      if (res !== 4096) return reject(new Error(`op ${i}: ${res}`));
      counts[i]++;
      if (++done === 256) resolve();
    };
    for (let i = 0; i < 256; i++) {
      const slot = i % 8;
      io.readFixedInto(fd, pool, slot * 4096, 4096, (i % 256) * 4096, 0, false, onRead, i);
    }
  });
  assert.ok(counts.every((c) => c === 1));
  fs.closeSync(fd);
  await io.driver.close();
});

test('in-flight buffers survive forced GC while the kernel fills them', async () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  const io = new IO(new Driver());
  const p = fifo();
  const results: Promise<number>[] = [];
  for (let i = 0; i < 16; i++) results.push(io.read(p.r, Buffer.alloc(64), -1).catch(() => -1));
  for (let i = 0; i < 20; i++) {
    gc?.();
    await new Promise((r) => setImmediate(r));
  }
  fs.writeSync(p.w, Buffer.alloc(16 * 64, 7));
  const got = await Promise.all(results);
  assert.equal(got.reduce((a, b) => a + b, 0), 16 * 64);
  p.close();
  await io.driver.close();
});

test('close() cancels and drains in-flight ops; their promises reject; later calls fail clearly', async () => {
  const io = new IO(new Driver());
  const p = fifo();
  const inflight = Array.from({ length: 100 }, () => io.read(p.r, Buffer.alloc(8), -1));
  await new Promise((r) => setImmediate(r));
  assert.equal(io.driver.pending, 100);
  await io.driver.close();
  const settled = await Promise.allSettled(inflight);
  assert.ok(settled.every((s) => s.status === 'rejected' && (s.reason as { code: string }).code === 'ECANCELED'));
  assert.equal(io.driver.closed, true);
  await assert.rejects(io.nop(), { code: 'ERR_URING_RING_CLOSED' });
  p.close();
});

test('bad arguments are rejected before any SQE exists', async () => {
  const io = new IO(new Driver());
  await assert.rejects(io.read(-1, Buffer.alloc(1)), { code: 'ERR_OUT_OF_RANGE' });
  await assert.rejects(io.read('3' as unknown as number, Buffer.alloc(1)), { code: 'ERR_INVALID_ARG_TYPE' });
  await assert.rejects(io.read(0, 'x' as unknown as Buffer), { code: 'ERR_INVALID_ARG_TYPE' });
  await assert.rejects(io.read(0, Buffer.alloc(4), 0, { length: 5 }), { code: 'ERR_OUT_OF_RANGE' });
  await assert.rejects(io.read(0, Buffer.alloc(4), 1.5), { code: 'ERR_OUT_OF_RANGE' });
  await assert.rejects(io.open('a\0b', 0), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.equal(io.driver.pending, 0, 'no op was prepared');
  assert.equal(await io.nop(), 0, 'the driver stays usable');
  await io.driver.close();
});

test('the process exits when nothing is in flight (the watcher does not hold the loop)', () => {
  const r = runChild(`
    import { io } from ${JSON.stringify(distUrl('driver/index.js'))};
    const n = await io().nop();
    console.log(JSON.stringify({ n }));
  `, { timeout: 10_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.json, { n: 0 });
});

test('each worker thread gets its own ring', () => {
  const r = runChild(`
    import { Worker } from 'node:worker_threads';
    import fs from 'node:fs';
    import { io } from ${JSON.stringify(distUrl('driver/index.js'))};
    const mainFd = io().driver.ringFd;
    const file = new URL('./worker.mjs', import.meta.url);
    fs.writeFileSync(file, \`
      import { io } from ${JSON.stringify(distUrl('driver/index.js'))};
      import { parentPort } from 'node:worker_threads';
      const i = io();
      parentPort.postMessage({ fd: i.driver.ringFd, nop: await i.nop() });
      await i.driver.close();
    \`);
    const w = new Worker(file);
    const msg = await new Promise((res) => w.once('message', res));
    console.log(JSON.stringify({ distinct: msg.fd !== mainFd, nop: msg.nop }));
    await io().driver.close();
  `, { timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.json, { distinct: true, nop: 0 });
});

test('registered files and the driver\'s own direct descriptors share the ring\'s table without touching each other', async () => {
  const io = new IO(new Driver());
  const mine = path.join(dir, 'mine');
  const other = path.join(dir, 'other');
  fs.writeFileSync(mine, 'MINE-0123456789');
  fs.writeFileSync(other, 'other-file');
  const fdA = fs.openSync(mine, 'r');
  const fdB = fs.openSync(other, 'r');
  const fixedRead = async (index: number): Promise<string> => {
    const b = Buffer.alloc(4);
    const n = await io.read(index, b, 0, { fixedFile: true });
    return b.toString('utf8', 0, n);
  };
  // The driver's direct slots exist first (a small-file read), then the user registers: no EBUSY.
  assert.equal((await io.readSmallFile(other))?.toString(), 'other-file');
  io.registerFiles([fdA]);
  assert.equal(await fixedRead(0), 'MINE');
  // Reads that open and close through direct slots leave the user's slot 0 alone.
  // (300 at once: 256 take a direct slot, the rest are told to read the long way: null.)
  const many = await Promise.all(Array.from({ length: 300 }, () => io.readSmallFile(other)));
  assert.equal(many.filter((b) => b?.toString() === 'other-file').length, 256);
  assert.equal(many.filter((b) => b === null).length, 44);
  assert.equal(await fixedRead(0), 'MINE');
  // Indexes that are not the user's (the direct slots above them included) are EBADF, before any SQE.
  await assert.rejects(io.read(1, Buffer.alloc(4), 0, { fixedFile: true }), { code: 'EBADF', syscall: 'read' });
  const fixedBuf = Buffer.alloc(4096);
  io.registerBuffers([fixedBuf]);
  assert.throws(() => io.readFixedInto(1, fixedBuf, 0, 4, 0, 0, true, () => {}, 0), { code: 'EBADF' });
  // As with the kernel: registering again while registered is EBUSY.
  assert.throws(() => io.registerFiles([fdB]), { code: 'EBUSY' });
  // Growing the user part while direct slots are in use cannot move them: EBUSY that says why.
  const inFlight = io.readSmallFile(other);
  io.unregisterFiles();
  assert.throws(() => io.registerFiles([fdA, fdB]), (e: Error & { code?: string }) => e.code === 'EBUSY' && /direct descriptors/.test(e.message));
  assert.equal((await inFlight)?.toString(), 'other-file');
  // Once they completed, the table is rebuilt with room for both.
  io.registerFiles([fdB, fdA]);
  assert.equal(await fixedRead(0), 'othe');
  assert.equal(await fixedRead(1), 'MINE');
  assert.equal((await io.readSmallFile(mine))?.toString(), 'MINE-0123456789');
  // Unregistering leaves the driver's reads working.
  io.unregisterFiles();
  assert.throws(() => io.unregisterFiles(), { code: 'ENXIO' });
  assert.equal((await io.readSmallFile(mine))?.toString(), 'MINE-0123456789');
  await assert.rejects(io.read(0, Buffer.alloc(4), 0, { fixedFile: true }), { code: 'EBADF' });
  fs.closeSync(fdA);
  fs.closeSync(fdB);
  await io.driver.close();
});

test('options are read once (a getter cannot pass the check and then hand the op another value); a link() thunk must start exactly one op', async () => {
  const io = new IO(new Driver());
  const file = path.join(dir, 'getter');
  fs.writeFileSync(file, 'abcd');
  const fd = fs.openSync(file, 'r');
  for (const later of [Number.NaN, -5, 1e22]) {
    let reads = 0;
    const opts = { get timeout() { return reads++ === 0 ? 10_000 : later; } };
    assert.equal(await io.read(fd, Buffer.alloc(4), 0, opts), 4);
    assert.equal(reads, 1, 'timeout read once');
  }
  let signalReads = 0;
  const ac = new AbortController();
  const sneaky = { get signal() { return signalReads++ === 0 ? undefined : ac.signal; } };
  ac.abort();
  assert.equal(await io.read(fd, Buffer.alloc(4), 0, sneaky as { signal?: AbortSignal }), 4, 'the signal that was checked (none) is the one used');
  // Two ops from one thunk: refused whole, nothing submitted, both started ops cancelled.
  const started: Promise<number>[] = [];
  const twice = (): Promise<number> => {
    started.push(io.read(fd, Buffer.alloc(1), 0));
    const second = io.read(fd, Buffer.alloc(1), 1);
    started.push(second);
    return second;
  };
  await assert.rejects(io.link(twice, () => io.nop()), { code: 'ERR_INVALID_ARG_VALUE' });
  for (const p of started) await assert.rejects(p, { code: 'ECANCELED' });
  assert.equal(io.driver.pending, 0);
  fs.closeSync(fd);
  await io.driver.close();
});
