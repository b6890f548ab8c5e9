/**
 * A mapped io_uring instance and its queues — liburing's `struct io_uring`
 * and queue.c: getSqe, submit, submitAndWait, peekCqe, waitCqe, cqAdvance.
 *
 * Memory ordering (io_uring_setup(2)): the SQ tail is published with
 * Atomics.store (sequentially consistent, so release and a full barrier);
 * under SQPOLL the SQ flags are read after that store, so the NEED_WAKEUP
 * test cannot miss a sleeping thread; the CQ tail is read with Atomics.load
 * (acquire) and the CQ head published with Atomics.store (release).
 */
import {
  IORING_ENTER_EXT_ARG, IORING_ENTER_GETEVENTS, IORING_ENTER_REGISTERED_RING,
  IORING_ENTER_SQ_WAKEUP, IORING_ENTER_SQ_WAIT, IORING_FEAT_EXT_ARG, IORING_SETUP_IOPOLL,
  IORING_SETUP_NO_SQARRAY, IORING_SETUP_SQPOLL, IORING_SQ_CQ_OVERFLOW, IORING_SQ_NEED_WAKEUP,
  IORING_SQ_TASKRUN, IORING_SETUP_R_DISABLED, IORING_SETUP_REGISTERED_FD_ONLY, IORING_CQ_EVENTFD_DISABLED,
  IORING_UNREGISTER_RING_FDS, IORING_REGISTER_USE_REGISTERED_RING,
} from '../abi/constants.js';
import { io_uring_getevents_arg, io_uring_rsrc_update, __kernel_timespec } from '../abi/structs.js';
import { credentialEpoch, currentIds } from './credentials.js';
import { invalidState, outOfRange, UringError, validateInteger, validateU32 } from './errors.js';
import { Scratch } from './memory.js';
import { native } from './native.js';
import { cqeSizeFor, featureSet, type FeatureSet, type RegionSizes, type RingParams } from './params.js';
import { Cqe, Sqe } from './sqe.js';

