/**
 * uring/net's Server: node:net's Server over io_uring. listen() makes the
 * socket with IORING_OP_SOCKET, then submits one linked chain —
 * SOCKET_URING_OP_SETSOCKOPT (SO_REUSEADDR as libuv does for TCP,
 * IPV6_V6ONLY, SO_REUSEPORT when asked), IORING_OP_BIND, IORING_OP_LISTEN —
 * and accepts with one multishot IORING_OP_ACCEPT (IORING_ACCEPT_MULTISHOT:
 * a CQE per connection, re-armed when one comes without IORING_CQE_F_MORE).
 * close() cancels the accept and closes the socket with IORING_OP_CLOSE
 * (and removes a Unix socket's file with IORING_OP_UNLINKAT, as libuv does).
 *
 * One difference from node:net is inherent: binding is asynchronous here,
 * so address() returns null until 'listening' (node:net binds inside
 * listen()). Everything else — argument forms, events, error objects —
 * follows node:net.
 */
import dns from 'node:dns';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { IORING_CQE_F_MORE, IOSQE_IO_LINK, LINUX } from '../abi/constants.js';
import { ERRNO } from '../abi/errno.js';
import { toPathBuffer } from '../driver/io.js';
import { native } from '../ring/native.js';
import { holdFdForThread, releaseFdOfThread } from '../ring/thread-fds.js';
import { prepAccept, prepBind, prepClose, prepCmdSock, prepListen, prepMultishotAccept, prepSocket, prepUnlinkat } from '../ring/prep.js';
import {
  AF_INET, AF_INET6, AF_UNIX, IPPROTO_IPV6, IPV6_V6ONLY, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_STREAM,
  SOCKET_URING_OP_SETSOCKOPT, SO_REUSEADDR, SO_REUSEPORT, SOL_SOCKET,
} from './abi.js';
import { errnoException, errors, uvExceptionWithHostPort } from './errors.js';
import { runtime, type Runtime } from './runtime.js';
import { inetSockaddr, type InetAddress, unixSockaddr } from './sockaddr.js';
import { isPipeName, kAdopt, normalizeArgs, Socket, sockName, submit, validatePort } from './socket.js';

const { ECANCELED, EINVAL, EMFILE, ENFILE, ENOBUFS, ENOMEM, ECONNABORTED, EAGAIN, EINTR, EADDRINUSE, EOPNOTSUPP } = ERRNO;

const CLOSED = 0;
const OPENING = 1;
const LISTENING = 2;

/** How long the accept pauses when the process is out of file descriptors (the connections wait in the backlog). */
const EMFILE_BACKOFF_MS = 50;

export interface ServerOptions {
  allowHalfOpen?: boolean;
  pauseOnConnect?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  highWaterMark?: number;
}

export interface ListenOptions {
  port?: number | string | null;
  host?: string;
  path?: string;
  backlog?: number;
  exclusive?: boolean;
  ipv6Only?: boolean;
  /** SO_REUSEPORT: several listeners (workers, processes) on one port; the kernel spreads connections over them. */
  reusePort?: boolean;
  readableAll?: boolean;
  writableAll?: boolean;
  signal?: AbortSignal;
  fd?: number;
}

interface ListenStep {
  ctx: ListenCtx;
  i: number;
}

interface ListenCtx {
  server: Server;
  id: number;
  fd: number;
  address: string;
  port: number;
  unix: boolean;
  /** Listening on the unspecified address of both families: an IPv6 failure other than EADDRINUSE falls back to 0.0.0.0. */
  dual: boolean;
  backlog: number;
  flags: { ipv6Only: boolean; reusePort: boolean; sockopts: boolean };
  kinds: ('sockopt' | 'bind' | 'listen')[];
  results: number[];
  pending: number;
  pins: unknown[];
  readableAll?: boolean;
  writableAll?: boolean;
}

function toNumber(x: unknown): number | false {
  const n = Number(x);
  return n >= 0 ? n : false;
}

/** A TCP or Unix stream server on io_uring, shaped like node:net's Server. */
export class Server extends EventEmitter {
  _connections = 0;
  allowHalfOpen: boolean;
  pauseOnConnect: boolean;
  noDelay: boolean;
  keepAlive: boolean;
  keepAliveInitialDelay: number;
  highWaterMark: number;
  maxConnections: number | undefined = undefined;
  _pipeName: string | undefined = undefined;

