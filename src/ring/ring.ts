/**
 * A mapped io_uring instance and its queues — liburing's `struct io_uring`
 * and queue.c: getSqe, submit, submitAndWait, peekCqe, waitCqe, cqAdvance —
 * plus the two primitives the driver layer is built on: SQE reservations
 * (reserve n slots, fill them, commit or roll back: nothing half-written is
 * ever submitted) and drainCq (every ready CQE to a callback, consumed).
 *
 * Memory ordering (io_uring_setup(2)): the SQ tail is published with
 * Atomics.store (sequentially consistent, so release and a full barrier);
 * under SQPOLL the SQ flags are read after that store, so the NEED_WAKEUP
 * test cannot miss a sleeping thread; the CQ tail is read with Atomics.load
 * (acquire) and the CQ head published with Atomics.store (release).
 *
 * Credentials: a ring acts with the credentials of the task that created it.
 * After the process changes its user or group identity (process.setuid & co.)
 * the ring refuses to publish any SQE that could act on the system; it still
 * publishes NOPs and cancellations, so that work in flight can be wound down.
 */
import {
  IORING_ENTER_EXT_ARG, IORING_ENTER_GETEVENTS, IORING_ENTER_REGISTERED_RING,
  IORING_ENTER_SQ_WAKEUP, IORING_ENTER_SQ_WAIT, IORING_FEAT_EXT_ARG, IORING_SETUP_IOPOLL,
  IORING_SETUP_NO_SQARRAY, IORING_SETUP_SQPOLL, IORING_SQ_CQ_OVERFLOW, IORING_SQ_NEED_WAKEUP,
  IORING_SQ_TASKRUN, IORING_SETUP_R_DISABLED, IORING_SETUP_REGISTERED_FD_ONLY, IORING_CQ_EVENTFD_DISABLED,
  IORING_UNREGISTER_RING_FDS, IORING_REGISTER_USE_REGISTERED_RING, IORING_OP_NOP, IORING_OP_ASYNC_CANCEL,
  IORING_OP_TIMEOUT_REMOVE, IORING_OP_POLL_REMOVE, IOSQE_CQE_SKIP_SUCCESS,
} from '../abi/constants.js';
import { io_uring_getevents_arg, io_uring_rsrc_update, __kernel_timespec } from '../abi/structs.js';
import { ERRNO } from '../abi/errno.js';
import { credentialEpoch, currentIds } from './credentials.js';
import { invalidState, outOfRange, UringError, validateInteger, validateU32 } from './errors.js';
import { Scratch } from './memory.js';
import { native } from './native.js';
import { cqeSizeFor, featureSet, type FeatureSet, type RegionSizes, type RingParams } from './params.js';
import { prepNop } from './prep.js';
import { Cqe, Sqe } from './sqe.js';

const { EINTR, EAGAIN, ETIME, EBADR, EBUSY, EBADFD, ENXIO, EBADF, EINVAL } = ERRNO;
const TWO_32 = 0x1_0000_0000;

/** What setup hands the ring: the fd, the kernel's params and the mapped regions. */
export interface RingInit {
  fd: number;
  params: RingParams;
  sizes: RegionSizes;
  sqRing: ArrayBuffer;
  cqRing: ArrayBuffer;
  sqes: ArrayBuffer;
  /** Regions this ring must munmap on exit (none when the application owns NO_MMAP memory). */
  owned: ArrayBuffer[];
  /** Byte offset of the rings (sq_off/cq_off are relative to it) in sqRing/cqRing; non-zero only with NO_MMAP. */
  ringsOffset: number;
  /** Byte offset of the SQE array in `sqes`. */
  sqesOffset: number;
}

/** u32 words of a region, bounded by the buffer (NO_MMAP memory may be rounded to pages). */
function wordsOf(buffer: ArrayBuffer, offset: number, size: number): Uint32Array {
  return new Uint32Array(buffer, offset, Math.min(size, buffer.byteLength - offset) >> 2);
}

/** A timeout: milliseconds as a number, or an exact { sec, nsec }. */
export type Timeout = number | { sec: number; nsec: number };

/** Receives one completion from drainCq: user_data (exact below 2^53), res, flags. */
export type CqeHandler = (userData: number, res: number, flags: number) => void;

/** Opcodes that act on nothing but the ring itself: still allowed after an identity change. */
function isHarmless(opcode: number): boolean {
  return opcode === IORING_OP_NOP || opcode === IORING_OP_ASYNC_CANCEL || opcode === IORING_OP_TIMEOUT_REMOVE || opcode === IORING_OP_POLL_REMOVE;
}