const EINTR = -4;
const EAGAIN = -11;
const ETIME = -62;
const EBADR = -53;
const EBUSY = -16;

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

  /** @internal fd or registered index used for io_uring_enter. */
  enterFd: number;
  /** @internal extra enter flags (IORING_ENTER_REGISTERED_RING). */
  enterFlags = 0;
  /** Index of this ring in the registered-ring table, or -1. */
  registeredIndex = -1;

  /** @internal SQ ring words. */ readonly sqU32: Uint32Array;
  /** @internal */ readonly sqHeadIdx: number;
  /** @internal */ readonly sqTailIdx: number;
  /** @internal */ readonly sqFlagsIdx: number;
  /** @internal */ readonly sqDroppedIdx: number;
  /** @internal */ readonly sqMask: number;
  /** Number of SQ entries. */ readonly sqEntries: number;
  /** @internal local SQE head (last flushed) and tail (next to hand out). */
  sqeHead = 0;
  /** @internal */ sqeTail = 0;
  /** @internal the SQE array as u32 words. */ readonly sqeU32: Uint32Array;
  /** @internal */ readonly sqeSlots: Sqe[];

  /** @internal CQ ring words. */ readonly cqU32: Uint32Array;
  /** @internal */ readonly cqI32: Int32Array;
  /** @internal */ readonly cqHeadIdx: number;
  /** @internal */ readonly cqTailIdx: number;
  /** @internal */ readonly cqOverflowIdx: number;
  /** @internal */ readonly cqFlagsIdx: number;
  /** @internal first word of cqes[0]. */ readonly cqesWord: number;
  /** @internal words per CQE: 4, or 8 with CQE32. */ readonly cqeWords: number;
  /** @internal */ readonly cqMask: number;
  /** Number of CQ entries. */ readonly cqEntries: number;
  /** @internal local copy of the CQ head (only we write it). */
  cqHead = 0;
  private readonly cqeSlots: (Cqe | undefined)[];

  private readonly regions: ArrayBuffer[];
  private readonly owned: ArrayBuffer[];
  private readonly waitArg: Scratch;
  private readonly needsCqEnter: boolean;
  private readonly epoch: number;
  private readonly ids: { uid: number; gid: number; euid: number; egid: number };
  private disabled: boolean;
  private closed = false;

  /** @internal Use queueInit / queueInitParams. */
  constructor(init: RingInit) {
    const p = init.params;
    this.fd = p.flags & IORING_SETUP_REGISTERED_FD_ONLY ? -1 : init.fd;
    this.enterFd = init.fd;
    if (p.flags & IORING_SETUP_REGISTERED_FD_ONLY) {
      this.enterFlags = IORING_ENTER_REGISTERED_RING;
      this.registeredIndex = init.fd;
    }
    this.flags = p.flags;
    this.features = p.features;
    this.feature = featureSet(p.features);
    this.params = p;
    this.sqRingSize = init.sizes.sqRingSize;
    this.cqRingSize = init.sizes.cqRingSize;
    this.sqesSize = init.sizes.sqesSize;
    this.regions = [...new Set([init.sqRing, init.cqRing, init.sqes])];
    this.owned = init.owned;

    this.sqU32 = wordsOf(init.sqRing, init.ringsOffset, init.sizes.sqRingSize);
    this.sqHeadIdx = p.sq_off.head >> 2;
    this.sqTailIdx = p.sq_off.tail >> 2;
    this.sqFlagsIdx = p.sq_off.flags >> 2;
    this.sqDroppedIdx = p.sq_off.dropped >> 2;
    this.sqMask = this.sqU32[p.sq_off.ring_mask >> 2];
    this.sqEntries = this.sqU32[p.sq_off.ring_entries >> 2];
    this.sqeU32 = wordsOf(init.sqes, init.sqesOffset, init.sizes.sqesSize);
    const sqeSize = init.sizes.sqesSize / p.sq_entries;
    this.sqeSlots = new Array(this.sqEntries);
    for (let i = 0; i < this.sqEntries; i++) this.sqeSlots[i] = new Sqe(this.sqeU32, i, sqeSize);
    this.sqeHead = this.sqeTail = this.sqU32[this.sqTailIdx];
    if (!(p.flags & IORING_SETUP_NO_SQARRAY)) {
      // Slot i of the index array names SQE i, as liburing sets it up.
      const array = p.sq_off.array >> 2;
      for (let i = 0; i < this.sqEntries; i++) this.sqU32[array + i] = i;
    }

    this.cqU32 = wordsOf(init.cqRing, init.ringsOffset, init.sizes.cqRingSize);
    this.cqI32 = new Int32Array(this.cqU32.buffer, this.cqU32.byteOffset, this.cqU32.length);
    this.cqHeadIdx = p.cq_off.head >> 2;
    this.cqTailIdx = p.cq_off.tail >> 2;
    this.cqOverflowIdx = p.cq_off.overflow >> 2;
    this.cqFlagsIdx = p.cq_off.flags ? p.cq_off.flags >> 2 : -1;
    this.cqesWord = p.cq_off.cqes >> 2;
    this.cqMask = this.cqU32[p.cq_off.ring_mask >> 2];
    this.cqEntries = this.cqU32[p.cq_off.ring_entries >> 2];
    this.cqeWords = cqeSizeFor(p.flags) >> 2;
    this.cqHead = this.cqU32[this.cqHeadIdx];
    this.cqeSlots = new Array(this.cqEntries);

    this.waitArg = new Scratch(io_uring_getevents_arg.size + __kernel_timespec.size);
    // IOPOLL without SQPOLL reaps only inside io_uring_enter.
    this.needsCqEnter = (p.flags & (IORING_SETUP_IOPOLL | IORING_SETUP_SQPOLL)) === IORING_SETUP_IOPOLL;
    this.disabled = (p.flags & IORING_SETUP_R_DISABLED) !== 0;
    this.epoch = credentialEpoch();
    this.ids = currentIds();
  }

  /** True if the process changed its user or group identity since this ring was created. */
  get identityChanged(): boolean {
    return this.epoch !== credentialEpoch();
  }

  /** True once queueExit()/close() ran. */
  get isClosed(): boolean {
    return this.closed;
  }

  // ---------------------------------------------------------------- SQ side

  /**
   * io_uring_get_sqe(3): the next free SQE slot, or null when the SQ is full
   * (submit, then try again). The slot is not cleared: a prep helper fills it.
   */
  getSqe(): Sqe | null {
    const head = this.flags & IORING_SETUP_SQPOLL ? Atomics.load(this.sqU32, this.sqHeadIdx) : this.sqU32[this.sqHeadIdx];
    const tail = this.sqeTail;
    if (((tail - head) >>> 0) >= this.sqEntries) return null;
    this.sqeTail = (tail + 1) >>> 0;
    return this.sqeSlots[tail & this.sqMask];
  }

  /** @internal Takes back the SQE just handed out, if it is the newest (a prep helper refused its arguments). */
  ungetSqe(sqe: Sqe): void {
    if (((this.sqeTail - 1) & this.sqMask) === sqe.index && this.sqeTail !== this.sqeHead) {
      this.sqeTail = (this.sqeTail - 1) >>> 0;
    }
  }

  /** io_uring_sq_ready(3): SQEs prepared but not yet consumed by the kernel. */
  sqReady(): number {
    const head = this.flags & IORING_SETUP_SQPOLL ? Atomics.load(this.sqU32, this.sqHeadIdx) : this.sqU32[this.sqHeadIdx];
    return (this.sqeTail - head) >>> 0;
  }

  /** io_uring_sq_space_left(3): free SQE slots. */
  sqSpaceLeft(): number {
    return this.sqEntries - this.sqReady();
  }

  /** IORING_SQ_* flags the kernel currently shows in the SQ ring. */
  sqFlags(): number {
    return Atomics.load(this.sqU32, this.sqFlagsIdx);
  }

  /** Invalid SQEs the kernel skipped (io_sqring_offsets.dropped). */
  sqDropped(): number {
    return Atomics.load(this.sqU32, this.sqDroppedIdx);
  }

  /** @internal Publishes prepared SQEs (tail store with release ordering); returns how many the kernel has yet to consume. */
  flushSq(): number {
    return this.publish(true);
  }

  private publish(checkIdentity: boolean): number {
    const tail = this.sqeTail;
    if (this.sqeHead !== tail) {
      if (checkIdentity) this.assertUsable();
      else this.assertOpen();
      this.sqeHead = tail;
      Atomics.store(this.sqU32, this.sqTailIdx, tail);
    }
    return (tail - Atomics.load(this.sqU32, this.sqHeadIdx)) >>> 0;
  }

  /** @internal Flags for io_uring_enter when `submitted` SQEs are pending, or -1 when no enter is needed for the SQ. */
  private sqEnterFlags(submitted: number): number {
    if (submitted === 0) return -1;
    if (!(this.flags & IORING_SETUP_SQPOLL)) return 0;
    // Atomics.store of the tail above is a full barrier; this load follows it.
    if (Atomics.load(this.sqU32, this.sqFlagsIdx) & IORING_SQ_NEED_WAKEUP) return IORING_ENTER_SQ_WAKEUP;
    return -1;
  }

  /** io_uring_cq_has_overflow / cq_ring_needs_flush: completions wait in the kernel. */
  cqNeedsFlush(): boolean {
    return (Atomics.load(this.sqU32, this.sqFlagsIdx) & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN)) !== 0;
  }

  /**
   * io_uring_submit(3): hands prepared SQEs to the kernel. Under SQPOLL no
   * syscall is made unless the thread sleeps (IORING_SQ_NEED_WAKEUP); then
   * io_uring_enter wakes it with IORING_ENTER_SQ_WAKEUP. Returns the number
   * of SQEs submitted. Throws a UringError (EBUSY: reap completions and
   * retry; EAGAIN: the kernel is out of request memory).
   */
  submit(): number {
    return this.submitInternal(0, false);
  }

  /**
   * @internal Submits cancellation during teardown even after an identity
   * change: cancelling reads and writes nothing as anyone, and it is what
   * lets in-flight memory be released safely.
   */
  submitTeardown(): number {
    this.assertOpen();
    const submitted = this.publish(false);
    return submitted === 0 ? 0 : this.enterChecked(submitted, 0, IORING_ENTER_GETEVENTS | this.enterFlags, 0, 0, 'io_uring_enter');
  }

  /**
   * io_uring_submit_and_wait(3): submits and blocks until at least `waitNr`
   * completions are available. Blocks the thread: the driver layer never
   * calls it on the event loop.
   */
  submitAndWait(waitNr: number): number {
    validateU32(waitNr, 'waitNr');
    return this.submitInternal(waitNr, false);
  }

  /**
   * io_uring_get_events(3): enters the kernel only to flush overflowed
   * completions and run deferred task work (DEFER_TASKRUN, TASKRUN).
   */
  getEvents(): number {
    this.assertOpen();
    return this.enterChecked(0, 0, IORING_ENTER_GETEVENTS | this.enterFlags, 0, 0, 'io_uring_enter');
  }

  /**
   * io_uring_submit_and_get_events(3): submits, and enters the kernel even
   * with nothing to submit so that completions are flushed.
   */
  submitAndGetEvents(): number {
    return this.submitInternal(0, true);
  }

  private submitInternal(waitNr: number, getEvents: boolean): number {
    this.assertOpen();
    const submitted = this.flushSq();
    const cqEnter = getEvents || waitNr > 0 || this.needsCqEnter || this.cqNeedsFlush();
    let flags = this.sqEnterFlags(submitted);
    if (flags < 0 && !cqEnter) return submitted;
    if (flags < 0) flags = 0;
    if (cqEnter) flags |= IORING_ENTER_GETEVENTS;
    return this.enterChecked(submitted, waitNr, flags | this.enterFlags, 0, 0, 'io_uring_enter');
  }

  /** @internal io_uring_enter, retried on EINTR, errors thrown as UringError. */
  enterChecked(toSubmit: number, minComplete: number, flags: number, arg: number, argSize: number, syscall: string): number {
    for (;;) {
      const ret = native.enter(this.enterFd, toSubmit, minComplete, flags, arg, argSize);
      if (ret >= 0) return ret;
      if (ret === EINTR) continue;
      throw this.enterError(ret, syscall);
    }
  }

  private enterError(ret: number, syscall: string): UringError {
    let explanation: string | undefined;
    if (ret === EBUSY) explanation = 'EBUSY: the CQ ring overflowed and the kernel holds completions it could not post; reap completions (peekCqe/cqAdvance), then submit again.';
    else if (ret === EBADR) explanation = 'EBADR: completions were dropped: the CQ ring overflowed and the kernel could not allocate memory to keep them (IORING_FEAT_NODROP exhausted). Size the CQ for the workload (cqEntries) and reap sooner.';
    else if (ret === EAGAIN) explanation = 'EAGAIN: the kernel could not allocate memory for requests; reap completions and retry.';
    else if (ret === -77) explanation = 'EBADFD: the ring is disabled (IORING_SETUP_R_DISABLED); call enableRings() first.';
    else if (ret === -6) explanation = 'ENXIO: the ring is being torn down.';
    else if (ret === -9) explanation = 'EBADF: the ring file descriptor is not valid (closed?).';
    else if (ret === -22) explanation = 'EINVAL: the kernel rejected the io_uring_enter arguments (flags or the extended argument).';
    return new UringError(ret, syscall, explanation ? { explanation } : {});
  }

  // ---------------------------------------------------------------- CQ side

  /** io_uring_cq_ready(3): completions available to reap without a syscall. */
  cqReady(): number {
    return (Atomics.load(this.cqU32, this.cqTailIdx) - this.cqHead) >>> 0;
  }

  /** Completions the kernel could not post to a full CQ ring (io_cqring_offsets.overflow). */
  cqOverflow(): number {
    return Atomics.load(this.cqU32, this.cqOverflowIdx);
  }

  /** @internal The CQE object of a CQ position. */
  cqeAt(position: number): Cqe {
    const slot = position & this.cqMask;
    let cqe = this.cqeSlots[slot];
    if (cqe === undefined) {
      cqe = new Cqe(this.cqU32, this.cqI32, this.cqesWord + slot * this.cqeWords, this.cqeWords * 4);
      this.cqeSlots[slot] = cqe;
    }
    return cqe;
  }

  /**
   * io_uring_peek_cqe(3): the next completion if one is ready, else null.
   * Never blocks; enters the kernel only when completions wait there
   * (CQ overflow, deferred task work, IOPOLL).
   */
  peekCqe(): Cqe | null {
    this.assertOpen();
    if (this.cqReady() > 0) return this.cqeAt(this.cqHead);
    if (this.needsCqEnter || this.cqNeedsFlush()) {
      this.getEvents();
      if (this.cqReady() > 0) return this.cqeAt(this.cqHead);
    }
    return null;
  }

  /**
   * io_uring_peek_batch_cqe(3): fills `out` with up to `count` ready
   * completions (default out.length) and returns how many.
   */
  peekBatchCqe(out: Cqe[], count: number = out.length): number {
    this.assertOpen();
    let ready = this.cqReady();
    if (ready === 0 && (this.needsCqEnter || this.cqNeedsFlush())) {
      this.getEvents();
      ready = this.cqReady();
    }
    const n = Math.min(ready, count);
    for (let i = 0; i < n; i++) out[i] = this.cqeAt((this.cqHead + i) >>> 0);
    return n;
  }

  /**
   * io_uring_for_each_cqe: calls `fn` for each ready completion, then marks
   * them all seen (io_uring_cq_advance). Returns how many were handled.
   */
  forEachCqe(fn: (cqe: Cqe) => void): number {
    this.assertOpen();
    let ready = this.cqReady();
    if (ready === 0 && (this.needsCqEnter || this.cqNeedsFlush())) {
      this.getEvents();
      ready = this.cqReady();
    }
    let i = 0;
    try {
      for (; i < ready; i++) fn(this.cqeAt((this.cqHead + i) >>> 0));
    } finally {
      // Completions already handed to fn are consumed even if fn throws.
      this.cqAdvance(i < ready ? i + 1 : ready);
    }
    return ready;
  }

  /** io_uring_wait_cqe(3): blocks until a completion is available. */
  waitCqe(): Cqe {
    return this.waitCqeNr(1);
  }

  /** io_uring_wait_cqe_nr(3): blocks until `waitNr` completions are available; returns the first. */
  waitCqeNr(waitNr: number): Cqe {
    validateInteger(waitNr, 'waitNr', 1, this.cqEntries);
    const cqe = this.getCqe(0, waitNr, null);
    if (cqe === null) throw new UringError(EAGAIN, 'io_uring_enter');
    return cqe;
  }

  /**
   * io_uring_wait_cqe_timeout(3): waits up to `timeout` for a completion;
   * null when it expires (ETIME). Uses IORING_ENTER_EXT_ARG.
   */
  waitCqeTimeout(timeout: Timeout): Cqe | null {
    return this.getCqe(0, 1, timeout);
  }

  /** io_uring_wait_cqes(3): waits up to `timeout` for `waitNr` completions; null on timeout. */
  waitCqes(waitNr: number, timeout: Timeout | null): Cqe | null {
    validateInteger(waitNr, 'waitNr', 1, this.cqEntries);
    return this.getCqe(0, waitNr, timeout);
  }

  /**
   * io_uring_submit_and_wait_timeout(3): submits, then waits up to
   * `timeout` for `waitNr` completions. Returns the first completion, or
   * null when the timeout expired first.
   */
  submitAndWaitTimeout(waitNr: number, timeout: Timeout | null): Cqe | null {
    validateU32(waitNr, 'waitNr');
    this.assertOpen();
    return this.getCqe(this.flushSq(), waitNr, timeout);
  }

  /** The shared loop of liburing's _io_uring_get_cqe. */
  private getCqe(submit: number, waitNr: number, timeout: Timeout | null): Cqe | null {
    this.assertOpen();
    let arg = 0;
    let argSize = 0;
    let extFlags = 0;
    if (timeout !== null) {
      if (!(this.features & IORING_FEAT_EXT_ARG)) {
        throw new UringError(-22, 'io_uring_enter', { explanation: 'EINVAL: waiting with a timeout needs IORING_FEAT_EXT_ARG (Linux 5.11+), which this kernel lacks.' });
      }
      this.writeTimeout(timeout);
      arg = this.waitArg.address;
      argSize = io_uring_getevents_arg.size;
      extFlags = IORING_ENTER_EXT_ARG;
    }
    let looped = false;
    for (;;) {
      const available = this.cqReady();
      let needEnter = false;
      let flags = this.enterFlags;
      if (available === 0 && waitNr === 0 && submit === 0) {
        if (looped || !(this.needsCqEnter || this.cqNeedsFlush())) return null;
        needEnter = true;
      }
      if (waitNr > available || needEnter) {
        flags |= IORING_ENTER_GETEVENTS | extFlags;
        needEnter = true;
      }
      const sqFlags = this.sqEnterFlags(submit);
      if (sqFlags >= 0) {
        flags |= sqFlags;
        needEnter = true;
      }
      if (!needEnter) break;
      if (looped && timeout !== null) break;
      // The extended argument is only valid together with GETEVENTS.
      if (!(flags & IORING_ENTER_GETEVENTS)) flags &= ~IORING_ENTER_EXT_ARG;
      const ret = native.enter(this.enterFd, submit, waitNr, flags, flags & IORING_ENTER_EXT_ARG ? arg : 0, flags & IORING_ENTER_EXT_ARG ? argSize : 0);
      if (ret === ETIME) return this.cqReady() > 0 ? this.cqeAt(this.cqHead) : null;
      if (ret === EINTR) continue;
      if (ret < 0) throw this.enterError(ret, 'io_uring_enter');
      submit -= ret;
      if (available > 0) break;
      looped = true;
    }
    return this.cqReady() > 0 ? this.cqeAt(this.cqHead) : null;
  }

  private writeTimeout(timeout: Timeout): void {
    let sec: number;
    let nsec: number;
    if (typeof timeout === 'number') {
      if (!(timeout >= 0) || !Number.isFinite(timeout)) throw outOfRange('timeout', 'a finite number of milliseconds >= 0', timeout);
      sec = Math.floor(timeout / 1000);
      nsec = Math.round((timeout - sec * 1000) * 1e6);
    } else {
      sec = validateInteger(timeout?.sec, 'timeout.sec');
      nsec = validateInteger(timeout.nsec, 'timeout.nsec', 0, 999_999_999);
    }
    const u32 = this.waitArg.u32;
    const tsWord = io_uring_getevents_arg.size >> 2;
    u32.fill(0, 0, tsWord);
    const tsAddress = this.waitArg.address + io_uring_getevents_arg.size;
    const a = io_uring_getevents_arg.off;
    u32[(a.ts >> 2)] = tsAddress >>> 0;
    u32[(a.ts >> 2) + 1] = Math.floor(tsAddress / 0x1_0000_0000);
    u32[tsWord] = sec >>> 0;
    u32[tsWord + 1] = Math.floor(sec / 0x1_0000_0000);
    u32[tsWord + 2] = nsec;
    u32[tsWord + 3] = 0;
  }

  /** io_uring_cqe_seen(3): marks one completion consumed. */
  cqeSeen(_cqe?: Cqe): void {
    this.cqAdvance(1);
  }

  /** io_uring_cq_advance(3): marks `n` completions consumed (CQ head store with release ordering). */
  cqAdvance(n: number): void {
    if (n <= 0 || this.closed) return;
    this.cqHead = (this.cqHead + n) >>> 0;
    Atomics.store(this.cqU32, this.cqHeadIdx, this.cqHead);
  }

  /** IORING_CQ_EVENTFD_DISABLED: stop (true) or resume (false) eventfd notifications (io_uring_cq_eventfd_toggle). */
  cqEventfdToggle(enabled: boolean): void {
    if (this.cqFlagsIdx < 0) throw new UringError(-95, 'io_uring_cq_eventfd_toggle', { explanation: 'EOPNOTSUPP: this kernel has no CQ ring flags word.' });
    const old = Atomics.load(this.cqU32, this.cqFlagsIdx);
    Atomics.store(this.cqU32, this.cqFlagsIdx, enabled ? old & ~IORING_CQ_EVENTFD_DISABLED : old | IORING_CQ_EVENTFD_DISABLED);
  }

  /** With SQPOLL, waits (IORING_ENTER_SQ_WAIT) until the SQ thread has freed SQ space. */
  sqringWait(): number {
    this.assertOpen();
    if (!(this.flags & IORING_SETUP_SQPOLL) || this.sqSpaceLeft() > 0) return 0;
    return this.enterChecked(0, 0, IORING_ENTER_SQ_WAIT | this.enterFlags, 0, 0, 'io_uring_enter');
  }

  // ---------------------------------------------------------------- state

  /** @internal Called by registerRingFd / enableRings. */
  markEnabled(): void {
    this.disabled = false;
  }

  /** True while an R_DISABLED ring has not been enabled. */
  get isDisabled(): boolean {
    return this.disabled;
  }

  /** @internal */
  assertOpen(): void {
    if (this.closed) throw invalidState('The ring is closed (queueExit was called)', 'ERR_URING_RING_CLOSED');
  }

  /** @internal Refuses submissions after the process changed its identity. */
  assertUsable(): void {
    this.assertOpen();
    if (this.epoch !== credentialEpoch()) {
      const now = currentIds();
      throw invalidState(
        `This ring was created by uid ${this.ids.euid}/gid ${this.ids.egid}; the process has since changed its identity ` +
          `(now uid ${now.euid}/gid ${now.egid}). io_uring requests would still run with the old credentials, so the ring ` +
          'refuses them. Create a new ring after changing identity.',
        'ERR_URING_CREDENTIALS_CHANGED',
      );
    }
  }

  /** madvise(MADV_DONTFORK) on every ring region (io_uring_ring_dontfork(3)): children of fork() do not inherit the mappings. */
  dontFork(): void {
    this.assertOpen();
    for (const region of this.regions) {
      const ret = native.madvise(region, native.MADV_DONTFORK);
      if (ret < 0) throw new UringError(ret, 'madvise');
    }
  }

  /**
   * io_uring_queue_exit(3): unmaps the rings (every view of them becomes
   * empty) and closes the fd. Idempotent. In-flight requests are cancelled
   * by the kernel; memory they point at must stay alive until it has done
   * so — the driver layer waits for that, this raw layer does not.
   */
  queueExit(): void {
    if (this.closed) return;
    this.closed = true;
    for (const region of this.owned) native.munmap(region);
    if (this.fd >= 0) native.close(this.fd);
    else if (this.registeredIndex >= 0) {
      // A REGISTERED_FD_ONLY ring lives until its registered index is released.
      const update = new Scratch(io_uring_rsrc_update.size);
      update.u32[io_uring_rsrc_update.off.offset >> 2] = this.registeredIndex;
      native.register(this.registeredIndex, (IORING_UNREGISTER_RING_FDS | IORING_REGISTER_USE_REGISTERED_RING) >>> 0, update.address, 1);
    }
  }

  /** Same as queueExit(). */
  close(): void {
    this.queueExit();
  }

}