  #rt: Runtime | null = null;
  #state = CLOSED;
  #fd = -1;
  #unix = false;
  #acceptUd = 0;
  #address: InetAddress | null = null;
  #unref = false;
  #listeningId = 1;
  #handleClosing = 0;
  #closeQueued = false;
  #backoff: NodeJS.Timeout | null = null;

  constructor(options?: ServerOptions | ((socket: Socket) => void), connectionListener?: (socket: Socket) => void) {
    super();
    let opts: ServerOptions;
    if (typeof options === 'function') {
      this.on('connection', options);
      opts = {};
    } else if (options == null || typeof options === 'object') {
      opts = { ...options };
      if (typeof connectionListener === 'function') this.on('connection', connectionListener);
    } else throw errors.ERR_INVALID_ARG_TYPE('options', 'of type object', options);
    if (opts.keepAliveInitialDelay !== undefined) {
      if (typeof opts.keepAliveInitialDelay !== 'number') throw errors.ERR_INVALID_ARG_TYPE('options.keepAliveInitialDelay', 'of type number', opts.keepAliveInitialDelay);
      if (opts.keepAliveInitialDelay < 0) opts.keepAliveInitialDelay = 0;
    }
    if (opts.highWaterMark !== undefined) {
      if (typeof opts.highWaterMark !== 'number') throw errors.ERR_INVALID_ARG_TYPE('options.highWaterMark', 'of type number', opts.highWaterMark);
      if (opts.highWaterMark < 0) opts.highWaterMark = undefined;
    }
    this.allowHalfOpen = opts.allowHalfOpen || false;
    this.pauseOnConnect = !!opts.pauseOnConnect;
    this.noDelay = Boolean(opts.noDelay);
    this.keepAlive = Boolean(opts.keepAlive);
    this.keepAliveInitialDelay = ~~((opts.keepAliveInitialDelay ?? 0) / 1000);
    this.highWaterMark = opts.highWaterMark ?? 16384;
  }

  get listening(): boolean {
    return this.#state !== CLOSED;
  }

  /**
   * node:net's listen(): (port[, host][, backlog][, cb]), (path[, backlog][, cb]),
   * (options[, cb]) with port/host/path/backlog/ipv6Only/reusePort/exclusive/
   * readableAll/writableAll/signal/fd, or no arguments (a free port). Errors
   * (EADDRINUSE, EACCES, …) are emitted as 'error' with node:net's fields.
   */
  listen(...args: unknown[]): this {
    const normalized = normalizeArgs(args);
    let options = normalized[0] as ListenOptions & { _handle?: unknown; handle?: unknown };
    const cb = normalized[1];
    if (this.#state !== CLOSED) throw errors.ERR_SERVER_ALREADY_LISTEN();
    if (cb !== null) this.once('listening', cb);
    const backlogFromArgs = toNumber(args.length > 1 && args[1]) || toNumber(args.length > 2 && args[2]);
    const handle = options._handle || options.handle;
    if (handle) throw errors.ERR_INVALID_ARG_VALUE('options', options, 'has a handle: uring/net listens on ports, paths and fds, not on node:net handles');
    options = { ...options };
    const ipv6Only = options.ipv6Only === true;
    const reusePort = options.reusePort === true;
    this.#listeningId++;
    this.#closeQueued = false;
    if (options.signal !== undefined) this.#addAbortSignal(options.signal);
    this.#rt ??= runtime();
    if (typeof options.fd === 'number' && options.fd >= 0) {
      this.#state = OPENING;
      this.#listenFd(options.fd, (backlogFromArgs || 0) | 0);
      return this;
    }
    if (args.length === 0 || typeof args[0] === 'function' || (typeof options.port === 'undefined' && 'port' in options) || options.port === null) {
      options.port = 0;
    }
    if (typeof options.port === 'number' || typeof options.port === 'string') {
      const port = validatePort(options.port, 'options.port');
      const backlog = (options.backlog || backlogFromArgs || 0) | 0;
      this.#state = OPENING;
      if (options.host) this.#lookupAndListen(port, options.host, backlog, ipv6Only, reusePort);
      else this.#listenInet(null, port, backlog, ipv6Only, reusePort);
      return this;
    }
    if (options.path && isPipeName(options.path)) {
      if (options.path[0] === '\0' && (options.readableAll || options.writableAll)) {
        throw errors.ERR_INVALID_ARG_VALUE('options', options, 'can not set readableAll or writableAllt to true when path is abstract unix socket');
      }
      this._pipeName = options.path;
      const backlog = (options.backlog || backlogFromArgs || 0) | 0;
      this.#state = OPENING;
      this.#listenUnix(options.path, backlog, options.readableAll === true, options.writableAll === true);
      return this;
    }
    if (!('port' in options || 'path' in options)) throw errors.ERR_INVALID_ARG_VALUE('options', options, 'must have the property "port" or "path"');
    throw errors.ERR_INVALID_ARG_VALUE('options', options);
  }

  #addAbortSignal(signal: unknown): void {
    if (!(signal instanceof AbortSignal)) throw errors.ERR_INVALID_ARG_TYPE('options.signal', 'an instance of AbortSignal', signal);
    const onAborted = (): void => {
      this.close();
    };
    if (signal.aborted) process.nextTick(onAborted);
    else {
      signal.addEventListener('abort', onAborted, { once: true });
      this.once('close', () => signal.removeEventListener('abort', onAborted));
    }
  }

