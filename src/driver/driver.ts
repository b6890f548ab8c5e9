/**
 * The event-loop driver: one ring per thread, ops submitted during a turn of
 * the loop go to the kernel in one io_uring_enter, completions dispatched
 * from a preallocated op table indexed by user_data.
 *
 * Wake-up: the ring fd is watched through libuv (uv_poll). With
 * IORING_SETUP_DEFER_TASKRUN the ring fd does not become readable for
 * deferred work (measured on 6.18), so such rings register an eventfd and
 * watch that instead. The watcher keeps the loop alive only while ops are
 * in flight.
 *
 * Safety: every buffer, path and struct an op hands the kernel is held in
 * the op table (`pins`) until its CQE arrives; close() cancels everything in
 * flight and waits for the CQEs before unmapping.
 */
import {
  IORING_ASYNC_CANCEL_ALL, IORING_ASYNC_CANCEL_ANY, IORING_SETUP_COOP_TASKRUN,
  IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_SINGLE_ISSUER, IORING_SETUP_TASKRUN_FLAG, IOSQE_IO_LINK,
} from '../abi/constants.js';
import { __kernel_timespec } from '../abi/structs.js';
import {
  getProbe, native, prepCancel64, prepLinkTimeout, queueInit, registerEventfd, registerFilesSparse,
  registerRingFd, type Probe, type Ring, UringError, invalidState,
} from '../ring/index.js';
import type { Watcher } from '../ring/native.js';
import { SQE_WORD, type Sqe } from '../ring/sqe.js';

/** Called with the CQE result (>= 0, or -errno) and the token given at submission. */
export type Completion<T = unknown> = (res: number, token: T, cqeFlags: number) => void;

/** Options of a driver's ring. */
export interface DriverOptions {
  /** SQ entries (CQ gets 4x, since ops outlive batches). Default 256. */
  entries?: number;
  /** 'coop' (COOP_TASKRUN+TASKRUN_FLAG, ring fd readiness; the default) or 'defer' (DEFER_TASKRUN + eventfd) or 'plain'. */
  taskrun?: 'coop' | 'defer' | 'plain';
}

const SLOT_BITS = 20;
const SLOT_SPACE = 1 << SLOT_BITS;
const SLOT_MASK = SLOT_SPACE - 1;
/** user_data of SQEs whose CQEs nobody waits for (cancel, link timeout). */
const INTERNAL = 2 ** 52;
const ECANCELED = -125;
/** Size of the sparse direct-descriptor table. */
const DIRECT_SLOTS = 256;

/** Per-op state lives in parallel arrays (no object per op). */
export class Driver {
  readonly ring: Ring;
  readonly probe: Probe;
  /** The flags the ring was created with, and why. */
  readonly setup: { flags: number; taskrun: 'coop' | 'defer' | 'plain' };

  private callbacks: (Completion<any> | undefined)[] = [];
  private tokens: unknown[] = [];
  private pins: unknown[] = [];
  private userDatas: number[] = [];
  private generation = 0;
  private free: number[] = [];
  private capacity = 0;
  private inflight = 0;
  private flushQueued = false;
  private closed = false;
  private closing: Promise<void> | null = null;
  /** True while close() cancels and drains: internal submissions still go out. */
  private draining = false;
  private readonly watcher: Watcher;
  private readonly eventfd: number;
  private watching = false;
  private readonly flushBound = (): void => this.flush();
  private drainWaiters: (() => void)[] = [];

  constructor(options: DriverOptions = {}) {
    const entries = options.entries ?? 256;
    const taskrun = options.taskrun ?? 'coop';
    const flags =
      taskrun === 'defer' ? IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN
        : taskrun === 'coop' ? IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG
          : 0;
    this.ring = queueInit(entries, { flags, cqEntries: entries * 4 });
    this.setup = { flags, taskrun };
    this.probe = getProbe(this.ring);
    try {
      registerRingFd(this.ring);
    } catch {
      // an older kernel: enter by fd
    }
    this.ring.dontFork();
    if (taskrun === 'defer') {
      this.eventfd = native.eventfd();
      registerEventfd(this.ring, this.eventfd);
    } else {
      this.eventfd = -1;
    }
    const w = native.watch(this.eventfd >= 0 ? this.eventfd : this.ring.fd, () => this.onReadable());
    if (typeof w === 'number') throw new UringError(w, 'uv_poll_start');
    this.watcher = w;
    this.grow(entries * 2);
  }

  private directFree: number[] | null = null;

