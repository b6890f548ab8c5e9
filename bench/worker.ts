/**
 * One benchmark run in its own process: `node worker.js CONTENDER WORKLOAD
 * PATH OPS QD BLOCK`; prints {"ops","bytes","seconds"} as JSON. A process per
 * run lets libuv's own io_uring (UV_USE_IO_URING=1) be switched per contender.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_SINGLE_ISSUER, IOSQE_FIXED_FILE, IORING_OP, LINUX } from '../src/abi/index.js';
import { io } from '../src/driver/index.js';
import * as ufs from '../src/fs/index.js';
import { allocAlignedBuffer, queueInit, registerBuffers, registerFiles, type Ring, unsafe } from '../src/ring/index.js';

// The raw contender is the C program's twin: raw addresses, no checks (ring/unsafe.ts).
const { prepRw, addressOf } = unsafe;

const [contender, workload, target, opsArg, qdArg, blockArg] = process.argv.slice(2);
const ops = Number(opsArg);
const qd = Number(qdArg);
const block = Number(blockArg ?? 4096);

let seed = 2463534242;
/** xorshift32, the same sequence as the C contender. */
function nextRand(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed;
}

/** Each contender starts the clock when its setup (files, rings, registration) is done, as the C program does. */
let started: bigint | null = null;
function startClock(): void {
  started = process.hrtime.bigint();
}

const isWrite = workload.startsWith('randwrite');
const fsyncEvery = workload === 'randwrite-fsync' ? 32 : 0;
const sequential = workload === 'seqread';
const fileWorkload = workload === 'readfile' || workload === 'stat' || workload === 'openclose';

function offsets(count: number, blocks: number): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = (sequential ? i % blocks : nextRand() % blocks) * block;
  return out;
}

/** The raw ring, like the C program: registered file and buffers, READ/WRITE_FIXED, one enter per batch. */
function rawRw(): number {
  const fd = fs.openSync(target, isWrite ? 'r+' : 'r');
  const blocks = Math.floor(fs.fstatSync(fd).size / block);
  const pos = offsets(ops, blocks);
  const ring = queueInit(Math.max(8, qd * 2), { flags: IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN });
  registerFiles(ring, [fd]);
  // Page-aligned, as the C program's posix_memalign buffers are.
  const mem = allocAlignedBuffer(qd * block).fill(1);
  const bufs = Array.from({ length: qd }, (_, i) => mem.subarray(i * block, (i + 1) * block));
  registerBuffers(ring, bufs);
  const base = addressOf(mem);
  const free = Array.from({ length: qd }, (_, i) => i);
  let submitted = 0;
  let completed = 0;
  let writes = 0;
  const op = isWrite ? IORING_OP.IORING_OP_WRITE_FIXED : IORING_OP.IORING_OP_READ_FIXED;
  const onCqe = (userData: number, res: number): void => {
    if (res < 0) throw new Error(`cqe ${res}`);
    free.push(userData);
  };
  startClock();
  while (completed < ops) {
    while (free.length > 0 && submitted < ops) {
      const sqe = ring.getSqe();
      if (sqe === null) break;
      const slot = free.pop()!;
      if (fsyncEvery && writes > 0 && writes % fsyncEvery === 0) {
        prepRw(IORING_OP.IORING_OP_FSYNC, sqe, 0, 0, 0, 0);
      } else {
        prepRw(op, sqe, 0, base + slot * block, block, pos[submitted]);
        sqe.bufIndex = slot;
      }
      if (isWrite) writes++;
      sqe.flags = IOSQE_FIXED_FILE;
      sqe.userData = slot;
      submitted++;
    }
    ring.submitAndWait(1);
    completed += ring.drainCq(onCqe);
  }
  ring.queueExit();
  fs.closeSync(fd);
  return ops * block;
}

/**
 * The driver's zero-allocation callback API on the event loop, with the raw
 * contender's registered file and buffers (io.readFixedInto), QD ops kept in
 * flight, each completion starting the next.
 */
