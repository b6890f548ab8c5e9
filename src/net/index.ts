/**
 * uring/net — node:net's API (createServer, Server, connect,
 * createConnection, Socket, …) on io_uring: multishot accept, multishot
 * receive into a provided-buffer ring, zero-copy send, sockets made, bound,
 * connected, shut down and closed by io_uring requests. node:http serves
 * over it unchanged:
 *
 *   const server = http.createServer(handler);
 *   net.createServer((socket) => server.emit('connection', socket)).listen(8080);
 *
 * The backend is chosen once per thread, at the first socket or server:
 * io_uring when this thread's ring can be made and the kernel has the
 * opcodes uring/net needs (IORING_OP_SOCKET, BIND and LISTEN are Linux
 * 6.11+), otherwise node:net itself, with the reason in backend(). Optional
 * kernel features fall back one by one (backend().features says which).
 * URING_BACKEND=node forces node:net (as for uring/fs), URING_BACKEND=io_uring
 * makes a failure to use io_uring throw instead.
 */
import * as nodeNet from 'node:net';

type Impl = typeof import('./uring.js');

let impl: Impl | null = null;
let importError: Error | null = null;
try {
  // Off Linux the ring layer does not import; node:net is then the backend.
  impl = await import('./uring.js');
} catch (e) {
  importError = e as Error;
}

/** Which implementation uring/net runs on, and why. */
export interface NetBackendInfo {
  name: 'io_uring' | 'node:net';
  /** Why node:net is in use: the ring setup error, the missing opcodes, or the environment switch. */
  reason?: string;
  /** The error behind the fallback, if any. */
  error?: Error;
  /** On io_uring: each optional kernel feature, true or why it is not used. */
  features?: Record<string, true | string>;
  /** On io_uring: the receive pool and zero-copy threshold in effect. */
  tuning?: Record<string, number>;
}

let chosen: { uring: boolean; info: NetBackendInfo } | null = null;

function unsupported(message: string): Error {
  const err = new Error(`uring/net: ${message}`) as NodeJS.ErrnoException;
  err.code = 'ERR_URING_NET_UNSUPPORTED';
  return err;
}

/** Decides the backend of this thread (once); true for io_uring. */
function useUring(): boolean {
  if (chosen) return chosen.uring;
  const forced = process.env.URING_BACKEND;
  if (forced === 'node' || forced === 'node:net' || forced === 'node:fs') {
    chosen = { uring: false, info: { name: 'node:net', reason: `URING_BACKEND=${forced} forces the node:net backend` } };
    return false;
  }
  try {
    if (!impl) throw importError ?? unsupported('the io_uring implementation did not load');
    const rt = impl.runtime();
    const missing = impl.REQUIRED_OPS.filter((op) => !rt.driver.supports(impl!.IORING_OP[op]));
    if (missing.length > 0) throw unsupported(`the kernel lacks ${missing.join(', ')} (IORING_REGISTER_PROBE); uring/net needs them (Linux 6.11+)`);
    if (!impl.nativeHasSockets()) throw unsupported('the native addon predates getsockname/ownFd (rebuild it: npm rebuild uring)');
    chosen = { uring: true, info: { name: 'io_uring' } };
  } catch (e) {
    if (forced === 'io_uring') throw e;
    const err = e as NodeJS.ErrnoException;
    const message = err.message.split('\n').join(' ');
    chosen = { uring: false, info: { name: 'node:net', reason: typeof err.code === 'string' && !message.includes(err.code) ? `${err.code}: ${message}` : message, error: err } };
  }
  return chosen.uring;
}

/**
 * The backend of this thread — `{ name: 'io_uring', features, tuning }` or
 * `{ name: 'node:net', reason }` — resolving it if no socket was made yet.
 * A ring that could not be made is explained by uring/diagnose, as for
 * uring/fs's backend().
 */
export async function backend(): Promise<NetBackendInfo> {
  useUring();
  const info = { ...chosen!.info };
  if (info.name === 'io_uring' && impl) {
    const rt = impl.runtime();
    info.features = rt.features.report();
    info.tuning = { ...impl.currentTuning() };
  } else if (info.error && !['ERR_URING_NATIVE_MISSING', 'ERR_URING_UNSUPPORTED_PLATFORM', 'ERR_URING_NET_UNSUPPORTED'].includes((info.error as NodeJS.ErrnoException).code ?? '')) {
    info.reason = await import('../diagnose/index.js').then((d) => d.explain(info.error as Error).summary).catch(() => info.reason);
  }
  return info;
}