  /**
   * A free slot of the registered (direct) file table, for ops that open,
   * use and close a file in one linked chain; -1 if none (or the kernel
   * refused the table). The table is registered sparse on first use.
   */
  takeDirectSlot(): number {
    if (this.directFree === null) {
      this.directFree = [];
      try {
        registerFilesSparse(this.ring, DIRECT_SLOTS);
        for (let i = DIRECT_SLOTS - 1; i >= 0; i--) this.directFree.push(i);
      } catch {
        // no direct descriptors on this kernel: callers take the plain path
      }
    }
    return this.directFree.pop() ?? -1;
  }

  /** Returns a direct slot once the op that closed it has completed. */
  releaseDirectSlot(slot: number): void {
    this.directFree!.push(slot);
  }

  /** Ops submitted and not yet completed. */
  get pending(): number {
    return this.inflight;
  }

  /** Whether the kernel supports an opcode (from the probe). */
  supports(opcode: number): boolean {
    return this.probe.isSupported(opcode);
  }

  private grow(to: number): void {
    if (to > SLOT_SPACE) to = SLOT_SPACE;
    for (let i = to - 1; i >= this.capacity; i--) this.free.push(i);
    this.callbacks.length = to;
    this.tokens.length = to;
    this.pins.length = to;
    this.userDatas.length = to;
    this.capacity = to;
  }

  private takeSlot(): number {
    if (this.free.length === 0) {
      if (this.capacity >= SLOT_SPACE) throw invalidState(`more than ${SLOT_SPACE} operations in flight`);
      this.grow(this.capacity * 2);
    }
    return this.free.pop()!;
  }

  /** @internal A fresh SQE; submits pending ones first if the SQ is full. */
  sqe(): Sqe {
    if (this.closed) throw invalidState('The io_uring driver is closed', 'ERR_URING_RING_CLOSED');
    if (this.ring.identityChanged) this.ring.assertUsable(); // throws ERR_URING_CREDENTIALS_CHANGED
    let sqe = this.ring.getSqe();
    if (sqe === null) {
      this.flush();
      sqe = this.ring.getSqe();
      if (sqe === null) throw invalidState('the submission queue is full', 'ERR_URING_SQ_FULL');
    }
    return sqe;
  }

  /**
   * Registers the op written into `sqe`: its completion callback, the token
   * passed back, and `pin` (anything the kernel may touch, kept alive until
   * the CQE). Schedules the batch flush. Returns the op's user_data.
   */
  track<T>(sqe: Sqe, callback: Completion<T>, token: T, pin: unknown): number {
    const slot = this.takeSlot();
    this.generation = (this.generation + 1) & 0xffffffff;
    const userData = this.generation * SLOT_SPACE + slot;
    this.callbacks[slot] = callback;
    this.tokens[slot] = token;
    this.pins[slot] = pin;
    this.userDatas[slot] = userData;
    const u = sqe.u32;
    const w = sqe.word + SQE_WORD.userData;
    u[w] = userData >>> 0;
    u[w + 1] = (userData / 0x1_0000_0000) >>> 0;
    if (this.inflight++ === 0) this.setWatching(true);
    this.scheduleFlush();
    return userData;
  }

