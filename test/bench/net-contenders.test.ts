/**
 * Every contender of the net benchmark serves the right bytes (tiny runs, no
 * timing; speed is judged by `npm run bench -- --only net`, never here):
 * each echo server returns exactly what it was sent, over IPv4 and IPv6,
 * also when the C server's buffer ring runs dry (-ENOBUFS) or its sends come
 * back short; each bulk server counts the upload and streams the pattern;
 * each HTTP server answers. And the load generator's own checks catch a
 * server that gets a byte wrong, so a run that passes them means something.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import {
  buildC, hasIPv6Loopback, hasWrk, runLoadgen, runWrk, startServer, uringNetStatus,
  type BulkResult, type EchoResult, type RunningServer, type ServerSpec,
} from '../../bench/net/harness.js';
import { tempDir } from '../helpers.js';

const bins = buildC(tempDir('uring-net-bench-'));
const noLoadgen = !bins.loadgen && `the load generator did not build: ${bins.why.join('; ')}`;
const uring = uringNetStatus();
const ipv6 = hasIPv6Loopback();

interface Impl { impl: string; label: string; skip: string | false }
const ECHO: Impl[] = [
  { impl: 'node', label: 'node:net', skip: false },
  { impl: 'uring', label: 'uring/net', skip: !uring.ok && `uring/net contender not checked: ${uring.reason}` },
  {
    impl: 'c', label: 'C on liburing',
    skip: !bins.echo && (bins.why.find((w) => w.includes('echo.c') || w.includes('liburing')) ?? 'the C echo server did not build'),
  },
];
const HTTP: Impl[] = [
  { impl: 'node', label: 'node:http over node:net', skip: false },
  { impl: 'node-emit', label: "node:http via emit('connection') over node:net", skip: false },
  { impl: 'uring', label: 'node:http over uring/net', skip: !uring.ok && `uring/net contender not checked: ${uring.reason}` },
];

async function withServer<T>(spec: ServerSpec, fn: (s: RunningServer) => Promise<T>): Promise<{ result: T; stderr: string }> {
  const srv = await startServer({ cEcho: bins.echo, ...spec });
  let result: T;
  try {
    result = await fn(srv);
  } catch (e) {
    await srv.stop();
    throw e;
  }
  const st = await srv.stop();
  assert.equal(st.code, 0, `the server did not end cleanly on stdin EOF (${st.code ?? st.signal}):\n${st.stderr}`);
  return { result, stderr: st.stderr };
}

/**
 * Streams `total` random bytes through an echo server in 4 KiB writes and
 * compares what comes back byte for byte; with `readAfterMs` the client
 * reads only after that pause, so the server's sends meet a full socket.
 */
async function echoBytes(port: number, host: string, total: number, readAfterMs = 0): Promise<void> {
  const data = randomBytes(total);
  const sock = net.connect({ port, host });
  await once(sock, 'connect');
  if (readAfterMs) sock.pause();
  const chunks: Buffer[] = [];
  let got = 0;
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`echo of ${total} bytes: only ${got} came back within 20 s`)), 20_000);
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got >= total) {
        clearTimeout(timer);
        resolve();
      }
    });
    sock.on('error', reject);
    sock.on('close', () => got < total && reject(new Error(`the server closed after ${got} of ${total} bytes`)));
  });
  for (let off = 0; off < total; off += 4096) sock.write(data.subarray(off, off + 4096));
  if (readAfterMs) setTimeout(() => sock.resume(), readAfterMs);
  await done;
  sock.destroy();
  const back = Buffer.concat(chunks);
  assert.equal(back.length, total, 'the server sent back more bytes than it was sent');
  if (!back.equals(data)) {
    let i = 0;
    while (back[i] === data[i]) i++;
    assert.fail(`the echo differs from what was sent, first at byte ${i} of ${total}`);
  }
}

