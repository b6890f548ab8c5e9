/**
 * The io_uring side of uring/net on one thread: the thread's driver, what
 * its kernel offers the net layer (asked of the kernel, each feature on its
 * own, with a fallback for each), and the receive-buffer pool every socket
 * of the thread shares.
 *
 * The receive pool is one provided-buffer ring (IORING_REGISTER_PBUF_RING)
 * that multishot receives (IORING_RECV_MULTISHOT + IOSQE_BUFFER_SELECT)
 * pick their buffers from. Where the kernel takes IOU_PBUF_RING_INC, a
 * buffer is consumed incrementally: each receive takes the next bytes of the
 * buffer at the ring's head and reports IORING_CQE_F_BUF_MORE while the
 * buffer has room left, so small messages from many sockets share one
 * buffer instead of taking one each. Where the kernel has
 * IORING_FEAT_RECVSEND_BUNDLE, one receive may fill several buffers in ring
 * order (a bundle: the CQE names the first), which the pool walks by the
 * ring positions it filled them at.
 *
 * Data handed to JavaScript is never overwritten by a later receive:
 *  - up to `copyThreshold` bytes (1 KiB by default) are copied out of the
 *    ring buffer into a Buffer from Node's pool, so a small chunk the program
 *    keeps does not keep a 64 KiB buffer alive, and the ring buffer is
 *    reused in place once the kernel is done with it;
 *  - larger chunks are handed over as views of the ring buffer (no copy);
 *    a buffer any view was handed out of is never given back to the kernel:
 *    when the kernel is done with it (no IORING_CQE_F_BUF_MORE), a fresh
 *    buffer takes its buffer id in the ring. The kernel writes a buffer only
 *    ahead of the bytes it reported, so handed-out bytes are final.
 * A buffer id goes back into the ring only when the kernel has moved past
 * it, so the ring never runs dry for long; when it does (-ENOBUFS: every
 * buffer filled between two reaps), the data stays in the socket, the pool
 * grows (up to recvBuffersMax) and the receive is re-armed: no byte is lost.
 */
import { isMainThread } from 'node:worker_threads';
import {
  IORING_CQE_F_BUF_MORE, IORING_FEAT_RECVSEND_BUNDLE, IORING_OP, IOU_PBUF_RING_INC,
} from '../abi/constants.js';
import { type Driver, io } from '../driver/index.js';
import type { BufRing } from '../ring/register.js';

/** Options of the thread's receive pool and send path (uring/net's configure()). */
export interface NetTuning {
  /** Buffers the receive ring starts with, 1..recvBuffersMax. Default 128. */
  recvBuffers?: number;
  /** Most buffers the ring grows to when receives find it empty (-ENOBUFS); a power of two, 1..32768 (the ring's size). Default 1024. */
  recvBuffersMax?: number;
  /** Bytes per receive buffer, 4096..16 MiB. Default 65536. */
  recvBufferSize?: number;
  /** Received chunks up to this many bytes are copied out of the ring; larger ones are handed over. Default 1024. */
  copyThreshold?: number;
  /** Writes of at least this many bytes try IORING_OP_SEND_ZC (see docs/net.md). Default 262144; Infinity: never. */
  zeroCopyThreshold?: number;
}

const tuning: Required<NetTuning> = {
  recvBuffers: 128,
  recvBuffersMax: 1024,
  recvBufferSize: 64 * 1024,
  copyThreshold: 1024,
  // Measured (bench/net/zc-threshold.ts, loopback, 6.18): from 256 KiB on, a zero-copy send the kernel ends up
  // copying costs within 1.2x the CPU per MiB of a plain send (below, 2-5x): the size where trying is cheap.
  zeroCopyThreshold: 256 * 1024,
};

/** The tuning in effect (for tests and the report of backend()). */
export function currentTuning(): Readonly<Required<NetTuning>> {
  return tuning;
}

let frozen = false;

