/**
 * uring/net's Socket: a stream.Duplex over a TCP or Unix stream socket
 * whose every kernel call is an io_uring request — IORING_OP_SOCKET,
 * (BIND,) CONNECT with an optional IORING_OP_LINK_TIMEOUT, one multishot
 * RECV selecting from the thread's provided-buffer ring (re-armed when a CQE
 * comes without IORING_CQE_F_MORE, cancelled under backpressure), SEND (or
 * SEND_ZC at and above the zero-copy threshold, the buffer held until the
 * notification CQE; SENDMSG for batches of writes), SHUTDOWN(SHUT_WR) for
 * end(), IORING_OP_TIMEOUT for setTimeout, SOCKET_URING_OP_SETSOCKOPT for
 * setNoDelay/setKeepAlive, and CLOSE. Names, options, events, their order
 * and the errors (code, errno, syscall, address, port, message) follow
 * node:net's Socket; test/net/differential.test.ts runs the same scripts on
 * both and compares.
 */
import dns from 'node:dns';
import * as nodeNet from 'node:net';
import { isIP } from 'node:net';
import { Duplex, type DuplexOptions } from 'node:stream';
import {
  IORING_CQE_F_BUFFER, IORING_CQE_F_MORE, IORING_CQE_F_NOTIF, IORING_OP_FLAGS,
  IORING_RECVSEND_BUNDLE, IORING_SEND_ZC_REPORT_USAGE, IOSQE_BUFFER_SELECT, IOSQE_IO_LINK,
} from '../abi/constants.js';
import { ERRNO } from '../abi/errno.js';
import type { Driver } from '../driver/driver.js';
import { native } from '../ring/native.js';
import { holdFdForThread, releaseFdOfThread } from '../ring/thread-fds.js';
import {
  Iovecs, Msghdr, prepBind, prepClose, prepCmdSock, prepConnect, prepRecv, prepRecvMultishot, prepSend,
  prepSendmsg, prepSendZc, prepShutdown, prepSocket, prepTimeout,
} from '../ring/prep.js';
import type { Sqe } from '../ring/sqe.js';
import {
  AF_INET, AF_INET6, AF_UNIX, IPPROTO_TCP, LINGER_SIZE, MSG_NOSIGNAL, SHUT_WR, SOCK_CLOEXEC, SOCK_NONBLOCK,
  SOCK_STREAM, SOCKADDR_STORAGE_SIZE, SOCKET_URING_OP_SETSOCKOPT, SO_KEEPALIVE, SO_LINGER, SOL_SOCKET,
  TCP_KEEPIDLE, TCP_NODELAY,
} from './abi.js';
import { endedByPeer, errnoException, errors, exceptionWithHostPort, type HostPortError } from './errors.js';
import { type ChunkList, runtime, type Runtime } from './runtime.js';
import { decodeSockaddr, inetSockaddr, type InetAddress, unixSockaddr } from './sockaddr.js';

const { IORING_NOTIF_USAGE_ZC_COPIED } = IORING_OP_FLAGS;
const { ECANCELED, ENOBUFS, EINVAL, ENOTCONN, ETIME, ETIMEDOUT, EOPNOTSUPP } = ERRNO;

const RECV_IDLE = 0;
const RECV_ARMED = 1;
const RECV_CANCELLING = 2;

/** Chunks (and, last, a receive's final result) held back behind a throwing 'data' listener. */
type HeldList = Array<Buffer | number>;

/** A chunk the ring may send from: one over a resizable ArrayBuffer (which the ring refuses: it could shrink in flight) is copied, as node:net's write would have read it at this moment. */
function sendable(chunk: Buffer): Buffer {
  return (chunk.buffer as { resizable?: boolean }).resizable === true ? Buffer.from(chunk) : chunk;
}

/**
 * Bytes one multishot receive may take before it ends and is re-armed
 * (IORING_RECV_MSHOT_LIM). Without it the kernel keeps filling buffers for
 * a fast sender until the pool is empty — before JavaScript can see the
 * data and stop reading — so this bounds what a paused socket holds beyond
 * its high-water mark, at one re-arm SQE per 256 KiB.
 */
const RECV_BUDGET = 256 * 1024;
/** Bytes of a single fallback receive buffer (no provided-buffer ring). */
const PLAIN_RECV_SIZE = 64 * 1024;
/** Batches of writes up to this many bytes are joined into one send; larger ones go out as one SENDMSG. */
const JOIN_MAX = 4096;
const TIMEOUT_MAX = 2 ** 31 - 1;

/** Internal construction: a connected fd (accepted by a Server). */
export const kAdopt = Symbol('uring.net.adopt');
export const kNormalized = Symbol('uring.net.normalizedArgs');

interface AdoptInfo {
  fd: number;
  unix: boolean;
  runtime: Runtime;
}

/** The options of `new Socket()` that node:net documents (and what Duplex takes). */
export interface SocketConstructorOptions extends Omit<DuplexOptions, 'objectMode' | 'readableObjectMode' | 'writableObjectMode'> {
  fd?: number;
  allowHalfOpen?: boolean;
  readable?: boolean;
  writable?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  pauseOnCreate?: boolean;
  manualStart?: boolean;
  signal?: AbortSignal;
  objectMode?: boolean;
  readableObjectMode?: boolean;
  writableObjectMode?: boolean;
  [kAdopt]?: AdoptInfo;
}

/** connect() options: node:net's, plus `connectTimeout` (ms; an IORING_OP_LINK_TIMEOUT on the connect, failing it with ETIMEDOUT). */
export interface ConnectOptions {
  port?: number | string;
  host?: string;
  path?: string;
  localAddress?: string;
  localPort?: number;
  family?: number | string;
  hints?: number;
  lookup?: typeof dns.lookup;
  autoSelectFamily?: boolean;
  autoSelectFamilyAttemptTimeout?: number;
  timeout?: number;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  connectTimeout?: number;
  [key: string]: unknown;
}

type Callback = (err?: Error | null) => void;
type WriteChunk = { chunk: Buffer; encoding: BufferEncoding };

/** node's normalizeArgs: (options[, cb]) | (path[, cb]) | ([port][, host][, cb]) → [options, cb]. */
export function normalizeArgs(args: unknown[]): [Record<string, any>, ((...a: any[]) => void) | null] & { [kNormalized]?: true } {
  let arr: [Record<string, any>, ((...a: any[]) => void) | null] & { [kNormalized]?: true };
  if (args.length === 0) {
    arr = [{}, null];
    arr[kNormalized] = true;
    return arr;
  }
  const arg0 = args[0];
  let options: Record<string, any> = {};
  if (typeof arg0 === 'object' && arg0 !== null) options = arg0 as Record<string, any>;
  else if (isPipeName(arg0)) options.path = arg0;
  else {
    options.port = arg0;
    if (args.length > 1 && typeof args[1] === 'string') options.host = args[1];
  }
  const cb = args[args.length - 1];
  arr = [options, typeof cb === 'function' ? (cb as (...a: any[]) => void) : null];
  arr[kNormalized] = true;
  return arr;
}

