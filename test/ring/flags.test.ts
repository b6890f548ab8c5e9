/**
 * Every io_uring_setup(2) flag on the real kernel: the ring is created (or
 * the documented error occurs) and the flag's effect is observed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import {
  IORING_ENTER_GETEVENTS, IORING_SQ_NEED_WAKEUP, IORING_SQ_TASKRUN, IORING_OP_READ, IORING_SETUP_SQE_MIXED,
  IORING_SETUP_SQ_REWIND,
} from '../../src/abi/index.js';
import {
  allocRingMemory, enableRings, freeRingMemory, noMmapLayout, PAGE_SIZE, prepNop, prepRead, queueInit, queueInitParams,
  type Ring, UringError,
} from '../../src/ring/index.js';
import { native } from '../../src/ring/native.js';
import { fifo, kernelVersion, tempDir } from '../helpers.js';

function nop(ring: Ring, userData: number): void {
  const sqe = ring.getSqe();
  assert.ok(sqe, 'an SQE is free');
  prepNop(sqe);
  sqe.userData = userData;
}

function reap(ring: Ring, n: number): Array<{ userData: number; res: number }> {
  const out: Array<{ userData: number; res: number }> = [];
  while (out.length < n) {
    const cqe = ring.waitCqe();
    out.push({ userData: cqe.userData, res: cqe.res });
    ring.cqeSeen(cqe);
  }
  return out;
}

/** Counts io_uring_enter calls made through the shim while fn runs. */
function countEnters<T>(fn: () => T): { result: T; enters: number } {
  const original = native.enter;
  let enters = 0;
  (native as { enter: typeof native.enter }).enter = (...args) => {
    enters++;
    return original(...args);
  };
  try {
    return { result: fn(), enters };
  } finally {
    (native as { enter: typeof native.enter }).enter = original;
  }
}



test('IORING_SETUP_IOPOLL: created; buffered (non-O_DIRECT) file reads are refused', () => {
  const ring = queueInit(8, { iopoll: true });
  const file = path.join(tempDir(), 'f');
  fs.writeFileSync(file, 'data');
  const fd = fs.openSync(file, 'r');
  const sqe = ring.getSqe()!;
  prepRead(sqe, fd, Buffer.alloc(4), 4, 0);
  sqe.userData = 1;
  ring.submit();
  const [c] = reap(ring, 1);
  assert.equal(c.userData, 1);
  assert.ok(c.res === -95 || c.res === -22, `EOPNOTSUPP/EINVAL on a non-polled file, got ${c.res}`);
  fs.closeSync(fd);
  ring.queueExit();
});

test('IORING_SETUP_HYBRID_IOPOLL needs IOPOLL (EINVAL alone)', () => {
  assert.throws(() => queueInit(8, { hybridIopoll: true }), { code: 'EINVAL' });
  queueInit(8, { iopoll: true, hybridIopoll: true }).queueExit();
});

test('IORING_SETUP_SQPOLL: submits without io_uring_enter while the thread is awake; NEED_WAKEUP after idle', async () => {
  const ring = queueInit(8, { sqpoll: true, sqThreadIdle: 50 });
  // The thread starts asleep: the first submit must wake it.
  nop(ring, 1);
  const first = countEnters(() => ring.submit());
  assert.equal(first.result, 1);
  assert.equal(first.enters, ring.sqFlags() & IORING_SQ_NEED_WAKEUP ? 1 : first.enters);
  assert.deepEqual(reap(ring, 1), [{ userData: 1, res: 0 }]);
  // Awake now: submissions reach the kernel through shared memory alone.
  let awakeSubmits = 0;
  for (let i = 0; i < 20 && awakeSubmits === 0; i++) {
    nop(ring, 100 + i);
    const { enters } = countEnters(() => ring.submit());
    if (enters === 0) awakeSubmits++;
    let cqe = null;
    const t0 = Date.now();
    while (!(cqe = ring.peekCqe()) && Date.now() - t0 < 2000) { /* the SQ thread posts it */ }
    assert.ok(cqe, 'completion posted by the SQ thread');
    ring.cqeSeen(cqe);
  }
  assert.equal(awakeSubmits, 1, 'a submit made no io_uring_enter call');
  await sleep(300);
  assert.ok(ring.sqFlags() & IORING_SQ_NEED_WAKEUP, 'idle thread sets IORING_SQ_NEED_WAKEUP');
  nop(ring, 7);
  const woke = countEnters(() => ring.submit());
  assert.equal(woke.enters, 1, 'a sleeping thread is woken with one io_uring_enter');
  assert.deepEqual(reap(ring, 1), [{ userData: 7, res: 0 }]);
  ring.queueExit();
});

