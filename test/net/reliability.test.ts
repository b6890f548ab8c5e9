/**
 * uring/net under adversity, on loopback, bounded in count and time: peers
 * that reset mid-stream, a client that never reads (server memory bounded,
 * write() false then 'drain'), a server that never reads, a server closed
 * with connections mid-transfer, and no fd or op left behind by any of it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import nodeNet from 'node:net';
import { after, test } from 'node:test';
import { io } from '../../src/driver/index.js';
import net, { backend } from '../../src/net/index.js';
import { distUrl, runChild } from '../helpers.js';
import { exitWhenDone } from './util.js';

exitWhenDone();

const info = await backend();
const skip = info.name !== 'io_uring' && `uring/net is node:net here: ${info.reason}`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const fds = (): number => fs.readdirSync('/proc/self/fd').length;

/** Whatever a failed test leaves open is closed at the end, so the file's process can exit and report. */
const leftovers = new Set<nodeNet.Server>();
after(() => {
  for (const s of leftovers) s.close();
});

async function listening(server: nodeNet.Server, host = '127.0.0.1'): Promise<number> {
  leftovers.add(server);
  server.on('connection', (s: nodeNet.Socket) => {
    server.once('close', () => s.destroy());
    after(() => s.destroy());
  });
  server.listen(0, host);
  await once(server, 'listening');
  return (server.address() as nodeNet.AddressInfo).port;
}

/** Waits until `cond` holds, polling; fails after `ms`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** Ops of this thread's driver still in flight (listening sockets and idle receives count). */
const pending = (): number => io().driver.pending;

test('peers that reset mid-stream: every server socket errors or closes cleanly, nothing leaks, the server keeps serving', { skip, timeout: 20_000 }, async () => {
  const fd0 = fds();
  const ops0 = pending();
  const errors: string[] = [];
  let closed = 0;
  let accepted = 0;
  const payload = Buffer.alloc(256 * 1024, 0x5a);
  const server = net.createServer((s) => {
    accepted++;
    s.on('error', (e) => errors.push((e as NodeJS.ErrnoException).code ?? String(e)));
    s.on('close', () => closed++);
    s.on('data', () => {});
    // Keep writing into the socket until it dies.
    const pump = (): void => {
      while (!s.destroyed && s.write(payload));
      if (!s.destroyed) s.once('drain', pump);
    };
    pump();
  });
  const port = await listening(server);
  const N = 40;
  await Promise.all(
    Array.from({ length: N }, async (_, i) => {
      const c = nodeNet.connect(port, '127.0.0.1');
      c.on('error', () => {});
      await once(c, 'connect');
      c.write(randomBytes(1000 + i * 100));
      let got = 0;
      await new Promise<void>((resolve) => {
        c.on('data', (d) => {
          got += d.length;
          // Reset at a different point in the stream for each client.
          if (got > 10_000 * (i + 1)) {
            c.resetAndDestroy();
            resolve();
          }
        });
      });
    }),
  );
  await until(() => closed === N, 10_000, `${N} server sockets to close (closed ${closed})`);
  assert.equal(accepted, N);
  for (const code of errors) assert.ok(['ECONNRESET', 'EPIPE'].includes(code), `unexpected error ${code}`);
  // Still serving: an echo round trip on a fresh connection.
  const c = nodeNet.connect(port, '127.0.0.1');
  await once(c, 'connect');
  const echo = new Promise<Buffer>((r) => c.once('data', r));
  c.write('ping');
  assert.ok((await echo).length > 0);
  c.destroy();
  await until(() => closed === N + 1, 5_000, 'the last socket to close');
  await new Promise((r) => server.close(r));
  await until(() => fds() <= fd0 && pending() <= ops0, 5_000, `fds back to ${fd0} (now ${fds()}) and ops back to ${ops0} (now ${pending()})`);
});