function toNumber(x: unknown): number | false {
  const n = Number(x);
  return n >= 0 ? n : false;
}

export function isPipeName(s: unknown): s is string {
  return typeof s === 'string' && toNumber(s) === false;
}

/** node's validatePort: an integer 0..65535 given as a number or a non-blank string. */
export function validatePort(port: unknown, name = 'Port', allowZero = true): number {
  if ((typeof port !== 'number' && typeof port !== 'string') || (typeof port === 'string' && port.trim().length === 0) ||
      +port !== +port >>> 0 || +port > 0xffff || (+port === 0 && !allowZero)) {
    throw errors.ERR_SOCKET_BAD_PORT(name, port, allowZero);
  }
  return +port | 0;
}

function validateNumber(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number') throw errors.ERR_INVALID_ARG_TYPE(name, 'of type number', value);
}

function timerDuration(msecs: unknown, name: string): number {
  validateNumber(msecs, name);
  if (msecs < 0 || !Number.isFinite(msecs)) throw errors.ERR_OUT_OF_RANGE(name, 'a non-negative finite number', msecs);
  if (msecs > TIMEOUT_MAX) {
    process.emitWarning(`${msecs} does not fit into a 32-bit signed integer.\nTimer duration was truncated to ${TIMEOUT_MAX}.`, 'TimeoutOverflowWarning');
    return TIMEOUT_MAX;
  }
  return msecs;
}

const now = (): number => performance.now();
const noop = (): void => {};

/** An op nobody waits for the result of (socket options). */
const ignore = (): void => {};

/** Submits one SQE (filled by `fill`) as a driver op, one transaction (rolled back if anything throws); returns its user_data. */
export function submit<T>(d: Driver, fill: (sqe: Sqe) => void, cb: (res: number, token: T, flags: number) => void, token: T, pin: unknown, linkTimeoutMs?: number, fdResult = false): number {
  d.assertUsable();
  const mark = d.txBegin();
  try {
    const sqe = d.txSqe();
    fill(sqe);
    const ud = d.txTrack(sqe, cb, token, pin, undefined, fdResult);
    if (linkTimeoutMs !== undefined) d.txLinkTimeout(sqe, ud, linkTimeoutMs);
    d.txCommit();
    return ud;
  } catch (e) {
    d.txRollback(mark);
    throw e;
  }
}

/** SOCKET_URING_OP_SETSOCKOPT of an int option; the result is not waited for (node:net's setNoDelay/setKeepAlive do not report errors either). */
export function setIntOption(d: Driver, fd: number, level: number, name: number, value: number, cb: (res: number, token: any, flags: number) => void = ignore, token: unknown = null): number {
  const optval = new Int32Array([value]);
  return submit(d, (sqe) => prepCmdSock(sqe, SOCKET_URING_OP_SETSOCKOPT, fd, level, name, optval, 4), cb, token, optval);
}

/** getsockname/getpeername of an fd, decoded; undefined when the kernel refuses. */
export function sockName(fd: number, peer: boolean): InetAddress | string | undefined {
  const buf = new Uint8Array(SOCKADDR_STORAGE_SIZE);
  const n = native.sockName(fd, peer, buf);
  if (n < 0) return undefined;
  return decodeSockaddr(buf, n) ?? undefined;
}

interface ConnectReq {
  address: string;
  port: number | undefined;
  addressType: number;
  localAddress?: string;
  localPort?: number;
  timeoutMs?: number;
  sockaddr: Uint8Array;
  sockaddrLen: number;
  /** Set for an attempt of autoSelectFamily: called instead of destroy() on failure. */
  onFail?: (err: HostPortError) => void;
  bindFailed?: number;
}

interface WriteReq {
  cb: Callback;
  /** One buffer (send/send_zc) or several (sendmsg). */
  bufs: Buffer[];
  total: number;
  done: number;
  zc: boolean;
  /** SEND_ZC: the result of the send CQE, acted upon at the notification. */
  zcRes: number;
  /** SEND_ZC: the send CQE came, the notification has not. */
  awaitsNotif: boolean;
}

interface TimerToken {
  s: Socket;
  gen: number;
}

/** Chunks of the completion being delivered (one list for the thread: completions never nest). */
const scratch: ChunkList = [];

/**
 * A TCP or Unix stream socket on io_uring, shaped like node:net's Socket.
 * Created by `connect()`/`createConnection()`, `new Socket().connect()`, or
 * handed to a Server's 'connection' listeners.
 */
export class Socket extends Duplex {
  connecting = false;
  server: any = null;
  _server: any = null;
  _host: string | null = null;
  _hadError = false;
  timeout: number | undefined = undefined;
  autoSelectFamilyAttemptedAddresses: string[] | undefined = undefined;
  declare _parent: Socket | null;

  #rt: Runtime;
  #fd = -1;
  #unix = false;
  #recv = RECV_IDLE;
  #recvUd = 0;
  #readWanted = false;
  #eof = false;
  #plainBuf: Buffer | null = null;
  /** What a throwing 'data' listener held back (see #pushChunks); null when nothing is. */
  #held: HeldList | null = null;
  #heldMore = false;
  #write: WriteReq | null = null;
  #writeUd = 0;
  #opUd = 0;
  #connectReq: ConnectReq | null = null;
  #pendingData: Buffer | WriteChunk[] | null = null;
  #bytesRead = 0;
  #bytesDispatched = 0;
  #peer: InetAddress | string | undefined = undefined;
  #local: InetAddress | string | undefined = undefined;
  #refed = true;
  #timeoutMs = 0;
  #timerUd = 0;
  #timerGen = 0;
  /** When the armed kernel timer fires (performance.now() time). */
  #timerExpiry = 0;
  #lastActive = 0;
  #noDelay: boolean;
  #keepAlive: boolean;
  #keepAliveDelay: number;
  #zc = true;
  #reset = false;
  #closing = false;
  /** node:net makes the handle in connect() (or has one from accept): from then on 'close' carries hadError. */
  #hadHandle = false;

  constructor(options?: SocketConstructorOptions | number) {
    let opts: SocketConstructorOptions;
    if (typeof options === 'number') opts = { fd: options };
    else opts = { ...options };
    if (opts.objectMode) throw errors.ERR_INVALID_ARG_VALUE('options.objectMode', opts.objectMode, 'is not supported');
    if (opts.readableObjectMode || opts.writableObjectMode) {
      const name = opts.readableObjectMode ? 'readableObjectMode' : 'writableObjectMode';
      throw errors.ERR_INVALID_ARG_VALUE(`options.${name}`, opts.readableObjectMode || opts.writableObjectMode, 'is not supported');
    }
    if (opts.keepAliveInitialDelay !== undefined) {
      validateNumber(opts.keepAliveInitialDelay, 'options.keepAliveInitialDelay');
      if (opts.keepAliveInitialDelay < 0) opts.keepAliveInitialDelay = 0;
    }
    const adopt = opts[kAdopt];
    const rt = adopt ? adopt.runtime : runtime();
    super({
      ...opts,
      allowHalfOpen: Boolean(opts.allowHalfOpen),
      emitClose: false,
      autoDestroy: true,
      decodeStrings: true,
      objectMode: false,
    });
    this._parent = null;
    this.#rt = rt;
    this.#noDelay = Boolean(opts.noDelay);
    this.#keepAlive = Boolean(opts.keepAlive);
    this.#keepAliveDelay = ~~((opts.keepAliveInitialDelay ?? 0) / 1000);
    this.on('end', onReadableStreamEnd);
    let fd = -1;
    if (adopt) {
      fd = adopt.fd;
      this.#unix = adopt.unix;
    } else if (opts.fd !== undefined) {
      fd = adoptFd(opts.fd);
      this.#unix = typeof sockName(fd, false) === 'string';
    }
    if (fd >= 0) {
      this.#fd = fd;
      this.#hadHandle = true;
      if (opts.readable !== false) {
        if (opts.pauseOnCreate) this.pause();
        else if (!opts.manualStart) this.read(0);
      }
    }
  }