/** An io_uring instance: its fd, its params, and its shared submission and completion queues. */
export class Ring {
  /** The ring's file descriptor; -1 with IORING_SETUP_REGISTERED_FD_ONLY. */
  readonly fd: number;
  /** IORING_SETUP_* flags the ring was created with. */
  readonly flags: number;
  /** IORING_FEAT_* bits the kernel reported. */
  readonly features: number;
  /** The same features as named booleans (`ring.feature.nodrop`). */
  readonly feature: FeatureSet;
  /** Everything io_uring_setup(2) wrote back: sq/cq entries, sq_off, cq_off, … */
  readonly params: RingParams;
  /** mmap length of the SQ ring region (liburing's sq.ring_sz). */
  readonly sqRingSize: number;
  /** mmap length of the CQ ring region (equals sqRingSize with IORING_FEAT_SINGLE_MMAP). */
  readonly cqRingSize: number;
  /** mmap length of the SQE array. */
  readonly sqesSize: number;
  /** Number of SQ entries. */
  readonly sqEntries: number;
  /** Number of CQ entries. */
  readonly cqEntries: number;

  #enterFd: number;
  #enterFlags = 0;
  #registeredIndex = -1;

  readonly #sqU32: Uint32Array;
  readonly #sqHeadIdx: number;
  readonly #sqTailIdx: number;
  readonly #sqFlagsIdx: number;
  readonly #sqDroppedIdx: number;
  readonly #sqMask: number;
  readonly #sqpoll: boolean;
  /** Local SQE head (last published tail) and tail (next slot to hand out). */
  #sqeHead = 0;
  #sqeTail = 0;
  /** Slots reserved past #sqeTail and not yet committed. */
  #reserved = 0;
  readonly #sqeSlots: Sqe[];

  readonly #cqU32: Uint32Array;
  readonly #cqI32: Int32Array;
  readonly #cqHeadIdx: number;
  readonly #cqTailIdx: number;
  readonly #cqOverflowIdx: number;
  readonly #cqFlagsIdx: number;
  readonly #cqesWord: number;
  readonly #cqeWords: number;
  readonly #cqMask: number;
  /** Local copy of the CQ head (only we write it). */
  #cqHead = 0;
  readonly #cqeSlots: (Cqe | undefined)[];

  readonly #regions: ArrayBuffer[];
  readonly #owned: ArrayBuffer[];
  readonly #waitArg: Scratch;
  /** IOPOLL without SQPOLL reaps only inside io_uring_enter. */
  readonly #needsCqEnter: boolean;
  readonly #epoch: number;
  readonly #ids: { uid: number; gid: number; euid: number; egid: number };
  #disabled: boolean;
  #closed = false;