/** The load generator as a child that does not block this process's event loop (for servers living in this process). */
function loadgenAsync(args: string[]): Promise<{ status: number | null; json: any; stderr: string }> {
  const p = spawn(bins.loadgen!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const timer = setTimeout(() => p.kill('SIGKILL'), 20_000);
  return new Promise((resolve) => p.on('close', (status) => {
    clearTimeout(timer);
    const line = out.trim().split('\n').pop();
    resolve({ status, json: line ? JSON.parse(line) : null, stderr: err });
  }));
}

const echoArgs = (port: number, conns: number, size: number): string[] => ['echo', '--port', String(port), '--conns', String(conns), '--size', String(size), '--duration', '0.4', '--warmup', '0.1', '--max-rt', '5000'];

for (const c of ECHO) {
  test(`${c.label}: echo returns exactly the bytes sent (IPv4, IPv6) and passes the load generator's check`, { skip: noLoadgen || c.skip, timeout: 60_000 }, async () => {
    await withServer({ impl: c.impl, kind: 'echo', mode: 'echo' }, async (srv) => {
      assert.equal(srv.family, 'IPv4');
      await echoBytes(srv.port, '127.0.0.1', 1 << 20);
      for (const size of [64, 16384]) {
        const r = runLoadgen<EchoResult>(bins.loadgen!, echoArgs(srv.port, 4, size));
        assert.equal(r.mismatches, 0);
        assert.ok(r.roundTrips > 0, 'no round trip was counted');
        assert.ok(r.bytesChecked >= r.roundTrips * size);
      }
    });
    if (!ipv6) {
      console.log('# IPv6 part skipped: ::1 cannot be bound here');
      return;
    }
    await withServer({ impl: c.impl, kind: 'echo', mode: 'echo', host: '::1' }, async (srv) => {
      assert.equal(srv.family, 'IPv6');
      await echoBytes(srv.port, '::1', 256 << 10);
    });
  });

  test(`${c.label}: bulk counts the upload and streams the pattern down`, { skip: noLoadgen || c.skip, timeout: 60_000 }, async () => {
    await withServer({ impl: c.impl, kind: 'echo', mode: 'bulk' }, async (srv) => {
      for (const bytes of [0, 1, 4_000_037]) {
        const r = runLoadgen<BulkResult>(bins.loadgen!, ['bulk', '--port', String(srv.port), '--bytes', String(bytes), '--timeout', '20']);
        assert.equal(r.mismatches, 0);
        assert.equal(r.upBytes, bytes);
        assert.equal(r.downBytes, bytes);
      }
    });
  });
}

const cSkip = noLoadgen || ECHO[2].skip;
test('C on liburing: a buffer ring that runs dry (-ENOBUFS) and short sends lose no byte', { skip: cSkip, timeout: 60_000 }, async () => {
  // 4 buffers of 256 bytes for 4 clients streaming at once: the ring is empty most of the time.
  const tiny = ['--bufs', '4', '--buf-size', '256'];
  const dry = await withServer({ impl: 'c', kind: 'echo', mode: 'echo', extra: tiny }, async (srv) => {
    await Promise.all([0, 1, 2, 3].map(() => echoBytes(srv.port, '127.0.0.1', 256 << 10)));
  });
  const st = JSON.parse(dry.stderr.trim().split('\n').pop()!);
  assert.ok(st.enobufs > 0, `the buffer ring never ran dry: ${dry.stderr}`);
  // Every client drained its echo before closing, so every parked connection was re-armed (and then saw EOF).
  assert.ok(st.rearmRecv >= st.enobufs, `a recv ended by -ENOBUFS was not re-armed: ${dry.stderr}`);
  assert.equal(st.bytesIn, 4 * (256 << 10));
  assert.equal(st.bytesOut, st.bytesIn);
  // The same under the load generator, request/response with 16 KiB messages on 8 connections.
  await withServer({ impl: 'c', kind: 'echo', mode: 'echo', extra: tiny }, async (srv) => {
    const r = runLoadgen<EchoResult>(bins.loadgen!, echoArgs(srv.port, 8, 16384));
    assert.equal(r.mismatches, 0);
    assert.ok(r.roundTrips > 0);
  });
  // A client that reads only after 16 MiB were written: the server's sends meet a full socket and come back short.
  const slow = await withServer({ impl: 'c', kind: 'echo', mode: 'echo', extra: ['--bufs', '1024', '--buf-size', '65536'] }, async (srv) => {
    await echoBytes(srv.port, '127.0.0.1', 16 << 20, 400);
  });
  const st2 = JSON.parse(slow.stderr.trim().split('\n').pop()!);
  assert.ok(st2.shortSends > 0, `no send came back short, the resubmission was not exercised: ${slow.stderr}`);
});

test("the load generator's echo check catches a server that changes one byte", { skip: noLoadgen, timeout: 30_000 }, async () => {
  const bad = net.createServer((s) => {
    s.on('error', () => s.destroy());
    s.on('data', (d: Buffer) => {
      const copy = Buffer.from(d);
      copy[copy.length - 1] ^= 1;
      s.write(copy);
    });
  });
  bad.listen(0, '127.0.0.1');
  await once(bad, 'listening');
  try {
    const r = await loadgenAsync(echoArgs((bad.address() as net.AddressInfo).port, 2, 64));
    assert.equal(r.status, 3, r.stderr);
    assert.ok(r.json.mismatches > 0);
  } finally {
    bad.close();
  }
});

test("the load generator's bulk check catches a wrong download byte and a wrong upload count", { skip: noLoadgen, timeout: 30_000 }, async () => {
  // A bulk server with a flaw chosen per connection: 'byte' flips one byte of the download, 'count' acks one byte less.
  let flaw: 'byte' | 'count' = 'byte';
  const bad = net.createServer((s) => {
    s.on('error', () => s.destroy());
    let buf = Buffer.alloc(0);
    let started = false;
    const myFlaw = flaw;
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (started || buf.length < 16) return;
      const up = Number(buf.readBigUInt64LE(0));
      const down = Number(buf.readBigUInt64LE(8));
      if (buf.length - 16 < up) return;
      started = true;
      const ack = Buffer.alloc(8);
      ack.writeBigUInt64LE(BigInt(myFlaw === 'count' ? up - 1 : up));
      const body = Buffer.alloc(down);
      for (let i = 0; i < down; i++) body[i] = i % 251;
      body[down >> 1] ^= 0x40;
      s.end(Buffer.concat([ack, body]));
    });
  });
  bad.listen(0, '127.0.0.1');
  await once(bad, 'listening');
  const port = String((bad.address() as net.AddressInfo).port);
  try {
    const r1 = await loadgenAsync(['bulk', '--port', port, '--bytes', '100000', '--timeout', '10']);
    assert.equal(r1.status, 3, r1.stderr);
    assert.ok(r1.json.mismatches > 0);
    flaw = 'count';
    const r2 = await loadgenAsync(['bulk', '--port', port, '--bytes', '100000', '--timeout', '10']);
    assert.equal(r2.status, 3, r2.stderr);
    assert.match(r2.stderr, /counted 99999 bytes/);
  } finally {
    bad.close();
  }
});

