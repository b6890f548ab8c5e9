/**
 * The event-loop driver: one ring per thread; the ops a turn of the event
 * loop prepares go to the kernel in one io_uring_enter; their completions
 * come back through the event loop and are dispatched from a preallocated
 * op table indexed by user_data.
 *
 * Submitting. Every op (or linked chain) is a transaction: the caller
 * validates everything first, then opens a transaction, takes SQEs from it,
 * fills them, tracks each op, and commits — or rolls back, and nothing of
 * it ever reaches the kernel. The SQEs of a transaction come from one ring
 * reservation, so a chain never straddles two submissions. When the SQ is
 * full the transaction is written to a JavaScript backlog instead (same
 * 64-byte layout) and moved into the SQ, whole, when space frees: the user
 * never sees a full SQ. Submission happens in a microtask after the current
 * code, never inside a user's call.
 *
 * Completing. Completions reach JavaScript only from the readiness watcher
 * (uv_poll on the ring fd; an eventfd for DEFER_TASKRUN rings, whose fd does
 * not become readable for deferred work — measured on 6.18): once per loop
 * turn, after timers and before setImmediate, like node:fs callbacks, so a
 * loop of awaited ops cannot starve the event loop. Ops that completed
 * inline during the submit are reaped on the next turn without a syscall of
 * their own. A callback that throws does not stop the delivery of the other
 * completions; the first exception is rethrown at the end of the batch and
 * reaches 'uncaughtException' (the shim hands it to napi_fatal_exception).
 *
 * Memory. Everything an op hands the kernel is held in the op table until
 * the op's last CQE (`pin`, plus a second pin for a registered buffer);
 * link-timeout timespecs live in a table of their own. Buffers are marked
 * untransferable when their address is first taken (ring/memory.ts).
 *
 * Lifetime. close() voids what was never submitted, cancels everything in
 * flight and resolves when every CQE is in. If the thread's environment
 * exits first (a worker that ends or is terminated), the native shim tears
 * the ring down before any memory of the thread is released: it cancels,
 * waits for every op counted in `#outstanding`, closes and unmaps
 * (native/uring_shim.c documents the contract this file keeps).
 */
import {
  IORING_ASYNC_CANCEL_ALL, IORING_ASYNC_CANCEL_ANY, IORING_CQE_F_MORE, IORING_FEAT_SINGLE_MMAP,
  IORING_SETUP_COOP_TASKRUN, IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_SINGLE_ISSUER,
  IORING_SETUP_SUBMIT_ALL, IORING_SETUP_TASKRUN_FLAG, IOSQE_IO_LINK,
} from '../abi/constants.js';
import { __kernel_timespec } from '../abi/structs.js';
import { ERRNO } from '../abi/errno.js';
import {
  type BufRing, freeBufRing as ringFreeBufRing, getProbe, invalidArgType, invalidArgValue, invalidState, outOfRange, prepCancel64, prepLinkTimeout,
  queueInit, registerBuffers as ringRegisterBuffers, registerEventfd, registerFiles as ringRegisterFiles,
  registerFilesSparse, registerFilesUpdate, registerRingFd, setupBufRing as ringSetupBufRing, unregisterBuffers as ringUnregisterBuffers,
  unregisterFiles as ringUnregisterFiles, systemError, validateBuffer, validateInteger, type Probe, type Ring, Sqe, UringError,
} from '../ring/index.js';
import { native, type RingGuard, type Watcher } from '../ring/native.js';
import { cqeSizeFor } from '../ring/params.js';

/** Called with the result (>= 0, or -errno) and the token given at submission; `cqeFlags` are the CQE's flags. */
export type Completion<T = unknown> = (res: number, token: T, cqeFlags: number) => void;

/** Options of a driver's ring. */
export interface DriverOptions {
  /** SQ entries, 1..32768 (the CQ gets 4x, up to 65536). Default 256. */
  entries?: number;
  /** 'coop' (COOP_TASKRUN+TASKRUN_FLAG, ring fd readiness; the default), 'defer' (DEFER_TASKRUN + eventfd) or 'plain'. */
  taskrun?: 'coop' | 'defer' | 'plain';
  /** Most ops tracked at once (queued or in flight), 1..2^20 (the default); one more is refused with ERR_URING_INFLIGHT_LIMIT. */
  maxInflight?: number;
}

const SLOT_BITS = 20;
const SLOT_SPACE = 1 << SLOT_BITS;
/** user_data of every op is below this; the native teardown counts only such CQEs. */
const USER_LIMIT = 2 ** 52;
/**
 * Set in the user_data of ops whose result is a new file descriptor (open,
 * socket, accept): a CQE of such an op that the thread's teardown reaps
 * (nobody in JavaScript ever saw it) has its fd closed there. The shim
 * knows this bit (URING_FD_RESULT); generations stay below it.
 */
