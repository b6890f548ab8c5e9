/**
 * The adversarial suite: every public entry point called the way a careless
 * user or an attacker would — hostile arguments, SharedArrayBuffer, detached,
 * transferred, resized and collected buffers, throwing callbacks, full
 * queues, dying workers, identity changes. Each case runs in a child process
 * of its own (child.ts), so a crash (signal) or a hang (timeout) is reported
 * as that, not as a failed assertion. A case throws on failure and returns
 * what it measured.
 *
 * Use-after-free is tested by the failure itself: memory handed to the
 * kernel is watched with a FinalizationRegistry (it must not be collected
 * while the op is in flight), fresh buffers filled with a pattern are
 * allocated where freed memory would be reused, and after the kernel's write
 * every pattern byte is checked. Contents are compared byte for byte.
 *
 * Modules of the package are imported inside each case, so a case can check
 * what happens when the main thread never loads the native addon.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MessageChannel, Worker } from 'node:worker_threads';
import { fifo, NOBODY } from '../helpers.js';

export interface CaseContext {
  /** How long looping cases keep going (npm run torture -- --seconds N); 0 for one round. */
  seconds: number;
  /** A scratch directory of this case. */
  dir: string;
  /** URL of a built module of the package. */
  dist(rel: string): string;
  /** Scale of the counts (1; smaller under valgrind, where everything runs 20-50x slower). */
  scale: number;
}

/** n scaled for the context, at least `min`. */
function count(ctx: CaseContext, n: number, min = 2): number {
  return Math.max(min, Math.round(n * ctx.scale));
}

type Case = (ctx: CaseContext) => Promise<unknown>;

const gc = (): void => (globalThis as { gc?: () => void }).gc!();
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Forces collection (and the finalization callbacks it queues) a few times. */
async function collect(rounds = 6): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    gc();
    await sleep(1);
  }
}

const PATTERN = 0xa5;
/** Buffers full of a pattern, of the size of those that were (or would have been) freed: where a dangling kernel write would land. */
function spray(size: number, count: number): Buffer[] {
  return Array.from({ length: count }, () => Buffer.alloc(size, PATTERN));
}
function assertUntouched(buffers: Buffer[], what: string): void {
  for (const b of buffers) {
    const bad = b.findIndex((x) => x !== PATTERN);
    assert.equal(bad, -1, `${what}: a kernel write landed in memory JavaScript had given up (byte ${bad} of a sprayed buffer changed)`);
  }
}

/** Loops `round` until ctx.seconds have passed (at least once). */
async function repeat(ctx: CaseContext, round: (i: number) => Promise<void>): Promise<number> {
  const end = Date.now() + ctx.seconds * 1000;
  let i = 0;
  do await round(i++);
  while (Date.now() < end);
  return i;
}

/** Open fds (not counting the one that reads the directory). */
function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length - 1;
}
function ringMappings(): number {
  return fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('io_uring')).length;
}

function fileOf(ctx: CaseContext, name: string, data: Buffer | string): string {
  const file = path.join(ctx.dir, name);
  fs.writeFileSync(file, data);
  return file;
}

/** The error a call produces: thrown, or the rejection of the promise it returns. */
async function errorOf(fn: () => unknown): Promise<NodeJS.ErrnoException | undefined> {
  try {
    const r = fn();
    if (r instanceof Promise) return await r.then(() => undefined, (e: NodeJS.ErrnoException) => e);
  } catch (e) {
    return e as NodeJS.ErrnoException;
  }
  return undefined;
}

async function driverModule(ctx: CaseContext): Promise<typeof import('../../src/driver/index.js')> {
  return import(ctx.dist('driver/index.js'));
}