test('IORING_SETUP_SQ_AFF: needs SQPOLL; with it the SQ thread is pinned to sq_thread_cpu', () => {
  assert.throws(() => queueInit(8, { sqThreadCpu: 0 }), (e: UringError) => e.code === 'EINVAL' && /SQ_AFF was specified, but IORING_SETUP_SQPOLL was not/.test(e.message));
  const sqThreads = (): string[] => fs.readdirSync('/proc/self/task').filter((t) => {
    try { return fs.readFileSync(`/proc/self/task/${t}/comm`, 'utf8').startsWith('iou-sqp'); } catch { return false; }
  });
  const before = new Set(sqThreads());
  const ring = queueInit(8, { sqpoll: true, sqThreadCpu: 1, sqThreadIdle: 1000 });
  nop(ring, 1);
  ring.submit();
  reap(ring, 1);
  const sqThread = sqThreads().find((t) => !before.has(t));
  assert.ok(sqThread, 'an iou-sqp thread exists');
  const status = fs.readFileSync(`/proc/self/task/${sqThread}/status`, 'utf8');
  assert.match(status, /Cpus_allowed_list:\s*1\n/);
  ring.queueExit();
  assert.throws(() => queueInit(8, { sqpoll: true, sqThreadCpu: 4096 }), { code: 'EINVAL' });
});

test('IORING_SETUP_ATTACH_WQ: shares a ring\'s workers; a non-ring fd is EINVAL, no such fd ENXIO', () => {
  const a = queueInit(8);
  const b = queueInit(8, { attachWq: a });
  nop(b, 3);
  b.submit();
  assert.deepEqual(reap(b, 1), [{ userData: 3, res: 0 }]);
  b.queueExit();
  const file = fs.openSync(path.join(tempDir(), 'x'), 'w');
  assert.throws(() => queueInit(8, { attachWq: file }), { code: 'EINVAL' });
  fs.closeSync(file);
  assert.throws(() => queueInit(8, { attachWq: 1_000_000 }), (e: UringError) => e.code === 'ENXIO' && /wq_fd/.test(e.message));
  a.queueExit();
});

test('IORING_SETUP_R_DISABLED: refuses submission (EBADFD) until enabled', () => {
  const ring = queueInit(8, { rDisabled: true });
  assert.equal(ring.isDisabled, true);
  nop(ring, 1);
  assert.throws(() => ring.submit(), (e: UringError) => e.code === 'EBADFD' && /enableRings/.test(e.message));
  enableRings(ring);
  assert.equal(ring.isDisabled, false);
  // The SQE published before is still in the SQ: it goes now.
  assert.equal(ring.submit(), 1);
  assert.deepEqual(reap(ring, 1), [{ userData: 1, res: 0 }]);
  ring.queueExit();
});

test('IORING_SETUP_SUBMIT_ALL: continues past a bad SQE; without it the batch stops there', () => {
  for (const submitAll of [false, true]) {
    const ring = queueInit(8, { submitAll });
    nop(ring, 1);
    const bad = ring.getSqe()!;
    prepNop(bad);
    bad.opcode = 250; // no such opcode: fails at submission
    bad.userData = 2;
    nop(ring, 3);
    const submitted = ring.submit();
    const expected = submitAll ? 3 : 2;
    assert.equal(submitted, expected, `submitAll=${submitAll}`);
    const cqes = reap(ring, expected).sort((x, y) => x.userData - y.userData);
    assert.deepEqual(cqes[1], { userData: 2, res: -22 });
    if (!submitAll) {
      assert.equal(ring.sqReady(), 1, 'the SQE after the failure was left in the SQ');
      ring.submit();
      assert.deepEqual(reap(ring, 1), [{ userData: 3, res: 0 }]);
    }
    ring.queueExit();
  }
});

