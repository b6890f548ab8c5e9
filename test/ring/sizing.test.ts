/**
 * io_uring_setup(2) / io_uring_queue_init(3) sizing on the real kernel:
 * SQ rounded up to a power of two, CQ twice the SQ by default, CQSIZE and
 * CLAMP rules — each case checked against the kernel and against the
 * library's model of the rules (computeSizing), which the doctor relies on.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IORING_MAX_CQ_ENTRIES, IORING_MAX_ENTRIES } from '../../src/abi/index.js';
import { computeSizing, queueInit, ringMemorySize, PAGE_SIZE, UringError, type SetupOptions } from '../../src/ring/index.js';

type Case = { entries: number; opts: SetupOptions; sq?: number; cq?: number; error?: string };

const cases: Case[] = [
  { entries: 0, opts: {}, error: 'EINVAL' },
  { entries: 1, opts: {}, sq: 1, cq: 2 },
  { entries: 3, opts: {}, sq: 4, cq: 8 },
  { entries: 4096, opts: {}, sq: 4096, cq: 8192 },
  { entries: 32768, opts: {}, sq: 32768, cq: 65536 },
  { entries: 32769, opts: {}, error: 'EINVAL' },
  { entries: 32769, opts: { clamp: true }, sq: 32768, cq: 65536 },
  { entries: 0xffffffff, opts: { clamp: true }, sq: 32768, cq: 65536 },
  { entries: 8, opts: { cqEntries: 4 }, error: 'EINVAL' },
  { entries: 8, opts: { cqEntries: 8 }, sq: 8, cq: 8 },
  { entries: 8, opts: { cqEntries: 100 }, sq: 8, cq: 128 },
  { entries: 8, opts: { cqEntries: 33 }, sq: 8, cq: 64 },
  { entries: 8, opts: { cqEntries: 0 }, error: 'EINVAL' },
  { entries: 5, opts: { cqEntries: 6 }, sq: 8, cq: 8 },
  { entries: 8, opts: { cqEntries: IORING_MAX_CQ_ENTRIES + 1 }, error: 'EINVAL' },
  { entries: 8, opts: { cqEntries: IORING_MAX_CQ_ENTRIES + 1, clamp: true }, sq: 8, cq: IORING_MAX_CQ_ENTRIES },
];

for (const c of cases) {
  test(`entries ${c.entries} ${JSON.stringify(c.opts)} → ${c.error ?? `${c.sq}/${c.cq}`}`, () => {
    let kernel: { sq: number; cq: number } | { error: string };
    try {
      const ring = queueInit(c.entries, c.opts);
      kernel = { sq: ring.params.sq_entries, cq: ring.params.cq_entries };
      assert.equal(ring.sqEntries, ring.params.sq_entries);
      assert.equal(ring.cqEntries, ring.params.cq_entries);
      ring.queueExit();
    } catch (e) {
      assert.ok(e instanceof UringError, String(e));
      assert.equal(e.syscall, 'io_uring_setup');
      assert.equal(e.errno, -22);
      assert.match(e.message, /EINVAL: .*(entries|cq_entries|CQSIZE)/s, 'the message names what was out of bounds');
      kernel = { error: e.code };
    }
    assert.deepEqual(kernel, c.error ? { error: c.error } : { sq: c.sq, cq: c.cq });
    const model = computeSizing(c.entries, { flags: queueInitFlags(c.opts), cq_entries: c.opts.cqEntries ?? 0 });
    assert.deepEqual(model.ok ? { sq: model.sqEntries, cq: model.cqEntries } : { error: 'EINVAL' }, kernel, 'computeSizing agrees with the kernel');
  });
}

function queueInitFlags(opts: SetupOptions): number {
  return (opts.clamp ? 1 << 4 : 0) | (opts.cqEntries !== undefined ? 1 << 3 : 0);
}

test('entries must be a u32: wrong types are TypeErrors before the kernel is asked', () => {
  assert.throws(() => queueInit('8' as unknown as number), { code: 'ERR_INVALID_ARG_TYPE', name: 'TypeError' });
  assert.throws(() => queueInit(-1), { code: 'ERR_OUT_OF_RANGE', name: 'RangeError' });
  assert.throws(() => queueInit(1.5), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => queueInit(2 ** 32), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => queueInit(8, { sqpoll: 1 as unknown as boolean }), { code: 'ERR_INVALID_ARG_TYPE' });
});

test('region sizes are computed as liburing does, and ringMemorySize counts whole pages', () => {
  for (const entries of [1, 8, 256, 4096]) {
    const ring = queueInit(entries);
    const p = ring.params;
    const sq = p.sq_off.array + p.sq_entries * 4;
    const cq = p.cq_off.cqes + p.cq_entries * 16;
    assert.equal(ring.sqRingSize, Math.max(sq, cq), 'SINGLE_MMAP: one region of the larger size');
    assert.equal(ring.cqRingSize, ring.sqRingSize);
    assert.equal(ring.sqesSize, p.sq_entries * 64);
    const mem = ringMemorySize(entries, { flags: 0, cq_entries: 0 }, PAGE_SIZE)!;
    assert.equal(mem % PAGE_SIZE, 0);
    assert.ok(mem >= ring.sqRingSize + ring.sqesSize - PAGE_SIZE, `${mem} covers the regions`);
    ring.queueExit();
  }
  assert.equal(IORING_MAX_ENTRIES, 32768);
});