  /** Submits what this turn prepared once the current microtasks are done: one io_uring_enter per batch. */
  private scheduleFlush(): void {
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flushBound);
    }
  }

  private setWatching(on: boolean): void {
    if (this.watching === on) return;
    this.watching = on;
    native.watchRef(this.watcher, on);
  }

  /** Submits everything prepared (one io_uring_enter), then reaps what is already complete. */
  flush(): void {
    this.flushQueued = false;
    if (this.closed && !this.draining) return;
    if (this.ring.sqReady() > 0) {
      for (;;) {
        try {
          if (this.setup.taskrun === 'defer') this.ring.submitAndGetEvents();
          else this.ring.submit();
          break;
        } catch (e) {
          // CQ overflow backpressure: reap, then submit again.
          if ((e as UringError).code === 'EBUSY' || (e as UringError).code === 'EAGAIN') {
            if (this.reap() === 0) this.ring.getEvents();
            continue;
          }
          // Refused before anything reached the kernel (identity changed, ring closed):
          // the prepared ops complete now, with EPERM, instead of never.
          this.failUnsubmitted(-1);
          break;
        }
      }
    }
    this.reap();
  }

  /** Completes every prepared-but-unsubmitted op with `res` and takes its SQE back. */
  private failUnsubmitted(res: number): void {
    const ring = this.ring;
    for (let t = ring.sqeHead; t !== ring.sqeTail; t = (t + 1) >>> 0) {
      const userData = ring.sqeSlots[t & ring.sqMask].userData;
      const slot = userData % SLOT_SPACE;
      if (userData < INTERNAL && this.userDatas[slot] === userData) this.complete(slot, res, 0);
    }
    ring.sqeTail = ring.sqeHead;
  }

  private onReadable(): void {
    if (this.eventfd >= 0) native.readEventfd(this.eventfd);
    this.reap();
  }

  /** Dispatches every available completion; returns how many. */
  reap(): number {
    const ring = this.ring;
    if (ring.isClosed) return 0;
    if (this.setup.taskrun === 'defer' || ring.cqNeedsFlush()) ring.getEvents();
    let total = 0;
    for (;;) {
      const tail = Atomics.load(ring.cqU32, ring.cqTailIdx);
      let head = ring.cqHead;
      if (head === tail) break;
      const u32 = ring.cqU32;
      const i32 = ring.cqI32;
      const mask = ring.cqMask;
      const words = ring.cqeWords;
      const base = ring.cqesWord;
      for (; head !== tail; head = (head + 1) >>> 0) {
        const w = base + (head & mask) * words;
        const lo = u32[w];
        const hi = u32[w + 1];
        const res = i32[w + 2];
        const flags = u32[w + 3];
        const userData = lo + hi * 0x1_0000_0000;
        if (userData >= INTERNAL) continue;
        const slot = lo & SLOT_MASK;
        if (this.userDatas[slot] !== userData) continue; // not ours (stale)
        this.complete(slot, res, flags);
        total++;
      }
      ring.cqAdvance((tail - ring.cqHead) >>> 0);
      if (ring.cqNeedsFlush()) ring.getEvents();
    }
    // Promise reactions may have queued more ops: they go out in the microtask flush.
    return total;
  }

  private complete(slot: number, res: number, flags: number): void {
    const callback = this.callbacks[slot]!;
    const token = this.tokens[slot];
    this.callbacks[slot] = undefined;
    this.tokens[slot] = undefined;
    this.pins[slot] = undefined;
    this.userDatas[slot] = -1;
    this.free.push(slot);
    if (--this.inflight === 0) {
      this.setWatching(false);
      if (this.drainWaiters.length > 0) for (const w of this.drainWaiters.splice(0)) w();
    }
    try {
      callback(res, token, flags);
    } catch (e) {
      queueMicrotask(() => {
        throw e;
      });
    }
  }

  /** Requests cancellation of an op (IORING_OP_ASYNC_CANCEL); its own completion still arrives (usually -ECANCELED). */
  cancel(userData: number): void {
    if (this.closed && !this.draining) return;
    const slot = userData % SLOT_SPACE;
    if (this.userDatas[slot] !== userData) return;
    const sqe = this.sqe();
    prepCancel64(sqe, userData, 0);
    sqe.userData = INTERNAL;
    this.scheduleFlush();
  }

  /**
   * Adds IORING_OP_LINK_TIMEOUT after `sqe` (which gets IOSQE_IO_LINK): the
   * op with this user_data is cancelled after `ms`. The timespec is pinned
   * with the op, so it lives until the op's CQE.
   */
  linkTimeout(sqe: Sqe, userData: number, ms: number): void {
    sqe.flags |= IOSQE_IO_LINK;
    const ts = Buffer.alloc(__kernel_timespec.size);
    ts.writeBigInt64LE(BigInt(Math.floor(ms / 1000)), __kernel_timespec.off.tv_sec);
    ts.writeBigInt64LE(BigInt(Math.round((ms % 1000) * 1e6)), __kernel_timespec.off.tv_nsec);
    const slot = userData % SLOT_SPACE;
    this.pins[slot] = [this.pins[slot], ts];
    const t = this.sqe();
    prepLinkTimeout(t, ts, 0);
    t.userData = INTERNAL;
  }

  /** Resolves when nothing is in flight. */
  drained(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /**
   * Cancels everything in flight, waits for every CQE (their callbacks run
   * with -ECANCELED or their real result), then unmaps and closes the ring.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.draining = true;
    this.closing = (async () => {
      // Everything prepared is submitted with the cancel behind it, so nothing is left half-way.
      if (this.inflight > 0 || this.ring.sqReady() > 0) {
        let sqe = this.ring.getSqe();
        if (sqe === null) {
          this.ring.submitTeardown();
          sqe = this.ring.getSqe();
        }
        if (sqe) {
          prepCancel64(sqe, 0, IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_ANY);
          sqe.userData = INTERNAL;
        }
        this.ring.submitTeardown();
        this.reap();
        const timer = setInterval(() => this.reap(), 5);
        await this.drained();
        clearInterval(timer);
      }
      this.draining = false;
      native.unwatch(this.watcher);
      if (this.eventfd >= 0) native.close(this.eventfd);
      this.ring.queueExit();
    })();
    return this.closing;
  }
}

export { ECANCELED };