/**
 * Sets the receive-buffer pool and the zero-copy threshold; only before the
 * thread's first socket or server. See NetTuning (a no-op on node:net).
 */
export function configure(options: import('./runtime.js').NetTuning): void {
  if (impl) impl.configure(options);
}

/** Chooses the class of the backend on construction, so `new Socket()` and `new Server()` work on both. */
function dispatching<U extends abstract new (...a: any[]) => any, N extends abstract new (...a: any[]) => any>(uring: U | undefined, node: N): U & N {
  if (!uring) return node as U & N;
  const proxy: U = new Proxy(uring, {
    construct(target, args, newTarget) {
      if (useUring()) return Reflect.construct(target, args, newTarget);
      return Reflect.construct(node, args, newTarget === proxy ? node : newTarget);
    },
    apply(_target, _this, args) {
      // node:net's classes may be called without new.
      return Reflect.construct(proxy, args);
    },
    get(target, key, receiver) {
      if (key === Symbol.hasInstance) return (obj: unknown) => obj instanceof (target as unknown as Function) || obj instanceof (node as unknown as Function);
      return Reflect.get(target, key, receiver);
    },
  });
  return proxy as U & N;
}

const SocketClass = dispatching(impl?.Socket, nodeNet.Socket);
const ServerClass = dispatching(impl?.Server, nodeNet.Server);

/** node:net's Socket (io_uring: a stream.Duplex whose kernel calls are io_uring requests). */
export const Socket: typeof nodeNet.Socket = SocketClass as unknown as typeof nodeNet.Socket;
/** node:net's Server. */
export const Server: typeof nodeNet.Server = ServerClass as unknown as typeof nodeNet.Server;
/** Legacy alias of Socket, as in node:net. */
export const Stream = Socket;

/** net.createServer([options][, connectionListener]). */
export function createServer(connectionListener?: (socket: nodeNet.Socket) => void): nodeNet.Server;
export function createServer(options?: nodeNet.ServerOpts, connectionListener?: (socket: nodeNet.Socket) => void): nodeNet.Server;
export function createServer(options?: unknown, connectionListener?: unknown): nodeNet.Server {
  if (!useUring()) return nodeNet.createServer(options as nodeNet.ServerOpts, connectionListener as (s: nodeNet.Socket) => void);
  return new impl!.Server(options as never, connectionListener as never) as unknown as nodeNet.Server;
}

/** net.connect(options[, connectListener]) | (port[, host][, connectListener]) | (path[, connectListener]). */
export function connect(options: nodeNet.NetConnectOpts & { connectTimeout?: number }, connectionListener?: () => void): nodeNet.Socket;
export function connect(port: number, host?: string, connectionListener?: () => void): nodeNet.Socket;
export function connect(path: string, connectionListener?: () => void): nodeNet.Socket;
export function connect(...args: unknown[]): nodeNet.Socket {
  if (!useUring()) return (nodeNet.connect as (...a: unknown[]) => nodeNet.Socket)(...args);
  const normalized = impl!.normalizeArgs(args);
  const options = normalized[0];
  const socket = new impl!.Socket(options);
  if (options.timeout) socket.setTimeout(options.timeout);
  return socket.connect(normalized) as unknown as nodeNet.Socket;
}

/** Alias of connect(), as in node:net. */
export const createConnection = connect;

export const {
  isIP, isIPv4, isIPv6, BlockList, SocketAddress, getDefaultAutoSelectFamily, setDefaultAutoSelectFamily,
  getDefaultAutoSelectFamilyAttemptTimeout, setDefaultAutoSelectFamilyAttemptTimeout,
} = nodeNet;

const net = {
  backend, configure, connect, createConnection, createServer, Server, Socket, Stream, isIP, isIPv4, isIPv6, BlockList, SocketAddress,
  getDefaultAutoSelectFamily, setDefaultAutoSelectFamily, getDefaultAutoSelectFamilyAttemptTimeout, setDefaultAutoSelectFamilyAttemptTimeout,
};
export default net;