  // ---------------------------------------------------------------- reading

  override _read(_n: number): void {
    if (this.connecting || this.#fd < 0) {
      this.once('connect', () => this._read(_n));
      return;
    }
    this.#readWanted = true;
    if (this.#recv === RECV_IDLE && !this.#eof) this.#armRecv();
  }

  #armRecv(): void {
    const rt = this.#rt;
    const d = rt.driver;
    const pool = rt.pool;
    const f = rt.features;
    const fd = this.#fd;
    let ud: number;
    try {
      d.assertUsable();
      const mark = d.txBegin();
      try {
        const sqe = d.txSqe();
        let pin: Buffer | null = null;
        if (pool) {
          if (f.multishotRecv) {
            prepRecvMultishot(sqe, fd, null, 0, 0);
            // sqe->optlen (the u32 of file_index): the multishot's byte budget.
            if (f.recvBudget) sqe.fileIndex = RECV_BUDGET;
          } else prepRecv(sqe, fd, null, 0, 0);
          sqe.flags |= IOSQE_BUFFER_SELECT;
          sqe.bufIndex = pool.bgid;
          if (f.bundle) sqe.ioprio |= IORING_RECVSEND_BUNDLE;
        } else {
          pin = this.#plainBuf ??= Buffer.allocUnsafeSlow(PLAIN_RECV_SIZE);
          prepRecv(sqe, fd, pin, pin.length, 0);
        }
        ud = d.txTrack(sqe, Socket.#onRecvCqe, this, pin);
        d.txCommit();
      } catch (e) {
        d.txRollback(mark);
        throw e;
      }
    } catch (e) {
      this.destroy(e as Error);
      return;
    }
    if (!this.#refed) d.setOpRef(ud, false);
    this.#recvUd = ud;
    this.#recv = RECV_ARMED;
  }

  /** Stops the multishot receive (backpressure): the kernel keeps the data in the socket, TCP's window does the rest. */
  #stopReading(): void {
    this.#readWanted = false;
    if (this.#recv === RECV_ARMED) {
      this.#recv = RECV_CANCELLING;
      this.#rt.driver.cancel(this.#recvUd);
    }
  }

  static #onRecvCqe(this: void, res: number, s: Socket, flags: number): void {
    s.#onRecv(res, flags);
  }

  /**
   * Pushes list[0, n) to the reader and returns push()'s last answer. `list`
   * may be the thread's shared scratch list: it is emptied before anything
   * can run after a throwing 'data' listener, so no other socket ever sees
   * these chunks. The exception goes on up (to 'uncaughtException', as from
   * node:net's read callback); what followed the chunk whose listener threw
   * (the rest of the list, and anything this socket receives meanwhile,
   * its end included) is held and delivered in order on the next tick.
   */
  #pushChunks(list: HeldList, n: number, more: boolean): boolean {
    let ok = true;
    let i = 0;
    try {
      for (; i < n; i++) ok = this.push(list[i]);
    } catch (e) {
      this.#held = list.slice(i + 1);
      this.#heldMore = more;
      list.length = 0;
      process.nextTick(Socket.#releaseHeldOf, this);
      throw e;
    }
    list.length = 0;
    return ok;
  }