test('IORING_SETUP_COOP_TASKRUN + TASKRUN_FLAG: IORING_SQ_TASKRUN flags pending work; peekCqe flushes it', async () => {
  assert.throws(() => queueInit(8, { taskrunFlag: true }), { code: 'EINVAL' });
  const ring = queueInit(8, { coopTaskrun: true, taskrunFlag: true });
  const p = fifo();
  const buf = Buffer.alloc(8);
  const sqe = ring.getSqe()!;
  prepRead(sqe, p.r, buf, 8, -1);
  sqe.userData = 9;
  ring.submit();
  fs.writeSync(p.w, 'wake');
  const t0 = Date.now();
  while (!(ring.sqFlags() & IORING_SQ_TASKRUN) && ring.cqReady() === 0 && Date.now() - t0 < 2000) await sleep(1);
  assert.ok(ring.sqFlags() & IORING_SQ_TASKRUN || ring.cqReady() > 0, 'work flagged or already run');
  const cqe = ring.peekCqe();
  assert.ok(cqe);
  assert.equal(cqe.res, 4);
  assert.equal(buf.toString('utf8', 0, 4), 'wake');
  ring.cqeSeen(cqe);
  p.close();
  ring.queueExit();
});

test('IORING_SETUP_SQE128 / CQE32: 128-byte SQEs and 32-byte CQEs, read at the right stride', () => {
  const ring = queueInit(8, { sqe128: true, cqe32: true });
  assert.equal(ring.sqesSize, 8 * 128);
  assert.equal(ring.params.cq_entries, 16);
  assert.equal(ring.cqRingSize, Math.max(ring.params.cq_off.cqes + 16 * 32, ring.params.sq_off.array + 8 * 4));
  for (let i = 0; i < 5; i++) nop(ring, 1000 + i);
  assert.ok(ring.reserve(1));
  assert.equal(ring.reservedSqe(0).size, 128);
  ring.rollback();
  ring.submitAndWait(5);
  const seen: number[] = [];
  ring.forEachCqe((cqe) => {
    assert.equal(cqe.size, 32);
    assert.deepEqual(cqe.bigCqe, [0n, 0n]);
    seen.push(cqe.userData);
  });
  assert.deepEqual(seen, [1000, 1001, 1002, 1003, 1004]);
  ring.queueExit();
});

test('IORING_SETUP_SINGLE_ISSUER: another thread cannot submit (EEXIST)', async () => {
  const ring = queueInit(8, { singleIssuer: true });
  nop(ring, 1);
  ring.submit();
  reap(ring, 1);
  const shim = path.resolve(new URL('.', import.meta.url).pathname, '..', '..', '..', 'build', 'Release', 'uring_shim.node');
  const result = await new Promise<number>((resolve, reject) => {
    const w = new Worker(`const s = require(${JSON.stringify(shim)}); require('worker_threads').parentPort.postMessage(s.enter(${ring.fd}, 1, 0, ${IORING_ENTER_GETEVENTS}));`, { eval: true });
    w.once('message', resolve);
    w.once('error', reject);
  });
  assert.equal(result, -17, 'EEXIST from a second task');
  ring.queueExit();
});

test('IORING_SETUP_DEFER_TASKRUN: completions are posted only when the task enters the kernel', async () => {
  assert.throws(() => queueInit(8, { deferTaskrun: true }), (e: UringError) => e.code === 'EINVAL' && /SINGLE_ISSUER/.test(e.message));
  const ring = queueInit(8, { singleIssuer: true, deferTaskrun: true });
  const p = fifo();
  const buf = Buffer.alloc(8);
  const sqe = ring.getSqe()!;
  prepRead(sqe, p.r, buf, 8, -1);
  sqe.userData = 5;
  ring.submit();
  fs.writeSync(p.w, 'late');
  await sleep(50);
  assert.equal(ring.cqReady(), 0, 'nothing posted while the task stays out of the kernel');
  ring.getEvents();
  assert.equal(ring.cqReady(), 1);
  assert.deepEqual(reap(ring, 1), [{ userData: 5, res: 4 }]);
  p.close();
  ring.queueExit();
});

