/**
 * I/O through the raw ring API on the real kernel: NOP, read/write,
 * readv/writev, fixed files and buffers, linked chains, timeouts and link
 * timeouts, cancel, a CQ overflow flood, the probe, ring fd registration.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  IOSQE_FIXED_FILE, IOSQE_IO_HARDLINK, IOSQE_IO_LINK, IORING_OP, IORING_TIMEOUT_ETIME_SUCCESS,
  IORING_ASYNC_CANCEL_ALL, __kernel_timespec, IOSQE_CQE_SKIP_SUCCESS,
} from '../../src/abi/index.js';
import {
  Iovecs, getProbe, prepCancel64, prepLinkTimeout, prepNop, prepRead, prepReadFixed, prepReadv,
  prepTimeout, prepWrite, prepWriteFixed, prepWritev, queueInit, registerBuffers, registerFiles,
  registerFilesUpdate, registerRingFd, unregisterBuffers, unregisterFiles, unregisterRingFd,
  registerFilesSparse, registerEventfd, unregisterEventfd, registerPersonality,
  unregisterPersonality, registerIowqMaxWorkers, prepFsync, prepPollAdd, type Ring,
} from '../../src/ring/index.js';
import { native } from '../../src/ring/native.js';
import { fifo, tempDir } from '../helpers.js';

const dir = tempDir();

function drain(ring: Ring, n: number): Map<number, number> {
  const results = new Map<number, number>();
  while (results.size < n) {
    const cqe = ring.waitCqe();
    assert.ok(!results.has(cqe.userData), `user_data ${cqe.userData} completed once`);
    results.set(cqe.userData, cqe.res);
    ring.cqeSeen(cqe);
  }
  return results;
}

function timespec(ms: number): Buffer {
  const ts = Buffer.alloc(__kernel_timespec.size);
  ts.writeBigInt64LE(BigInt(Math.floor(ms / 1000)), __kernel_timespec.off.tv_sec);
  ts.writeBigInt64LE(BigInt((ms % 1000) * 1e6), __kernel_timespec.off.tv_nsec);
  return ts;
}

function iovecs(bufs: Buffer[]): Iovecs {
  return new Iovecs(bufs);
}

test('NOP round trip; user_data survives all 64 bits', () => {
  const ring = queueInit(4);
  const sqe = ring.getSqe()!;
  prepNop(sqe);
  sqe.userData64 = 0xfedcba9876543210n;
  assert.equal(ring.submitAndWait(1), 1);
  const cqe = ring.peekCqe()!;
  assert.equal(cqe.userData64, 0xfedcba9876543210n);
  assert.equal(cqe.res, 0);
  ring.cqeSeen(cqe);
  assert.equal(ring.peekCqe(), null);
  ring.queueExit();
});

test('write then read a file at offsets; readv/writev scatter-gather', () => {
  const ring = queueInit(8);
  const file = path.join(dir, 'rw');
  const fd = fs.openSync(file, 'w+');
  const data = Buffer.from('0123456789abcdef');
  let sqe = ring.getSqe()!;
  prepWrite(sqe, fd, data, data.length, 100);
  sqe.userData = 1;
  ring.submitAndWait(1);
  assert.deepEqual([...drain(ring, 1)], [[1, 16]]);
  assert.equal(fs.readFileSync(file).subarray(100).toString(), '0123456789abcdef');

  const out = Buffer.alloc(6);
  sqe = ring.getSqe()!;
  prepRead(sqe, fd, out, 6, 104);
  sqe.userData = 2;
  ring.submitAndWait(1);
  assert.deepEqual([...drain(ring, 1)], [[2, 6]]);
  assert.equal(out.toString(), '456789');

  const parts = [Buffer.from('AB'), Buffer.from('CDE'), Buffer.from('F')];
  const wiov = iovecs(parts);
  sqe = ring.getSqe()!;
  prepWritev(sqe, fd, wiov, 3, 0);
  sqe.userData = 3;
  // Write first, then read: a hard ordering through a link.
  sqe.flags = IOSQE_IO_LINK;
  const r1 = Buffer.alloc(4);
  const r2 = Buffer.alloc(2);
  const riov = iovecs([r1, r2]);
  sqe = ring.getSqe()!;
  prepReadv(sqe, fd, riov, 2, 0);
  sqe.flags = 0;
  sqe.userData = 4;
  ring.submitAndWait(2);
  assert.deepEqual([...drain(ring, 2)].sort(), [[3, 6], [4, 6]]);
  assert.equal(r1.toString() + r2.toString(), 'ABCDEF');
  fs.closeSync(fd);
  ring.queueExit();
});

test('bad fd completes with -EBADF; the ring stays usable', () => {
  const ring = queueInit(4);
  const sqe = ring.getSqe()!;
  prepRead(sqe, 1_000_000, Buffer.alloc(1), 1, 0);
  sqe.userData = 5;
  ring.submitAndWait(1);
  assert.deepEqual([...drain(ring, 1)], [[5, -9]]);
  ring.queueExit();
});

test('fixed files and fixed buffers (IOSQE_FIXED_FILE, READ_FIXED/WRITE_FIXED)', () => {
  const ring = queueInit(8);
  const file = path.join(dir, 'fixed');
  fs.writeFileSync(file, Buffer.alloc(8192));
  const fd = fs.openSync(file, 'r+');
  registerFiles(ring, [-1, fd]);
  const pool = [Buffer.alloc(4096), Buffer.alloc(4096)];
  registerBuffers(ring, pool);
  pool[0].write('fixed-buffer-data');
  let sqe = ring.getSqe()!;
  prepWriteFixed(sqe, 1, pool[0], 17, 4096, 0);
  sqe.flags = IOSQE_FIXED_FILE | IOSQE_IO_LINK;
  sqe.userData = 1;
  sqe = ring.getSqe()!;
  prepReadFixed(sqe, 1, pool[1].subarray(10), 17, 4096, 1);
  sqe.flags = IOSQE_FIXED_FILE;
  sqe.userData = 2;
  ring.submitAndWait(2);
  assert.deepEqual([...drain(ring, 2)].sort(), [[1, 17], [2, 17]]);
  assert.equal(pool[1].toString('utf8', 10, 27), 'fixed-buffer-data');
  // Slot 0 is empty: using it fails with EBADF.
  sqe = ring.getSqe()!;
  prepRead(sqe, 0, Buffer.alloc(1), 1, 0);
  sqe.flags = IOSQE_FIXED_FILE;
  sqe.userData = 3;
  ring.submitAndWait(1);
  assert.deepEqual([...drain(ring, 1)], [[3, -9]]);
  assert.equal(registerFilesUpdate(ring, 0, [fd]), 1);
  unregisterFiles(ring);
  unregisterBuffers(ring);
  registerFilesSparse(ring, 16);
  unregisterFiles(ring);
  fs.closeSync(fd);
  ring.queueExit();
});

test('linked chains: a failure cancels the rest (-ECANCELED); hardlinks continue', () => {
  const ring = queueInit(8);
  let sqe = ring.getSqe()!;
  prepRead(sqe, 1_000_000, Buffer.alloc(1), 1, 0);
  sqe.flags = IOSQE_IO_LINK;
  sqe.userData = 1;
  sqe = ring.getSqe()!;
  prepNop(sqe);
  sqe.flags = IOSQE_IO_LINK;
  sqe.userData = 2;
  sqe = ring.getSqe()!;
  prepNop(sqe);
  sqe.userData = 3;
  ring.submitAndWait(3);
  assert.deepEqual([...drain(ring, 3)].sort(), [[1, -9], [2, -125], [3, -125]]);

  sqe = ring.getSqe()!;
  prepRead(sqe, 1_000_000, Buffer.alloc(1), 1, 0);
  sqe.flags = IOSQE_IO_HARDLINK;
  sqe.userData = 4;
  sqe = ring.getSqe()!;
  prepNop(sqe);
  sqe.userData = 5;
  ring.submitAndWait(2);
  assert.deepEqual([...drain(ring, 2)].sort(), [[4, -9], [5, 0]]);
  ring.queueExit();
});

test('timeouts: expiry (-ETIME), count completion, ETIME_SUCCESS; link timeout cancels a slow op', () => {
  const ring = queueInit(8);
  const ts = timespec(20);
  let sqe = ring.getSqe()!;
  prepTimeout(sqe, ts, 0, 0);
  sqe.userData = 1;
  const t0 = process.hrtime.bigint();
  ring.submitAndWait(1);
  assert.deepEqual([...drain(ring, 1)], [[1, -62]]);
  assert.ok(process.hrtime.bigint() - t0 >= 15_000_000n, 'waited about 20ms');

  const long = timespec(10_000);
  sqe = ring.getSqe()!;
  prepTimeout(sqe, long, 1, 0);
  sqe.userData = 2;
  sqe = ring.getSqe()!;
  prepNop(sqe);
  sqe.userData = 3;
  ring.submitAndWait(2);
  assert.deepEqual([...drain(ring, 2)].sort(), [[2, 0], [3, 0]], 'a count-1 timeout fires on one completion');

  sqe = ring.getSqe()!;
  prepTimeout(sqe, timespec(1), 0, IORING_TIMEOUT_ETIME_SUCCESS);
  sqe.userData = 6;
  ring.submitAndWait(1);
  assert.deepEqual([...drain(ring, 1)], [[6, -62]]);

  // A poll on a pipe that never becomes readable, with a 10ms link timeout.
  const { r, w } = fifo();
  sqe = ring.getSqe()!;
  prepPollAdd(sqe, r, 1);
  sqe.flags = IOSQE_IO_LINK;
  sqe.userData = 4;
  sqe = ring.getSqe()!;
  prepLinkTimeout(sqe, timespec(10), 0);
  sqe.userData = 5;
  ring.submitAndWait(2);
  assert.deepEqual([...drain(ring, 2)].sort(), [[4, -125], [5, -62]]);
  fs.closeSync(r);
  fs.closeSync(w);
  ring.queueExit();
});


test('cancel: ASYNC_CANCEL by user_data ends a pending poll with -ECANCELED', () => {
  const ring = queueInit(8);
  const { r, w } = fifo();
  let sqe = ring.getSqe()!;
  prepPollAdd(sqe, r, 1);
  sqe.userData = 10;
  ring.submit();
  sqe = ring.getSqe()!;
  prepCancel64(sqe, 10, 0);
  sqe.userData = 11;
  ring.submitAndWait(2);
  assert.deepEqual([...drain(ring, 2)].sort(), [[10, -125], [11, 0]]);
  sqe = ring.getSqe()!;
  prepCancel64(sqe, 12345, 0);
  sqe.userData = 12;
  ring.submitAndWait(1);
  assert.deepEqual([...drain(ring, 1)], [[12, -2]], 'ENOENT: nothing to cancel');
  sqe = ring.getSqe()!;
  prepCancel64(sqe, 12345, IORING_ASYNC_CANCEL_ALL);
  sqe.userData = 13;
  ring.submitAndWait(1);
  assert.deepEqual([...drain(ring, 1)], [[13, 0]], 'CANCEL_ALL reports how many it cancelled');
  fs.closeSync(r);
  fs.closeSync(w);
  ring.queueExit();
});

test('CQ overflow flood: 10x the CQ size in completions, none lost, each exactly once', () => {
  const ring = queueInit(16); // CQ of 32
  const total = 320;
  let submitted = 0;
  let overflowSeen = false;
  while (submitted < total) {
    let sqe;
    while (submitted < total && (sqe = ring.getSqe())) {
      prepNop(sqe);
      sqe.userData = submitted++;
    }
    try {
      ring.submit();
    } catch (e) {
      assert.equal((e as { code: string }).code, 'EBUSY');
    }
    if (ring.cqNeedsFlush()) overflowSeen = true;
  }
  assert.ok(overflowSeen || ring.cqOverflow() >= 0);
  ring.submit();
  const seen = new Uint8Array(total);
  let n = 0;
  for (;;) {
    const cqe = ring.peekCqe();
    if (!cqe) break;
    assert.equal(cqe.res, 0);
    seen[cqe.userData]++;
    n++;
    ring.cqeSeen(cqe);
  }
  assert.equal(n, total);
  assert.ok(seen.every((x) => x === 1), 'every op completed exactly once');
  assert.ok(overflowSeen, 'the flood did overflow the CQ (IORING_SQ_CQ_OVERFLOW)');
  assert.equal(ring.cqOverflow(), 0, 'NODROP: nothing was dropped');
  ring.queueExit();
});

test('probe: supported opcodes by name; CQE_SKIP_SUCCESS posts nothing on success', () => {
  const ring = queueInit(4);
  const probe = getProbe(ring);
  assert.ok(probe.lastOp >= IORING_OP.IORING_OP_READ);
  for (const op of ['IORING_OP_NOP', 'IORING_OP_READ', 'IORING_OP_WRITE', 'IORING_OP_OPENAT', 'IORING_OP_STATX', 'IORING_OP_ASYNC_CANCEL']) {
    assert.ok(probe.names.includes(op), op);
  }
  assert.equal(probe.isSupported(IORING_OP.IORING_OP_NOP), true);
  assert.equal(probe.isSupported(250), false);
  let sqe = ring.getSqe()!;
  prepNop(sqe);
  sqe.flags = IOSQE_CQE_SKIP_SUCCESS;
  sqe.userData = 1;
  sqe = ring.getSqe()!;
  prepNop(sqe);
  sqe.userData = 2;
  ring.submitAndWait(1);
  assert.deepEqual([...drain(ring, 1)], [[2, 0]]);
  assert.equal(ring.cqReady(), 0);
  ring.queueExit();
});

test('registered ring fd, eventfd, personality, io-wq limits, fsync', () => {
  const ring = queueInit(4);
  const index = registerRingFd(ring);
  assert.ok(index >= 0);
  let sqe = ring.getSqe()!;
  prepNop(sqe);
  sqe.userData = 1;
  ring.submitAndWait(1);
  assert.deepEqual([...drain(ring, 1)], [[1, 0]]);
  unregisterRingFd(ring);
  const efd = native.eventfd();
  registerEventfd(ring, efd);
  sqe = ring.getSqe()!;
  prepNop(sqe);
  sqe.userData = 2;
  ring.submitAndWait(1);
  drain(ring, 1);
  assert.ok(native.readEventfd(efd) >= 1, 'the eventfd was signalled');
  unregisterEventfd(ring);
  native.close(efd);
  const id = registerPersonality(ring);
  assert.ok(id > 0);
  unregisterPersonality(ring, id);
  const before = registerIowqMaxWorkers(ring, 0, 0);
  assert.equal(before.length, 2);
  const file = fs.openSync(path.join(dir, 'sync'), 'w');
  sqe = ring.getSqe()!;
  prepFsync(sqe, file, 0);
  sqe.userData = 3;
  ring.submitAndWait(1);
  assert.deepEqual([...drain(ring, 1)], [[3, 0]]);
  fs.closeSync(file);
  ring.queueExit();
});

test('waitCqeTimeout returns null on expiry; submitAndWaitTimeout returns the completion', () => {
  const ring = queueInit(4);
  const t0 = Date.now();
  assert.equal(ring.waitCqeTimeout(30), null);
  assert.ok(Date.now() - t0 >= 25);
  const sqe = ring.getSqe()!;
  prepNop(sqe);
  sqe.userData = 9;
  const cqe = ring.submitAndWaitTimeout(1, 1000);
  assert.equal(cqe?.userData, 9);
  ring.cqeSeen(cqe!);
  assert.throws(() => ring.waitCqeTimeout(-1), { code: 'ERR_OUT_OF_RANGE' });
  ring.queueExit();
});