  #lookupAndListen(port: number, host: string, backlog: number, ipv6Only: boolean, reusePort: boolean): void {
    const id = this.#listeningId;
    dns.lookup(host, (err, ip, family) => {
      if (id !== this.#listeningId) return;
      if (err) {
        this.#state = CLOSED;
        this.emit('error', err);
        return;
      }
      this.#listenInet(ip ? { address: ip, family } : null, port, backlog, ipv6Only, reusePort);
    });
  }

  #listenInet(addr: { address: string; family: number } | null, port: number, backlog: number, ipv6Only: boolean, reusePort: boolean): void {
    const dual = addr === null;
    const address = addr?.address ?? '::';
    const family = addr ? addr.family : 6;
    this.#unix = false;
    this.#open({
      server: this, id: this.#listeningId, fd: -1, address, port, unix: false, dual, backlog: backlog || 511,
      flags: { ipv6Only, reusePort, sockopts: true }, kinds: [], results: [], pending: 0, pins: [],
    }, family === 6 ? AF_INET6 : AF_INET);
  }

  #listenUnix(path: string, backlog: number, readableAll: boolean, writableAll: boolean): void {
    this.#unix = true;
    this.#open({
      server: this, id: this.#listeningId, fd: -1, address: path, port: -1, unix: true, dual: false, backlog: backlog || 511,
      flags: { ipv6Only: false, reusePort: false, sockopts: false }, kinds: [], results: [], pending: 0, pins: [], readableAll, writableAll,
    }, AF_UNIX);
  }

  /** IORING_OP_SOCKET for a listen attempt. */
  #open(ctx: ListenCtx, domain: number): void {
    const d = this.#rt!.driver;
    try {
      // The result is a new socket fd.
      submit(d, (sqe) => prepSocket(sqe, domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, 0), Server.#onSocketCqe, ctx, null, undefined, true);
    } catch (e) {
      this.#state = CLOSED;
      process.nextTick(() => this.emit('error', e));
    }
  }

  static #onSocketCqe(this: void, res: number, ctx: ListenCtx): void {
    const srv = ctx.server;
    if (res < 0) {
      if (ctx.dual) {
        srv.#retryIPv4(ctx);
        return;
      }
      srv.#listenFailed(ctx, res);
      return;
    }
    holdFdForThread(res);
    ctx.fd = res;
    if (ctx.id !== srv.#listeningId) {
      srv.#dropFd(res);
      return;
    }
    srv.#bindAndListen(ctx);
  }

  /** One linked chain: [setsockopt…] → BIND → LISTEN; every step's CQE comes (the ones after a failure with -ECANCELED). */
  #bindAndListen(ctx: ListenCtx): void {
    const d = this.#rt!.driver;
    const fd = ctx.fd;
    ctx.kinds = [];
    ctx.results = [];
    ctx.pins = [];
    const opts: [number, number, number][] = [];
    if (!ctx.unix && ctx.flags.sockopts) {
      opts.push([SOL_SOCKET, SO_REUSEADDR, 1]);
      if (ctx.address.includes(':')) opts.push([IPPROTO_IPV6, IPV6_V6ONLY, ctx.flags.ipv6Only ? 1 : 0]);
    }
    if (ctx.flags.reusePort) opts.push([SOL_SOCKET, SO_REUSEPORT, 1]);
    let sockaddr: Uint8Array;
    let len: number;
    if (ctx.unix) {
      const un = unixSockaddr(ctx.address);
      sockaddr = un.addr;
      len = un.len;
    } else {
      sockaddr = inetSockaddr(ctx.address, ctx.port);
      len = sockaddr.length;
    }
    try {
      d.assertUsable();
      const mark = d.txBegin();
      try {
        let i = 0;
        for (const [level, name, value] of opts) {
          const v = new Int32Array([value]);
          const sqe = d.txSqe();
          prepCmdSock(sqe, SOCKET_URING_OP_SETSOCKOPT, fd, level, name, v, 4);
          d.txTrack(sqe, Server.#onStepCqe, { ctx, i: i++ } satisfies ListenStep, v);
          ctx.kinds.push('sockopt');
        }
        const sb = d.txSqe();
        prepBind(sb, fd, sockaddr, len);
        d.txTrack(sb, Server.#onStepCqe, { ctx, i: i++ } satisfies ListenStep, sockaddr);
        ctx.kinds.push('bind');
        const sl = d.txSqe();
        prepListen(sl, fd, ctx.backlog);
        d.txTrack(sl, Server.#onStepCqe, { ctx, i: i++ } satisfies ListenStep, null);
        ctx.kinds.push('listen');
        for (let k = 0; k < i - 1; k++) d.txSqeAt(k).flags |= IOSQE_IO_LINK;
        ctx.pending = i;
        ctx.results = new Array<number>(i).fill(0);
        d.txCommit();
      } catch (e) {
        d.txRollback(mark);
        throw e;
      }
    } catch (e) {
      this.#dropFd(fd);
      this.#state = CLOSED;
      process.nextTick(() => this.emit('error', e));
    }
  }

  static #onStepCqe(this: void, res: number, step: ListenStep): void {
    const ctx = step.ctx;
    ctx.results[step.i] = res;
    if (--ctx.pending === 0) ctx.server.#listenChainDone(ctx);
  }

  #listenChainDone(ctx: ListenCtx): void {
    const failed = ctx.results.findIndex((r) => r < 0 && r !== ECANCELED);
    const fd = ctx.fd;
    if (ctx.id !== this.#listeningId) {
      this.#dropFd(fd);
      return;
    }
    if (failed >= 0) {
      const res = ctx.results[failed];
      const kind = ctx.kinds[failed];
      this.#dropFd(fd);
      if (kind === 'sockopt' && (res === EOPNOTSUPP || res === EINVAL) && ctx.flags.sockopts) {
        // No SOCKET_URING_OP_SETSOCKOPT on this kernel: listen without socket options.
        ctx.flags.sockopts = false;
        this.#open(ctx, ctx.unix ? AF_UNIX : ctx.address.includes(':') ? AF_INET6 : AF_INET);
        return;
      }
      if (kind === 'bind' && ctx.dual && res !== EADDRINUSE) {
        this.#retryIPv4(ctx);
        return;
      }
      this.#listenFailed(ctx, res);
      return;
    }
    if (ctx.results.some((r) => r === ECANCELED)) {
      this.#dropFd(fd);
      this.#listenFailed(ctx, ECANCELED);
      return;
    }
    if (ctx.unix && (ctx.readableAll || ctx.writableAll)) {
      try {
        const st = fs.statSync(ctx.address);
        let mode = st.mode & 0o7777;
        if (ctx.readableAll) mode |= 0o444;
        if (ctx.writableAll) mode |= 0o222;
        fs.chmodSync(ctx.address, mode);
      } catch (e) {
        this.#dropFd(fd);
        this.#state = CLOSED;
        const err = e as NodeJS.ErrnoException;
        this.emit('error', errnoException(err.errno ?? -1, 'uv_pipe_chmod'));
        return;
      }
    }
    this.#fd = fd;
    this.#state = LISTENING;
    if (!ctx.unix) {
      const a = sockName(fd, false);
      this.#address = typeof a === 'object' ? a : null;
    }
    this.#armAccept();
    this.emit('listening');
  }

  #retryIPv4(ctx: ListenCtx): void {
    ctx.dual = false;
    ctx.address = '0.0.0.0';
    ctx.fd = -1;
    this.#open(ctx, AF_INET);
  }

  #listenFailed(ctx: ListenCtx, res: number): void {
    if (ctx.id !== this.#listeningId) return;
    this.#state = CLOSED;
    const ex = uvExceptionWithHostPort(res, 'listen', ctx.address, ctx.port);
    process.nextTick(() => this.emit('error', ex));
  }

  #listenFd(fd: number, backlog: number): void {
    const a = sockName(fd, false);
    if (a === undefined) {
      this.#state = CLOSED;
      process.nextTick(() => this.emit('error', uvExceptionWithHostPort(EINVAL, 'listen', undefined, undefined)));
      return;
    }
    this.#unix = typeof a === 'string';
    holdFdForThread(fd);
    const ctx: ListenCtx = {
      server: this, id: this.#listeningId, fd, address: typeof a === 'string' ? a : a.address, port: typeof a === 'string' ? -1 : a.port,
      unix: this.#unix, dual: false, backlog: backlog || 511, flags: { ipv6Only: false, reusePort: false, sockopts: false },
      kinds: ['listen'], results: [0], pending: 1, pins: [],
    };
    const d = this.#rt!.driver;
    try {
      submit(d, (sqe) => prepListen(sqe, fd, ctx.backlog), Server.#onStepCqe, { ctx, i: 0 } satisfies ListenStep, null);
    } catch (e) {
      this.#state = CLOSED;
      process.nextTick(() => this.emit('error', e));
    }
  }

  /** Closes an fd that never became (or no longer is) the server's. */
  #dropFd(fd: number): void {
    if (fd < 0) return;
    releaseFdOfThread(fd);
    const d = this.#rt!.driver;
    try {
      submit(d, (sqe) => prepClose(sqe, fd), () => {}, null, null);
    } catch {
      native.close(fd);
    }
  }

  // --------------------------------------------------------------- accepting

  #armAccept(): void {
    const rt = this.#rt!;
    const d = rt.driver;
    const fd = this.#fd;
    const multishot = rt.features.multishotAccept;
    try {
      const prep = multishot ? prepMultishotAccept : prepAccept;
      // Each result is a new socket fd.
      this.#acceptUd = submit(d, (sqe) => prep(sqe, fd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC), Server.#onAcceptCqe, this, null, undefined, true);
    } catch (e) {
      this.emit('error', e);
      return;
    }
    if (this.#unref) d.setOpRef(this.#acceptUd, false);
  }

  static #onAcceptCqe(this: void, res: number, srv: Server, flags: number): void {
    const more = (flags & IORING_CQE_F_MORE) !== 0;
    if (!more) srv.#acceptUd = 0;
    const rt = srv.#rt!;
    if (res >= 0) {
      if (srv.#fd < 0) native.close(res); // accepted just as the server closed
      else srv.#onConnection(res);
    } else if (res === ECANCELED) {
      return;
    } else if (res === EINVAL && rt.features.multishotAccept) {
      rt.features.disable('multishot-accept', 'the kernel refused IORING_ACCEPT_MULTISHOT (EINVAL)');
    } else if (res === EMFILE || res === ENFILE || res === ENOBUFS || res === ENOMEM) {
      // Out of fds (or memory): libuv drops such connections without an error; here they wait in the backlog.
      if (!more && srv.#fd >= 0 && !srv.#backoff) {
        srv.#backoff = setTimeout(() => {
          srv.#backoff = null;
          if (srv.#fd >= 0 && srv.#acceptUd === 0) srv.#armAccept();
        }, EMFILE_BACKOFF_MS);
        srv.#backoff.unref();
      }
      return;
    } else if (res !== ECONNABORTED && res !== EAGAIN && res !== EINTR) {
      srv.emit('error', errnoException(res, 'accept'));
    }
    if (!more && srv.#fd >= 0 && srv.#acceptUd === 0) {
      rt.stats.acceptRearms++;
      srv.#armAccept();
    }
  }

  #onConnection(fd: number): void {
    holdFdForThread(fd);
    if (this.maxConnections && this._connections >= this.maxConnections) {
      const data: Record<string, unknown> = { __proto__: null };
      const local = sockName(fd, false);
      const remote = sockName(fd, true);
      if (typeof local === 'object') Object.assign(data, { localAddress: local.address, localPort: local.port, localFamily: local.family });
      if (typeof remote === 'object') Object.assign(data, { remoteAddress: remote.address, remotePort: remote.port, remoteFamily: remote.family });
      this.emit('drop', this.#unix ? undefined : data);
      this.#dropFd(fd);
      return;
    }
    const socket = new Socket({
      [kAdopt]: { fd, unix: this.#unix, runtime: this.#rt! },
      allowHalfOpen: this.allowHalfOpen,
      pauseOnCreate: this.pauseOnConnect,
      readable: true,
      writable: true,
      readableHighWaterMark: this.highWaterMark,
      writableHighWaterMark: this.highWaterMark,
    });
    if (!this.#unix) {
      if (this.noDelay) socket.setNoDelay(true);
      if (this.keepAlive) socket.setKeepAlive(true, this.keepAliveInitialDelay * 1000);
    }
    this._connections++;
    socket.server = this;
    socket._server = this;
    this.emit('connection', socket);
  }

  // ----------------------------------------------------------------- closing

  /** Stops accepting; 'close' comes once every connection has ended. */
  close(cb?: (err?: Error) => void): this {
    this.#listeningId++;
    if (typeof cb === 'function') {
      if (this.#state === CLOSED) this.once('close', () => cb(errors.ERR_SERVER_NOT_RUNNING()));
      else this.once('close', cb);
    }
    if (this.#state !== CLOSED) {
      this.#state = CLOSED;
      this.#closeHandle();
    }
    this._emitCloseIfDrained();
    return this;
  }

  #closeHandle(): void {
    if (this.#backoff) {
      clearTimeout(this.#backoff);
      this.#backoff = null;
    }
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    this.#address = null;
    const d = this.#rt!.driver;
    if (this.#acceptUd) d.cancel(this.#acceptUd);
    releaseFdOfThread(fd);
    const path = this.#unix && this._pipeName && this._pipeName[0] !== '\0' ? this._pipeName : null;
    this.#handleClosing++;
    const done = (): void => {
      this.#handleClosing--;
      this._emitCloseIfDrained();
    };
    try {
      d.assertUsable();
      const mark = d.txBegin();
      try {
        const sqe = d.txSqe();
        prepClose(sqe, fd);
        if (path) {
          const p = toPathBuffer(path);
          d.txTrack(sqe, () => {}, null, null);
          // libuv removes a Unix server's socket file when it closes it; so does this, after the close.
          const su = d.txSqe();
          prepUnlinkat(su, LINUX.AT_FDCWD, p, 0);
          d.txTrack(su, done, null, p);
          d.txSqeAt(0).flags |= IOSQE_IO_LINK;
        } else d.txTrack(sqe, done, null, null);
        d.txCommit();
      } catch (e) {
        d.txRollback(mark);
        throw e;
      }
    } catch {
      native.close(fd);
      if (path) fs.rmSync(path, { force: true });
      process.nextTick(done);
    }
  }

  _emitCloseIfDrained(): void {
    if (this.#state !== CLOSED || this._connections || this.#handleClosing || this.#closeQueued) return;
    this.#closeQueued = true;
    process.nextTick(() => this.emit('close'));
  }

  address(): InetAddress | string | null {
    if (this.#state === LISTENING && !this.#unix) return this.#address ? { ...this.#address } : null;
    // node:net answers a Unix server's path, also once closed.
    if (this._pipeName) return this._pipeName;
    return null;
  }

  getConnections(cb: (err: Error | null, count: number) => void): this {
    process.nextTick(cb, null, this._connections);
    return this;
  }

  ref(): this {
    this.#unref = false;
    if (this.#acceptUd) this.#rt!.driver.setOpRef(this.#acceptUd, true);
    return this;
  }

  unref(): this {
    this.#unref = true;
    if (this.#acceptUd) this.#rt!.driver.setOpRef(this.#acceptUd, false);
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#state === CLOSED) return;
    await promisify(this.close).call(this);
  }

  /** The listening fd (for diagnostics), -1 when not listening. */
  get _fd(): number {
    return this.#fd;
  }
}