async function callbackRw(): Promise<number> {
  const ring = io();
  const fd = fs.openSync(target, isWrite ? 'r+' : 'r');
  const blocks = Math.floor(fs.fstatSync(fd).size / block);
  const pos = offsets(ops, blocks);
  const mem = allocAlignedBuffer(qd * block).fill(1);
  const bufs = Array.from({ length: qd }, (_, i) => mem.subarray(i * block, (i + 1) * block));
  ring.registerBuffers(bufs);
  ring.registerFiles([fd]);
  await ring.nop(); // the ring's first round trip (thread-local setup in the kernel) before the clock
  let next = 0;
  let done = 0;
  startClock();
  await new Promise<void>((resolve, reject) => {
    const start = (slot: number): void => {
      const i = next++;
      if (fileOp(i)) ring.fsync(0, false, { fixedFile: true }).then(() => onDone(0, slot), reject);
      else if (isWrite) ring.writeFrom(fd, bufs[slot], 0, block, pos[i], onDone, slot);
      else ring.readFixedInto(0, bufs[slot], 0, block, pos[i], slot, true, onDone, slot);
    };
    const onDone = (res: number, slot: number): void => {
      if (res < 0) return reject(new Error(`cqe ${res}`));
      if (++done === ops) resolve();
      else if (next < ops) start(slot);
    };
    for (let s = 0; s < Math.min(qd, ops); s++) start(s);
  });
  return ops * block;
}

/** QD concurrent loops over an async read/write function. */
async function concurrent(one: (buf: Buffer, pos: number, i: number) => Promise<unknown>): Promise<number> {
  const fd0 = fs.openSync(target, 'r');
  const blocks = Math.floor(fs.fstatSync(fd0).size / block);
  fs.closeSync(fd0);
  const pos = offsets(ops, blocks);
  let next = 0;
  startClock();
  await Promise.all(Array.from({ length: qd }, async () => {
    const buf = Buffer.alloc(block, 1);
    while (next < ops) {
      const i = next++;
      await one(buf, pos[i], i);
    }
  }));
  return ops * block;
}

function fileOp(i: number): boolean {
  return fsyncEvery > 0 && i > 0 && i % fsyncEvery === 0;
}

async function runRw(): Promise<number> {
  const flags = isWrite ? 'r+' : 'r';
  switch (contender) {
    case 'raw': return rawRw();
    case 'promise': {
      const ring = io();
      const fd = await ring.open(target, isWrite ? LINUX.O_RDWR : LINUX.O_RDONLY);
      return concurrent((b, p, i) => (fileOp(i) ? ring.fsync(fd) : isWrite ? ring.write(fd, b, p) : ring.read(fd, b, p)));
    }
    case 'callback': return callbackRw();
    case 'facade': {
      const fh = (await ufs.open(target, flags)) as fsp.FileHandle;
      return concurrent((b, p, i) => (fileOp(i) ? fh.sync() : isWrite ? fh.write(b, 0, block, p) : fh.read(b, 0, block, p)));
    }
    case 'FileHandle.read': {
      const fh = await fsp.open(target, flags);
      return concurrent((b, p, i) => (fileOp(i) ? fh.sync() : isWrite ? fh.write(b, 0, block, p) : fh.read(b, 0, block, p)));
    }
    case 'fs.read': {
      const fd = fs.openSync(target, flags);
      const cb = (b: Buffer, p: number, i: number): Promise<unknown> => new Promise((resolve, reject) => {
        const done = (err: Error | null): void => (err ? reject(err) : resolve(undefined));
        if (fileOp(i)) fs.fsync(fd, done);
        else if (isWrite) fs.write(fd, b, 0, block, p, done);
        else fs.read(fd, b, 0, block, p, done);
      });
      return concurrent(cb);
    }
    case 'readSync': {
      const fd = fs.openSync(target, flags);
      const blocks = Math.floor(fs.fstatSync(fd).size / block);
      const pos = offsets(ops, blocks);
      const buf = Buffer.alloc(block, 1);
      startClock();
      for (let i = 0; i < ops; i++) {
        if (fileOp(i)) fs.fsyncSync(fd);
        else if (isWrite) fs.writeSync(fd, buf, 0, block, pos[i]);
        else fs.readSync(fd, buf, 0, block, pos[i]);
      }
      return ops * block;
    }
    default: throw new Error(`unknown contender ${contender}`);
  }
}

