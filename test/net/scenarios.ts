/**
 * Scripts run unchanged on node:net and on uring/net by the differential
 * test: each gets the module as `net` and returns a log of what it saw —
 * every object's events in order (consecutive 'data' events folded into
 * one, since chunk boundaries are the kernel's business), the bytes, and
 * the fields of every error. The test compares the two logs.
 */
import { once } from 'node:events';
import fs from 'node:fs';
import type * as NodeNet from 'node:net';
import path from 'node:path';

export type Net = typeof NodeNet;
export type Log = Record<string, unknown>;

/** The fields of an error node:net users look at. */
export function errorShape(e: unknown): Record<string, unknown> {
  const err = e as NodeJS.ErrnoException & { address?: string; port?: number };
  const out: Record<string, unknown> = { name: err.name, code: err.code, message: err.message };
  for (const k of ['errno', 'syscall', 'address', 'port'] as const) if (k in err) out[k] = (err as unknown as Record<string, unknown>)[k];
  if (e instanceof AggregateError) out.errors = e.errors.map(errorShape);
  return out;
}

/** Per log: the 'close' of every tracked socket, awaited before the log is returned (so no event is still on its way). */
const closing = new WeakMap<Log, Promise<unknown>[]>();

/** Records the events of `emitter` into `log[name]`. */
export function track(log: Log, name: string, emitter: NodeJS.EventEmitter, events: string[], portOf?: () => number): void {
  const list: unknown[] = (log[name] = []);
  if (!closing.has(log)) closing.set(log, []);
  if (events.includes('close')) closing.get(log)!.push(new Promise((r) => emitter.once('close', r)));
  const bytes: Buffer[] = [];
  for (const ev of events) {
    emitter.on(ev, (...args: unknown[]) => {
      if (ev === 'data') {
        bytes.push(args[0] as Buffer);
        if (list[list.length - 1] !== 'data') list.push('data');
        log[`${name}.bytes`] = Buffer.concat(bytes).toString('latin1');
        return;
      }
      if (ev === 'error') {
        const shape = errorShape(args[0]);
        // An ephemeral port differs between runs: name it.
        if (portOf && shape.port === portOf()) shape.port = '<port>';
        if (portOf && typeof shape.message === 'string') shape.message = shape.message.replace(`:${portOf()}`, ':<port>');
        list.push({ error: shape });
        return;
      }
      if (ev === 'close') {
        list.push(args.length > 0 ? `close(${String(args[0])})` : 'close');
        return;
      }
      list.push(ev);
    });
  }
}

/** 'drain' is left out: whether a write is still in flight when the next comes is timing (io_uring completes writes a loop turn later than a synchronous write(2)). */
const SOCKET_EVENTS = ['connect', 'ready', 'data', 'end', 'finish', 'close', 'error', 'timeout'];
const SERVER_EVENTS = ['listening', 'connection', 'close', 'error'];