test('a client that never reads: write() returns false, the server holds at most one write beyond the high-water mark, then drain delivers every byte', { skip, timeout: 20_000 }, async () => {
  const chunk = randomBytes(64 * 1024);
  let serverSocket: nodeNet.Socket | null = null;
  let accepted = 0;
  let falses = 0;
  let drains = 0;
  let maxQueued = 0;
  const server = net.createServer((s) => {
    serverSocket = s;
    s.on('drain', () => drains++);
  });
  const port = await listening(server);
  const c = nodeNet.connect(port, '127.0.0.1');
  c.pause(); // never reads until told to
  await once(c, 'connect');
  await until(() => serverSocket !== null, 2000, 'the connection');
  const s = serverSocket! as nodeNet.Socket;
  // Write with backpressure, as a well-behaved producer does: until write() says false, then wait for 'drain'.
  const rss0 = process.memoryUsage().rss;
  let writes = 0;
  for (let round = 0; round < 200; round++) {
    writes++;
    if (s.write(chunk)) continue;
    falses++;
    maxQueued = Math.max(maxQueued, s.writableLength);
    const drained = await Promise.race([once(s, 'drain').then(() => true), sleep(300).then(() => false)]);
    if (!drained) break; // the kernel's buffers are full and nobody reads: the producer waits
  }
  accepted = writes * chunk.length;
  const grown = process.memoryUsage().rss - rss0;
  assert.ok(falses > 0, 'write() returned false');
  assert.ok(writes < 200, 'a full socket held the producer back');
  // What the kernel's socket buffers took, plus what the stream queues: bounded, far below what was offered.
  assert.ok(maxQueued <= s.writableHighWaterMark + chunk.length, `queued ${maxQueued} > hwm + one chunk`);
  assert.ok(grown < 32 * 1024 * 1024, `server RSS grew by ${grown} bytes`);
  // Now read: 'drain' comes and every byte arrives in order.
  const total = accepted;
  let got = 0;
  let mismatch = -1;
  c.on('data', (d: Buffer) => {
    for (let i = 0; i < d.length && mismatch < 0; i += 4093) if (d[i] !== chunk[(got + i) % chunk.length]) mismatch = got + i;
    got += d.length;
  });
  c.resume();
  s.end();
  await once(c, 'end');
  assert.equal(mismatch, -1, `byte ${mismatch} differs`);
  assert.equal(got, total);
  assert.ok(drains > 0, "'drain' came");
  c.destroy();
  await new Promise((r) => server.close(r));
});

test('a server that never reads: its receive stops at the high-water mark (the kernel and TCP hold the rest), and resumes losslessly', { skip, timeout: 20_000 }, async () => {
  let serverSocket: nodeNet.Socket | null = null;
  const server = net.createServer((s) => {
    serverSocket = s;
    s.pause();
  });
  const port = await listening(server);
  const c = nodeNet.connect(port, '127.0.0.1');
  await once(c, 'connect');
  const data = randomBytes(32 * 1024 * 1024);
  let written = 0;
  const writeAll = (async () => {
    while (written < data.length) {
      const n = Math.min(256 * 1024, data.length - written);
      const ok = c.write(data.subarray(written, written + n));
      written += n;
      if (!ok) await once(c, 'drain');
    }
    c.end();
  })();
  await until(() => serverSocket !== null, 2000, 'the connection');
  const s = serverSocket! as nodeNet.Socket;
  await sleep(300);
  // Paused: what JavaScript holds is bounded by the high-water mark plus one multishot receive's budget
  // (256 KiB, IORING_RECV_MSHOT_LIM) and one buffer; without the budget it would be the whole pool.
  const budget = info.features?.['recv-budget'] === true ? 256 * 1024 : 128 * 64 * 1024;
  assert.ok(s.readableLength <= s.readableHighWaterMark + budget + 64 * 1024, `readable buffer ${s.readableLength}`);
  assert.ok(written < data.length, 'the writer is held back by TCP');
  assert.notEqual((s as unknown as { _uring: { recv: string } })._uring.recv, 'armed', 'the multishot receive was cancelled under backpressure');
  const parts: Buffer[] = [];
  s.on('data', (d: Buffer) => parts.push(d));
  s.resume();
  await once(s, 'end');
  await writeAll;
  assert.ok(Buffer.concat(parts).equals(data), 'every byte, in order');
  s.destroy();
  c.destroy();
  await new Promise((r) => server.close(r));
});