const FD_RESULT = 2 ** 51;
const GENERATIONS = FD_RESULT / SLOT_SPACE;
/** A link timeout's CQE carries TIMEOUT_BASE + its op's user_data. */
const TIMEOUT_BASE = USER_LIMIT;
/** user_data of SQEs nobody waits for (cancellations). */
const IGNORED = Number.MAX_SAFE_INTEGER;
const { ECANCELED, ETIME, ETIMEDOUT, EPERM, EAGAIN, EBADF, EBUSY, EINVAL, ENXIO } = ERRNO;
/** Direct descriptors the driver keeps for itself (open → read → close chains), above the user's registered files. */
const DIRECT_SLOTS = 256;
/** At most this many submit rounds per flush; the rest waits for the next turn (keeps the CQ from overflowing). */
const ROUNDS_PER_FLUSH = 8;
/** The backlog grows by this many SQEs at a time. */
const BACKLOG_CHUNK = 64;
/** Largest link timeout, in milliseconds (the range of AbortSignal.timeout). */
export const MAX_TIMEOUT_MS = 0xffffffff;

/** Op states. */
const HAS_TIMEOUT = 1;
const TIMED_OUT = 2;
/** A zero-copy send whose data is sent; only its notification is to come (counted in #outstanding[1]). */
const AWAITS_NOTIF = 4;

const TASKRUN_FLAGS = {
  coop: IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
  defer: IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
  plain: 0,
} as const;

function resolveOptions(options: unknown): { entries: number; taskrun: 'coop' | 'defer' | 'plain'; maxInflight: number } {
  if (options === undefined) return { entries: 256, taskrun: 'coop', maxInflight: SLOT_SPACE };
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  const o = options as DriverOptions;
  const entries = o.entries === undefined ? 256 : validateInteger(o.entries, 'options.entries', 1, 32768);
  const taskrun = o.taskrun ?? 'coop';
  if (taskrun !== 'coop' && taskrun !== 'defer' && taskrun !== 'plain') {
    throw invalidArgValue('options.taskrun', taskrun, "must be 'coop', 'defer' or 'plain'");
  }
  const maxInflight = o.maxInflight === undefined ? SLOT_SPACE : validateInteger(o.maxInflight, 'options.maxInflight', 1, SLOT_SPACE);
  return { entries, taskrun, maxInflight };
}

/** Creates the ring with the driver's flags, dropping those an older kernel refuses (EINVAL). */
function createRing(entries: number, taskrun: 'coop' | 'defer' | 'plain'): Ring {
  const cqEntries = Math.min(entries * 4, 65536);
  const wanted = TASKRUN_FLAGS[taskrun];
  for (const flags of [wanted | IORING_SETUP_SUBMIT_ALL, wanted, taskrun === 'defer' ? wanted : 0]) {
    try {
      return queueInit(entries, { flags, cqEntries });
    } catch (e) {
      if ((e as UringError).code !== 'EINVAL' || flags === 0) throw e;
    }
  }
  return queueInit(entries, { cqEntries });
}

/** One ring on this thread's event loop, with its op table. Use `io()` for the thread's shared one. */
export class Driver {
  /** What the kernel supports (IORING_REGISTER_PROBE). */
  readonly probe: Probe;
  /** The flags the ring was created with, and the taskrun mode. */
  readonly setup: { flags: number; taskrun: 'coop' | 'defer' | 'plain' };

  readonly #ring: Ring;
  readonly #watcher: Watcher;
  readonly #guard: RingGuard;
  readonly #eventfd: number;
  /** Requests published to the kernel whose final CQE JavaScript has not consumed (shared with the shim). */
  /** [0]: ops until their last CQE; [1]: of those, zero-copy sends waiting only for their notification (read by the native teardown). */
  readonly #outstanding = new Int32Array(2);

  // The op table: parallel arrays indexed by slot.
  #callbacks: (Completion<any> | undefined)[] = [];
  #tokens: unknown[] = [];
  #pins: unknown[] = [];
  #pins2: unknown[] = [];
  #userData: number[] = [];
  #pendingCqes = new Uint8Array(0);
  #state = new Uint8Array(0);
  /** 1 for ops that do not keep the event loop alive (setOpRef). */
  #unref = new Uint8Array(0);
  #unrefCount = 0;
  #result = new Int32Array(0);
  #resultFlags = new Uint32Array(0);
  /** Link-timeout timespecs, 16 bytes per slot, never moving while an op is in flight. */
  #timespecs = new BigInt64Array(0);
  #generation = 0;
  #free: number[] = [];
  #capacity = 0;
  #inflight = 0;
  readonly #maxInflight: number;

  // The open transaction.
  #txDepth = 0;
  #txSqes = 0;
  /** Slots tracked by the open transaction: #txSlots[0..#txOps). */
  #txSlots = new Int32Array(64);
  #txOps = 0;
  #txInBacklog = false;
  #txBacklogStart = 0;
  /** User ops committed to the SQ since the last publish (added to #outstanding when published). */
  #committedOps = 0;

  // The backlog: whole transactions waiting for SQ space, FIFO.
  #backlogSqes: Sqe[] = [];
  #backlogUsed = 0;
  #backlogRead = 0;
  #groupSizes: number[] = [];
  #groupOps: number[] = [];
  #groupHead = 0;