test('IORING_SETUP_NO_MMAP: rings live in application memory (allocated, or caller-provided)', () => {
  const own = queueInit(8, { noMmap: true });
  nop(own, 11);
  own.submit();
  assert.deepEqual(reap(own, 1), [{ userData: 11, res: 0 }]);
  own.queueExit();

  const memory = allocRingMemory(64 * 1024);
  const params = { flags: 1 << 14 };
  const ring = queueInitParams(8, params, memory);
  const layout = noMmapLayout(8, { flags: params.flags, cq_entries: 0 }, PAGE_SIZE)!;
  assert.equal(new Uint32Array(memory, layout.ringsOffset)[ring.params.sq_off.ring_entries >> 2], 8, 'the kernel wrote the SQ ring header into our memory');
  nop(ring, 12);
  ring.submit();
  assert.deepEqual(reap(ring, 1), [{ userData: 12, res: 0 }]);
  ring.queueExit();
  assert.equal(memory.byteLength, 64 * 1024, 'caller memory is left to the caller');
  freeRingMemory(memory);
  assert.equal(memory.byteLength, 0);
  assert.throws(() => queueInitParams(8, { flags: 1 << 14 }, new ArrayBuffer(64)), { code: 'ERR_INVALID_ARG_VALUE' });
});

test('IORING_SETUP_REGISTERED_FD_ONLY: no fd, only a registered index; needs NO_MMAP', () => {
  assert.throws(() => queueInit(8, { registeredFdOnly: true }), { code: 'EINVAL' });
  const ring = queueInit(8, { noMmap: true, registeredFdOnly: true });
  assert.equal(ring.fd, -1);
  assert.ok(ring.registeredIndex >= 0);
  nop(ring, 13);
  ring.submit();
  assert.deepEqual(reap(ring, 1), [{ userData: 13, res: 0 }]);
  ring.queueExit();
});

test('IORING_SETUP_NO_SQARRAY: no index array (sq_off.array is 0); SQEs still flow in order', () => {
  const ring = queueInit(8, { noSqarray: true });
  assert.equal(ring.params.sq_off.array, 0);
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 8; i++) nop(ring, round * 10 + i);
    ring.submitAndWait(8);
    assert.deepEqual(reap(ring, 8).map((c) => c.userData), [0, 1, 2, 3, 4, 5, 6, 7].map((i) => round * 10 + i));
  }
  ring.queueExit();
});

test('IORING_SETUP_CLAMP and CQSIZE: see sizing.test; CQE_MIXED on 6.18+', () => {
  if (kernelVersion() >= 618) {
    const ring = queueInit(8, { cqeMixed: true });
    nop(ring, 1);
    ring.submit();
    assert.deepEqual(reap(ring, 1), [{ userData: 1, res: 0 }]);
    ring.queueExit();
  } else {
    assert.throws(() => queueInit(8, { cqeMixed: true }), { code: 'EINVAL' });
  }
  assert.throws(() => queueInit(8, { cqe32: true, cqeMixed: true }), { code: 'EINVAL' });
});

test('flags newer than this kernel fail with EINVAL and say so', { skip: kernelVersion() !== 618 && 'exact expectations are for 6.18' }, () => {
  for (const flags of [IORING_SETUP_SQE_MIXED, IORING_SETUP_SQ_REWIND, 1 << 30]) {
    assert.throws(() => queueInit(8, { flags }), (e: UringError) => e.code === 'EINVAL' && /newer than this kernel|does not know/.test(e.message));
  }
  assert.equal(IORING_OP_READ, 22);
});

test('queueExit is idempotent and leaves every view empty, never dangling', () => {
  const ring = queueInit(4);
  const sqe = ring.getSqe()!;
  ring.queueExit();
  ring.queueExit();
  assert.equal(sqe.u32.length, 0, 'a stale SQE sees no memory');
  assert.throws(() => ring.getSqe(), { code: 'ERR_URING_RING_CLOSED' });
  assert.throws(() => ring.reserve(1), { code: 'ERR_URING_RING_CLOSED' });
  assert.equal(ring.cqReady(), 0, 'an unmapped CQ reads as empty');
  assert.equal(sqe.opcode, 0);
  assert.throws(() => ring.submit(), { code: 'ERR_URING_RING_CLOSED' });
  assert.throws(() => ring.peekCqe(), { code: 'ERR_URING_RING_CLOSED' });
});