test('server closed with connections mid-transfer (writes blocked on full sockets): the server closes, clients see the end, no fd or op is left', { skip, timeout: 20_000 }, async () => {
  const fd0 = fds();
  const ops0 = pending();
  const sockets = new Set<nodeNet.Socket>();
  let closedSockets = 0;
  // Below the zero-copy threshold: a SEND_ZC's notification legitimately waits for the peer to read (next test).
  const chunk = Buffer.alloc(32 * 1024, 1);
  const wrote = new Map<nodeNet.Socket, number>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => closedSockets++);
    const pump = (): void => {
      do wrote.set(s, (wrote.get(s) ?? 0) + 1);
      while (!s.destroyed && s.write(chunk));
      if (!s.destroyed) s.once('drain', pump);
    };
    pump();
  });
  const port = await listening(server);
  const clients: nodeNet.Socket[] = [];
  const ended: Promise<unknown>[] = [];
  for (let i = 0; i < 20; i++) {
    const c = nodeNet.connect(port, '127.0.0.1');
    c.on('error', () => {});
    // Half the clients read, half never do (their server-side sends block on a full socket).
    if (i % 2) c.pause();
    else c.resume();
    ended.push(new Promise((r) => c.once('close', r)));
    clients.push(c);
  }
  await until(() => sockets.size === 20, 5000, '20 connections');
  // Wait until the sockets of the clients that do not read are stuck: a send in flight, no progress for 150 ms
  // (the kernel's buffers for them are full).
  const uring = (s: nodeNet.Socket): { writing: boolean } => (s as unknown as { _uring: { writing: boolean } })._uring;
  for (;;) {
    const before = new Map(wrote);
    await sleep(150);
    const stuck = [...sockets].filter((s) => uring(s).writing && wrote.get(s) === before.get(s)).length;
    if (stuck >= 10) break;
  }
  const closedEvent = new Promise((r) => server.close(r));
  for (const s of sockets) s.destroy();
  await closedEvent;
  await until(() => closedSockets === 20, 5000, `20 server sockets closed (${closedSockets})`);
  // Before any client reads: the sends that were blocked on full sockets are cancelled (no op left in
  // flight), and the kernel has closed every server-side socket (none ESTABLISHED on the port; FIN_WAIT
  // is fine). A send left in flight would hold its socket open until the peer read everything.
  await until(() => [...sockets].every((s) => !uring(s).writing), 5000, 'the blocked sends to be cancelled, with the clients still not reading');
  const established = (): number => ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((f) => fs.readFileSync(f, 'utf8').split('\n').slice(1))
    .filter((l) => l.trim() && l.trim().split(/\s+/)[1]?.endsWith(`:${port.toString(16).toUpperCase().padStart(4, '0')}`) && l.trim().split(/\s+/)[3] === '01').length;
  await until(() => established() === 0, 5000, `server-side sockets still ESTABLISHED: ${established()}`);
  for (const c of clients) c.resume();
  await Promise.all(ended);
  await until(() => fds() <= fd0 && pending() <= ops0, 5000, `fds back to ${fd0} (now ${fds()}), ops back to ${ops0} (now ${pending()})`);
});

test('uring/net client against a server that resets: ECONNRESET on the read side, the socket closes with hadError', { skip, timeout: 10_000 }, async () => {
  const server = nodeNet.createServer((s) => {
    s.write('x'.repeat(1000));
    setTimeout(() => s.resetAndDestroy(), 20);
  });
  const port = await listening(server);
  const results = await Promise.all(
    Array.from({ length: 20 }, () =>
      new Promise<{ code?: string; hadError: boolean; bytes: number }>((resolve) => {
        const c = net.connect(port, '127.0.0.1');
        let code: string | undefined;
        let bytes = 0;
        c.on('data', (d) => (bytes += d.length));
        c.on('error', (e) => (code = (e as NodeJS.ErrnoException).code));
        c.on('close', (hadError) => resolve({ code, hadError, bytes }));
      }),
    ),
  );
  for (const r of results) {
    assert.equal(r.code, 'ECONNRESET');
    assert.equal(r.hadError, true);
    assert.equal(r.bytes, 1000);
  }
  await new Promise((r) => server.close(r));
});