const wrk = hasWrk();
for (const c of HTTP) {
  test(`${c.label}: answers hello world over keep-alive${wrk ? ' and under wrk' : ''}`, { skip: c.skip, timeout: 60_000 }, async () => {
    await withServer({ impl: c.impl, kind: 'http' }, async (srv) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const sockets = new Set<unknown>();
      for (let i = 0; i < 3; i++) {
        const { status, body, socket } = await new Promise<{ status: number; body: string; socket: unknown }>((resolve, reject) => {
          http.get({ host: '127.0.0.1', port: srv.port, path: '/', agent }, (res) => {
            let body = '';
            res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode!, body, socket: res.socket })).on('error', reject);
          }).on('error', reject);
        });
        assert.equal(status, 200);
        assert.equal(body, 'hello world\n');
        sockets.add(socket);
      }
      assert.equal(sockets.size, 1, 'keep-alive: the three requests should share one connection');
      agent.destroy();
      if (!wrk) {
        console.log('# wrk part skipped: wrk is not installed (apt-get install wrk)');
        return;
      }
      const r = runWrk(`http://127.0.0.1:${srv.port}/`, { connections: 10, seconds: 1, loadgen: bins.loadgen });
      assert.ok(r.requests > 0 && r.requestsPerSec > 0);
    });
  });
}