export const cases: Record<string, Case> = {
  /** #1: workers that used the driver and exit (half by terminate() with reads in flight), while the main thread never loads the addon. */
  async 'worker-exit'(ctx) {
    const before = openFds();
    const script = path.join(ctx.dir, 'worker.mjs');
    fs.writeFileSync(script, `
      import { io } from ${JSON.stringify(ctx.dist('driver/index.js'))};
      import * as ufs from ${JSON.stringify(ctx.dist('fs/index.js'))};
      import { parentPort, workerData } from 'node:worker_threads';
      import fs from 'node:fs';
      const i = io();
      await i.nop();
      await ufs.readFile(workerData.file);
      const fd = fs.openSync(workerData.fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      for (let k = 0; k < 8; k++) i.read(fd, Buffer.alloc(4096), -1).catch(() => {});
      parentPort.postMessage('reading');
      if (workerData.exit) setTimeout(() => process.exit(0), 1);
    `);
    const pipe = fifo();
    const file = fileOf(ctx, 'w.txt', 'worker data');
    const fifoPath = fs.readlinkSync(`/proc/self/fd/${pipe.r}`);
    const workers = count(ctx, ctx.seconds > 0 ? 200 : 100);
    for (let n = 0; n < workers; n++) {
      const w = new Worker(script, { workerData: { fifo: fifoPath, file, exit: n % 2 === 0 } });
      // Listen for 'exit' at once: it can come in the same turn as the message.
      const exited = new Promise((res) => w.once('exit', res));
      await new Promise((res, rej) => { w.once('message', res); w.once('error', rej); });
      if (n % 2 === 1) await w.terminate();
      await exited;
    }
    pipe.close();
    const after = openFds();
    assert.equal(after, before, `${workers} workers left ${after - before} extra fds`);
    assert.equal(ringMappings(), 0, 'no io_uring mapping is left behind');
    return { workers, extraFds: after - before };
  },

  /** #1 (second half): the same with the main thread also using the library. */
  async 'worker-exit-shared'(ctx) {
    const { io } = await driverModule(ctx);
    await io().nop();
    const baseline = openFds();
    const script = path.join(ctx.dir, 'worker2.mjs');
    fs.writeFileSync(script, `
      import { io } from ${JSON.stringify(ctx.dist('driver/index.js'))};
      import { parentPort } from 'node:worker_threads';
      await io().nop();
      parentPort.postMessage('done');
    `);
    for (let n = 0; n < count(ctx, 40); n++) {
      const w = new Worker(script);
      const exited = new Promise((res) => w.once('exit', res));
      await new Promise((res) => w.once('message', res));
      if (n % 2) await w.terminate();
      await exited;
    }
    assert.equal(openFds(), baseline, 'workers leak no ring fds when the main thread uses the library too');
    assert.equal(await io().nop(), 0);
    return { workers: count(ctx, 40) };
  },

  /** #2: the callback API checks bounds and buffer indexes before an SQE exists. */
  async 'callback-bounds'(ctx) {
    const { Driver, IO } = await driverModule(ctx);
    const io = new IO(new Driver());
    const file = fileOf(ctx, 'x', Buffer.alloc(8192, 0x58));
    const fd = fs.openSync(file, 'r');
    const big = Buffer.alloc(8192, PATTERN);
    const view = big.subarray(4096, 4112);
    const noop = (): void => {};
    const refused: Array<[string, () => unknown, string]> = [
      ['length past the view', () => io.readInto(fd, view, 0, 4096, 0, noop, 0), 'ERR_OUT_OF_RANGE'],
      ['offset negative', () => io.readInto(fd, view, -16, 16, 0, noop, 0), 'ERR_OUT_OF_RANGE'],
      ['offset past the view', () => io.readInto(fd, view, 17, 0, 0, noop, 0), 'ERR_OUT_OF_RANGE'],
      ['length NaN', () => io.readInto(fd, view, 0, NaN, 0, noop, 0), 'ERR_OUT_OF_RANGE'],
      ['position below -1', () => io.readInto(fd, view, 0, 16, -2, noop, 0), 'ERR_OUT_OF_RANGE'],
      ['writeFrom past the view', () => io.writeFrom(fd, view, 8, 9, 0, noop, 0), 'ERR_OUT_OF_RANGE'],
      ['callback not a function', () => io.readInto(fd, view, 0, 16, 0, 'x' as never, 0), 'ERR_INVALID_ARG_TYPE'],
      ['fixed index with nothing registered', () => io.readFixedInto(fd, view, 0, 16, 0, 0, false, noop, 0), 'ERR_INVALID_ARG_VALUE'],
    ];
    for (const [name, fn, code] of refused) assert.equal((await errorOf(fn))?.code, code, name);
    io.registerBuffers([big]);
    assert.equal((await errorOf(() => io.readFixedInto(fd, view, 0, 16, 0, 65536, false, noop, 0)))?.code, 'ERR_OUT_OF_RANGE', 'index 65536 is not masked to 0');
    assert.equal((await errorOf(() => io.readFixedInto(fd, view, 0, 16, 0, 1, false, noop, 0)))?.code, 'ERR_OUT_OF_RANGE', 'index 1 of one registered buffer');
    assert.equal(io.driver.pending, 0, 'no op was queued');
    // A valid op after the refusals: exactly its 16 bytes change.
    const res = await new Promise<number>((resolve) => io.readInto(fd, view, 0, 16, 0, (r: number) => resolve(r), 0));
    assert.equal(res, 16);
    await turn();
    assert.ok(big.subarray(0, 4096).every((b) => b === PATTERN) && big.subarray(4112).every((b) => b === PATTERN), 'nothing outside the view was written');
    assert.ok(view.every((b) => b === 0x58));
    fs.closeSync(fd);
    await io.driver.close();
    return { refused: refused.length + 2 };
  },

  /** #3: a call that fails after validation leaves no stale SQE; SharedArrayBuffer views work as in node:fs. */
  async 'no-stale-sqe'(ctx) {
    const { Driver, IO } = await driverModule(ctx);
    const io = new IO(new Driver({ entries: 4, maxInflight: 8 }));
    const file = fileOf(ctx, 'a', Buffer.alloc(64, 0x41));
    const fd = fs.openSync(file, 'r');
    // An op that runs and is done; its SQE slot will be reused.
    const first = Buffer.alloc(64);
    assert.equal(await io.read(fd, first, 0), 64);
    first.fill(PATTERN);
    // Refused calls of every kind, then an unrelated op: the old read must not run again.
    await errorOf(() => io.readInto(fd, { byteLength: 4 } as never, 0, 4, 0, () => {}, 0));
    await errorOf(() => io.read(fd, first, 0, { timeout: 1e22 }));
    await errorOf(() => io.statx('x', undefined as never));
    assert.equal(await io.nop(), 0);
    await sleep(5);
    assert.ok(first.every((b) => b === PATTERN), 'a stale SQE re-ran an old read');
    // SharedArrayBuffer views (node:fs accepts them) go through read, readFixed and statx.
    const sab = new Uint8Array(new SharedArrayBuffer(128), 32, 64);
    assert.equal(await io.read(fd, sab, 0), 64);
    assert.ok(sab.every((b) => b === 0x41));
    io.registerBuffers([sab]);
    const sab2 = new Uint8Array(sab.buffer, 32, 64).fill(0);
    assert.equal(await io.readFixed(fd, sab2, 0, 0), 64);
    assert.ok(sab2.every((b) => b === 0x41));
    const stx = new Uint8Array(new SharedArrayBuffer(256));
    assert.equal(await io.statx(file, stx), 0);
    assert.equal(new DataView(stx.buffer).getUint32(40, true), 64, 'stx_size read into shared memory');
    // The op after the in-flight limit is refused before anything is queued.
    const pipe = fifo();
    const pending = Array.from({ length: 8 }, () => io.read(pipe.r, Buffer.alloc(4), -1).catch((e: Error) => e));
    assert.equal((await errorOf(() => io.read(pipe.r, Buffer.alloc(4), -1)))?.code, 'ERR_URING_INFLIGHT_LIMIT');
    assert.equal(io.driver.pending, 8);
    fs.writeSync(pipe.w, Buffer.alloc(32, 1));
    assert.deepEqual(await Promise.all(pending), new Array(8).fill(4));
    pipe.close();
    fs.closeSync(fd);
    await io.driver.close();
    return { ok: true };
  },

  /** #4: readv/writev hold every buffer, not the caller's array. */
  async 'readv-pins-buffers'(ctx) {
    const { Driver, IO } = await driverModule(ctx);
    const io = new IO(new Driver());
    let collectedEarly = 0;
    let collected = 0;
    let inFlight = true;
    let current = -1;
    // Held values name the round: a late callback for an earlier round's buffers is not this round's.
    const fr = new FinalizationRegistry((round: number) => {
      if (round !== current) return;
      if (inFlight) collectedEarly++;
      else collected++;
    });
    const rounds = await repeat(ctx, async (round) => {
      const pipe = fifo();
      current = round;
      inFlight = true;
      collectedEarly = 0;
      collected = 0;
      let result: Promise<number>;
      (() => {
        const buffers = Array.from({ length: 8 }, () => Buffer.alloc(4096, 0));
        for (const b of buffers) fr.register(b, round);
        result = io.readv(pipe.r, buffers, -1);
        buffers.length = 0; // the caller empties its array
      })();
      await collect();
      const sprayed = spray(4096, 64);
      fs.writeSync(pipe.w, Buffer.alloc(8 * 4096, 0x33));
      assert.equal(await result!, 8 * 4096);
      inFlight = false;
      assert.equal(collectedEarly, 0, 'a readv buffer was collected while the kernel could write into it');
      assertUntouched(sprayed, 'readv');
      await collect();
      assert.equal(collected, 8, 'the buffers become collectable once the op completed (the test can see collection)');
      pipe.close();
    });
    await io.driver.close();
    return { rounds };
  },

  /** #5: a buffer ring keeps its buffers by buffer id, and the kernel's choice maps back to the right buffer. */
  async 'bufring-by-id'(ctx) {
    const ring = await import(ctx.dist('ring/index.js'));
    const abi = await import(ctx.dist('abi/index.js'));
    const r = ring.queueInit(8);
    const br = ring.setupBufRing(r, 2, 7);
    let early = 0;
    const fr = new FinalizationRegistry(() => early++);
    (() => {
      const b0 = Buffer.alloc(64, 0);
      const b2 = Buffer.alloc(64, 0);
      fr.register(b0, 0);
      br.add(b0, 0, 0);
      br.add(b2, 2, 1);
      br.advance(2);
    })();
    await collect();
    assert.equal(early, 0, 'a buffer of the ring was collected while the kernel may pick it');
    const sprayed = spray(64, 64);
    const file = fileOf(ctx, 'bsel', Buffer.alloc(64, 0x62));
    const fd = fs.openSync(file, 'r');
    const seen = new Set<number>();
    for (let i = 0; i < 2; i++) {
      const sqe = r.getSqe()!;
      ring.prepRead(sqe, fd, null as never, 64, 0);
      sqe.flags = abi.IOSQE_BUFFER_SELECT;
      sqe.bufIndex = 7;
      sqe.userData = i;
    }
    r.submitAndWait(2);
    r.drainCq((_ud: number, res: number, flags: number) => {
      assert.equal(res, 64);
      assert.ok(flags & abi.IORING_CQE_F_BUFFER);
      const bid = flags >>> 16;
      seen.add(bid);
      const buf = br.bufferOf(flags) as Buffer;
      assert.ok(buf.every((b) => b === 0x62), `the data is in the buffer with id ${bid}`);
      assert.equal(br.bufferById(bid), buf);
    });
    assert.deepEqual([...seen].sort(), [0, 2]);
    assertUntouched(sprayed, 'buffer ring');
    fs.closeSync(fd);
    ring.freeBufRing(r, br);
    r.queueExit();
    return { bids: [...seen] };
  },

  /** #6: lengths that would overflow an SQE are refused: readSmallFile(-1), oversized limits. */
  async 'small-file-lengths'(ctx) {
    const { Driver, IO } = await driverModule(ctx);
    const io = new IO(new Driver());
    const file = fileOf(ctx, 's', 'small');
    for (const limit of [-1, 65537, 1.5, NaN, 2 ** 32]) {
      assert.equal((await errorOf(() => io.readSmallFile(file, limit)))?.code, 'ERR_OUT_OF_RANGE', `limit ${limit}`);
    }
    assert.equal((await errorOf(() => io.readSmallFile(file, '5' as never)))?.code, 'ERR_INVALID_ARG_TYPE');
    assert.equal(io.driver.pending, 0);
    assert.equal((await io.readSmallFile(file))?.toString(), 'small');
    assert.equal(await io.readSmallFile(file, 3), null, 'a file larger than the limit is left to the long path');
    await io.driver.close();
    return { ok: true };
  },

  /** #7: an in-flight buffer's memory cannot change owner: transfer lists copy it instead. */
  async 'transfer-in-flight'(ctx) {
    const { Driver, IO, allocAlignedBuffer } = await driverModule(ctx);
    const io = new IO(new Driver());
    const rounds = await repeat(ctx, async () => {
      for (const make of [() => Buffer.alloc(8192), () => new Uint8Array(new ArrayBuffer(8192)), () => allocAlignedBuffer(8192)]) {
        const pipe = fifo();
        const buf = make();
        const result = io.read(pipe.r, buf, -1);
        let cloneCollected = false;
        const fr = new FinalizationRegistry(() => (cloneCollected = true));
        (() => {
          const clone = structuredClone(buf.buffer, { transfer: [buf.buffer as ArrayBuffer] });
          fr.register(clone, 0);
          const { port1, port2 } = new MessageChannel();
          port1.postMessage(buf.buffer, [buf.buffer as ArrayBuffer]);
          port1.close();
          port2.close();
        })();
        assert.equal(buf.byteLength, 8192, 'the in-flight buffer stays attached');
        await collect();
        assert.ok(cloneCollected, 'the copy was collected (the test sees collection)');
        const sprayed = spray(8192, 32);
        fs.writeSync(pipe.w, Buffer.alloc(8192, 0x74));
        assert.equal(await result, 8192);
        assert.ok(buf.every((b) => b === 0x74), 'the data landed in the buffer the op was given');
        assertUntouched(sprayed, 'transferred buffer');
        pipe.close();
      }
    });
    await io.driver.close();
    return { rounds };
  },

  /**
   * A resizable ArrayBuffer could shrink while the kernel writes into it (within a page, the kernel's
   * write lands past the new length): the ring refuses its memory before an SQE exists; uring/fs takes
   * such buffers to node:fs's own code, so it behaves exactly as node:fs does.
   */
  async 'resizable-refused'(ctx) {
    const { Driver, IO } = await driverModule(ctx);
    const io = new IO(new Driver());
    type Resizable = ArrayBuffer & { resize(n: number): void };
    const ab = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => Resizable)(8192, { maxByteLength: 65536 });
    const view = new Uint8Array(ab);
    const pipe = fifo();
    const e1 = await errorOf(() => io.read(pipe.r, view, -1));
    assert.equal(e1?.code, 'ERR_INVALID_ARG_VALUE', 'io.read refuses a resizable buffer');
    const e2 = await errorOf(() => io.readInto(pipe.r, view, 0, 16, -1, () => {}, 0));
    assert.equal(e2?.code, 'ERR_INVALID_ARG_VALUE', 'readInto refuses a resizable buffer');
    const e3 = await errorOf(() => io.writev(pipe.w, [Buffer.from('ok'), new Uint8Array(ab, 0, 4)], -1));
    assert.equal(e3?.code, 'ERR_INVALID_ARG_VALUE', 'writev refuses one resizable buffer among others');
    assert.equal(io.driver.pending, 0, 'nothing was submitted');
    // The pipe got nothing (writev was refused whole): a read finds it empty.
    fs.writeSync(pipe.w, 'Z');
    const one = Buffer.alloc(8);
    assert.equal(await io.read(pipe.r, one, -1), 1);
    assert.equal(one.toString('utf8', 0, 1), 'Z');
    // uring/fs: node's own code for it, the same bytes as node:fs/promises.
    const data = Buffer.from(Array.from({ length: 4096 }, (_, i) => i & 0xff));
    const file = fileOf(ctx, 'resizable', data);
    const ufs = await import(ctx.dist('fs/index.js'));
    const fh = await ufs.open(file, 'r+');
    const r = await fh.read(view, 0, 4096, 0);
    assert.equal(r.bytesRead, 4096);
    assert.ok(Buffer.from(ab, 0, 4096).equals(data), 'read into a resizable buffer: the file\'s bytes');
    assert.equal((await fh.write(new Uint8Array(ab, 0, 16), 0, 16, 8192)).bytesWritten, 16);
    await ufs.writeFile(path.join(ctx.dir, 'from-resizable'), new Uint8Array(ab, 0, 4096));
    assert.ok(fs.readFileSync(path.join(ctx.dir, 'from-resizable')).equals(data));
    await fh.close();
    pipe.close();
    await io.driver.close();
    return { refused: [e1?.code, e2?.code, e3?.code] };
  },

  /** #8: a linked chain is never split across submissions, however full the SQ is. */
  async 'chains-whole'(ctx) {
    const { Driver, IO } = await driverModule(ctx);
    const io = new IO(new Driver({ entries: 256 }));
    const pipe = fifo();
    // 255 NOPs fill all but one SQ slot; a read with a timeout (2 SQEs) must still time out, not hang.
    const nops = Array.from({ length: 255 }, () => io.nop());
    const t0 = Date.now();
    const timed = await errorOf(() => io.read(pipe.r, Buffer.alloc(8), -1, { timeout: 50 }));
    assert.equal(timed?.code, 'ETIMEDOUT');
    assert.ok(Date.now() - t0 >= 45);
    await Promise.all(nops);
    pipe.close();
    // readFile's statx → open → read → close chain on direct descriptors, under load, through uring/fs.
    const ufs = await import(ctx.dist('fs/index.js'));
    const files = Array.from({ length: 64 }, (_, i) => fileOf(ctx, `c${i}`, `content ${i}`));
    let ebadf = 0;
    let total = 0;
    const rounds = await repeat(ctx, async () => {
      await Promise.all(Array.from({ length: count(ctx, 4000) }, async (_, k) => {
        const f = files[k % files.length];
        try {
          if (k % 2) assert.equal((await ufs.readFile(f, 'utf8')), `content ${k % files.length}`);
          else await ufs.stat(f);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EBADF') ebadf++;
          else throw e;
        }
        total++;
      }));
    });
    assert.equal(ebadf, 0, `${ebadf} of ${total} readFile/stat calls failed with EBADF on files that exist`);
    await io.driver.close();
    return { calls: total, rounds };
  },

  /** #9: io.link() with a thunk that throws submits nothing of the chain; nothing else is cancelled; no unhandled rejection. */
  async 'link-throwing-thunk'(ctx) {
    const { Driver, IO } = await driverModule(ctx);
    const io = new IO(new Driver());
    const unhandled: unknown[] = [];
    process.on('unhandledRejection', (e) => unhandled.push(e));
    const boom = new Error('boom');
    let first: Promise<number> | undefined;
    const err = await errorOf(() => io.link(() => (first = io.nop()), () => { throw boom; }, () => io.nop()));
    assert.equal(err, boom, 'link() rejects with the thunk\'s error');
    assert.equal((await errorOf(() => first!))?.code, 'ECANCELED', 'the op already started is abandoned with ECANCELED');
    assert.equal(await io.nop(), 0, 'the next unrelated op is not cancelled');
    // A refused op inside the chain is reported as the chain's error.
    const refused = await errorOf(() => io.link(() => io.nop(), () => io.read(-1, Buffer.alloc(1))));
    assert.equal(refused?.code, 'ERR_OUT_OF_RANGE');
    const ok = await io.link(() => io.nop(), () => io.nop());
    assert.deepEqual(ok.map((r) => r.status), ['fulfilled', 'fulfilled']);
    await sleep(10);
    assert.deepEqual(unhandled, [], 'no unhandled rejection');
    await io.driver.close();
    return { ok: true };
  },

  /** #10: a timeout that cannot be represented is refused before anything happens. */
  async 'timeout-range'(ctx) {
    const { Driver, IO } = await driverModule(ctx);
    const io = new IO(new Driver());
    const file = fileOf(ctx, 'tw', 'unchanged');
    const fd = fs.openSync(file, 'r+');
    for (const timeout of [1e22, 2 ** 32, -1, Infinity, NaN]) {
      assert.equal((await errorOf(() => io.write(fd, Buffer.from('CHANGED!!'), 0, { timeout })))?.code, 'ERR_OUT_OF_RANGE', `timeout ${timeout}`);
    }
    assert.equal((await errorOf(() => io.write(fd, Buffer.from('x'), 0, { timeout: '5' as never })))?.code, 'ERR_INVALID_ARG_TYPE');
    const other = io.nop();
    assert.equal(await other, 0, 'an unrelated op is not cancelled');
    await sleep(5);
    assert.equal(fs.readFileSync(file, 'utf8'), 'unchanged', 'the refused write never happened');
    fs.closeSync(fd);
    await io.driver.close();
    return { ok: true };
  },

  /** #11: aborting after a credential change cancels the op (AbortError), nothing throws from the listener. */
  async 'abort-after-setuid'(ctx) {
    if (process.getuid?.() !== 0) return { skipped: 'needs root to change identity' };
    const { io } = await driverModule(ctx);
    const pipe = fifo();
    const ac = new AbortController();
    const pending = io().read(pipe.r, Buffer.alloc(8), -1, { signal: ac.signal });
    await turn();
    const uncaught: unknown[] = [];
    process.on('uncaughtException', (e) => uncaught.push(e));
    process.setgid!(NOBODY);
    process.setuid!(NOBODY);
    ac.abort();
    assert.equal((await errorOf(() => pending))?.name, 'AbortError');
    assert.deepEqual(uncaught, []);
    // The old ring refuses new work; io() moves to a new ring acting as nobody.
    assert.equal(await io().nop(), 0);
    pipe.close();
    return { ok: true };
  },

  /** #12: completions that issue many ops, and synchronous bursts far beyond the SQ, never see a full SQ. */
  async 'fan-out'(ctx) {
    const { Driver, IO } = await driverModule(ctx);
    for (const taskrun of ['coop', 'defer'] as const) {
      const io = new IO(new Driver({ entries: 4, taskrun }));
      const file = fileOf(ctx, `f-${taskrun}`, Buffer.alloc(4096, 0x66));
      const fd = fs.openSync(file, 'r');
      const buf = Buffer.alloc(4096);
      let done = 0;
      const target = count(ctx, 20_000, 700);
      await new Promise<void>((resolve, reject) => {
        const onRead = (res: number, depth: number): void => {
          if (res !== 64) return reject(new Error(`res ${res}`));
          if (++done === target) return resolve();
          // Each completion fans out into 3 more, up to the target.
          if (depth < 12) for (let k = 0; k < 3 && done + k < target; k++) io.readInto(fd, buf, 0, 64, 0, onRead, depth + 1);
        };
        for (let k = 0; k < 600; k++) io.readInto(fd, buf, 0, 64, 0, onRead, 0);
      }).catch((e) => { throw e; });
      // A synchronous burst of 10,000 on a 4-entry SQ.
      let burst = 0;
      await new Promise<void>((resolve) => {
        const n = count(ctx, 10_000, 600);
        for (let k = 0; k < n; k++) io.readInto(fd, buf, 0, 64, 0, () => { if (++burst === n) resolve(); }, 0);
      });
      fs.closeSync(fd);
      await io.driver.close();
    }
    return { ok: true };
  },

  /** #13: a timed op reports what actually happened: timed out, aborted, or cancelled by close(). */
  async 'timeout-truth'(ctx) {
    const { Driver, IO } = await driverModule(ctx);
    const io = new IO(new Driver());
    const pipe = fifo();
    assert.equal((await errorOf(() => io.read(pipe.r, Buffer.alloc(1), -1, { timeout: 20 })))?.code, 'ETIMEDOUT');
    const ac = new AbortController();
    const aborted = io.read(pipe.r, Buffer.alloc(1), -1, { timeout: 10_000, signal: ac.signal });
    setTimeout(() => ac.abort(), 10);
    assert.equal((await errorOf(() => aborted))?.name, 'AbortError');
    const closed = io.read(pipe.r, Buffer.alloc(1), -1, { timeout: 10_000 });
    await turn();
    await io.driver.close();
    const e = await errorOf(() => closed);
    assert.equal(e?.code, 'ECANCELED', `cancelled by close(), reported as ${e?.code}`);
    assert.match(e!.message, /closed/);
    const io2 = new IO(new Driver());
    const fast = await io2.read(fs.openSync(fileOf(ctx, 't1', 'abc'), 'r'), Buffer.alloc(3), 0, { timeout: 10_000 });
    assert.equal(fast, 3, 'an op that completes in time resolves');
    await io2.driver.close();
    pipe.close();
    return { ok: true };
  },

  /** #14: a Driver constructor that fails cleans up and reports the real errno. */
  async 'driver-constructor-failure'(ctx) {
    const { Driver } = await driverModule(ctx);
    const ring = await import(ctx.dist('ring/index.js'));
    ring.queueInit(2).queueExit(); // load everything that opens fds, once
    const open = openFds();
    // Room for exactly one more fd (RLIMIT_NOFILE bounds fd numbers; new fds take the lowest free one):
    // the limit is the second free number, so the ring gets the first and the eventfd (taskrun 'defer') none.
    // (The fd that read the directory is closed again by now: keep only the fds that still resolve.)
    const used = new Set(fs.readdirSync('/proc/self/fd').filter((n) => { try { fs.readlinkSync(`/proc/self/fd/${n}`); return true; } catch { return false; } }).map(Number));
    const free: number[] = [];
    for (let n = 0; free.length < 2; n++) if (!used.has(n)) free.push(n);
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${free[1]}:${free[1]}`]);
    const e = await errorOf(() => new Driver({ taskrun: 'defer' }));
    assert.equal(e?.code, 'EMFILE');
    assert.ok(e instanceof ring.UringError, 'a UringError');
    assert.equal((e as NodeJS.ErrnoException).syscall, 'eventfd');
    assert.equal(openFds(), open, 'the ring of the failed constructor was closed');
    // With the ring's fd free again, a driver that needs no eventfd fits.
    const d = new Driver({ taskrun: 'coop' });
    await d.close();
    return { ok: true };
  },

  /** #15: raw-ring misuse is defined: a CQE seen twice, getSqe after exit, the driver's ring out of reach. */
  async 'raw-misuse'(ctx) {
    const ring = await import(ctx.dist('ring/index.js'));
    const { Driver } = await driverModule(ctx);
    const r = ring.queueInit(4);
    let sqe = r.getSqe()!;
    ring.prepNop(sqe);
    sqe.userData = 1;
    r.submitAndWait(1);
    const cqe = r.peekCqe()!;
    r.cqeSeen(cqe);
    r.cqeSeen(cqe);
    r.cqAdvance(1000);
    assert.equal(r.cqReady(), 0, 'the head never passes the tail');
    assert.equal(r.peekCqe(), null, 'no phantom CQE');
    sqe = r.getSqe()!;
    ring.prepNop(sqe);
    sqe.userData = 2;
    r.submitAndWait(1);
    assert.equal(r.peekCqe()!.userData, 2);
    r.cqeSeen();
    // A prep helper that refuses its arguments leaves a NOP that posts nothing.
    sqe = r.getSqe()!;
    assert.throws(() => ring.prepRead(sqe, 0, Buffer.alloc(4), 8, 0), { code: 'ERR_OUT_OF_RANGE' });
    assert.equal(r.submit(), 1);
    await sleep(5);
    assert.equal(r.peekCqe(), null, 'the refused slot completed silently');
    r.queueExit();
    assert.throws(() => r.getSqe(), { code: 'ERR_URING_RING_CLOSED' });
    assert.throws(() => r.submit(), { code: 'ERR_URING_RING_CLOSED' });
    const d = new Driver();
    assert.equal('ring' in d, false, 'the driver does not hand out its ring (nobody can queueExit it under the driver)');
    await d.close();
    return { ok: true };
  },

  /** #16: argument errors are Node's, and none of them creates anything. */
  async 'argument-errors'(ctx) {
    const { Driver, IO, allocAlignedBuffer } = await driverModule(ctx);
    const io = new IO(new Driver());
    const dir = path.join(ctx.dir, 'mk');
    const checks: Array<[string, () => unknown, string]> = [
      ['statx(path, undefined)', () => io.statx('x', undefined as never), 'ERR_INVALID_ARG_TYPE'],
      ["mkdir(path, 'abc')", () => io.mkdir(dir, 'abc'), 'ERR_INVALID_ARG_VALUE'],
      ['mkdir(path, -1)', () => io.mkdir(dir, -1), 'ERR_OUT_OF_RANGE'],
      ["open(…, { dirfd: 'x' })", () => io.open('x', 0, 0o666, { dirfd: 'x' as never }), 'ERR_INVALID_ARG_TYPE'],
      ['open(…, { dirfd: -5 })', () => io.open('x', 0, 0o666, { dirfd: -5 }), 'ERR_OUT_OF_RANGE'],
      ['allocAlignedBuffer(NaN)', () => allocAlignedBuffer(NaN), 'ERR_OUT_OF_RANGE'],
      ['allocAlignedBuffer(-1)', () => allocAlignedBuffer(-1), 'ERR_OUT_OF_RANGE'],
      ["allocAlignedBuffer('8')", () => allocAlignedBuffer('8' as never), 'ERR_INVALID_ARG_TYPE'],
      ["Driver({ entries: 'x' })", () => new Driver({ entries: 'x' as never }), 'ERR_INVALID_ARG_TYPE'],
      ["Driver({ taskrun: 'bogus' })", () => new Driver({ taskrun: 'bogus' as never }), 'ERR_INVALID_ARG_VALUE'],
      ['Driver(null)', () => new Driver(null as never), 'ERR_INVALID_ARG_TYPE'],
      ['unlink(path, "yes")', () => io.unlink('x', 'yes' as never), 'ERR_INVALID_ARG_TYPE'],
      ['fsync(fd, 1)', () => io.fsync(0, 1 as never), 'ERR_INVALID_ARG_TYPE'],
      ['link(5)', () => io.link(5 as never), 'ERR_INVALID_ARG_TYPE'],
      ['read options 5', () => io.read(0, Buffer.alloc(1), 0, 5 as never), 'ERR_INVALID_ARG_TYPE'],
      ['read { fixedFile: 1 }', () => io.read(0, Buffer.alloc(1), 0, { fixedFile: 1 as never }), 'ERR_INVALID_ARG_TYPE'],
    ];
    for (const [name, fn, code] of checks) assert.equal((await errorOf(fn))?.code, code, name);
    assert.equal(fs.existsSync(dir), false, 'no directory was created');
    // Async APIs reject, they do not throw.
    const rejected = io.read(-1, Buffer.alloc(1));
    assert.ok(rejected instanceof Promise);
    await rejected.catch(() => {});
    assert.equal(io.driver.pending, 0);
    await io.driver.close();
    return { checks: checks.length };
  },

  /** Exceptions thrown while completions are delivered reach 'uncaughtException' and the ring keeps delivering. */
  async 'throwing-callbacks'(ctx) {
    const { Driver, IO } = await driverModule(ctx);
    const io = new IO(new Driver());
    const caught: string[] = [];
    process.on('uncaughtException', (e) => caught.push(e.message));
    const pipe = fifo();
    const buf = Buffer.alloc(4);
    // Completions that arrive later (a FIFO written after a while) come through the event loop's watcher.
    const later = (): void => void setTimeout(() => fs.writeSync(pipe.w, 'abcd'), 5);
    const caughtCount = async (n: number): Promise<void> => {
      for (let i = 0; i < 400 && caught.length < n; i++) await sleep(5);
    };
    // From a completion callback. (One read at a time: two reads parked on one FIFO may complete in either order.)
    io.readInto(pipe.r, buf, 0, 4, -1, () => { throw new Error('from callback'); }, 0);
    later();
    await caughtCount(1);
    // From a nextTick scheduled by promise code that ran right after such a completion.
    const read = io.read(pipe.r, buf, -1).then(() => process.nextTick(() => { throw new Error('from nextTick'); }));
    later();
    await read;
    await caughtCount(2);
    for (let i = 0; i < 20; i++) {
      const r = io.read(pipe.r, buf, -1);
      later();
      assert.equal(await r, 4, 'the ring still delivers');
    }
    assert.deepEqual(caught, ['from callback', 'from nextTick']);
    pipe.close();
    await io.driver.close();
    return { caught };
  },

  /** Hostile buffers: detached, transferred, zero-length, DataView, typed arrays of every width. */
  async 'hostile-buffers'(ctx) {
    const { Driver, IO } = await driverModule(ctx);
    const io = new IO(new Driver());
    const file = fileOf(ctx, 'hb', Buffer.alloc(64, 0x68));
    const fd = fs.openSync(file, 'r');
    const detached = new ArrayBuffer(16);
    const stale = new Uint8Array(detached);
    structuredClone(detached, { transfer: [detached] });
    assert.equal((await errorOf(() => io.read(fd, stale, 0)))?.code, 'ERR_INVALID_ARG_VALUE');
    assert.equal(await io.read(fd, Buffer.alloc(0), 0), 0);
    for (const view of [new DataView(new ArrayBuffer(64)), new Float64Array(8), new Int16Array(32), new BigUint64Array(8), new Uint8ClampedArray(64)]) {
      assert.equal(await io.read(fd, view, 0), 64, view.constructor.name);
      assert.ok(new Uint8Array(view.buffer, view.byteOffset, view.byteLength).every((b) => b === 0x68), view.constructor.name);
    }
    // A view whose offset sits deep in its buffer.
    const big = Buffer.alloc(1 << 16, PATTERN);
    const tail = big.subarray(big.length - 64);
    assert.equal(await io.read(fd, tail, 0), 64);
    assert.ok(big.subarray(0, big.length - 64).every((b) => b === PATTERN));
    fs.closeSync(fd);
    await io.driver.close();
    return { ok: true };
  },

  /** Many ops in flight when their buffers' only references are dropped, collected, sprayed over; then the kernel writes. */
  async 'gc-in-flight'(ctx) {
    const { Driver, IO } = await driverModule(ctx);
    const io = new IO(new Driver());
    let early = 0;
    let inFlight = true;
    let current = -1;
    const fr = new FinalizationRegistry((round: number) => { if (round === current && inFlight) early++; });
    const rounds = await repeat(ctx, async (round) => {
      const pipe = fifo();
      current = round;
      inFlight = true;
      const results: Promise<number>[] = [];
      (() => {
        for (let i = 0; i < 200; i++) {
          const b = Buffer.alloc(512);
          fr.register(b, round);
          results.push(io.read(pipe.r, b, -1));
        }
      })();
      await collect();
      const sprayed = spray(512, 400);
      fs.writeSync(pipe.w, Buffer.alloc(200 * 512, 0x67));
      const got = await Promise.all(results);
      inFlight = false;
      assert.equal(early, 0, 'a buffer was collected while the kernel could write into it');
      assert.equal(got.reduce((a, b) => a + b, 0), 200 * 512);
      assertUntouched(sprayed, 'gc-in-flight');
      pipe.close();
    });
    await io.driver.close();
    return { rounds };
  },
};