/**
 * Sets the receive pool and send thresholds of threads that have not yet
 * made a socket. Throws ERR_INVALID_STATE once a runtime exists on this
 * thread (the ring's buffers cannot be resized under receives in flight).
 */
export function configure(options: NetTuning): void {
  if (options === null || typeof options !== 'object') {
    throw Object.assign(new TypeError(`The "options" argument must be of type object. Received ${String(options)}`), { code: 'ERR_INVALID_ARG_TYPE' });
  }
  if (frozen) throw Object.assign(new Error('uring/net: configure() must be called before the first socket or server of the thread'), { code: 'ERR_INVALID_STATE' });
  const int = (v: unknown, name: string, min: number, max: number): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw Object.assign(new RangeError(`The value of "options.${name}" is out of range. It must be an integer >= ${min} && <= ${max}. Received ${String(v)}`), { code: 'ERR_OUT_OF_RANGE' });
    }
    return v;
  };
  if (options.recvBuffersMax !== undefined) {
    const n = int(options.recvBuffersMax, 'recvBuffersMax', 1, 32768);
    if (n & (n - 1)) throw Object.assign(new RangeError(`The value of "options.recvBuffersMax" must be a power of two. Received ${n}`), { code: 'ERR_OUT_OF_RANGE' });
    tuning.recvBuffersMax = n;
    if (options.recvBuffers === undefined) tuning.recvBuffers = Math.min(tuning.recvBuffers, n);
  }
  if (options.recvBuffers !== undefined) tuning.recvBuffers = int(options.recvBuffers, 'recvBuffers', 1, tuning.recvBuffersMax);
  if (options.recvBufferSize !== undefined) tuning.recvBufferSize = int(options.recvBufferSize, 'recvBufferSize', 4096, 16 * 1024 * 1024);
  if (options.copyThreshold !== undefined) tuning.copyThreshold = int(options.copyThreshold, 'copyThreshold', 0, 16 * 1024 * 1024);
  if (options.zeroCopyThreshold !== undefined) {
    const z = options.zeroCopyThreshold;
    tuning.zeroCopyThreshold = z === Infinity ? Infinity : int(z, 'zeroCopyThreshold', 1, 0x7fffffff);
  }
}

/** Kernel features the net layer can do without; each can also be switched off (URING_NET_DISABLE=name,…) to test its fallback. */
export const OPTIONAL_FEATURES = ['multishot-accept', 'multishot-recv', 'recv-budget', 'buf-ring', 'incremental', 'bundle', 'send-zc'] as const;
export type OptionalFeature = (typeof OPTIONAL_FEATURES)[number];

/** Opcodes without which uring/net cannot work (it is then node:net). */
export const REQUIRED_OPS = [
  'IORING_OP_SOCKET', 'IORING_OP_BIND', 'IORING_OP_LISTEN', 'IORING_OP_ACCEPT', 'IORING_OP_CONNECT',
  'IORING_OP_RECV', 'IORING_OP_SEND', 'IORING_OP_SENDMSG', 'IORING_OP_SHUTDOWN', 'IORING_OP_CLOSE',
  'IORING_OP_URING_CMD', 'IORING_OP_ASYNC_CANCEL', 'IORING_OP_TIMEOUT', 'IORING_OP_LINK_TIMEOUT',
] as const;

function disabledByEnv(): Set<string> {
  const raw = process.env.URING_NET_DISABLE ?? '';
  return new Set(raw.split(',').map((s) => s.trim()).filter(Boolean));
}

/**
 * What this thread's kernel gives the net layer. Each flag starts from the
 * probe (opcodes) or from registering (buffer rings) and is turned off, with
 * the reason, when the kernel refuses it in use (EINVAL on the first
 * multishot accept or receive, on the first bundle, on the first zero-copy
 * send with IORING_SEND_ZC_REPORT_USAGE).
 */