  /** @internal Use queueInit / queueInitParams. */
  constructor(init: RingInit) {
    const p = init.params;
    this.fd = p.flags & IORING_SETUP_REGISTERED_FD_ONLY ? -1 : init.fd;
    this.#enterFd = init.fd;
    if (p.flags & IORING_SETUP_REGISTERED_FD_ONLY) {
      this.#enterFlags = IORING_ENTER_REGISTERED_RING;
      this.#registeredIndex = init.fd;
    }
    this.flags = p.flags;
    this.features = p.features;
    this.feature = featureSet(p.features);
    this.params = p;
    this.sqRingSize = init.sizes.sqRingSize;
    this.cqRingSize = init.sizes.cqRingSize;
    this.sqesSize = init.sizes.sqesSize;
    this.#regions = [...new Set([init.sqRing, init.cqRing, init.sqes])];
    this.#owned = init.owned;
    this.#sqpoll = (p.flags & IORING_SETUP_SQPOLL) !== 0;

    const sq = wordsOf(init.sqRing, init.ringsOffset, init.sizes.sqRingSize);
    this.#sqU32 = sq;
    this.#sqHeadIdx = p.sq_off.head >> 2;
    this.#sqTailIdx = p.sq_off.tail >> 2;
    this.#sqFlagsIdx = p.sq_off.flags >> 2;
    this.#sqDroppedIdx = p.sq_off.dropped >> 2;
    this.#sqMask = sq[p.sq_off.ring_mask >> 2];
    this.sqEntries = sq[p.sq_off.ring_entries >> 2];
    const sqeU32 = wordsOf(init.sqes, init.sqesOffset, init.sizes.sqesSize);
    const sqeSize = init.sizes.sqesSize / p.sq_entries;
    this.#sqeSlots = new Array(this.sqEntries);
    for (let i = 0; i < this.sqEntries; i++) this.#sqeSlots[i] = new Sqe(sqeU32, i, sqeSize);
    this.#sqeHead = this.#sqeTail = sq[this.#sqTailIdx];
    if (!(p.flags & IORING_SETUP_NO_SQARRAY)) {
      // Slot i of the index array names SQE i, as liburing sets it up.
      const array = p.sq_off.array >> 2;
      for (let i = 0; i < this.sqEntries; i++) sq[array + i] = i;
    }

    const cq = wordsOf(init.cqRing, init.ringsOffset, init.sizes.cqRingSize);
    this.#cqU32 = cq;
    this.#cqI32 = new Int32Array(cq.buffer, cq.byteOffset, cq.length);
    this.#cqHeadIdx = p.cq_off.head >> 2;
    this.#cqTailIdx = p.cq_off.tail >> 2;
    this.#cqOverflowIdx = p.cq_off.overflow >> 2;
    this.#cqFlagsIdx = p.cq_off.flags ? p.cq_off.flags >> 2 : -1;
    this.#cqesWord = p.cq_off.cqes >> 2;
    this.#cqMask = cq[p.cq_off.ring_mask >> 2];
    this.cqEntries = cq[p.cq_off.ring_entries >> 2];
    this.#cqeWords = cqeSizeFor(p.flags) >> 2;
    this.#cqHead = cq[this.#cqHeadIdx];
    this.#cqeSlots = new Array(this.cqEntries);

    this.#waitArg = new Scratch(io_uring_getevents_arg.size + __kernel_timespec.size);
    this.#needsCqEnter = (p.flags & (IORING_SETUP_IOPOLL | IORING_SETUP_SQPOLL)) === IORING_SETUP_IOPOLL;
    this.#disabled = (p.flags & IORING_SETUP_R_DISABLED) !== 0;
    this.#epoch = credentialEpoch();
    this.#ids = currentIds();
  }

  /** True if the process changed its user or group identity since this ring was created. */
  get identityChanged(): boolean {
    return this.#epoch !== credentialEpoch();
  }

  /** True once queueExit()/close() ran. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Index of this ring in the registered-ring table (io_uring_register_ring_fd(3)), or -1. */
  get registeredIndex(): number {
    return this.#registeredIndex;
  }

  /** True while an R_DISABLED ring has not been enabled. */
  get isDisabled(): boolean {
    return this.#disabled;
  }

  // ---------------------------------------------------------------- SQ side

