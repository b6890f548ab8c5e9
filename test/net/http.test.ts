/**
 * node:http served over uring/net with the three-line recipe of the README
 * (`http.createServer(handler)` fed by `net.createServer(s =>
 * server.emit('connection', s))`), exercised by real HTTP clients: node's
 * http client (keep-alive agent, chunked bodies, 100 MB each way), a raw
 * socket pipelining requests, and node's http client running over uring/net
 * sockets (`createConnection`), so both ends of the stack are covered.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import nodeNet from 'node:net';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import net, { backend } from '../../src/net/index.js';
import { exitWhenDone } from './util.js';

exitWhenDone();

const info = await backend();
const skip = info.name !== 'io_uring' && `uring/net is node:net here: ${info.reason}`;

const MB = 1024 * 1024;

/** The bytes of the test pattern: byte i is (i * 7 + (i >> 11)) & 0xff, produced in 64 KiB chunks. */
function pattern(total: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const n = Math.min(64 * 1024, total - sent);
      const b = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) {
        const k = sent + i;
        b[i] = (k * 7 + (k >> 11)) & 0xff;
      }
      sent += n;
      this.push(b);
    },
  });
}

async function sha(stream: AsyncIterable<Buffer>): Promise<{ hex: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const c of stream) {
    h.update(c);
    bytes += c.length;
  }
  return { hex: h.digest('hex'), bytes };
}

const patternHash = new Map<number, string>();
async function expectedHash(total: number): Promise<string> {
  if (!patternHash.has(total)) patternHash.set(total, (await sha(pattern(total))).hex);
  return patternHash.get(total)!;
}

/** Servers and agents a failed test may leave open; closed at the end so the file ends and reports. */
const leftovers: (() => void)[] = [];
after(() => {
  for (const f of leftovers) f();
});

/** The README recipe; `connections` counts what uring/net accepted. */
async function recipe(handler: http.RequestListener): Promise<{ port: number; close(): Promise<void>; connections: () => number; http: http.Server }> {
  const server = http.createServer(handler);
  let accepted = 0;
  const open = new Set<nodeNet.Socket>();
  const listener = net.createServer((socket) => {
    accepted++;
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    server.emit('connection', socket);
  });
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const port = (listener.address() as nodeNet.AddressInfo).port;
  leftovers.push(() => {
    for (const s of open) s.destroy();
    listener.close();
  });
  return {
    port,
    http: server,
    connections: () => accepted,
    async close() {
      // closeAllConnections() knows only what http.Server.listen() accepted: the recipe's sockets are ours to end.
      for (const s of open) s.destroy();
      await new Promise<void>((r) => listener.close(() => r()));
    },
  };
}

function request(options: http.RequestOptions, body?: Readable | string): Promise<{ res: http.IncomingMessage; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(options, async (res) => {
      const chunks: Buffer[] = [];
      try {
        for await (const c of res) chunks.push(c as Buffer);
        resolve({ res, body: Buffer.concat(chunks) });
      } catch (e) {
        reject(e);
      }
    });
    req.on('error', reject);
    if (body instanceof Readable) body.pipe(req);
    else req.end(body);
  });
}