test('a zero-copy write (SEND_ZC) holds its buffer until the notification CQE; loopback reports a copy and the socket stops trying', { skip: skip || (info.features?.['send-zc'] !== true && 'no SEND_ZC here'), timeout: 20_000 }, async () => {
  const rt = (await import('../../src/net/runtime.js')).existingRuntime()!;
  const copied0 = rt.stats.zcCopied;
  let serverSocket: nodeNet.Socket | null = null;
  const server = net.createServer((s) => {
    serverSocket = s;
  });
  const port = await listening(server);
  const c = nodeNet.connect(port, '127.0.0.1');
  c.pause();
  await once(c, 'connect');
  await until(() => serverSocket !== null, 2000, 'the connection');
  const s = serverSocket! as nodeNet.Socket & { _uring: { zeroCopy: boolean } };
  assert.equal(s._uring.zeroCopy, true);
  const big = randomBytes(256 * 1024); // above the 64 KiB threshold
  let done = false;
  s.write(big, () => (done = true));
  await sleep(200);
  // The bytes are in the kernel, but its skbs still point at our pages (the peer has not read): not done yet.
  assert.equal(done, false, 'the write completed before the kernel gave the buffer back');
  const got: Buffer[] = [];
  c.on('data', (d: Buffer) => got.push(d));
  c.resume();
  await until(() => done, 5000, 'the notification');
  assert.ok(Buffer.concat(got).subarray(0, big.length).equals(big) || Buffer.concat(got).length < big.length);
  await until(() => Buffer.concat(got).length >= big.length, 5000, 'all bytes');
  assert.ok(Buffer.concat(got).equals(big), 'the bytes');
  assert.equal(rt.stats.zcCopied, copied0 + 1, 'the notification said the kernel copied (loopback)');
  assert.equal(s._uring.zeroCopy, false, 'no further zero-copy attempts on this socket');
  s.destroy();
  c.destroy();
  await new Promise((r) => server.close(r));
});

test('a throwing \'data\' listener: the exception reaches uncaughtException, every socket still gets exactly its own bytes, in order, as with node:net', { skip, timeout: 30_000 }, () => {
  // In a child: the exceptions must reach a real 'uncaughtException' handler, not the test runner's.
  const script = (mod: string): string => `
    import nodeNet from 'node:net';
    const net = (await import(${JSON.stringify(mod)})).default;
    let thrown = 0;
    process.on('uncaughtException', (e) => { if (e.message !== 'listener') throw e; thrown++; });
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    // The peer is node:net; the receiving sockets are the module's under test.
    const srv = nodeNet.createServer(async (s) => {
      const [who] = await new Promise((r) => s.once('data', (d) => r([String(d)])));
      for (let i = 0; i < 6; i++) { s.write(who + i + ';'); await sleep(who === 'A' ? 5 : 7); }
      s.end();
    });
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    const client = (name, throwing) => new Promise((resolve, reject) => {
      let got = '';
      const c = net.connect(srv.address().port, '127.0.0.1', () => c.write(name));
      c.on('data', (d) => { got += d; if (throwing) throw new Error('listener'); });
      c.on('end', () => resolve(got));
      c.on('error', reject);
    });
    const [a, b] = await Promise.all([client('A', true), client('B', false)]);
    // A burst then the peer's end: receives carry several chunks (bundles), a listener that throws on every
    // third chunk leaves the rest of one held back, and the end must wait behind it.
    const burst = Buffer.from(Array.from({ length: 93_390 }, (_, i) => 97 + (i % 26)));
    const bulk = nodeNet.createServer((s) => {
      for (let off = 0; off < burst.length; off += 7000) s.write(burst.subarray(off, off + 7000));
      s.end();
    });
    await new Promise((r) => bulk.listen(0, '127.0.0.1', r));
    const rounds = [];
    for (let round = 0; round < 5; round++) {
      rounds.push(await new Promise((resolve, reject) => {
        const parts = [];
        let n = 0;
        const c = net.connect(bulk.address().port, '127.0.0.1');
        c.on('data', (d) => { parts.push(d); if (++n % 3 === 0) throw new Error('listener'); });
        c.on('end', () => resolve(Buffer.concat(parts).equals(burst)));
        c.on('error', reject);
        setTimeout(() => resolve('no end'), 5000).unref();
      }));
    }
    bulk.close();
    srv.close();
    console.log(JSON.stringify({ a, b, threw: thrown > 0, burst: rounds }));
  `;
  const uring = runChild(script(distUrl('net/index.js')), { timeout: 20_000 });
  const node = runChild(script('node:net'), { timeout: 20_000 });
  assert.equal(node.status, 0, node.stderr);
  assert.equal(uring.status, 0, uring.stderr);
  const expect = (who: string): string => Array.from({ length: 6 }, (_, i) => `${who}${i};`).join('');
  assert.deepEqual(node.json, { a: expect('A'), b: expect('B'), threw: true, burst: [true, true, true, true, true] });
  assert.deepEqual(uring.json, node.json);
});