export class NetFeatures {
  multishotAccept = true;
  multishotRecv = true;
  /** A byte budget per multishot receive (sqe->optlen, IORING_RECV_MSHOT_LIM): what one socket can take from the pool before JavaScript sees it. */
  recvBudget = true;
  bufRing = true;
  incremental = true;
  bundle = true;
  sendZc = true;
  /** Why a feature is off. */
  readonly off: Partial<Record<OptionalFeature, string>> = {};

  disable(name: OptionalFeature, why: string): void {
    const key = ({
      'multishot-accept': 'multishotAccept', 'multishot-recv': 'multishotRecv', 'recv-budget': 'recvBudget', 'buf-ring': 'bufRing',
      incremental: 'incremental', bundle: 'bundle', 'send-zc': 'sendZc',
    } as const)[name];
    if (!this[key]) return;
    this[key] = false;
    this.off[name] = why;
  }

  /** Each feature: true, or why not. */
  report(): Record<OptionalFeature, true | string> {
    const on: Record<OptionalFeature, boolean> = {
      'multishot-accept': this.multishotAccept, 'multishot-recv': this.multishotRecv, 'recv-budget': this.recvBudget, 'buf-ring': this.bufRing,
      incremental: this.incremental, bundle: this.bundle, 'send-zc': this.sendZc,
    };
    const out = {} as Record<OptionalFeature, true | string>;
    for (const name of OPTIONAL_FEATURES) out[name] = on[name] ? true : (this.off[name] ?? 'off');
    return out;
  }
}

/** Chunks of one receive completion, reused between completions (no allocation per CQE). */
export type ChunkList = Buffer[];

/**
 * The provided-buffer ring of a thread's sockets (see the top of the file).
 * Buffer ids are 0..count-1; `take` turns a receive CQE's bytes into
 * Buffers and gives the kernel back what it is done with. The ring has room
 * for `entries` buffers and starts with fewer: when receives find it empty
 * (-ENOBUFS, more sockets with data at once than the buffers hold), it grows
 * — doubling, at most once per loop turn, up to `entries` — so a burst from
 * many connections does not starve some of them turn after turn, while a
 * quiet process keeps the small pool.
 */
export class RecvPool {
  readonly bgid: number;
  /** Room in the ring: the most buffers it can hold. */
  readonly entries: number;
  /** Buffers given to the kernel so far (ids 0..count-1). */
  count: number;
  readonly size: number;
  readonly incremental: boolean;
  readonly #mask: number;
  readonly #copyMax: number;
  readonly #br: BufRing;
  readonly #driver: Driver;
  readonly #bufs: Buffer[] = [];
  /** Bytes of each buffer the kernel has consumed (incremental rings). */
  readonly #off: Uint32Array;
  /** 1 when a view of the buffer was handed to JavaScript: it is then replaced, never reused. */
  readonly #handed: Uint8Array;
  /** Which buffer id sits at each ring position, and where each id was last put. */
  readonly #bidAtPos: Uint16Array;
  readonly #posOfBid: Uint32Array;
  #addPos = 0;
  #freed = false;
  #grownThisTurn = false;
  /** Counters for tests and reports. */
  readonly stats = { replaced: 0, reused: 0, copied: 0, handedOver: 0, bundles: 0, grown: 0 };

  constructor(driver: Driver, br: BufRing, entries: number, count: number, size: number, incremental: boolean, copyMax: number) {
    this.#driver = driver;
    this.#br = br;
    this.bgid = br.bgid;
    this.entries = entries;
    this.count = 0;
    this.size = size;
    this.incremental = incremental;
    this.#mask = entries - 1;
    this.#copyMax = copyMax;
    this.#off = new Uint32Array(entries);
    this.#handed = new Uint8Array(entries);
    this.#bidAtPos = new Uint16Array(entries);
    this.#posOfBid = new Uint32Array(entries);
    this.#add(Math.min(count, entries));
  }