  #sqHead(): number {
    return this.#sqpoll ? Atomics.load(this.#sqU32, this.#sqHeadIdx) : this.#sqU32[this.#sqHeadIdx];
  }

  /**
   * io_uring_get_sqe(3): the next free SQE slot, or null when the SQ is full
   * (submit, then try again). The slot is not cleared: a prep helper fills
   * every field. Throws ERR_URING_RING_CLOSED after queueExit(), and
   * ERR_INVALID_STATE while a reservation is open.
   */
  getSqe(): Sqe | null {
    this.#assertOpen();
    if (this.#reserved !== 0) throw invalidState('getSqe() while a reservation is open: commit() or rollback() it first');
    const tail = this.#sqeTail;
    if (((tail - this.#sqHead()) >>> 0) >= this.sqEntries) return null;
    this.#sqeTail = (tail + 1) >>> 0;
    return this.#sqeSlots[tail & this.#sqMask];
  }

  /**
   * Reserves `n` more SQE slots after those already reserved, for a
   * transaction: fill them (reservedSqe), then commit() — they join the
   * queue together — or rollback() — they never existed. Returns false,
   * reserving nothing, when the SQ lacks room (submit first). A linked chain
   * reserved whole never straddles two submissions. Not in liburing.
   */
  reserve(n: number): boolean {
    this.#assertOpen();
    const used = (this.#sqeTail + this.#reserved - this.#sqHead()) >>> 0;
    if (used + n > this.sqEntries) return false;
    this.#reserved += n;
    return true;
  }

  /** Slots currently reserved (0 when no reservation is open). */
  get reservedCount(): number {
    return this.#reserved;
  }

  /** The i-th slot of the open reservation (0-based). */
  reservedSqe(i: number): Sqe {
    if (!(i >= 0 && i < this.#reserved)) throw outOfRange('i', `>= 0 && < ${this.#reserved} (the reserved slots)`, i);
    return this.#sqeSlots[(this.#sqeTail + i) & this.#sqMask];
  }

  /** Makes the reserved slots part of the SQ, in order; the next submit publishes them. */
  commit(): void {
    this.#sqeTail = (this.#sqeTail + this.#reserved) >>> 0;
    this.#reserved = 0;
  }

  /**
   * Forgets the open reservation, or all of it but its first `keep` slots;
   * what is forgotten is free again and nothing of it reaches the kernel.
   */
  rollback(keep = 0): void {
    if (keep < this.#reserved) this.#reserved = keep > 0 ? keep : 0;
  }

  /**
   * Turns every SQE committed but not yet submitted into a NOP that posts
   * no CQE (IOSQE_CQE_SKIP_SUCCESS), except NOPs and cancellations, and
   * returns the user_data of each SQE it voided. Not in liburing: for callers
   * that must not let prepared work run (the identity changed, the caller is
   * shutting down) but must still let cancellations go out.
   */
  voidUnsubmitted(): number[] {
    const voided: number[] = [];
    for (let t = this.#sqeHead; t !== this.#sqeTail; t = (t + 1) >>> 0) {
      const sqe = this.#sqeSlots[t & this.#sqMask];
      if (isHarmless(sqe.opcode)) continue;
      voided.push(sqe.userData);
      prepNop(sqe);
      sqe.flags = IOSQE_CQE_SKIP_SUCCESS;
    }
    return voided;
  }

  /** io_uring_sq_ready(3): SQEs prepared but not yet consumed by the kernel. */
  sqReady(): number {
    if (this.#closed) return 0;
    return (this.#sqeTail - this.#sqHead()) >>> 0;
  }

  /** io_uring_sq_space_left(3): free SQE slots (reserved ones count as taken). */
  sqSpaceLeft(): number {
    return this.sqEntries - this.sqReady() - this.#reserved;
  }

  /** IORING_SQ_* flags the kernel currently shows in the SQ ring. */
  sqFlags(): number {
    if (this.#closed) return 0;
    return Atomics.load(this.#sqU32, this.#sqFlagsIdx);
  }

  /** Invalid SQEs the kernel skipped (io_sqring_offsets.dropped). */
  sqDropped(): number {
    if (this.#closed) return 0;
    return Atomics.load(this.#sqU32, this.#sqDroppedIdx);
  }

  /** Publishes committed SQEs (tail store with release ordering); returns how many the kernel has yet to consume. */
  #publish(): number {
    const tail = this.#sqeTail;
    if (this.#sqeHead !== tail) {
      this.#assertOpen();
      if (this.#epoch !== credentialEpoch()) this.#assertOnlyHarmless();
      this.#sqeHead = tail;
      Atomics.store(this.#sqU32, this.#sqTailIdx, tail);
    }
    return (tail - Atomics.load(this.#sqU32, this.#sqHeadIdx)) >>> 0;
  }

  #assertOnlyHarmless(): void {
    for (let t = this.#sqeHead; t !== this.#sqeTail; t = (t + 1) >>> 0) {
      if (!isHarmless(this.#sqeSlots[t & this.#sqMask].opcode)) this.#refuseIdentity();
    }
  }

  #refuseIdentity(): never {
    const now = currentIds();
    throw invalidState(
      `This ring was created by uid ${this.#ids.euid}/gid ${this.#ids.egid}; the process has since changed its identity ` +
        `(now uid ${now.euid}/gid ${now.egid}). io_uring requests would still run with the old credentials, so the ring ` +
        'refuses them (it still submits cancellations). Create a new ring after changing identity.',
      'ERR_URING_CREDENTIALS_CHANGED',
    );
  }

  /** Flags for io_uring_enter when `submitted` SQEs are pending, or -1 when no enter is needed for the SQ. */
  #sqEnterFlags(submitted: number): number {
    if (submitted === 0) return -1;
    if (!this.#sqpoll) return 0;
    // Atomics.store of the tail above is a full barrier; this load follows it.
    if (Atomics.load(this.#sqU32, this.#sqFlagsIdx) & IORING_SQ_NEED_WAKEUP) return IORING_ENTER_SQ_WAKEUP;
    return -1;
  }

  /** io_uring_cq_has_overflow / cq_ring_needs_flush: completions (or task work producing them) wait in the kernel. */
  cqNeedsFlush(): boolean {
    if (this.#closed) return false;
    return (Atomics.load(this.#sqU32, this.#sqFlagsIdx) & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN)) !== 0;
  }

  /**
   * io_uring_submit(3): hands prepared SQEs to the kernel. Under SQPOLL no
   * syscall is made unless the thread sleeps (IORING_SQ_NEED_WAKEUP); then
   * io_uring_enter wakes it with IORING_ENTER_SQ_WAKEUP. Returns the number
   * of SQEs submitted. Throws a UringError (EBUSY: reap completions and
   * retry; EAGAIN: the kernel is out of request memory), or
   * ERR_URING_CREDENTIALS_CHANGED (nothing was published).
   */
  submit(): number {
    return this.#submitInternal(0, false);
  }

  /**
   * io_uring_submit_and_wait(3): submits and blocks until at least `waitNr`
   * completions are available. Blocks the thread: the driver layer never
   * calls it on the event loop.
   */
  submitAndWait(waitNr: number): number {
    validateU32(waitNr, 'waitNr');
    return this.#submitInternal(waitNr, false);
  }

  /**
   * io_uring_get_events(3): enters the kernel only to flush overflowed
   * completions and run deferred task work (DEFER_TASKRUN, TASKRUN).
   */
  getEvents(): number {
    this.#assertOpen();
    return this.#enterChecked(0, 0, IORING_ENTER_GETEVENTS | this.#enterFlags, 0, 0);
  }

  /**
   * io_uring_submit_and_get_events(3): submits, and enters the kernel even
   * with nothing to submit so that completions are flushed.
   */
  submitAndGetEvents(): number {
    return this.#submitInternal(0, true);
  }

  #submitInternal(waitNr: number, getEvents: boolean): number {
    this.#assertOpen();
    const submitted = this.#publish();
    const cqEnter = getEvents || waitNr > 0 || this.#needsCqEnter || this.cqNeedsFlush();
    let flags = this.#sqEnterFlags(submitted);
    if (flags < 0 && !cqEnter) return submitted;
    if (flags < 0) flags = 0;
    if (cqEnter) flags |= IORING_ENTER_GETEVENTS;
    return this.#enterChecked(submitted, waitNr, flags | this.#enterFlags, 0, 0);
  }

  /** io_uring_enter, retried on EINTR, errors thrown as UringError. */
  #enterChecked(toSubmit: number, minComplete: number, flags: number, arg: number, argSize: number): number {
    for (;;) {
      const ret = native.enter(this.#enterFd, toSubmit, minComplete, flags, arg, argSize);
      if (ret >= 0) return ret;
      if (ret === EINTR) continue;
      throw enterError(ret);
    }
  }

  // ---------------------------------------------------------------- CQ side

  /** io_uring_cq_ready(3): completions available to reap without a syscall. */
  cqReady(): number {
    if (this.#closed) return 0;
    return (Atomics.load(this.#cqU32, this.#cqTailIdx) - this.#cqHead) >>> 0;
  }

  /** Completions the kernel could not post to a full CQ ring (io_cqring_offsets.overflow). */
  cqOverflow(): number {
    if (this.#closed) return 0;
    return Atomics.load(this.#cqU32, this.#cqOverflowIdx);
  }

  #cqeAt(position: number): Cqe {
    const slot = position & this.#cqMask;
    let cqe = this.#cqeSlots[slot];
    if (cqe === undefined) {
      cqe = new Cqe(this.#cqU32, this.#cqI32, this.#cqesWord + slot * this.#cqeWords, this.#cqeWords * 4);
      this.#cqeSlots[slot] = cqe;
    }
    return cqe;
  }

  /** Enters the kernel if completions can only be had that way (overflow, task work, IOPOLL). */
  #flushIfNeeded(): void {
    if (this.#needsCqEnter || this.cqNeedsFlush()) this.getEvents();
  }

  /**
   * io_uring_peek_cqe(3): the next completion if one is ready, else null.
   * Never blocks; enters the kernel only when completions wait there
   * (CQ overflow, deferred task work, IOPOLL).
   */
  peekCqe(): Cqe | null {
    this.#assertOpen();
    if (this.cqReady() > 0) return this.#cqeAt(this.#cqHead);
    this.#flushIfNeeded();
    return this.cqReady() > 0 ? this.#cqeAt(this.#cqHead) : null;
  }

  /**
   * io_uring_peek_batch_cqe(3): fills `out` with up to `count` ready
   * completions (default out.length) and returns how many.
   */
  peekBatchCqe(out: Cqe[], count: number = out.length): number {
    this.#assertOpen();
    if (this.cqReady() === 0) this.#flushIfNeeded();
    const n = Math.min(this.cqReady(), count);
    for (let i = 0; i < n; i++) out[i] = this.#cqeAt((this.#cqHead + i) >>> 0);
    return n;
  }

  /**
   * io_uring_for_each_cqe: calls `fn` for each ready completion, then marks
   * them all seen (io_uring_cq_advance). Returns how many were handled.
   */
  forEachCqe(fn: (cqe: Cqe) => void): number {
    this.#assertOpen();
    if (this.cqReady() === 0) this.#flushIfNeeded();
    const ready = this.cqReady();
    let i = 0;
    try {
      for (; i < ready; i++) fn(this.#cqeAt((this.#cqHead + i) >>> 0));
    } finally {
      // Completions already handed to fn are consumed even if fn throws.
      this.cqAdvance(i < ready ? i + 1 : ready);
    }
    return ready;
  }

  /**
   * Every ready completion to `fn(userData, res, flags)`, consumed as it
   * goes, allocation-free; flushes overflowed completions and task work
   * first, and again while the kernel reports more. If `fn` throws, the
   * completions up to and including that one stay consumed and the
   * exception propagates. Returns how many were handed out. Not in
   * liburing (its io_uring_for_each_cqe + io_uring_cq_advance, fused).
   */
  drainCq(fn: CqeHandler): number {
    this.#assertOpen();
    this.#flushIfNeeded();
    const u32 = this.#cqU32;
    const i32 = this.#cqI32;
    const mask = this.#cqMask;
    const words = this.#cqeWords;
    const base = this.#cqesWord;
    let total = 0;
    for (;;) {
      const tail = Atomics.load(u32, this.#cqTailIdx);
      let head = this.#cqHead;
      if (head === tail) break;
      try {
        for (; head !== tail; head = (head + 1) >>> 0) {
          const w = base + (head & mask) * words;
          fn(u32[w] + u32[w + 1] * TWO_32, i32[w + 2], u32[w + 3]);
          total++;
        }
      } finally {
        if (head !== tail) head = (head + 1) >>> 0; // the CQE whose handler threw is consumed
        this.#cqHead = head;
        Atomics.store(u32, this.#cqHeadIdx, head);
      }
      if (!this.cqNeedsFlush()) break;
      this.getEvents();
    }
    return total;
  }

  /** io_uring_wait_cqe(3): blocks until a completion is available. */
  waitCqe(): Cqe {
    return this.waitCqeNr(1);
  }

  /** io_uring_wait_cqe_nr(3): blocks until `waitNr` completions are available; returns the first. */
  waitCqeNr(waitNr: number): Cqe {
    validateInteger(waitNr, 'waitNr', 1, this.cqEntries);
    const cqe = this.#getCqe(0, waitNr, null);
    if (cqe === null) throw new UringError(EAGAIN, 'io_uring_enter');
    return cqe;
  }

  /**
   * io_uring_wait_cqe_timeout(3): waits up to `timeout` for a completion;
   * null when it expires (ETIME). Uses IORING_ENTER_EXT_ARG.
   */
  waitCqeTimeout(timeout: Timeout): Cqe | null {
    return this.#getCqe(0, 1, timeout);
  }

  /** io_uring_wait_cqes(3): waits up to `timeout` for `waitNr` completions; null on timeout. */
  waitCqes(waitNr: number, timeout: Timeout | null): Cqe | null {
    validateInteger(waitNr, 'waitNr', 1, this.cqEntries);
    return this.#getCqe(0, waitNr, timeout);
  }

  /**
   * io_uring_submit_and_wait_timeout(3): submits, then waits up to
   * `timeout` for `waitNr` completions. Returns the first completion, or
   * null when the timeout expired first.
   */
  submitAndWaitTimeout(waitNr: number, timeout: Timeout | null): Cqe | null {
    validateU32(waitNr, 'waitNr');
    this.#assertOpen();
    return this.#getCqe(this.#publish(), waitNr, timeout);
  }

  /** The shared loop of liburing's _io_uring_get_cqe. */
  #getCqe(submit: number, waitNr: number, timeout: Timeout | null): Cqe | null {
    this.#assertOpen();
    let arg = 0;
    let argSize = 0;
    let extFlags = 0;
    if (timeout !== null) {
      if (!(this.features & IORING_FEAT_EXT_ARG)) {
        throw new UringError(EINVAL, 'io_uring_enter', { explanation: 'EINVAL: waiting with a timeout needs IORING_FEAT_EXT_ARG (Linux 5.11+), which this kernel lacks.' });
      }
      this.#writeTimeout(timeout);
      arg = this.#waitArg.address;
      argSize = io_uring_getevents_arg.size;
      extFlags = IORING_ENTER_EXT_ARG;
    }
    let looped = false;
    for (;;) {
      const available = this.cqReady();
      let needEnter = false;
      let flags = this.#enterFlags;
      if (available === 0 && waitNr === 0 && submit === 0) {
        if (looped || !(this.#needsCqEnter || this.cqNeedsFlush())) return null;
        needEnter = true;
      }
      if (waitNr > available || needEnter) {
        flags |= IORING_ENTER_GETEVENTS | extFlags;
        needEnter = true;
      }
      const sqFlags = this.#sqEnterFlags(submit);
      if (sqFlags >= 0) {
        flags |= sqFlags;
        needEnter = true;
      }
      if (!needEnter) break;
      if (looped && timeout !== null) break;
      // The extended argument is only valid together with GETEVENTS.
      if (!(flags & IORING_ENTER_GETEVENTS)) flags &= ~IORING_ENTER_EXT_ARG;
      const ext = (flags & IORING_ENTER_EXT_ARG) !== 0;
      const ret = native.enter(this.#enterFd, submit, waitNr, flags, ext ? arg : 0, ext ? argSize : 0);
      if (ret === ETIME) return this.cqReady() > 0 ? this.#cqeAt(this.#cqHead) : null;
      if (ret === EINTR) continue;
      if (ret < 0) throw enterError(ret);
      submit -= ret;
      if (available > 0) break;
      looped = true;
    }
    return this.cqReady() > 0 ? this.#cqeAt(this.#cqHead) : null;
  }

  #writeTimeout(timeout: Timeout): void {
    let sec: number;
    let nsec: number;
    if (typeof timeout === 'number') {
      if (!(timeout >= 0) || !Number.isFinite(timeout) || timeout > Number.MAX_SAFE_INTEGER) {
        throw outOfRange('timeout', 'a finite number of milliseconds >= 0', timeout);
      }
      sec = Math.floor(timeout / 1000);
      nsec = Math.min(999_999_999, Math.round((timeout - sec * 1000) * 1e6));
    } else {
      if (timeout === null || typeof timeout !== 'object') throw outOfRange('timeout', 'milliseconds or { sec, nsec }', timeout);
      sec = validateInteger(timeout.sec, 'timeout.sec');
      nsec = validateInteger(timeout.nsec, 'timeout.nsec', 0, 999_999_999);
    }
    const u32 = this.#waitArg.u32;
    const tsWord = io_uring_getevents_arg.size >> 2;
    u32.fill(0, 0, tsWord);
    const tsAddress = this.#waitArg.address + io_uring_getevents_arg.size;
    const a = io_uring_getevents_arg.off;
    u32[a.ts >> 2] = tsAddress >>> 0;
    u32[(a.ts >> 2) + 1] = Math.floor(tsAddress / TWO_32);
    u32[tsWord] = sec >>> 0;
    u32[tsWord + 1] = Math.floor(sec / TWO_32);
    u32[tsWord + 2] = nsec;
    u32[tsWord + 3] = 0;
  }

  /** io_uring_cqe_seen(3): marks one completion consumed (nothing if none is ready). */
  cqeSeen(_cqe?: Cqe): void {
    this.cqAdvance(1);
  }

  /**
   * io_uring_cq_advance(3): marks `n` completions consumed (CQ head store
   * with release ordering). Never moves the head past the kernel's tail:
   * `n` is capped at cqReady(), so a CQE seen twice cannot conjure phantom
   * completions.
   */
  cqAdvance(n: number): void {
    if (!(n > 0) || this.#closed) return;
    const ready = this.cqReady();
    if (n > ready) n = ready;
    if (n === 0) return;
    this.#cqHead = (this.#cqHead + n) >>> 0;
    Atomics.store(this.#cqU32, this.#cqHeadIdx, this.#cqHead);
  }

  /** IORING_CQ_EVENTFD_DISABLED: stop (false) or resume (true) eventfd notifications (io_uring_cq_eventfd_toggle). */
  cqEventfdToggle(enabled: boolean): void {
    this.#assertOpen();
    if (this.#cqFlagsIdx < 0) throw new UringError(ERRNO.EOPNOTSUPP, 'io_uring_cq_eventfd_toggle', { explanation: 'EOPNOTSUPP: this kernel has no CQ ring flags word.' });
    const old = Atomics.load(this.#cqU32, this.#cqFlagsIdx);
    Atomics.store(this.#cqU32, this.#cqFlagsIdx, enabled ? old & ~IORING_CQ_EVENTFD_DISABLED : old | IORING_CQ_EVENTFD_DISABLED);
  }

  /** With SQPOLL, waits (IORING_ENTER_SQ_WAIT) until the SQ thread has freed SQ space. */
  sqringWait(): number {
    this.#assertOpen();
    if (!this.#sqpoll || this.sqSpaceLeft() > 0) return 0;
    return this.#enterChecked(0, 0, IORING_ENTER_SQ_WAIT | this.#enterFlags, 0, 0);
  }

  // ---------------------------------------------------------------- state

  /** @internal Called by enableRings. */
  markEnabled(): void {
    this.#disabled = false;
  }

  /** @internal Called by registerRingFd / unregisterRingFd: enter through registered index `index`, or the fd (-1). */
  useRegisteredRing(index: number): void {
    this.#registeredIndex = index;
    if (index >= 0) {
      this.#enterFd = index;
      this.#enterFlags |= IORING_ENTER_REGISTERED_RING;
    } else {
      this.#enterFd = this.fd;
      this.#enterFlags &= ~IORING_ENTER_REGISTERED_RING;
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw invalidState('The ring is closed (queueExit was called)', 'ERR_URING_RING_CLOSED');
  }

  /** @internal Throws ERR_URING_RING_CLOSED after queueExit(). */
  assertOpen(): void {
    this.#assertOpen();
  }

  /** madvise(MADV_DONTFORK) on every ring region (io_uring_ring_dontfork(3)): children of fork() do not inherit the mappings. */
  dontFork(): void {
    this.#assertOpen();
    for (const region of this.#regions) {
      const ret = native.madvise(region, native.MADV_DONTFORK);
      if (ret < 0) throw new UringError(ret, 'madvise');
    }
  }

  /**
   * io_uring_queue_exit(3): unmaps the rings (every view of them becomes
   * empty), releases a registered ring fd and closes the fd. Idempotent.
   * In-flight requests are cancelled by the kernel asynchronously; memory
   * they point at must stay alive until their CQEs — the driver layer waits
   * for that, this raw layer does not.
   */
  queueExit(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reserved = 0;
    for (const region of this.#owned) native.munmap(region);
    if (this.#registeredIndex >= 0) {
      // A registered ring index holds the ring alive until released (even after close).
      const update = new Scratch(io_uring_rsrc_update.size);
      update.u32[io_uring_rsrc_update.off.offset >> 2] = this.#registeredIndex;
      native.register(this.#registeredIndex, (IORING_UNREGISTER_RING_FDS | IORING_REGISTER_USE_REGISTERED_RING) >>> 0, update.address, 1);
    }
    if (this.fd >= 0) native.close(this.fd);
  }

  /** Same as queueExit(). */
  close(): void {
    this.queueExit();
  }
}

function enterError(ret: number): UringError {
  let explanation: string | undefined;
  if (ret === EBUSY) explanation = 'EBUSY: the CQ ring overflowed and the kernel holds completions it could not post; reap completions (peekCqe/cqAdvance), then submit again.';
  else if (ret === EBADR) explanation = 'EBADR: completions were dropped: the CQ ring overflowed and the kernel could not allocate memory to keep them (IORING_FEAT_NODROP exhausted). Size the CQ for the workload (cqEntries) and reap sooner.';
  else if (ret === EAGAIN) explanation = 'EAGAIN: the kernel could not allocate memory for requests; reap completions and retry.';
  else if (ret === EBADFD) explanation = 'EBADFD: the ring is disabled (IORING_SETUP_R_DISABLED); call enableRings() first.';
  else if (ret === ENXIO) explanation = 'ENXIO: the ring is being torn down.';
  else if (ret === EBADF) explanation = 'EBADF: the ring file descriptor is not valid (closed?).';
  else if (ret === EINVAL) explanation = 'EINVAL: the kernel rejected the io_uring_enter arguments (flags or the extended argument).';
  return new UringError(ret, 'io_uring_enter', explanation ? { explanation } : {});
}