test('a write from a resizable ArrayBuffer (which the ring refuses) is sent as node:net sends it: copied at write()', { skip, timeout: 10_000 }, async () => {
  const server = nodeNet.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const received = new Promise<string>((resolve) => server.once('connection', (s) => {
    let got = '';
    s.on('data', (d) => (got += d));
    s.on('end', () => resolve(got));
  }));
  const c = net.connect((server.address() as nodeNet.AddressInfo).port, '127.0.0.1');
  await once(c, 'connect');
  const ab = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void })(5, { maxByteLength: 64 });
  new Uint8Array(ab).set(Buffer.from('hello'));
  const written = new Promise<Error | null | undefined>((resolve) => c.write(new Uint8Array(ab), resolve));
  ab.resize(0); // after write(): node:net has read it already (an idle socket writes at once), so must we
  assert.equal((await written) ?? null, null);
  // Two chunks in one writev, both resizable views; changed only after their callback (node's rule for buffers).
  const ab2 = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void })(3, { maxByteLength: 64 });
  new Uint8Array(ab2).set(Buffer.from('abc'));
  c.cork();
  c.write(new Uint8Array(ab2, 0, 2));
  const both = new Promise((resolve) => c.write(new Uint8Array(ab2, 2, 1), resolve));
  c.uncork();
  await both;
  ab2.resize(0);
  c.end();
  assert.equal(await received, 'helloabc');
  server.close();
});

test('destroy() during a zero-copy send to a peer that does not read: the write callbacks run at once and the process can exit', { skip: skip || (info.features?.['send-zc'] !== true && 'no SEND_ZC here'), timeout: 30_000 }, async () => {
  // The peer: this process, accepting into the kernel's backlog and never reading (runChild blocks this thread).
  const peer = nodeNet.createServer((s) => s.pause());
  peer.listen(0, '127.0.0.1');
  await once(peer, 'listening');
  const port = (peer.address() as nodeNet.AddressInfo).port;
  const r = runChild(`
    import net from ${JSON.stringify(distUrl('net/index.js'))};
    const t0 = Date.now();
    const seen = [];
    const c = net.connect(${port}, '127.0.0.1', () => {
      c.write(Buffer.alloc(8 << 20, 1), (e) => seen.push('write1 ' + (e ? e.code : 'ok')));
      c.write(Buffer.alloc(1000, 2), (e) => seen.push('write2 ' + (e ? e.code : 'ok')));
      setTimeout(() => c.destroy(), 300);
    });
    c.on('error', () => {});
    c.on('close', () => seen.push('close'));
    process.on('exit', () => console.log(JSON.stringify({ seen, zc: net.stats?.zcSends })));
  `, { timeout: 15_000 });
  peer.close();
  assert.equal(r.status, 0, `the client did not exit while the peer held its data: ${r.stderr || 'timeout'}`);
  assert.deepEqual(r.json.seen, ['write1 ok', 'write2 ERR_STREAM_DESTROYED', 'close']);
});