  /** Gives `n` more buffers (new ids) to the kernel. */
  #add(n: number): void {
    for (let i = 0; i < n; i++) {
      const bid = this.count++;
      this.#bufs.push(Buffer.allocUnsafeSlow(this.size));
      this.#put(bid);
    }
  }

  /**
   * A receive found the ring empty (-ENOBUFS): double the buffers, at most
   * once per loop turn (one turn's ENOBUFS are one shortage) and up to the
   * ring's room. Returns whether it grew.
   */
  onEmpty(): boolean {
    if (this.#freed || this.#grownThisTurn || this.count >= this.entries) return false;
    this.#grownThisTurn = true;
    setImmediate(() => {
      this.#grownThisTurn = false;
    });
    this.#add(Math.min(this.count, this.entries - this.count));
    this.stats.grown++;
    return true;
  }

  /** Gives buffer `bid` to the kernel at the ring's tail. */
  #put(bid: number): void {
    this.#br.add(this.#bufs[bid], bid, 0);
    this.#br.advance(1);
    this.#posOfBid[bid] = this.#addPos;
    this.#bidAtPos[this.#addPos & this.#mask] = bid;
    this.#addPos = (this.#addPos + 1) >>> 0;
  }

  /** The kernel is done with `bid`: back into the ring, replaced by a fresh buffer if JavaScript holds views of it. */
  #retire(bid: number): void {
    if (this.#freed) return;
    if (this.#handed[bid] !== 0) {
      this.#bufs[bid] = Buffer.allocUnsafeSlow(this.size);
      this.#handed[bid] = 0;
      this.stats.replaced++;
    } else this.stats.reused++;
    this.#off[bid] = 0;
    this.#put(bid);
  }

  #chunk(bid: number, at: number, n: number): Buffer {
    const src = this.#bufs[bid];
    if (n <= this.#copyMax) {
      const out = Buffer.allocUnsafe(n);
      src.copy(out, 0, at, at + n);
      this.stats.copied++;
      return out;
    }
    this.#handed[bid] = 1;
    this.stats.handedOver++;
    return src.subarray(at, at + n);
  }

  /**
   * The bytes of a receive CQE that selected buffers (IORING_CQE_F_BUFFER,
   * first buffer id in the upper 16 bits of `cqeFlags`), `res` >= 0 of them,
   * appended to `out`; returns how many chunks were appended. Must be called
   * for every such CQE, also of a socket already destroyed: the pool's view
   * of what the kernel consumed depends on it.
   */
  take(res: number, cqeFlags: number, out: ChunkList): number {
    let bid = cqeFlags >>> 16;
    let pos = this.#posOfBid[bid];
    let left = res;
    let n = 0;
    let spans = 0;
    for (;;) {
      const at = this.#off[bid];
      const avail = this.size - at;
      const t = left < avail ? left : avail;
      if (t > 0) out.push(this.#chunk(bid, at, t));
      n += t > 0 ? 1 : 0;
      left -= t;
      if (left === 0) {
        if (this.incremental && (cqeFlags & IORING_CQE_F_BUF_MORE) !== 0) this.#off[bid] = at + t;
        else this.#retire(bid);
        if (spans > 0) this.stats.bundles++;
        return n;
      }
      // A bundle: this buffer is full, the data goes on in the next ring position.
      this.#retire(bid);
      pos = (pos + 1) >>> 0;
      bid = this.#bidAtPos[pos & this.#mask];
      spans++;
    }
  }

  /** Unregisters the ring (only when no receive is in flight). */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.#driver.freeBufRing(this.#br);
  }
}

/** The net layer's state on one driver (one thread). */
export class Runtime {
  readonly driver: Driver;
  readonly features = new NetFeatures();
  readonly pool: RecvPool | null;
  /** Writes of at least this many bytes try IORING_OP_SEND_ZC. */
  readonly zcThreshold: number;
  /** Counters for tests and reports. */
  readonly stats = { enobufs: 0, recvRearms: 0, acceptRearms: 0, zcSends: 0, zcCopied: 0, sends: 0, sendmsgs: 0 };