/** The raw ring over many files, batch by batch, like the C program. */
function rawFiles(paths: Buffer[]): number {
  const ring: Ring = queueInit(Math.max(8, qd * 2), { flags: IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN });
  const buf = Buffer.alloc(qd * 4096);
  const bufAddr = addressOf(buf);
  const stx = Buffer.alloc(qd * 256);
  const stxAddr = addressOf(stx);
  const fds = new Int32Array(qd);
  let bytes = 0;
  startClock();
  const batch = (n: number, fill: (i: number) => void, collect: (i: number, res: number) => void): void => {
    for (let i = 0; i < n; i++) {
      fill(i);
    }
    ring.submitAndWait(n);
    let got = 0;
    while (got < n) {
      const cqe = ring.peekCqe() ?? ring.waitCqe();
      if (cqe.res < 0) throw new Error(`${workload}: ${cqe.res}`);
      collect(cqe.userData, cqe.res);
      ring.cqeSeen(cqe);
      got++;
    }
  };
  for (let base = 0; base < paths.length; base += qd) {
    const n = Math.min(qd, paths.length - base);
    if (workload === 'stat') {
      batch(n, (i) => { const s = ring.getSqe()!; prepRw(IORING_OP.IORING_OP_STATX, s, LINUX.AT_FDCWD, addressOf(paths[base + i]), 0x7ff, stxAddr + i * 256); s.userData = i; }, () => {});
      continue;
    }
    batch(n, (i) => { const s = ring.getSqe()!; prepRw(IORING_OP.IORING_OP_OPENAT, s, LINUX.AT_FDCWD, addressOf(paths[base + i]), 0, 0); s.opFlags = LINUX.O_CLOEXEC; s.userData = i; }, (i, res) => { fds[i] = res; });
    if (workload === 'readfile') {
      batch(n, (i) => { const s = ring.getSqe()!; prepRw(IORING_OP.IORING_OP_READ, s, fds[i], bufAddr + i * 4096, 4096, 0); s.userData = i; }, (_, res) => { bytes += res; });
    }
    batch(n, (i) => { const s = ring.getSqe()!; prepRw(IORING_OP.IORING_OP_CLOSE, s, fds[i], 0, 0, 0); s.userData = i; }, () => {});
  }
  ring.queueExit();
  return bytes;
}

/**
 * One untimed pass, then the timed one: a pass is 10 000 ops (~50 ms), so a
 * cold pass measures V8 warming up (statSync ran 177k/s cold, 280k/s warm),
 * not the I/O path. The C contender has nothing to warm.
 */
async function runFiles(): Promise<number> {
  await filesPass();
  return filesPass();
}

async function filesPass(): Promise<number> {
  const names = Array.from({ length: ops }, (_, i) => path.join(target, `f${i}`));
  let bytes = 0;
  startClock();
  const each = async (fn: (p: string) => Promise<number | void>): Promise<void> => {
    let next = 0;
    await Promise.all(Array.from({ length: qd }, async () => {
      while (next < names.length) {
        const r = await fn(names[next++]);
        if (typeof r === 'number') bytes += r;
      }
    }));
  };
  const w = workload;
  switch (contender) {
    case 'raw': return rawFiles(names.map((n) => Buffer.from(`${n}\0`)));
    case 'facade':
      if (w === 'readfile') await each(async (p) => ((await ufs.readFile(p)) as Buffer).length);
      else if (w === 'stat') await each(async (p) => void (await ufs.stat(p)));
      else await each(async (p) => void (await (await ufs.open(p, 'r')).close()));
      return bytes;
    case 'promise': {
      const ring = io();
      const stx = new Uint8Array(256);
      if (w === 'readfile') await each(async (p) => { const fd = await ring.open(p, 0); const n = await ring.read(fd, Buffer.allocUnsafe(4096), 0); await ring.close(fd); return n; });
      else if (w === 'stat') await each(async (p) => void (await ring.statx(p, stx)));
      else await each(async (p) => void (await ring.close(await ring.open(p, 0))));
      return bytes;
    }
    case 'fsp':
      if (w === 'readfile') await each(async (p) => (await fsp.readFile(p)).length);
      else if (w === 'stat') await each(async (p) => void (await fsp.stat(p)));
      else await each(async (p) => void (await (await fsp.open(p, 'r')).close()));
      return bytes;
    case 'fs.cb': {
      const cb = <T>(fn: (done: (e: Error | null, v?: T) => void) => void): Promise<T> => new Promise((res, rej) => fn((e, v) => (e ? rej(e) : res(v as T))));
      if (w === 'readfile') await each(async (p) => (await cb<Buffer>((d) => fs.readFile(p, d))).length);
      else if (w === 'stat') await each(async (p) => void (await cb((d) => fs.stat(p, d))));
      else await each(async (p) => { const fd = await cb<number>((d) => fs.open(p, 'r', d)); await cb((d) => fs.close(fd, d)); });
      return bytes;
    }
    case 'sync':
      for (const p of names) {
        if (w === 'readfile') bytes += fs.readFileSync(p).length;
        else if (w === 'stat') fs.statSync(p);
        else fs.closeSync(fs.openSync(p, 'r'));
      }
      return bytes;
    default: throw new Error(`unknown contender ${contender}`);
  }
}

const t0 = process.hrtime.bigint();
const bytes = fileWorkload ? await runFiles() : await runRw();
const seconds = Number(process.hrtime.bigint() - (started ?? t0)) / 1e9;
console.log(JSON.stringify({ ops, bytes, seconds }));
process.exit(0);