function listen(server: NodeNet.Server, ...args: unknown[]): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    (server.listen as (...a: unknown[]) => void)(...args, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function portOf(server: NodeNet.Server): number {
  return (server.address() as NodeNet.AddressInfo).port;
}

/** A fresh port that nobody listens on (bound, then closed, with node:net itself). */
async function deadPort(real: Net, host = '127.0.0.1'): Promise<number> {
  const s = real.createServer();
  await listen(s, 0, host);
  const p = portOf(s);
  await new Promise((r) => s.close(r));
  return p;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves on the event (events.once would reject on an 'error' first). */
function event(emitter: NodeJS.EventEmitter, name: string): Promise<unknown[]> {
  return new Promise((resolve) => emitter.once(name, (...args: unknown[]) => resolve(args)));
}

export interface Ctx {
  dir: string;
  /** node:net itself, for helpers that must not depend on the module under test. */
  real: Net;
}

const raw: Record<string, (net: Net, ctx: Ctx) => Promise<Log>> = {
  /** Request, echo, client end(), server end() on 'end', both close. */
  async echoAndClose(net) {
    const log: Log = {};
    let n = 0;
    const server = net.createServer((s) => {
      track(log, `serverSocket${++n}`, s, SOCKET_EVENTS);
      s.on('data', (d) => s.write(d));
    });
    track(log, 'server', server, SERVER_EVENTS);
    await listen(server, 0, '127.0.0.1');
    const c = net.connect(portOf(server), '127.0.0.1');
    track(log, 'client', c, SOCKET_EVENTS);
    await once(c, 'connect');
    c.write('hello ');
    c.write('world');
    let got = '';
    for await (const d of c) {
      got += d;
      if (got.length >= 11) break;
    }
    log.got = got;
    const c2 = net.connect(portOf(server), '127.0.0.1');
    // 'finish' (our shutdown done) races the echo of 'x' on both: not recorded.
    track(log, 'client2', c2, SOCKET_EVENTS.filter((e) => e !== 'finish'));
    c2.end('x');
    await event(c2, 'close');
    await new Promise((r) => server.close(r));
    log.connections = (server as unknown as { _connections: number })._connections;
    return log;
  },

  /** allowHalfOpen: the server reads the client's end, then still writes, then ends. */
  async halfOpen(net) {
    const log: Log = {};
    let serverClosed: Promise<unknown> = Promise.resolve();
    const server = net.createServer({ allowHalfOpen: true }, (s) => {
      track(log, 'serverSocket', s, SOCKET_EVENTS);
      serverClosed = event(s, 'close');
      s.resume();
      s.on('end', () => {
        log.serverWritableAtEnd = s.writable;
        setTimeout(() => s.end('late reply'), 20);
      });
    });
    await listen(server, 0, '127.0.0.1');
    const c = net.connect({ port: portOf(server), host: '127.0.0.1', allowHalfOpen: true } as NodeNet.NetConnectOpts);
    track(log, 'client', c, SOCKET_EVENTS);
    c.end('request');
    await event(c, 'close');
    await serverClosed;
    log.clientBytesRead = c.bytesRead;
    log.clientBytesWritten = c.bytesWritten;
    await new Promise((r) => server.close(r));
    return log;
  },

  /** Not half-open: the server ends automatically on the client's end; a write after that is EPIPE. */
  async notHalfOpen(net) {
    const log: Log = {};
    const server = net.createServer((s) => {
      track(log, 'serverSocket', s, SOCKET_EVENTS);
      s.resume();
      s.on('end', () => {
        log.serverWritableAtEnd = s.writable;
        s.write('after', (err) => {
          log.writeCallback = err ? errorShape(err) : null;
        });
      });
    });
    await listen(server, 0, '127.0.0.1');
    const c = net.connect({ port: portOf(server), host: '127.0.0.1', allowHalfOpen: true } as NodeNet.NetConnectOpts);
    track(log, 'client', c, SOCKET_EVENTS);
    c.resume();
    c.end('bye');
    await once(c, 'end');
    c.destroy();
    await sleep(50);
    await new Promise((r) => server.close(r));
    return log;
  },

  /** ECONNREFUSED on IPv4 and IPv6 loopback, by callback order and error fields. */
  async connectRefused(net, { real }) {
    const log: Log = {};
    for (const host of ['127.0.0.1', '::1']) {
      const port = await deadPort(real, host);
      const c = net.connect(port, host);
      track(log, `client ${host}`, c, SOCKET_EVENTS, () => port);
      await event(c, 'close');
      log[`pending ${host}`] = c.pending;
      log[`destroyed ${host}`] = c.destroyed;
    }
    return log;
  },

  /** EADDRINUSE: the same port twice (explicit host, dual stack) and the same Unix path twice. */
  async addressInUse(net, { dir }) {
    const log: Log = {};
    const a = net.createServer();
    await listen(a, 0, '127.0.0.1');
    const port = portOf(a);
    const b = net.createServer();
    b.listen(port, '127.0.0.1');
    const [e] = await once(b, 'error');
    log.inet = { ...errorShape(e), port: (e as { port: number }).port === port ? '<port>' : 'wrong', message: (e as Error).message.replace(String(port), '<port>') };
    log.bListening = b.listening;
    const dual = net.createServer();
    await listen(dual, 0);
    const dport = portOf(dual);
    const dual2 = net.createServer();
    dual2.listen(dport);
    const [e2] = await once(dual2, 'error');
    log.dual = { ...errorShape(e2), port: (e2 as { port: number }).port === dport ? '<port>' : 'wrong', message: (e2 as Error).message.replace(String(dport), '<port>') };
    const p = path.join(dir, `inuse-${Math.random().toString(36).slice(2)}.sock`);
    const u = net.createServer();
    await listen(u, p);
    const u2 = net.createServer();
    u2.listen(p);
    const [e3] = await once(u2, 'error');
    log.unix = { ...errorShape(e3), address: (e3 as { address: string }).address === p ? '<path>' : 'wrong', message: (e3 as Error).message.replace(p, '<path>') };
    // A retry after the error works (the server is not left half-open).
    u2.close();
    await new Promise((r) => u.close(r));
    log.unixFileAfterClose = fs.existsSync(p);
    await listen(u2, p);
    log.retryListening = u2.listening;
    await new Promise((r) => u2.close(r));
    for (const s of [a, dual]) await new Promise((r) => s.close(r));
    return log;
  },

  /** The forms of listen() and what address() says after each. */
  async listenForms(net, { dir }) {
    const log: Log = {};
    const shape = (s: NodeNet.Server): unknown => {
      const a = s.address();
      if (a === null || typeof a === 'string') return a === null ? null : '<path>';
      return { address: a.address, family: a.family, port: a.port > 0 ? '<port>' : a.port };
    };
    const forms: [string, unknown[]][] = [
      ['(0)', [0]],
      ['(0, host)', [0, '127.0.0.1']],
      ['(0, ::1)', [0, '::1']],
      ['(0, localhost)', [0, 'localhost']],
      ['({port: 0, host})', [{ port: 0, host: '127.0.0.1' }]],
      ['({port: 0, ipv6Only})', [{ port: 0, ipv6Only: true }]],
      ['({port: "0"})', [{ port: '0' }]],
      ['(0, host, backlog)', [0, '127.0.0.1', 10]],
      ['()', []],
      ['({port: undefined})', [{ port: undefined }]],
    ];
    for (const [name, args] of forms) {
      const s = net.createServer();
      await listen(s, ...args);
      log[name] = shape(s);
      await new Promise((r) => s.close(r));
      log[`${name} after close`] = shape(s);
    }
    const p = path.join(dir, `forms-${Math.random().toString(36).slice(2)}.sock`);
    const s = net.createServer();
    await listen(s, { path: p });
    log.path = shape(s);
    await new Promise((r) => s.close(r));
    log.pathClosed = s.address() === p ? '<path>' : s.address();
    return log;
  },

  /** Argument errors thrown synchronously, and close() of a server that is not running. */
  async argumentErrors(net) {
    const log: Log = {};
    const attempt = (name: string, fn: () => unknown): void => {
      try {
        fn();
        log[name] = 'no error';
      } catch (e) {
        log[name] = errorShape(e);
      }
    };
    attempt('listen(-1)', () => net.createServer().listen(-1));
    attempt('listen(65536)', () => net.createServer().listen(65536));
    attempt('listen({port: "x"})', () => net.createServer().listen({ port: 'x' as unknown as number }));
    attempt('listen({})', () => net.createServer().listen({}));
    attempt('connect()', () => (net.connect as () => unknown)());
    attempt('connect({port: -1})', () => net.connect({ port: -1 }));
    attempt('connect({port: {}})', () => net.connect({ port: {} as number }));
    attempt('connect localAddress', () => net.connect({ port: 1, localAddress: 'nope' }));
    attempt('createServer(1)', () => (net.createServer as (a: unknown) => unknown)(1));
    attempt('new Socket objectMode', () => new net.Socket({ objectMode: true } as NodeNet.SocketConstructorOpts));
    const s = net.createServer();
    await listen(s, 0, '127.0.0.1');
    attempt('listen twice', () => s.listen(0));
    await new Promise((r) => s.close(r));
    const closed = await new Promise((r) => net.createServer().close((e) => r(e ? errorShape(e) : null)));
    log['close() not running'] = closed;
    const c = new net.Socket();
    attempt('setTimeout(-1)', () => c.setTimeout(-1));
    attempt('setTimeout("1")', () => c.setTimeout('1' as unknown as number));
    log.freshSocket = { pending: c.pending, readyState: c.readyState, connecting: c.connecting, remoteAddress: c.remoteAddress ?? null, bytesRead: c.bytesRead, bytesWritten: c.bytesWritten };
    c.destroy();
    return log;
  },

  /** The peer resets (RST) while this side reads: ECONNRESET on 'read'. */
  async peerReset(net) {
    const log: Log = {};
    const server = net.createServer((s) => {
      s.write('some data');
      setTimeout(() => s.resetAndDestroy(), 30);
    });
    await listen(server, 0, '127.0.0.1');
    const c = net.connect(portOf(server), '127.0.0.1');
    track(log, 'client', c, SOCKET_EVENTS);
    await event(c, 'close');
    await new Promise((r) => server.close(r));
    return log;
  },

  /** Writing to a peer that has gone (reset): the write fails with the kernel's error, as a 'write' error. */
  async writeToGone(net) {
    const log: Log = {};
    const server = net.createServer((s) => {
      s.once('data', () => s.resetAndDestroy());
    });
    await listen(server, 0, '127.0.0.1');
    const c = net.connect(portOf(server), '127.0.0.1');
    track(log, 'client', c, ['connect', 'ready', 'end', 'finish', 'close']);
    const errs: unknown[] = [];
    c.on('error', (e) => errs.push(errorShape(e)));
    await event(c, 'connect');
    c.pause();
    c.write('hi');
    await sleep(100);
    for (let i = 0; i < 3 && !c.destroyed; i++) {
      c.write(Buffer.alloc(1000));
      await sleep(20);
    }
    if (!c.destroyed) await event(c, 'close');
    const first = errs[0] as { code?: string; syscall?: string } | undefined;
    // The kernel answers ECONNRESET or EPIPE depending on when the RST landed; node:net has both too.
    log.error = first ? { syscall: first.syscall, code: ['EPIPE', 'ECONNRESET'].includes(first.code!) ? 'EPIPE|ECONNRESET' : first.code } : null;
    await new Promise((r) => server.close(r));
    return log;
  },

  /** An idle socket emits 'timeout' (and stays open); activity postpones it; setTimeout(0) clears it. */
  async idleTimeout(net) {
    const log: Log = {};
    const server = net.createServer((s) => {
      s.setTimeout(80);
      track(log, 'serverSocket', s, ['timeout', 'end', 'close', 'data']);
      s.on('timeout', () => {
        log.openAtTimeout = !s.destroyed;
        s.setTimeout(0);
        s.end();
      });
    });
    await listen(server, 0, '127.0.0.1');
    const t0 = Date.now();
    const c = net.connect(portOf(server), '127.0.0.1');
    c.resume();
    // Activity every 30 ms for 150 ms keeps the server's 80 ms timeout from firing.
    for (let i = 0; i < 5; i++) {
      await sleep(30);
      c.write('.');
    }
    await once(c, 'end');
    const idle = Date.now() - t0;
    log.timeoutAfterActivity = idle >= 150 + 70 ? 'yes' : `too early (${idle} ms)`;
    c.destroy();
    await new Promise((r) => server.close(r));
    await sleep(20);
    return log;
  },

  /** Writes made before 'connect' go out after it; destroy() before 'connect' closes without connecting. */
  async writeBeforeConnect(net) {
    const log: Log = {};
    const server = net.createServer((s) => {
      s.on('data', (d) => s.end(d));
    });
    await listen(server, 0, '127.0.0.1');
    const c = net.connect(portOf(server), '127.0.0.1');
    track(log, 'client', c, SOCKET_EVENTS);
    log.connectingAtStart = c.connecting;
    log.writeReturned = c.write('early');
    log.readyStateAtStart = c.readyState;
    await event(c, 'close');
    const d = net.connect(portOf(server), '127.0.0.1');
    track(log, 'destroyed', d, SOCKET_EVENTS);
    d.write('never', (err) => {
      log.destroyedWriteCb = err ? errorShape(err) : null;
    });
    d.destroy();
    await event(d, 'close');
    await sleep(20);
    await new Promise((r) => server.close(r));
    return log;
  },

  /** Addresses of both ends, IPv4 and IPv6, and of a Unix socket. */
  async addresses(net, { dir }) {
    const log: Log = {};
    for (const host of ['127.0.0.1', '::1']) {
      let serverSide: NodeNet.Socket | null = null;
      const server = net.createServer((s) => {
        serverSide = s;
      });
      await listen(server, 0, host);
      const port = portOf(server);
      const c = net.connect(port, host);
      await once(c, 'connect');
      await sleep(20);
      const s = serverSide! as NodeNet.Socket;
      log[host] = {
        clientRemote: [c.remoteAddress, c.remoteFamily, c.remotePort === port],
        clientLocal: [c.localAddress, c.localFamily, c.localPort === s.remotePort],
        serverRemote: [s.remoteAddress, s.remoteFamily, typeof s.remotePort],
        serverLocal: [s.localAddress, s.localFamily, s.localPort === port],
        address: { ...(c.address() as NodeNet.AddressInfo), port: '<port>' },
      };
      c.destroy();
      s.destroy();
      await new Promise((r) => server.close(r));
      log[`${host} after close`] = { remote: c.remoteAddress, local: c.localAddress ?? null, address: c.address() };
    }
    const p = path.join(dir, `addr-${Math.random().toString(36).slice(2)}.sock`);
    let us: NodeNet.Socket | null = null;
    const server = net.createServer((s) => {
      us = s;
    });
    await listen(server, p);
    const c = net.connect(p);
    await once(c, 'connect');
    await sleep(20);
    const s = us! as NodeNet.Socket;
    log.unix = {
      serverAddress: server.address() === p,
      client: [c.remoteAddress ?? null, c.remoteFamily ?? null, c.remotePort ?? null, c.localAddress ?? null],
      server: [s.remoteAddress ?? null, s.localAddress ?? null],
    };
    c.destroy();
    s.destroy();
    await new Promise((r) => server.close(r));
    return log;
  },

  /** Unix stream sockets: echo, half-close, the path removed at close. */
  async unixEcho(net, { dir }) {
    const log: Log = {};
    const p = path.join(dir, `echo-${Math.random().toString(36).slice(2)}.sock`);
    const server = net.createServer((s) => {
      track(log, 'serverSocket', s, SOCKET_EVENTS);
      s.pipe(s);
    });
    track(log, 'server', server, SERVER_EVENTS);
    await listen(server, p);
    log.fileWhileListening = fs.existsSync(p);
    const c = net.connect({ path: p });
    track(log, 'client', c, SOCKET_EVENTS.filter((e) => e !== 'finish'));
    c.end(Buffer.alloc(100_000, 7));
    await event(c, 'close');
    log.clientBytesRead = c.bytesRead;
    await new Promise((r) => server.close(r));
    log.fileAfterClose = fs.existsSync(p);
    return log;
  },

  /** A Unix path that does not exist, and one too long for sun_path. */
  async unixErrors(net, { dir }) {
    const log: Log = {};
    const missing = path.join(dir, 'no-such.sock');
    const c = net.connect(missing);
    track(log, 'missing', c, SOCKET_EVENTS);
    await event(c, 'close');
    const c2 = net.connect(path.join(dir, 'x'.repeat(120)));
    c2.on('error', (e) => {
      log.tooLong = { code: (e as NodeJS.ErrnoException).code, syscall: (e as NodeJS.ErrnoException).syscall };
    });
    await event(c2, 'close');
    // A path longer than sun_path is cut to 108 bytes (libuv's behaviour): listen and connect meet there.
    const long = path.join(dir, `L${Math.random().toString(36).slice(2, 8)}${'L'.repeat(140)}`);
    const ls = net.createServer((s) => s.end('via long path'));
    await listen(ls, long);
    const c3 = net.connect(long);
    let got = '';
    c3.on('data', (d) => (got += d));
    await event(c3, 'close');
    log.longPath = { got, address: ls.address() === long, files: fs.readdirSync(dir).filter((f) => f.startsWith('L')).map((f) => path.join(dir, f).length) };
    await new Promise((r) => ls.close(r));
    for (const k of Object.keys(log)) {
      const entry = log[k];
      if (Array.isArray(entry)) {
        for (const ev of entry) {
          const err = (ev as { error?: Record<string, unknown> }).error;
          if (err && typeof err.address === 'string') err.address = (err.address as string).replace(dir, '<dir>');
          if (err && typeof err.message === 'string') err.message = (err.message as string).replace(dir, '<dir>');
        }
      }
    }
    return log;
  },

  /** Backpressure both ways: write() returns false and 'drain' comes; pause() stops 'data'; every byte arrives. */
  async backpressure(net) {
    const log: Log = {};
    const total = 8 * 1024 * 1024;
    const server = net.createServer((s) => {
      s.pause();
      setTimeout(() => s.resume(), 100);
      let got = 0;
      s.on('data', (d) => {
        got += d.length;
      });
      s.on('end', () => {
        log.serverGot = got;
        s.end();
      });
    });
    await listen(server, 0, '127.0.0.1');
    const c = net.connect(portOf(server), '127.0.0.1');
    await once(c, 'connect');
    const chunk = Buffer.alloc(64 * 1024, 1);
    let sent = 0;
    let falses = 0;
    let drains = 0;
    c.on('drain', () => drains++);
    while (sent < total) {
      sent += chunk.length;
      if (!c.write(chunk)) {
        falses++;
        await once(c, 'drain');
      }
    }
    c.end();
    c.resume();
    await event(c, 'close');
    log.sawFalse = falses > 0;
    log.drainsMatch = drains === falses;
    await new Promise((r) => server.close(r));
    return log;
  },

  /** server.close() with connections open: 'close' waits for them; getConnections counts them. */
  async serverCloseWaits(net) {
    const log: Log = {};
    const sockets: NodeNet.Socket[] = [];
    const server = net.createServer((s) => {
      sockets.push(s);
      s.resume();
    });
    track(log, 'server', server, SERVER_EVENTS);
    await listen(server, 0, '127.0.0.1');
    const port = portOf(server);
    const clients = [net.connect(port, '127.0.0.1'), net.connect(port, '127.0.0.1')];
    // Listeners first, then wait: uring/net emits the events of one loop turn back to back, before promise continuations run.
    await Promise.all(clients.map((c) => {
      c.resume();
      return event(c, 'connect');
    }));
    while (sockets.length < 2) await sleep(5);
    log.count = await new Promise((r) => server.getConnections((_e, n) => r(n)));
    let closed = false;
    server.close(() => {
      closed = true;
    });
    await sleep(30);
    log.closedWithConnectionsOpen = closed;
    log.listeningAfterClose = server.listening;
    // A new connection is refused now.
    const late = net.connect(port, '127.0.0.1');
    late.on('error', (e) => {
      log.late = (e as NodeJS.ErrnoException).code;
    });
    await event(late, 'close');
    for (const c of clients) c.end();
    while (!closed) await sleep(5);
    log.closedAfterEnd = closed;
    return log;
  },
};

/** The scripts, each returning its log once every tracked socket and server has emitted 'close' (2 s at most). */
export const scenarios: Record<string, (net: Net, ctx: Ctx) => Promise<Log>> = Object.fromEntries(
  Object.entries(raw).map(([name, fn]) => [
    name,
    async (net: Net, ctx: Ctx): Promise<Log> => {
      const log = await fn(net, ctx);
      const pending = closing.get(log) ?? [];
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(pending), new Promise((r) => (timer = setTimeout(r, 2000)))]);
      clearTimeout(timer);
      return log;
    },
  ]),
);