  constructor(driver: Driver) {
    this.driver = driver;
    const off = disabledByEnv();
    const f = this.features;
    for (const name of OPTIONAL_FEATURES) if (off.has(name)) f.disable(name, `switched off by URING_NET_DISABLE`);
    if (!driver.supports(IORING_OP.IORING_OP_SEND_ZC)) f.disable('send-zc', 'the kernel has no IORING_OP_SEND_ZC (probe)');
    // The kernel sends a zero-copy buffer's pages until the peer has them. A worker's memory is reused once it
    // exits, and the peer may never read: the pages could go out with someone else's data in them.
    else if (!isMainThread) f.disable('send-zc', 'worker thread: zero-copy sends only on the main thread (a worker\'s memory is reused after it exits, while the kernel may still send from it)');
    if (!(driver.features & IORING_FEAT_RECVSEND_BUNDLE)) f.disable('bundle', 'the kernel does not report IORING_FEAT_RECVSEND_BUNDLE');
    this.zcThreshold = tuning.zeroCopyThreshold;
    this.pool = f.bufRing ? this.#makePool() : null;
    if (!this.pool) {
      f.disable('multishot-recv', 'needs a provided-buffer ring');
      f.disable('recv-budget', 'needs multishot receives');
      f.disable('incremental', 'needs a provided-buffer ring');
      f.disable('bundle', 'needs a provided-buffer ring');
    }
  }

  #makePool(): RecvPool | null {
    const { recvBuffers, recvBuffersMax, recvBufferSize, copyThreshold } = tuning;
    const f = this.features;
    let lastError: unknown;
    // A buffer group id of our own; another user of the ring may hold one (EEXIST): take the next.
    for (let bgid = 0x6e65; bgid < 0x6e65 + 16; bgid++) {
      for (const inc of f.incremental ? [true, false] : [false]) {
        let br: BufRing;
        try {
          br = this.driver.setupBufRing(recvBuffersMax, bgid, inc ? IOU_PBUF_RING_INC : 0);
        } catch (e) {
          lastError = e;
          const code = (e as { code?: string }).code;
          if (code === 'EINVAL' && inc) {
            f.disable('incremental', 'IORING_REGISTER_PBUF_RING refused IOU_PBUF_RING_INC (EINVAL)');
            continue;
          }
          if (code === 'EEXIST') break;
          f.disable('buf-ring', `IORING_REGISTER_PBUF_RING failed: ${(e as Error).message.split('\n')[0]}`);
          return null;
        }
        return new RecvPool(this.driver, br, recvBuffersMax, recvBuffers, recvBufferSize, inc, copyThreshold);
      }
    }
    f.disable('buf-ring', `no free buffer group id: ${String((lastError as Error)?.message ?? lastError)}`);
    return null;
  }
}

const runtimes = new WeakMap<Driver, Runtime>();

/**
 * SQ entries uring/net asks for when it creates the thread's driver (the CQ
 * gets 4x): with 1,000 connections a 1,024-entry CQ overflowed between two
 * reaps and every overflow ended a multishot receive (a re-arm per two
 * messages at 1,000 x 16 KiB, measured); 4,096 CQEs hold such a turn. A
 * driver the thread already has (uring/fs's, or io(options)) is used as it is.
 */
const NET_RING_ENTRIES = 1024;

/**
 * This thread's net runtime (creating the thread's driver and receive pool
 * on first use). Throws the driver's error when no ring can be made.
 */
export function runtime(): Runtime {
  let driver: Driver;
  try {
    driver = io({ entries: NET_RING_ENTRIES }).driver;
  } catch {
    driver = io().driver; // a ring of the default size may still fit (RLIMIT_MEMLOCK, memcg); if not, this throws the reason
  }
  let rt = runtimes.get(driver);
  if (!rt) {
    rt = new Runtime(driver);
    runtimes.set(driver, rt);
    frozen = true;
  }
  return rt;
}

/** The runtime of this thread if one exists (no ring is created). */
export function existingRuntime(): Runtime | undefined {
  try {
    return runtimes.get(io().driver);
  } catch {
    return undefined;
  }
}