test('keep-alive: 200 requests over one connection, headers and bodies intact', { skip, timeout: 20_000 }, async () => {
  const srv = await recipe((req, res) => {
    res.setHeader('x-url', req.url!);
    res.end(`hello ${req.url}`);
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  leftovers.push(() => agent.destroy());
  try {
    for (let i = 0; i < 200; i++) {
      const { res, body } = await request({ port: srv.port, host: '127.0.0.1', path: `/r${i}`, agent });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['x-url'], `/r${i}`);
      assert.equal(res.headers.connection, 'keep-alive');
      assert.equal(body.toString(), `hello /r${i}`);
    }
    assert.equal(srv.connections(), 1, 'every request on the one kept-alive connection');
  } finally {
    agent.destroy();
    await srv.close();
  }
});

test('pipelining: 50 requests in one write come back as 50 responses, in order', { skip, timeout: 20_000 }, async () => {
  const srv = await recipe((req, res) => {
    // Answer out of arrival order in time; node:http must still respond in request order.
    setTimeout(() => res.end(req.url), Number(req.url!.slice(1)) % 3);
  });
  try {
    const sock = nodeNet.connect(srv.port, '127.0.0.1');
    leftovers.push(() => sock.destroy());
    await once(sock, 'connect');
    let requests = '';
    for (let i = 0; i < 50; i++) requests += `GET /${i} HTTP/1.1\r\nHost: x\r\n\r\n`;
    sock.write(requests);
    let text = '';
    const bodies: string[] = [];
    await new Promise<void>((resolve, reject) => {
      sock.on('data', (d) => {
        text += d.toString('latin1');
        for (;;) {
          const head = text.indexOf('\r\n\r\n');
          if (head < 0) break;
          const m = /content-length: (\d+)/i.exec(text.slice(0, head));
          if (!m) return reject(new Error(`no content-length in ${text.slice(0, head)}`));
          const len = Number(m[1]);
          if (text.length < head + 4 + len) break;
          assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
          bodies.push(text.slice(head + 4, head + 4 + len));
          text = text.slice(head + 4 + len);
        }
        if (bodies.length === 50) resolve();
      });
      sock.on('error', reject);
    });
    assert.deepEqual(bodies, Array.from({ length: 50 }, (_, i) => `/${i}`));
    sock.destroy();
  } finally {
    await srv.close();
  }
});

test('chunked request and response bodies', { skip, timeout: 20_000 }, async () => {
  const srv = await recipe(async (req, res) => {
    assert.equal(req.headers['transfer-encoding'], 'chunked');
    const parts: string[] = [];
    for await (const c of req) parts.push(String(c));
    res.writeHead(200, { 'content-type': 'text/plain' });
    // No content-length: node:http sends it chunked.
    for (const p of parts.join('').split(',')) res.write(`<${p}>`);
    res.end();
  });
  try {
    const body = Readable.from(['a,b', ',c', ',dd,e']);
    const { res, body: out } = await request({ port: srv.port, host: '127.0.0.1', method: 'POST', path: '/', headers: { 'transfer-encoding': 'chunked' } }, body);
    assert.equal(res.headers['transfer-encoding'], 'chunked');
    assert.equal(out.toString(), '<a><b><c><dd><e>');
  } finally {
    await srv.close();
  }
});

test('100 MB upload and 100 MB download, every byte checked', { skip, timeout: 60_000 }, async () => {
  const total = 100 * MB;
  const srv = await recipe(async (req, res) => {
    if (req.method === 'POST') {
      const { hex, bytes } = await sha(req);
      res.end(JSON.stringify({ hex, bytes }));
      return;
    }
    res.writeHead(200, { 'content-length': total });
    pattern(total).pipe(res);
  });
  try {
    const want = await expectedHash(total);
    const up = await request({ port: srv.port, host: '127.0.0.1', method: 'POST', path: '/up', headers: { 'content-length': total } }, pattern(total));
    assert.deepEqual(JSON.parse(up.body.toString()), { hex: want, bytes: total });
    const down = await new Promise<{ hex: string; bytes: number }>((resolve, reject) => {
      http.get({ port: srv.port, host: '127.0.0.1', path: '/down' }, (res) => sha(res).then(resolve, reject)).on('error', reject);
    });
    assert.deepEqual(down, { hex: want, bytes: total });
  } finally {
    await srv.close();
  }
});

test("node's http client over uring/net sockets (createConnection) against node:http over node:net", { skip, timeout: 30_000 }, async () => {
  const server = http.createServer(async (req, res) => {
    const { hex, bytes } = await sha(req);
    res.end(JSON.stringify({ hex, bytes, url: req.url }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as nodeNet.AddressInfo).port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  leftovers.push(() => {
    agent.destroy();
    server.closeAllConnections();
    server.close();
  });
  (agent as unknown as { createConnection: unknown }).createConnection = (opts: nodeNet.NetConnectOpts, cb: () => void) => net.createConnection(opts, cb);
  try {
    const total = 10 * MB;
    const want = await expectedHash(total);
    const results = await Promise.all([0, 1, 2, 3].map((i) => request({ port, host: '127.0.0.1', method: 'PUT', path: `/c${i}`, agent, headers: { 'content-length': total } }, pattern(total))));
    for (const [i, r] of results.entries()) assert.deepEqual(JSON.parse(r.body.toString()), { hex: want, bytes: total, url: `/c${i}` });
    const sockets = Object.values(agent.freeSockets).flat();
    assert.ok(sockets.length > 0 && sockets.every((s) => s instanceof net.Socket && !(s instanceof nodeNet.Socket && Object.getPrototypeOf(s) === nodeNet.Socket.prototype)), 'the agent used uring/net sockets');
  } finally {
    agent.destroy();
    await new Promise((r) => server.close(r));
  }
});