  /** After a push: stop at the high-water mark, or re-arm a receive that ended. */
  #afterPush(ok: boolean, more: boolean): void {
    if (!ok) {
      if (more) this.#stopReading();
      else this.#readWanted = false;
    } else if (!more && this.#readWanted && !this.destroyed) {
      this.#rt.stats.recvRearms++;
      this.#armRecv();
    }
  }

  static #releaseHeldOf(socket: Socket): void {
    socket.#releaseHeld();
  }

  /** Delivers what a throwing 'data' listener held back: chunks, then the receive's end or error if it came meanwhile. */
  #releaseHeld(): void {
    const held = this.#held;
    if (held === null) return;
    this.#held = null;
    if (this.#fd < 0 || this.destroyed) return;
    const last = held[held.length - 1];
    const final = typeof last === 'number' ? last : undefined;
    const ok = this.#pushChunks(held, final === undefined ? held.length : held.length - 1, this.#heldMore);
    if (final === undefined) this.#afterPush(ok, this.#heldMore);
    else this.#onRecvEnd(final);
  }

  #onRecv(res: number, flags: number): void {
    const more = (flags & IORING_CQE_F_MORE) !== 0;
    if (!more) {
      this.#recv = RECV_IDLE;
      this.#recvUd = 0;
    }
    const rt = this.#rt;
    let chunks = 0;
    if ((flags & IORING_CQE_F_BUFFER) !== 0) chunks = rt.pool!.take(res > 0 ? res : 0, flags, scratch);
    else if (res > 0 && this.#plainBuf) {
      // The fallback buffer: copied when small (the buffer is reused), handed over when large (a new one is made).
      const b = this.#plainBuf;
      if (res <= 1024) {
        const c = Buffer.allocUnsafe(res);
        b.copy(c, 0, 0, res);
        scratch.push(c);
      } else {
        scratch.push(b.subarray(0, res));
        this.#plainBuf = null;
      }
      chunks = 1;
    }
    if (this.#fd < 0 || this.destroyed) {
      scratch.length = 0;
      return; // after destroy(): the pool has its buffers back; the data has nobody to go to
    }
    if (res > 0) {
      this.#bytesRead += res;
      this.#touch();
    } else {
      scratch.length = 0;
      chunks = 0;
      // Retries re-arm at once, even behind held chunks: they bring no data and end nothing.
      if (this.#retryRecv(res)) return;
    }
    const held = this.#held;
    if (held !== null) {
      // Behind chunks a throwing listener held back: in order, on the next tick.
      for (let i = 0; i < chunks; i++) held.push(scratch[i]);
      scratch.length = 0;
      if (res <= 0) held.push(res);
      this.#heldMore = more;
      return;
    }
    if (res > 0) this.#afterPush(this.#pushChunks(scratch, chunks, more), more);
    else this.#onRecvEnd(res);
  }

  /** A receive that only has to be re-armed (ECANCELED, ENOBUFS, a feature the kernel refused): handled, true; else false. */
  #retryRecv(res: number): boolean {
    const rt = this.#rt;
    if (res === ECANCELED) {
      if (this.#readWanted && !this.#eof) this.#armRecv();
      return true;
    }
    if (res === ENOBUFS) {
      // Every buffer of the ring was filled before this receive got one; the bytes are still in the socket.
      rt.stats.enobufs++;
      rt.pool?.onEmpty();
      if (this.#readWanted) this.#armRecv();
      return true;
    }
    if (res !== EINVAL) return false;
    // EINVAL on a receive: the kernel refuses one of the optional features; drop them one at a time, newest first.
    if (rt.features.recvBudget && rt.features.multishotRecv) rt.features.disable('recv-budget', 'the kernel refused a byte budget on a multishot receive (EINVAL)');
    else if (rt.features.bundle) rt.features.disable('bundle', 'the kernel refused IORING_RECVSEND_BUNDLE on a receive (EINVAL)');
    else if (rt.features.multishotRecv && rt.pool) rt.features.disable('multishot-recv', 'the kernel refused IORING_RECV_MULTISHOT (EINVAL)');
    else return false;
    if (this.#readWanted) this.#armRecv();
    return true;
  }

  /** A receive that ended the stream: the peer's end (0) or an error. */
  #onRecvEnd(res: number): void {
    if (res === 0) {
      this.#eof = true;
      this.#onEof();
      return;
    }
    this.destroy(errnoException(res, 'read'));
  }

  #onEof(): void {
    // node: push(null) then read(0), so 'end' comes once the buffered data is read.
    this.push(null);
    this.read(0);
  }

  // ---------------------------------------------------------------- writing

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: Callback): void {
    this.#writeGeneric(false, chunk, cb);
  }

  override _writev(chunks: WriteChunk[], cb: Callback): void {
    this.#writeGeneric(true, chunks, cb);
  }

  #writeGeneric(writev: boolean, data: Buffer | WriteChunk[], cb: Callback): void {
    if (this.connecting) {
      this.#pendingData = data;
      const onClose = (): void => cb(errors.ERR_SOCKET_CLOSED_BEFORE_CONNECTION());
      this.once('connect', () => {
        this.off('close', onClose);
        this.#writeGeneric(writev, data, cb);
      });
      this.once('close', onClose);
      return;
    }
    this.#pendingData = null;
    if (this.#fd < 0) {
      cb(errors.ERR_SOCKET_CLOSED());
      return;
    }
    this.#touch();
    let bufs: Buffer[];
    let total = 0;
    if (writev) {
      const list = data as WriteChunk[];
      bufs = new Array<Buffer>(list.length);
      for (let i = 0; i < list.length; i++) {
        const c = sendable(list[i].chunk);
        bufs[i] = c;
        total += c.length;
      }
      if (bufs.length > 1 && total <= JOIN_MAX) bufs = [Buffer.concat(bufs, total)];
    } else {
      bufs = [sendable(data as Buffer)];
      total = (data as Buffer).length;
    }
    if (total === 0) {
      cb();
      return;
    }
    this.#bytesDispatched += total;
    const req: WriteReq = { cb, bufs, total, done: 0, zc: false, zcRes: 0, awaitsNotif: false };
    this.#write = req;
    this.#sendMore(req);
  }

  /** Submits what is left of the write in flight (one op at a time: two sends on a stream socket may complete out of order). */
  #sendMore(req: WriteReq): void {
    const rt = this.#rt;
    const d = rt.driver;
    const fd = this.#fd;
    let ud: number;
    try {
      d.assertUsable();
      const mark = d.txBegin();
      try {
        const sqe = d.txSqe();
        let pin: unknown;
        if (req.bufs.length === 1) {
          const b = req.bufs[0];
          const off = req.done;
          const len = b.length - off;
          req.zc = this.#zc && !this.#unix && rt.features.sendZc && len >= rt.zcThreshold;
          if (req.zc) {
            prepSendZc(sqe, fd, b, len, MSG_NOSIGNAL, IORING_SEND_ZC_REPORT_USAGE, off);
            rt.stats.zcSends++;
          } else {
            prepSend(sqe, fd, b, len, MSG_NOSIGNAL, off);
            rt.stats.sends++;
          }
          pin = b;
        } else {
          const rest = remaining(req.bufs, req.done);
          const msg = new Msghdr({ iov: new Iovecs(rest) });
          prepSendmsg(sqe, fd, msg, MSG_NOSIGNAL);
          req.zc = false;
          pin = msg;
          rt.stats.sendmsgs++;
        }
        ud = d.txTrack(sqe, Socket.#onSendCqe, this, pin);
        d.txCommit();
      } catch (e) {
        d.txRollback(mark);
        throw e;
      }
    } catch (e) {
      this.#write = null;
      req.cb(e as Error);
      return;
    }
    if (!this.#refed) d.setOpRef(ud, false);
    this.#writeUd = ud;
  }

  static #onSendCqe(this: void, res: number, s: Socket, flags: number): void {
    const req = s.#write;
    if (!req) return;
    if (req.zc) {
      if ((flags & IORING_CQE_F_NOTIF) !== 0) {
        // The kernel is done with the buffer. IORING_NOTIF_USAGE_ZC_COPIED: it copied after all (loopback
        // always does): zero copy costs more than it saves on this socket, so it is not tried again here.
        if ((res & IORING_NOTIF_USAGE_ZC_COPIED) !== 0) {
          s.#zc = false;
          s.#rt.stats.zcCopied++;
        }
        s.#onSent(req, req.zcRes);
        return;
      }
      if ((flags & IORING_CQE_F_MORE) !== 0) {
        req.zcRes = res; // the notification follows; the write completes then
        req.awaitsNotif = true;
        s.#rt.driver.awaitsNotification(s.#writeUd);
        if (s.#fd < 0 || s.destroyed) s.#endZcWrite();
        return;
      }
      if (res === EOPNOTSUPP) {
        // This socket's protocol has no zero-copy send: plain sends from now on.
        s.#zc = false;
        s.#writeUd = 0;
        if (s.#fd >= 0 && !s.destroyed) s.#sendMore(req);
        else s.#onSent(req, ECANCELED);
        return;
      }
      if (res === EINVAL && s.#rt.features.sendZc && req.done === 0) {
        s.#rt.features.disable('send-zc', 'the kernel refused IORING_OP_SEND_ZC with IORING_SEND_ZC_REPORT_USAGE (EINVAL)');
        s.#writeUd = 0;
        if (s.#fd >= 0 && !s.destroyed) s.#sendMore(req);
        else s.#onSent(req, ECANCELED);
        return;
      }
    }
    s.#onSent(req, res);
  }

  /**
   * A destroyed socket's zero-copy send that waits only for its notification
   * (which may wait for a peer that never reads): its callback runs now, as
   * node:net's would, and the op no longer holds the event loop. The op, and
   * so its buffer, stays tracked until the notification.
   */
  #endZcWrite(): void {
    const req = this.#write!;
    this.#rt.driver.setOpRef(this.#writeUd, false);
    this.#writeUd = 0;
    this.#write = null;
    req.cb(null);
  }

  #onSent(req: WriteReq, res: number): void {
    this.#writeUd = 0;
    if (this.destroyed || this.#fd < 0) {
      // node calls a write's callback with no error once the socket is destroyed.
      this.#write = null;
      req.cb(null);
      return;
    }
    if (res < 0) {
      this.#write = null;
      req.cb(errnoException(res, 'write'));
      return;
    }
    req.done += res;
    if (req.done < req.total) {
      this.#sendMore(req); // a short send: the rest goes out next, in order
      return;
    }
    this.#write = null;
    this.#touch();
    req.cb();
  }

  override _final(cb: Callback): void {
    if (this.pending) {
      this.once('connect', () => this._final(cb));
      return;
    }
    if (this.#fd < 0) {
      cb();
      return;
    }
    const fd = this.#fd;
    try {
      this.#opUd = submit(this.#rt.driver, (sqe) => prepShutdown(sqe, fd, SHUT_WR), Socket.#onShutdownCqe, { s: this, cb }, null);
      if (!this.#refed) this.#rt.driver.setOpRef(this.#opUd, false);
    } catch (e) {
      cb(e as Error);
    }
  }

  static #onShutdownCqe(this: void, res: number, t: { s: Socket; cb: Callback }): void {
    t.s.#opUd = 0;
    if (res === 0 || res === ENOTCONN || t.s.destroyed) t.cb();
    else t.cb(errnoException(res, 'shutdown'));
  }

  // ---------------------------------------------------------------- closing

  override _destroy(exception: Error | null, cb: (err: Error | null) => void): void {
    this.connecting = false;
    this.#connectReq = null;
    this.#clearTimer();
    if (this.#fd >= 0) {
      this.#closeHandle(!!exception);
      cb(exception);
    } else {
      cb(exception);
      const hadHandle = this.#hadHandle;
      process.nextTick(() => (hadHandle ? this.emit('close', !!exception) : this.emit('close')));
    }
    if (this._server) {
      this._server._connections--;
      if (this._server._emitCloseIfDrained) this._server._emitCloseIfDrained();
    }
  }

  /** Cancels what is in flight on the fd and closes it; 'close' is emitted when the kernel has closed it. */
  #closeHandle(hadError: boolean): void {
    const fd = this.#fd;
    this.#fd = -1;
    this.#closing = true;
    const d = this.#rt.driver;
    // Disowned first: from here the number may be reused by anyone, the teardown must not close it.
    releaseFdOfThread(fd);
    if (this.#recv === RECV_ARMED) {
      this.#recv = RECV_CANCELLING;
      d.cancel(this.#recvUd);
    } else if (this.#recv === RECV_CANCELLING) d.cancel(this.#recvUd);
    if (this.#write?.awaitsNotif) this.#endZcWrite();
    else if (this.#writeUd) d.cancel(this.#writeUd);
    if (this.#opUd) d.cancel(this.#opUd);
    const emitClose = (): void => {
      this.#closing = false;
      this.emit('close', hadError);
    };
    try {
      d.assertUsable();
      const mark = d.txBegin();
      try {
        if (this.#reset) {
          // struct linger { l_onoff = 1, l_linger = 0 }: close(2) then sends RST instead of FIN.
          const linger = new Int32Array([1, 0]);
          const s1 = d.txSqe();
          prepCmdSock(s1, SOCKET_URING_OP_SETSOCKOPT, fd, SOL_SOCKET, SO_LINGER, linger, LINGER_SIZE);
          d.txTrack(s1, ignore, null, linger);
        }
        const sqe = d.txSqe();
        prepClose(sqe, fd);
        d.txTrack(sqe, emitClose, null, null);
        d.txCommit();
      } catch (e) {
        d.txRollback(mark);
        throw e;
      }
    } catch {
      // The ring cannot take it (closed, identity changed): close it directly, as the teardown would.
      native.close(fd);
      process.nextTick(emitClose);
    }
  }

  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  /** Closes the connection with a TCP RST (SO_LINGER 0), as node:net's resetAndDestroy. */
  resetAndDestroy(): this {
    if (this.#fd >= 0 || this.connecting) {
      if (this.#unix) throw Object.assign(new TypeError('This handle type cannot be sent'), { code: 'ERR_INVALID_HANDLE_TYPE' });
      if (this.connecting) {
        this.once('connect', () => this.#resetNow());
      } else this.#resetNow();
    } else this.destroy(errors.ERR_SOCKET_CLOSED());
    return this;
  }

  #resetNow(): void {
    this.#reset = true;
    this.destroy();
  }

  // ------------------------------------------------------------- connecting

  connect(...args: unknown[]): this {
    const normalized = Array.isArray(args[0]) && (args[0] as { [kNormalized]?: true })[kNormalized] ? (args[0] as ReturnType<typeof normalizeArgs>) : normalizeArgs(args);
    const [options, cb] = normalized;
    if (cb !== null) this.once('connect', cb);
    if (this._parent && this._parent.connecting) return this;
    if (options.port === undefined && options.path == null) throw errors.ERR_MISSING_ARGS('options', 'port', 'path');
    if (this.write !== Socket.prototype.write) this.write = Socket.prototype.write;
    if (this.destroyed) {
      (this as unknown as { _undestroy(): void })._undestroy();
      this.#fd = -1;
      this.#peer = undefined;
      this.#local = undefined;
      this.#eof = false;
      this.#recv = RECV_IDLE;
    }
    const path = options.path;
    this.#unix = !!path;
    this.#hadHandle = true;
    this.#touch();
    this.connecting = true;
    if (path) {
      if (typeof path !== 'string') throw errors.ERR_INVALID_ARG_TYPE('options.path', 'of type string', path);
      const un = unixSockaddr(path);
      this.#internalConnect({ address: path, port: undefined, addressType: 0, sockaddr: un.addr, sockaddrLen: un.len, timeoutMs: connectTimeoutOf(options) });
    } else this.#lookupAndConnect(options as ConnectOptions);
    return this;
  }

  #lookupAndConnect(options: ConnectOptions): void {
    const { localAddress, localPort } = options;
    const host = options.host || 'localhost';
    let { port, autoSelectFamilyAttemptTimeout, autoSelectFamily } = options;
    if (localAddress && !isIP(localAddress)) throw errors.ERR_INVALID_IP_ADDRESS(localAddress);
    if (localPort) validateNumber(localPort, 'options.localPort');
    if (port !== undefined) {
      if (typeof port !== 'number' && typeof port !== 'string') throw errors.ERR_INVALID_ARG_TYPE('options.port', 'one of type number or string', port);
      validatePort(port);
    }
    const portNum = (port as number) | 0;
    if (autoSelectFamily != null) {
      if (typeof autoSelectFamily !== 'boolean') throw errors.ERR_INVALID_ARG_TYPE('options.autoSelectFamily', 'of type boolean', autoSelectFamily);
    } else autoSelectFamily = netDefaults.getDefaultAutoSelectFamily();
    if (autoSelectFamilyAttemptTimeout != null) {
      validateNumber(autoSelectFamilyAttemptTimeout, 'options.autoSelectFamilyAttemptTimeout');
      if (autoSelectFamilyAttemptTimeout < 10) autoSelectFamilyAttemptTimeout = 10;
    } else autoSelectFamilyAttemptTimeout = netDefaults.getDefaultAutoSelectFamilyAttemptTimeout();
    const connectTimeout = connectTimeoutOf(options);
    const addressType = isIP(host);
    if (addressType) {
      process.nextTick(() => {
        if (this.connecting) this.#connectTo(host, portNum, addressType, localAddress, localPort, connectTimeout);
      });
      return;
    }
    if (options.lookup != null && typeof options.lookup !== 'function') throw errors.ERR_INVALID_ARG_TYPE('options.lookup', 'of type function', options.lookup);
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
    const dnsopts: dns.LookupOptions = { family: family as number, hints: options.hints || 0 };
    if (dnsopts.family !== 4 && dnsopts.family !== 6 && dnsopts.hints === 0) dnsopts.hints = dns.ADDRCONFIG;
    this._host = host;
    const lookup = (options.lookup || dns.lookup) as typeof dns.lookup;
    if (dnsopts.family !== 4 && dnsopts.family !== 6 && !localAddress && autoSelectFamily) {
      lookup(host, { ...dnsopts, all: true }, (err, addresses) => {
        if (!this.connecting) return;
        if (err) {
          this.emit('lookup', err, undefined, undefined, host);
          process.nextTick(() => this.destroy(err));
          return;
        }
        const list = addresses as dns.LookupAddress[];
        const seen = new Set<string>();
        const groups: dns.LookupAddress[][] = [[], []];
        let first = 0;
        for (const a of list) {
          this.emit('lookup', null, a.address, a.family, host);
          if (!this.connecting) return;
          if (!isIP(a.address) || (a.family !== 4 && a.family !== 6) || seen.has(a.address)) continue;
          if (seen.size === 0) first = a.family;
          seen.add(a.address);
          groups[a.family === first ? 0 : 1].push(a);
        }
        const toAttempt: dns.LookupAddress[] = [];
        for (let i = 0; i < Math.max(groups[0].length, groups[1].length); i++) {
          if (i < groups[0].length) toAttempt.push(groups[0][i]);
          if (i < groups[1].length) toAttempt.push(groups[1][i]);
        }
        if (toAttempt.length === 0) {
          process.nextTick(() => this.destroy(errors.ERR_INVALID_IP_ADDRESS(list[0]?.address)));
          return;
        }
        if (toAttempt.length === 1) {
          this.#connectTo(toAttempt[0].address, portNum, toAttempt[0].family, localAddress, localPort, connectTimeout);
          return;
        }
        this.autoSelectFamilyAttemptedAddresses = [];
        this.#connectMultiple(toAttempt, 0, portNum, localPort, autoSelectFamilyAttemptTimeout!, []);
      });
      return;
    }
    lookup(host, dnsopts, (err, ip, type) => {
      this.emit('lookup', err, ip, type, host);
      if (!this.connecting) return;
      if (err) process.nextTick(() => this.destroy(err));
      else if (!isIP(ip as string)) process.nextTick(() => this.destroy(errors.ERR_INVALID_IP_ADDRESS(ip)));
      else this.#connectTo(ip as string, portNum, type as number, localAddress, localPort, connectTimeout);
    });
  }

  /** autoSelectFamily (happy eyeballs, sequential): each attempt but the last gets an IORING_OP_LINK_TIMEOUT of `timeout` ms. */
  #connectMultiple(addrs: dns.LookupAddress[], current: number, port: number, localPort: number | undefined, timeout: number, errs: HostPortError[]): void {
    if (!this.connecting) return;
    if (current === addrs.length) {
      const agg = new AggregateError(errs) as AggregateError & { code?: string };
      agg.code = errs[0]?.code;
      this.destroy(agg);
      return;
    }
    const { address, family } = addrs[current];
    const last = current === addrs.length - 1;
    this.autoSelectFamilyAttemptedAddresses!.push(`${address}:${port}`);
    const req = this.#inetReq(address, port, family, localPort ? (family === 6 ? '::' : '0.0.0.0') : undefined, localPort, last ? undefined : timeout);
    req.onFail = (err) => {
      if (err.code === 'ETIMEDOUT' && !last) this.emit('connectionAttemptTimeout', address, port, family);
      else this.emit('connectionAttemptFailed', address, port, family, err);
      errs.push(err);
      this.#abandonFd();
      this.#connectMultiple(addrs, current + 1, port, localPort, timeout, errs);
    };
    this.#internalConnect(req);
  }

  #inetReq(address: string, port: number, addressType: number, localAddress: string | undefined, localPort: number | undefined, timeoutMs: number | undefined): ConnectReq {
    const sockaddr = inetSockaddr(address, port);
    return { address, port, addressType, localAddress, localPort, timeoutMs, sockaddr, sockaddrLen: sockaddr.length };
  }

  #connectTo(address: string, port: number, addressType: number, localAddress: string | undefined, localPort: number | undefined, timeoutMs: number | undefined): void {
    if (localAddress || localPort) localAddress = localAddress || (addressType === 4 ? '0.0.0.0' : '::');
    this.#internalConnect(this.#inetReq(address, port, addressType, localAddress, localPort, timeoutMs));
  }

  /** IORING_OP_SOCKET, then (BIND →) CONNECT as one linked chain. */
  #internalConnect(req: ConnectReq): void {
    this.emit('connectionAttempt', req.address, req.port, req.addressType);
    this.#connectReq = req;
    const domain = req.addressType === 0 ? AF_UNIX : req.addressType === 6 ? AF_INET6 : AF_INET;
    try {
      this.#opUd = submit(this.#rt.driver, (sqe) => prepSocket(sqe, domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, 0), Socket.#onSocketCqe, { s: this, req }, null, undefined, true);
    } catch (e) {
      process.nextTick(() => this.destroy(e as Error));
    }
  }

  static #onSocketCqe(this: void, res: number, t: { s: Socket; req: ConnectReq }): void {
    const s = t.s;
    s.#opUd = 0;
    if (s.#connectReq !== t.req || s.destroyed) {
      if (res >= 0) native.close(res); // destroyed while the socket was being made
      return;
    }
    if (res < 0) {
      s.#connectFailed(t.req, res);
      return;
    }
    holdFdForThread(res);
    s.#fd = res;
    const req = t.req;
    const d = s.#rt.driver;
    const fd = res;
    let local: Uint8Array | null = null;
    if (req.localAddress !== undefined || req.localPort) local = inetSockaddr(req.localAddress ?? (req.addressType === 6 ? '::' : '0.0.0.0'), req.localPort ?? 0);
    try {
      d.assertUsable();
      const mark = d.txBegin();
      try {
        if (local) {
          const sb = d.txSqe();
          prepBind(sb, fd, local, local.length);
          d.txTrack(sb, Socket.#onBindCqe, t, local);
        }
        const sqe = d.txSqe();
        if (local) d.txSqeAt(0).flags |= IOSQE_IO_LINK; // the SQE object may have moved to the backlog
        prepConnect(sqe, fd, req.sockaddr, req.sockaddrLen);
        const ud = d.txTrack(sqe, Socket.#onConnectCqe, t, req.sockaddr);
        if (req.timeoutMs !== undefined) d.txLinkTimeout(sqe, ud, req.timeoutMs);
        d.txCommit();
        s.#opUd = ud;
        if (!s.#refed) d.setOpRef(ud, false);
      } catch (e) {
        d.txRollback(mark);
        throw e;
      }
    } catch (e) {
      s.destroy(e as Error);
    }
  }

  static #onBindCqe(this: void, res: number, t: { s: Socket; req: ConnectReq }): void {
    if (res < 0) t.req.bindFailed = res;
  }

  static #onConnectCqe(this: void, res: number, t: { s: Socket; req: ConnectReq }): void {
    const s = t.s;
    s.#opUd = 0;
    if (s.#connectReq !== t.req || s.destroyed) return;
    if (t.req.bindFailed !== undefined) {
      const req = t.req;
      const ex = exceptionWithHostPort(req.bindFailed!, 'bind', req.localAddress, req.localPort);
      if (req.onFail) req.onFail(ex);
      else s.destroy(ex);
      return;
    }
    if (res < 0) {
      s.#connectFailed(t.req, res);
      return;
    }
    s.#afterConnect();
  }

  #connectFailed(req: ConnectReq, res: number): void {
    let details: string | undefined;
    if (req.localAddress && req.localPort) details = `${req.localAddress}:${req.localPort}`;
    const ex = exceptionWithHostPort(res === ECANCELED && req.timeoutMs !== undefined ? ETIMEDOUT : res, 'connect', req.address, req.port, details);
    if (details) {
      ex.localAddress = req.localAddress;
      ex.localPort = req.localPort;
    }
    if (req.onFail) {
      req.onFail(ex);
      return;
    }
    this.emit('connectionAttemptFailed', req.address, req.port, req.addressType, ex);
    this.destroy(ex);
  }

  /** Closes the fd of a failed attempt (autoSelectFamily goes on with a new one). */
  #abandonFd(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    releaseFdOfThread(fd);
    try {
      submit(this.#rt.driver, (sqe) => prepClose(sqe, fd), ignore, null, null);
    } catch {
      native.close(fd);
    }
  }

  #afterConnect(): void {
    this.connecting = false;
    this.#connectReq = null;
    this.#local = undefined;
    this.#touch();
    const d = this.#rt.driver;
    if (!this.#unix) {
      if (this.#noDelay) setIntOption(d, this.#fd, IPPROTO_TCP, TCP_NODELAY, 1);
      if (this.#keepAlive) this.#applyKeepAlive(true, this.#keepAliveDelay);
    }
    this.emit('connect');
    this.emit('ready');
    if (!this.isPaused()) this.read(0);
  }

  // ---------------------------------------------------------------- options

  setNoDelay(enable?: boolean): this {
    const on = Boolean(enable === undefined ? true : enable);
    if (this.#fd < 0 || this.connecting) {
      this.#noDelay = on;
      return this;
    }
    if (!this.#unix && on !== this.#noDelay) {
      this.#noDelay = on;
      try {
        setIntOption(this.#rt.driver, this.#fd, IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
      } catch {
        // like node:net: setNoDelay does not report errors
      }
    }
    return this;
  }

  setKeepAlive(enable?: boolean, initialDelayMsecs?: number): this {
    const on = Boolean(enable);
    const delay = ~~((initialDelayMsecs ?? 0) / 1000);
    if (this.#fd < 0 || this.connecting) {
      this.#keepAlive = on;
      this.#keepAliveDelay = delay;
      return this;
    }
    if (this.#unix) return this;
    if (on !== this.#keepAlive || (on && this.#keepAliveDelay !== delay)) {
      this.#keepAlive = on;
      this.#keepAliveDelay = delay;
      this.#applyKeepAlive(on, delay);
    }
    return this;
  }

  #applyKeepAlive(on: boolean, delaySecs: number): void {
    const d = this.#rt.driver;
    try {
      setIntOption(d, this.#fd, SOL_SOCKET, SO_KEEPALIVE, on ? 1 : 0);
      if (on && delaySecs >= 1) setIntOption(d, this.#fd, IPPROTO_TCP, TCP_KEEPIDLE, delaySecs);
    } catch {
      // not reported, as in node:net
    }
  }

  /**
   * Emits 'timeout' after `msecs` without reads or writes, once per idle
   * period (node:net's semantics; the socket is not closed). One
   * IORING_OP_TIMEOUT per socket at most, re-armed lazily: activity and
   * setTimeout() only record times; the kernel timer is replaced only when
   * it would fire too late, and an expiry that finds the deadline moved
   * re-arms for the rest. So node:http's setTimeout(keepAliveTimeout) /
   * setTimeout(0) on every request costs no SQE. The timer does not keep
   * the event loop alive.
   */
  setTimeout(msecs: number, callback?: () => void): this {
    if (this.destroyed) return this;
    this.timeout = msecs;
    const ms = timerDuration(msecs, 'msecs');
    if (callback !== undefined && typeof callback !== 'function') throw errors.ERR_INVALID_ARG_TYPE('callback', 'of type function', callback);
    if (ms === 0) {
      // An armed kernel timer is left to expire: it finds no timeout and stops (cheaper than a cancellation).
      this.#timeoutMs = 0;
      if (callback !== undefined) this.removeListener('timeout', callback);
      return this;
    }
    this.#timeoutMs = ms;
    const t = now();
    this.#lastActive = t;
    if (this.#timerUd === 0) this.#armTimer(ms, t);
    else if (this.#timerExpiry > t + ms + 1) {
      // The armed timer would fire after this deadline: replace it.
      this.#cancelTimer();
      this.#armTimer(ms, t);
    }
    if (callback !== undefined) this.once('timeout', callback);
    return this;
  }

  #armTimer(ms: number, t: number): void {
    const ts = new BigInt64Array(2);
    const sec = Math.floor(ms / 1000);
    ts[0] = BigInt(sec);
    ts[1] = BigInt(Math.round((ms - sec * 1000) * 1e6));
    const bytes = new Uint8Array(ts.buffer);
    const token: TimerToken = { s: this, gen: ++this.#timerGen };
    try {
      const d = this.#rt.driver;
      this.#timerUd = submit(d, (sqe) => prepTimeout(sqe, bytes, 0, 0), Socket.#onTimerCqe, token, ts);
      this.#timerExpiry = t + ms;
      d.setOpRef(this.#timerUd, false);
    } catch {
      this.#timerUd = 0;
    }
  }

  #cancelTimer(): void {
    this.#timerGen++;
    if (this.#timerUd) {
      this.#rt.driver.cancel(this.#timerUd);
      this.#timerUd = 0;
    }
  }

  #clearTimer(): void {
    this.#timeoutMs = 0;
    this.#cancelTimer();
  }

  static #onTimerCqe(this: void, res: number, t: TimerToken): void {
    const s = t.s;
    if (t.gen !== s.#timerGen) return; // replaced or cancelled
    s.#timerUd = 0;
    if (res !== ETIME || s.destroyed || s.#timeoutMs === 0) return;
    const t1 = now();
    const left = s.#lastActive + s.#timeoutMs - t1;
    if (left > 1) {
      s.#armTimer(left, t1);
      return;
    }
    s._onTimeout();
  }

  /** Called when the socket was idle for its timeout; emits 'timeout' (re-armed by the next activity). */
  _onTimeout(): void {
    this.emit('timeout');
  }

  /** Activity: restarts the idle timeout (node:net's _unrefTimer). */
  _unrefTimer(): void {
    this.#touch();
  }

  #touch(): void {
    if (this.#timeoutMs === 0) return;
    const t = now();
    this.#lastActive = t;
    if (this.#timerUd === 0 && !this.destroyed) this.#armTimer(this.#timeoutMs, t);
  }

  ref(): this {
    if (this.#fd < 0 && !this.connecting) {
      this.once('connect', () => this.ref());
      return this;
    }
    this.#setRef(true);
    return this;
  }

  unref(): this {
    if (this.#fd < 0 && !this.connecting) {
      this.once('connect', () => this.unref());
      return this;
    }
    this.#setRef(false);
    return this;
  }

  #setRef(on: boolean): void {
    this.#refed = on;
    const d = this.#rt.driver;
    for (const ud of [this.#recvUd, this.#writeUd, this.#opUd]) if (ud) d.setOpRef(ud, on);
  }

  // ------------------------------------------------------------- addresses

  address(): InetAddress | Record<string, never> {
    const a = this.#sockname();
    return typeof a === 'object' ? a : {};
  }

  #sockname(): InetAddress | string | undefined {
    if (this.#fd < 0) return undefined;
    if (this.#local === undefined) this.#local = sockName(this.#fd, false);
    return this.#local;
  }

  #peername(): InetAddress | string | undefined {
    if (this.#fd < 0 || this.connecting) return this.#peer;
    if (this.#peer === undefined) this.#peer = sockName(this.#fd, true);
    return this.#peer;
  }

  get remoteAddress(): string | undefined {
    const p = this.#peername();
    return typeof p === 'object' ? p.address : undefined;
  }

  get remotePort(): number | undefined {
    const p = this.#peername();
    return typeof p === 'object' ? p.port : undefined;
  }

  get remoteFamily(): string | undefined {
    const p = this.#peername();
    return typeof p === 'object' ? p.family : undefined;
  }

  get localAddress(): string | undefined {
    const a = this.#sockname();
    return typeof a === 'object' ? a.address : undefined;
  }

  get localPort(): number | undefined {
    const a = this.#sockname();
    return typeof a === 'object' ? a.port : undefined;
  }

  get localFamily(): string | undefined {
    const a = this.#sockname();
    return typeof a === 'object' ? a.family : undefined;
  }

  // ----------------------------------------------------------------- state

  get bytesRead(): number {
    return this.#bytesRead;
  }

  get bytesWritten(): number | undefined {
    let bytes = this.#bytesDispatched;
    const buffered = (this as unknown as { writableBuffer?: WriteChunk[] }).writableBuffer;
    if (!buffered) return undefined;
    for (const el of buffered as WriteChunk[]) bytes += el.chunk instanceof Buffer ? el.chunk.length : Buffer.byteLength(el.chunk as unknown as string, el.encoding);
    const data = this.#pendingData;
    if (Array.isArray(data)) for (const c of data) bytes += c.chunk.length;
    else if (data) bytes += data.length;
    return bytes;
  }

  /** @deprecated node:net's legacy alias of the bytes handed to the kernel. */
  get _bytesDispatched(): number {
    return this.#bytesDispatched;
  }

  get pending(): boolean {
    return this.#fd < 0 || this.connecting;
  }

  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable && !this.writable) return 'readOnly';
    if (!this.readable && this.writable) return 'writeOnly';
    return 'closed';
  }

  get bufferSize(): number | undefined {
    return this.#fd >= 0 ? this.writableLength : undefined;
  }

  get _connecting(): boolean {
    return this.connecting;
  }

  /** The fd (for diagnostics; every operation on it belongs to the ring). -1 when not open. */
  get _fd(): number {
    return this.#fd;
  }

  /** What this socket's io_uring path is doing (tests and diagnostics). */
  get _uring(): { recv: 'idle' | 'armed' | 'cancelling'; writing: boolean; zeroCopy: boolean; closing: boolean } {
    return { recv: (['idle', 'armed', 'cancelling'] as const)[this.#recv], writing: this.#writeUd !== 0, zeroCopy: this.#zc, closing: this.#closing };
  }
}

/** node:net's writeAfterFIN, installed when the peer ended a socket that does not allow half-open. */
function writeAfterFIN(this: Socket, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
  if (!this.writableEnded) return Duplex.prototype.write.call(this, chunk, encoding as BufferEncoding, cb as Callback);
  if (typeof encoding === 'function') {
    cb = encoding;
    encoding = null;
  }
  const er = endedByPeer();
  if (typeof cb === 'function') process.nextTick(cb as Callback, er);
  this.destroy(er);
  return false;
}

function onReadableStreamEnd(this: Socket): void {
  if (!this.allowHalfOpen) this.write = writeAfterFIN as Socket['write'];
}

function connectTimeoutOf(options: Record<string, any>): number | undefined {
  const t = options.connectTimeout;
  if (t === undefined) return undefined;
  validateNumber(t, 'options.connectTimeout');
  if (!(t >= 0 && t <= 0xffffffff)) throw errors.ERR_OUT_OF_RANGE('options.connectTimeout', '>= 0 && <= 4294967295', t);
  return t;
}

/** The buffers of a writev from byte `done` on (a short sendmsg continues there). */
function remaining(bufs: Buffer[], done: number): Buffer[] {
  if (done === 0) return bufs;
  const out: Buffer[] = [];
  let skip = done;
  for (const b of bufs) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}

/** `new Socket({ fd })`: an open stream socket fd becomes this thread's (closed with the socket, or at thread exit). */
function adoptFd(fd: unknown): number {
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) throw errors.ERR_OUT_OF_RANGE('fd', '>= 0 && <= 2147483647', fd);
  const kind = sockName(fd, false);
  if (kind === undefined) {
    throw Object.assign(new TypeError(`Unsupported fd type: ${fd} is not a socket`), { code: 'ERR_INVALID_FD_TYPE' });
  }
  holdFdForThread(fd);
  return fd;
}

/** node:net's autoSelectFamily defaults (read from node:net, so --network-family-autoselection applies). */
export const netDefaults = {
  getDefaultAutoSelectFamily: (): boolean => nodeNet.getDefaultAutoSelectFamily(),
  getDefaultAutoSelectFamilyAttemptTimeout: (): number => nodeNet.getDefaultAutoSelectFamilyAttemptTimeout(),
};

export { noop };