  #flushQueued = false;
  #retryQueued = false;
  #closed = false;
  #closing: Promise<void> | null = null;
  #draining = false;
  #watching = false;
  #finals = 0;
  #firstError: unknown = undefined;
  #hasError = false;
  #reaping = false;
  #drainWaiters: (() => void)[] = [];
  /**
   * The ring's one registered file table, shared: the user's files
   * (registerFiles) at [0, userCap), the driver's direct slots at
   * [userCap, userCap + DIRECT_SLOTS). null until either needs it.
   */
  #fileTable: { userCap: number; userCount: number } | null = null;
  /** Free direct slots; empty when the kernel has no sparse tables (direct chains then take the plain path). */
  #directFree: number[] = [];
  #directBusy = 0;
  /** The kernel refused a sparse table (before 5.19): no direct slots, and no asking again per op. */
  #sparseRefused = false;
  #registeredBuffers: readonly ArrayBufferView[] = [];
  readonly #flushBound = (): void => this.#flush();
  readonly #retryBound = (): void => {
    this.#retryQueued = false;
    this.#flush();
  };
  readonly #onCqeBound = (userData: number, res: number, flags: number): void => this.#onCqe(userData, res, flags);

  constructor(options?: DriverOptions) {
    const { entries, taskrun, maxInflight } = resolveOptions(options);
    this.#maxInflight = maxInflight;
    const ring = createRing(entries, taskrun);
    let eventfd = -1;
    let watcher: Watcher | null = null;
    let guard: RingGuard | null = null;
    try {
      this.probe = getProbe(ring);
      try {
        registerRingFd(ring);
      } catch {
        // an older kernel: enter by fd
      }
      ring.dontFork();
      if (taskrun === 'defer') {
        eventfd = native.eventfd();
        if (eventfd < 0) throw new UringError(eventfd, 'eventfd');
        registerEventfd(ring, eventfd);
      }
      const p = ring.params;
      const offsets = new Uint32Array([p.sq_off.head, p.sq_off.tail, p.cq_off.head, p.cq_off.tail, p.cq_off.ring_mask, p.cq_off.cqes, cqeSizeFor(p.flags)]);
      const regions = new Float64Array([ring.sqRingSize, ring.cqRingSize, ring.features & IORING_FEAT_SINGLE_MMAP ? 1 : 0]);
      const g = native.guardRing(ring.fd, eventfd, regions, offsets, this.#outstanding);
      if (typeof g === 'number') throw new UringError(g, 'mmap', { explanation: 'mapping the ring for its teardown guard failed.' });
      guard = g;
      const w = native.watch(eventfd >= 0 ? eventfd : ring.fd, () => this.#onReadable());
      if (typeof w === 'number') throw new UringError(w, 'uv_poll_start');
      watcher = w;
    } catch (e) {
      if (watcher) native.unwatch(watcher);
      if (guard) native.releaseRing(guard);
      if (eventfd >= 0) native.close(eventfd);
      ring.queueExit();
      throw e;
    }
    this.#ring = ring;
    this.#eventfd = eventfd;
    this.#guard = guard;
    this.#watcher = watcher;
    this.setup = { flags: ring.flags, taskrun };
    this.#grow(Math.max(64, entries * 2));
  }

  /** IORING_FEAT_* bits of the ring. */
  get features(): number {
    return this.#ring.features;
  }

  /** SQ entries of the ring. */
  get sqEntries(): number {
    return this.#ring.sqEntries;
  }

  /** The ring's fd (for diagnostics and tests: never submit on it yourself). */
  get ringFd(): number {
    return this.#ring.fd;
  }

  /** Ops tracked and not yet completed (queued, submitted or in the kernel). */
  get pending(): number {
    return this.#inflight;
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** True if the process changed its identity since the ring was created (it then refuses ops). */
  get identityChanged(): boolean {
    return this.#ring.identityChanged;
  }

  /** Whether the kernel supports an opcode (from the probe). */
  supports(opcode: number): boolean {
    return this.probe.isSupported(opcode);
  }

  /** Throws the error a new op must fail with, if the driver cannot take one. */
  assertUsable(): void {
    if (this.#closed) throw invalidState('The io_uring driver is closed', 'ERR_URING_RING_CLOSED');
    if (this.#ring.identityChanged) {
      throw invalidState(
        'The process changed its user or group identity after this io_uring driver was created; its ring would act with ' +
          'the old credentials, so it refuses new operations. Use io() (or uring/fs), which moves to a new ring.',
        'ERR_URING_CREDENTIALS_CHANGED',
      );
    }
  }

  // ------------------------------------------------------ registered resources

  /** io_uring_register_buffers(3): buffers for readFixed/writeFixed (index = position). Each stays alive while ops use it. */
  registerBuffers(buffers: readonly ArrayBufferView[]): void {
    this.assertUsable();
    if (!Array.isArray(buffers)) throw invalidArgType('buffers', 'an array of Buffer, TypedArray or DataView', buffers);
    buffers.forEach((b, i) => validateBuffer(b, `buffers[${i}]`));
    const kept = Object.freeze(buffers.slice());
    ringRegisterBuffers(this.#ring, kept);
    this.#registeredBuffers = kept;
  }

  /** io_uring_unregister_buffers(3). Ops still in flight keep their buffer alive until they complete. */
  unregisterBuffers(): void {
    this.assertUsable();
    ringUnregisterBuffers(this.#ring);
    this.#registeredBuffers = [];
  }

  /** The registered buffer at `index`, or undefined. */
  registeredBuffer(index: number): ArrayBufferView | undefined {
    return this.#registeredBuffers[index];
  }

  /** Number of registered buffers. */
  get registeredBufferCount(): number {
    return this.#registeredBuffers.length;
  }

  /**
   * io_uring_register_files(3): fds for `fixedFile` ops (index = position;
   * -1 = an empty slot). The table is shared with the driver's own direct
   * descriptors, which sit above the user's slots, so each keeps its own:
   * files the driver opens never land in, or close, a slot of these. As with
   * the kernel, registering while files are registered is EBUSY.
   */
  registerFiles(fds: readonly number[]): void {
    this.assertUsable();
    if (!Array.isArray(fds)) throw invalidArgType('fds', 'an array of file descriptors', fds);
    if (this.#fileTable !== null && this.#fileTable.userCount > 0) {
      throw new UringError(EBUSY, 'io_uring_register', { explanation: 'EBUSY: files are already registered on this ring; unregisterFiles() first (as IORING_REGISTER_FILES requires).' });
    }
    if (fds.length === 0) throw new UringError(EINVAL, 'io_uring_register', { explanation: 'EINVAL: IORING_REGISTER_FILES needs at least one file descriptor.' });
    const table = this.#fileTable;
    if (table === null || fds.length > table.userCap) {
      if (this.#directBusy > 0) {
        throw new UringError(EBUSY, 'io_uring_register', {
          explanation: `EBUSY: ${this.#directBusy} operation(s) of uring/fs are using the ring's direct descriptors right now, and ${fds.length} files do not fit below them; register again once they completed (or before the first readFile).`,
        });
      }
      if (table !== null) ringUnregisterFiles(this.#ring);
      this.#fileTable = null;
      if (!this.#buildFileTable(fds.length)) {
        ringRegisterFiles(this.#ring, fds); // no sparse tables on this kernel: the user's files alone
        this.#fileTable = { userCap: fds.length, userCount: fds.length };
        return;
      }
    }
    registerFilesUpdate(this.#ring, 0, fds);
    this.#fileTable!.userCount = fds.length;
  }

  /** io_uring_unregister_files(3): the user's files; the driver's direct slots stay. */
  unregisterFiles(): void {
    this.assertUsable();
    const table = this.#fileTable;
    if (table === null || table.userCount === 0) throw new UringError(ENXIO, 'io_uring_register', { explanation: 'ENXIO: no files are registered on this ring.' });
    if (this.#directBusy === 0) {
      ringUnregisterFiles(this.#ring);
      this.#fileTable = null;
      this.#directFree = [];
      return;
    }
    registerFilesUpdate(this.#ring, 0, new Array<number>(table.userCount).fill(-1));
    table.userCount = 0;
  }

  /** How many files registerFiles() registered (the valid `fixedFile` indexes are below it). */
  get registeredFileCount(): number {
    return this.#fileTable?.userCount ?? 0;
  }

  /**
   * Refuses a `fixedFile` index that is not one of the user's registered
   * files (the kernel would accept an index of the driver's own direct
   * slots, which belong to other operations). EBADF, as the kernel answers
   * an index past its table.
   */
  checkFixedFile(index: number, syscall: string): void {
    const count = this.#fileTable?.userCount ?? 0;
    if (!(index >= 0 && index < count)) {
      throw systemError(EBADF, syscall, { explanation: `EBADF: fixed file ${index} is not registered (${count} file${count === 1 ? '' : 's'} registered with registerFiles()).` });
    }
  }

  /** Registers a sparse table with `userCap` user slots below the direct ones; false if the kernel has no sparse tables. */
  #buildFileTable(userCap: number): boolean {
    if (this.#sparseRefused) return false;
    try {
      registerFilesSparse(this.#ring, userCap + DIRECT_SLOTS);
    } catch {
      this.#sparseRefused = true;
      return false;
    }
    this.#fileTable = { userCap, userCount: 0 };
    this.#directFree = [];
    for (let i = userCap + DIRECT_SLOTS - 1; i >= userCap; i--) this.#directFree.push(i);
    return true;
  }

  /**
   * io_uring_setup_buf_ring(3) on this driver's ring: a provided-buffer ring
   * of `entries` (a power of two) for buffer group `bgid`, for ops with
   * IOSQE_BUFFER_SELECT. The BufRing keeps every buffer added to it alive.
   */
  setupBufRing(entries: number, bgid: number, flags = 0): BufRing {
    this.assertUsable();
    return ringSetupBufRing(this.#ring, entries, bgid, flags);
  }

  /**
   * io_uring_free_buf_ring(3). Only once no op that may still select from it
   * is in flight: a request that picked a buffer writes into it after the
   * ring is gone (the caller keeps the BufRing, and so its buffers, until then).
   */
  freeBufRing(br: BufRing): void {
    if (this.#ring.isClosed) return;
    ringFreeBufRing(this.#ring, br);
  }

  /**
   * A free direct slot of the registered file table (above the user's
   * files), for ops that open, use and close a file in one linked chain; -1
   * if none (or the kernel refused the table). The table is registered
   * sparse on first use.
   */
  takeDirectSlot(): number {
    if (this.#fileTable === null && !this.#buildFileTable(0)) return -1;
    const slot = this.#directFree.pop();
    if (slot === undefined) return -1;
    this.#directBusy++;
    return slot;
  }

  /** Returns a direct slot once the op that closed it has completed. */
  releaseDirectSlot(slot: number): void {
    this.#directFree.push(slot);
    this.#directBusy--;
  }

  // ---------------------------------------------------------------- op table

  #grow(to: number): void {
    if (to > SLOT_SPACE) to = SLOT_SPACE;
    const from = this.#capacity;
    for (let i = to - 1; i >= from; i--) this.#free.push(i);
    this.#callbacks.length = to;
    this.#tokens.length = to;
    this.#pins.length = to;
    this.#pins2.length = to;
    for (let i = from; i < to; i++) this.#userData[i] = -1;
    const grown = <T extends Uint8Array | Int32Array | Uint32Array | BigInt64Array>(old: T, make: (n: number) => T, per = 1): T => {
      const next = make(to * per);
      next.set(old as never);
      return next;
    };
    this.#pendingCqes = grown(this.#pendingCqes, (n) => new Uint8Array(n));
    this.#state = grown(this.#state, (n) => new Uint8Array(n));
    this.#unref = grown(this.#unref, (n) => new Uint8Array(n));
    this.#result = grown(this.#result, (n) => new Int32Array(n));
    this.#resultFlags = grown(this.#resultFlags, (n) => new Uint32Array(n));
    // Timespecs of ops in flight are copied to the new table; the kernel read
    // the old ones when it consumed the SQE, and SQEs still waiting point at
    // the old table, which their op pins (#pins2).
    this.#timespecs = grown(this.#timespecs, (n) => new BigInt64Array(n), 2);
    this.#capacity = to;
  }

  #takeSlot(): number {
    if (this.#inflight >= this.#maxInflight) {
      throw invalidState(`${this.#inflight} operations are already queued or in flight on this driver, its maximum (maxInflight); wait for some to complete`, 'ERR_URING_INFLIGHT_LIMIT');
    }
    if (this.#free.length === 0) this.#grow(this.#capacity * 2);
    return this.#free.pop()!;
  }

  #releaseSlot(slot: number): void {
    if (this.#state[slot] & AWAITS_NOTIF) this.#outstanding[1]--;
    this.#callbacks[slot] = undefined;
    this.#tokens[slot] = undefined;
    this.#pins[slot] = undefined;
    this.#pins2[slot] = undefined;
    this.#userData[slot] = -1;
    this.#state[slot] = 0;
    if (this.#unref[slot] !== 0) {
      this.#unref[slot] = 0;
      this.#unrefCount--;
    }
    this.#free.push(slot);
    if (--this.#inflight === 0) {
      this.#setWatching(false);
      if (this.#drainWaiters.length > 0) for (const w of this.#drainWaiters.splice(0)) w();
    } else if (this.#inflight === this.#unrefCount) this.#setWatching(false);
  }

  // -------------------------------------------------------------- transactions

  /**
   * Opens a transaction (or nests in the open one: only the outermost
   * commit submits). Returns a mark for txRollback. Call only after every
   * argument has been validated and assertUsable() passed.
   */
  txBegin(): number {
    if (this.#txDepth++ === 0) {
      this.#txSqes = 0;
      this.#txOps = 0;
      this.#txInBacklog = this.#groupHead < this.#groupSizes.length; // keep FIFO order behind the backlog
      this.#txBacklogStart = this.#backlogUsed;
    }
    return this.#txSqes * SLOT_SPACE + this.#txOps;
  }

  /** SQEs taken so far in the open transaction. */
  get txSqeCount(): number {
    return this.#txSqes;
  }

  /** Ops tracked so far in the open transaction. */
  get txOpCount(): number {
    return this.#txOps;
  }

  /** The i-th SQE of the open transaction. */
  txSqeAt(i: number): Sqe {
    return this.#txInBacklog ? this.#backlogSqes[this.#txBacklogStart + i] : this.#ring.reservedSqe(i);
  }

  /**
   * The next SQE of the open transaction (from the SQ, or the backlog when
   * the SQ is full). An SQE is valid only until the next txSqe() call, which
   * may move the transaction to the backlog: write it completely first.
   */
  txSqe(): Sqe {
    if (this.#txDepth === 0) throw invalidState('txSqe() outside a transaction');
    if (this.#txSqes >= this.#ring.sqEntries) {
      throw outOfRange('SQEs in one linked chain', `<= ${this.#ring.sqEntries} (the SQ size)`, this.#txSqes + 1);
    }
    if (!this.#txInBacklog) {
      if (this.#ring.reserve(1)) return this.#ring.reservedSqe(this.#txSqes++);
      this.#moveTxToBacklog();
    }
    return this.#backlogSqe(this.#txSqes++);
  }

  #moveTxToBacklog(): void {
    this.#txBacklogStart = this.#backlogUsed;
    for (let i = 0; i < this.#txSqes; i++) copySqe(this.#ring.reservedSqe(i), this.#backlogSqe(i));
    this.#ring.rollback();
    this.#txInBacklog = true;
  }

  /** Backlog slot `i` of the open transaction. The backlog grows by chunks, so handed-out SQEs stay valid. */
  #backlogSqe(i: number): Sqe {
    const index = this.#txBacklogStart + i;
    while (index >= this.#backlogSqes.length) {
      const chunk = new Uint32Array(BACKLOG_CHUNK * 16);
      for (let k = 0; k < BACKLOG_CHUNK; k++) this.#backlogSqes.push(new Sqe(chunk, k, 64));
    }
    if (index >= this.#backlogUsed) this.#backlogUsed = index + 1;
    return this.#backlogSqes[index];
  }

  /**
   * Registers the op written into `sqe`: its completion callback, the token
   * passed back, and what the kernel may touch (`pin`, `pin2`), kept alive
   * until the op's last CQE. `fdResult`: a non-negative result is a new file
   * descriptor (closed by the thread's teardown if JavaScript never got the
   * CQE). Returns the op's user_data.
   */
  txTrack<T>(sqe: Sqe, callback: Completion<T>, token: T, pin: unknown, pin2?: unknown, fdResult = false): number {
    const slot = this.#takeSlot();
    this.#generation = (this.#generation + 1) % GENERATIONS;
    const userData = this.#generation * SLOT_SPACE + slot + (fdResult ? FD_RESULT : 0);
    this.#callbacks[slot] = callback;
    this.#tokens[slot] = token;
    this.#pins[slot] = pin;
    this.#pins2[slot] = pin2;
    this.#userData[slot] = userData;
    this.#pendingCqes[slot] = 1;
    this.#state[slot] = 0;
    if (this.#txOps === this.#txSlots.length) {
      const grown = new Int32Array(this.#txSlots.length * 2);
      grown.set(this.#txSlots);
      this.#txSlots = grown;
    }
    this.#txSlots[this.#txOps++] = slot;
    sqe.userData = userData;
    this.#inflight++;
    if (this.#inflight > this.#unrefCount) this.#setWatching(true);
    return userData;
  }

  /**
   * Adds IORING_OP_LINK_TIMEOUT after `sqe` (which gets IOSQE_IO_LINK): the
   * op is cancelled after `ms` and then completes with -ETIMEDOUT. Its own
   * CQE tells whether the timer fired, so an op cancelled otherwise is
   * never reported as timed out.
   */
  txLinkTimeout(sqe: Sqe, userData: number, ms: number): void {
    const slot = userData % SLOT_SPACE;
    sqe.flags |= IOSQE_IO_LINK; // before txSqe(), which may move the transaction
    const t = this.txSqe();
    const ts = this.#timespecs;
    const sec = Math.floor(ms / 1000);
    ts[slot * 2] = BigInt(sec);
    ts[slot * 2 + 1] = BigInt(Math.min(999_999_999, Math.round((ms - sec * 1000) * 1e6)));
    prepLinkTimeout(t, new Uint8Array(ts.buffer, slot * __kernel_timespec.size, __kernel_timespec.size), 0);
    t.userData = TIMEOUT_BASE + userData;
    this.#pendingCqes[slot] = 2;
    this.#state[slot] |= HAS_TIMEOUT;
    // The table may be replaced when the op table grows; this op keeps the one its SQE points into.
    const other = this.#pins2[slot];
    this.#pins2[slot] = other === undefined ? ts : [other, ts];
  }

  /** Commits the open transaction (the outermost commit queues it for the next flush). */
  txCommit(): void {
    if (--this.#txDepth > 0) return;
    const ops = this.#txOps;
    if (this.#txSqes > 0) {
      if (this.#txInBacklog) {
        this.#groupSizes.push(this.#txSqes);
        this.#groupOps.push(ops);
      } else {
        this.#ring.commit();
        this.#committedOps += ops;
      }
      this.#scheduleFlush();
    }
    this.#txOps = 0;
    this.#txSqes = 0;
  }

  /**
   * Rolls the open transaction back to `mark` (from txBegin): those SQEs
   * never reach the kernel and those ops' slots are freed. Without `res` the
   * ops vanish (the caller reports the error); with `res` each completes
   * with it (a chain abandoned half-way).
   */
  txRollback(mark: number, res?: number): void {
    const keepSqes = Math.floor(mark / SLOT_SPACE);
    const keepOps = mark % SLOT_SPACE;
    const end = this.#txOps;
    this.#txOps = keepOps;
    for (let i = keepOps; i < end; i++) {
      const slot = this.#txSlots[i];
      const callback = this.#callbacks[slot];
      const token = this.#tokens[slot];
      this.#releaseSlot(slot);
      if (res !== undefined && callback) this.#invoke(callback, res, token, 0);
    }
    if (this.#txInBacklog) this.#backlogUsed = this.#txBacklogStart + keepSqes;
    else this.#ring.rollback(keepSqes);
    this.#txSqes = keepSqes;
    if (--this.#txDepth <= 0) {
      this.#txDepth = 0;
      this.#txSqes = 0;
      this.#txOps = 0;
    }
  }

  /**
   * Whether an op in flight keeps the event loop alive (the default) — what
   * uv_ref/uv_unref are to a libuv handle. An unreferenced op is still
   * delivered while the loop runs for other reasons; the ring's readiness
   * watcher is referenced only while some referenced op is in flight. For
   * ops that stand for a handle the user may unref (a listening socket's
   * accept, an idle connection's receive, a socket timeout). Unknown or
   * finished ops are ignored.
   */
  setOpRef(userData: number, ref: boolean): void {
    const slot = userData % SLOT_SPACE;
    if (this.#userData[slot] !== userData) return;
    const unref = ref ? 0 : 1;
    if (this.#unref[slot] === unref) return;
    this.#unref[slot] = unref;
    this.#unrefCount += unref ? 1 : -1;
    this.#setWatching(this.#inflight > this.#unrefCount);
  }

  /**
   * Tells the driver that a zero-copy send (IORING_OP_SEND_ZC) has posted
   * its result and waits only for the notification that the kernel no
   * longer needs the buffer. The op (and its buffer) stays tracked until
   * then; the thread's native teardown does not wait for that notification,
   * because the kernel holds references to those pages itself — which is
   * why uring/net makes zero-copy sends only on the main thread, whose
   * teardown is the process's exit. Unknown or finished ops are ignored.
   */
  awaitsNotification(userData: number): void {
    const slot = userData % SLOT_SPACE;
    if (this.#userData[slot] !== userData || this.#state[slot] & AWAITS_NOTIF) return;
    this.#state[slot] |= AWAITS_NOTIF;
    this.#outstanding[1]++;
  }

  /** Requests cancellation of an op (IORING_OP_ASYNC_CANCEL); its completion still arrives (usually -ECANCELED). Never throws. */
  cancel(userData: number): void {
    if ((this.#closed && !this.#draining) || this.#ring.isClosed) return;
    const slot = userData % SLOT_SPACE;
    if (this.#userData[slot] !== userData) return;
    this.#queueInternal(userData, 0);
  }

  #queueInternal(userData: number, flags: number): void {
    const outer = this.#txDepth > 0;
    if (outer) {
      // Called from inside a transaction (an abort listener firing synchronously): queue it after.
      queueMicrotask(() => this.#queueInternal(userData, flags));
      return;
    }
    this.txBegin();
    const sqe = this.txSqe();
    prepCancel64(sqe, userData, flags);
    sqe.userData = IGNORED;
    this.txCommit();
  }

  // ------------------------------------------------------------------ submit

  #scheduleFlush(): void {
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flushBound);
    }
  }

  #setWatching(on: boolean): void {
    if (this.#watching === on) return;
    this.#watching = on;
    native.watchRef(this.#watcher, on);
  }

  /** Moves whole backlog transactions into the SQ while they fit. */
  #moveBacklog(): void {
    const ring = this.#ring;
    while (this.#groupHead < this.#groupSizes.length) {
      const n = this.#groupSizes[this.#groupHead];
      if (!ring.reserve(n)) break;
      for (let i = 0; i < n; i++) copySqe(this.#backlogSqes[this.#backlogRead + i], ring.reservedSqe(i));
      ring.commit();
      this.#committedOps += this.#groupOps[this.#groupHead];
      this.#backlogRead += n;
      this.#groupHead++;
    }
    if (this.#groupHead === this.#groupSizes.length && this.#txDepth === 0) {
      this.#groupSizes.length = 0;
      this.#groupOps.length = 0;
      this.#groupHead = 0;
      this.#backlogUsed = 0;
      this.#backlogRead = 0;
    }
  }

  /** Submits what was committed and what the backlog holds, in up to ROUNDS_PER_FLUSH io_uring_enter calls. Never reaps. */
  #flush(): void {
    this.#flushQueued = false;
    const ring = this.#ring;
    if (ring.isClosed || this.#txDepth > 0) return;
    if (ring.identityChanged) this.#refuseUnsubmitted();
    for (let round = 0; round < ROUNDS_PER_FLUSH; round++) {
      this.#moveBacklog();
      if (ring.sqReady() === 0) return;
      const ops = this.#committedOps;
      this.#committedOps = 0;
      // The shim's teardown must count these before the kernel can see them.
      this.#outstanding[0] += ops;
      try {
        ring.submit();
      } catch (e) {
        this.#submitFailed(e, ops);
        return;
      }
      if (this.#groupHead === this.#groupSizes.length) return;
    }
    // More is waiting: let the loop turn (and reap) first.
    this.#retryLater();
  }

  #retryLater(): void {
    if (!this.#retryQueued) {
      this.#retryQueued = true;
      setImmediate(this.#retryBound);
    }
  }

  #submitFailed(e: unknown, ops: number): void {
    const code = (e as UringError).code;
    if (code === 'EAGAIN' || code === 'EBUSY' || code === 'EINTR') {
      // Published but not consumed: the kernel takes them on the next enter.
      this.#retryLater();
      return;
    }
    if (code === 'ERR_URING_CREDENTIALS_CHANGED') {
      this.#outstanding[0] -= ops; // nothing was published
      this.#refuseUnsubmitted();
      this.#flushQueued = false;
      this.#scheduleFlush(); // the cancellations that remain may go
      return;
    }
    // The ring itself failed (EBADF, ENXIO, …): nothing unsubmitted can run.
    this.#outstanding[0] -= ops;
    this.#failUnsubmitted(ECANCELED);
    this.#reportError(e);
  }

  /**
   * The process changed identity: no op prepared before may run with the old
   * credentials. Every SQE not yet submitted becomes a NOP (cancellations
   * stay) and its op completes with -EPERM; the backlog likewise.
   */
  #refuseUnsubmitted(): void {
    this.#failUnsubmitted(EPERM);
  }

  #failUnsubmitted(res: number): void {
    for (const [callback, token] of this.#takeUnsubmitted()) this.#invoke(callback, res, token, 0);
  }

  /** Removes every op that never reached the kernel (SQEs voided, backlog emptied); returns their callbacks and tokens. */
  #takeUnsubmitted(): Array<[Completion<any>, unknown]> {
    const taken: Array<[Completion<any>, unknown]> = [];
    const take = (userData: number): void => {
      if (!(userData < USER_LIMIT)) return;
      const slot = userData % SLOT_SPACE;
      if (this.#userData[slot] !== userData) return;
      taken.push([this.#callbacks[slot]!, this.#tokens[slot]]);
      this.#releaseSlot(slot);
    };
    for (const userData of this.#ring.voidUnsubmitted()) take(userData);
    this.#committedOps = 0;
    for (let i = this.#backlogRead; i < this.#backlogUsed; i++) take(this.#backlogSqes[i].userData);
    this.#groupSizes.length = 0;
    this.#groupOps.length = 0;
    this.#groupHead = 0;
    this.#backlogUsed = 0;
    this.#backlogRead = 0;
    return taken;
  }

  // ------------------------------------------------------------------ reap

  #onReadable(): void {
    if (this.#eventfd >= 0) native.readEventfd(this.#eventfd);
    this.reap();
  }

  /**
   * Dispatches every available completion; returns how many CQEs were
   * consumed. Called by the readiness watcher; exceptions thrown by
   * completion callbacks are rethrown once the batch is delivered.
   */
  reap(): number {
    const ring = this.#ring;
    if (ring.isClosed) return 0;
    let n: number;
    this.#reaping = true;
    try {
      n = ring.drainCq(this.#onCqeBound);
    } finally {
      this.#reaping = false;
      // After drainCq advanced the CQ head (the order the shim's teardown relies on).
      this.#outstanding[0] -= this.#finals;
      this.#finals = 0;
    }
    if (this.#groupHead < this.#groupSizes.length) this.#scheduleFlush();
    if (this.#hasError) {
      const e = this.#firstError;
      this.#hasError = false;
      this.#firstError = undefined;
      throw e;
    }
    return n;
  }

  #onCqe(userData: number, res: number, flags: number): void {
    if (userData < USER_LIMIT) {
      if (!(flags & IORING_CQE_F_MORE)) this.#finals++;
      const slot = userData % SLOT_SPACE;
      if (this.#userData[slot] !== userData) return;
      if (flags & IORING_CQE_F_MORE) {
        // More CQEs follow for this op (multishot; SEND_ZC before its notification).
        this.#invoke(this.#callbacks[slot]!, res, this.#tokens[slot], flags);
        return;
      }
      if (this.#pendingCqes[slot] === 2) {
        this.#result[slot] = res;
        this.#resultFlags[slot] = flags;
        this.#pendingCqes[slot] = 1;
        return;
      }
      this.#finish(slot, res, flags);
    } else if (userData < IGNORED) {
      const op = userData - TIMEOUT_BASE;
      const slot = op % SLOT_SPACE;
      if (this.#userData[slot] !== op) return;
      if (res === ETIME) this.#state[slot] |= TIMED_OUT;
      if (--this.#pendingCqes[slot] === 0) this.#finish(slot, this.#result[slot], this.#resultFlags[slot]);
    }
  }

  #finish(slot: number, res: number, flags: number): void {
    if (res === ECANCELED && this.#state[slot] & TIMED_OUT) res = ETIMEDOUT;
    const callback = this.#callbacks[slot]!;
    const token = this.#tokens[slot];
    this.#releaseSlot(slot);
    this.#invoke(callback, res, token, flags);
  }

  #invoke(callback: Completion<any>, res: number, token: unknown, flags: number): void {
    try {
      callback(res, token, flags);
    } catch (e) {
      this.#reportError(e);
    }
  }

  /** While reaping, the first exception of the batch is rethrown after it; any other goes to 'uncaughtException' through a microtask. */
  #reportError(e: unknown): void {
    if (this.#reaping && !this.#hasError) {
      this.#hasError = true;
      this.#firstError = e;
    } else {
      queueMicrotask(() => {
        throw e;
      });
    }
  }

  // ------------------------------------------------------------------ close

  /** Resolves when nothing is in flight. */
  drained(): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** True while close() cancels and drains. */
  get closing(): boolean {
    return this.#draining;
  }

  /**
   * Cancels everything in flight and waits for every CQE (callbacks run with
   * -ECANCELED or their real result; ops never submitted complete with
   * -ECANCELED), then unmaps and closes the ring. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#draining = true;
    this.#closing = (async () => {
      if (!this.#ring.isClosed) {
        // Ops that never reached the kernel settle with the cancelled ones, when the drain is over.
        const unsubmitted = this.#txDepth === 0 ? this.#takeUnsubmitted() : [];
        if (this.#inflight > 0) {
          this.#queueInternal(0, IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_ANY);
          await this.drained();
        }
        for (const [callback, token] of unsubmitted) this.#invoke(callback, ECANCELED, token, 0);
      }
      this.#draining = false;
      native.unwatch(this.#watcher);
      native.releaseRing(this.#guard);
      if (this.#eventfd >= 0) native.close(this.#eventfd);
      this.#ring.queueExit();
    })();
    return this.#closing;
  }
}

/** Copies one 64-byte SQE (16 words). */
function copySqe(from: Sqe, to: Sqe): void {
  const a = from.u32;
  const b = to.u32;
  const i = from.word;
  const j = to.word;
  for (let k = 0; k < 16; k++) b[j + k] = a[i + k];
}

export { ECANCELED, ETIMEDOUT, EAGAIN };
