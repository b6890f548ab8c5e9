/**
 * The echo and bulk servers of the net benchmark on a node:net-shaped module:
 * `--net node` runs them on node:net, `--net uring` on uring/net; the module
 * is the only thing that differs.
 *
 *   node dist/bench/net/echo-server.js --net node|uring [--mode echo|bulk]
 *        [--host 127.0.0.1|::1] [--port 0] [--lifetime 600]
 *
 * echo: the handler uring/net is measured with,
 *   createServer(socket => socket.on('data', d => socket.write(d)))
 * plus TCP_NODELAY (as the C server does: no Nagle delay on partial echoes)
 * and an 'error' listener (a peer that resets must not end the server).
 * bulk: the protocol of bench/net/README.md (16-byte header, upload counted
 * and acknowledged with 8 bytes, download of the i % 251 pattern with
 * backpressure through write()'s return value and 'drain', then end()).
 *
 * Prints {"ready":true,"port":P,"family":F} once listening. Exits when its
 * stdin (a pipe or socket: the harness's) ends, after --lifetime seconds in any case, and with
 * code 77 when the module asked for does not exist.
 */
import fs from 'node:fs';
import type { Socket } from 'node:net';
import { EXIT_SKIP, loadNet, type NetModuleId } from './harness.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const which = opt('--net', 'node') as NetModuleId;
const mode = opt('--mode', 'echo');
const host = opt('--host', '127.0.0.1');
const port = Number(opt('--port', '0'));
const lifetime = Number(opt('--lifetime', '600'));
if (which !== 'node' && which !== 'uring') throw new Error(`--net must be node or uring, not ${which}`);
if (mode !== 'echo' && mode !== 'bulk') throw new Error(`--mode must be echo or bulk, not ${mode}`);

setTimeout(() => process.exit(0), lifetime * 1000).unref();
const stdin = fs.fstatSync(0);
if (stdin.isFIFO() || stdin.isSocket()) {
  // The harness ends us by closing our stdin; if it dies, the pipe closes too.
  process.stdin.on('end', () => process.exit(0)).on('error', () => process.exit(0)).resume();
}

let net: typeof import('node:net');
try {
  net = await loadNet(which);
} catch (e) {
  if ((e as { code?: string }).code === 'URING_NET_MISSING') {
    process.stderr.write(`skip: ${(e as Error).message}\n`);
    process.exit(EXIT_SKIP);
  }
  throw e;
}

/** One chunk of the download pattern: a whole number of periods, so every chunk starts at phase 0. */
const PERIOD = 251;
const CHUNK = Buffer.alloc(PERIOD * 1024);
for (let i = 0; i < CHUNK.length; i++) CHUNK[i] = i % PERIOD;

function echo(socket: Socket): void {
  socket.setNoDelay(true);
  socket.on('error', () => socket.destroy());
  socket.on('data', (d) => socket.write(d));
}

function bulk(socket: Socket): void {
  socket.on('error', () => socket.destroy());
  const header = Buffer.alloc(16);
  let headerGot = 0;
  let upTotal = 0;
  let upGot = 0;
  let left = 0;
  let started = false;
  const pump = (): void => {
    while (left > 0) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      if (!socket.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
        socket.once('drain', pump);
        return;
      }
    }
    socket.end();
  };
  socket.on('data', (d: Buffer) => {
    let off = 0;
    if (headerGot < 16) {
      off = Math.min(16 - headerGot, d.length);
      d.copy(header, headerGot, 0, off);
      headerGot += off;
      if (headerGot < 16) return;
      upTotal = Number(header.readBigUInt64LE(0));
      left = Number(header.readBigUInt64LE(8));
    }
    upGot += d.length - off;
    if (upGot > upTotal) {
      socket.destroy(); // more than announced: not our protocol
      return;
    }
    if (upGot === upTotal && !started) {
      started = true;
      const ack = Buffer.alloc(8);
      ack.writeBigUInt64LE(BigInt(upGot));
      socket.write(ack);
      pump();
    }
  });
}

const server = net.createServer(mode === 'echo' ? echo : bulk);
server.on('error', (e) => {
  process.stderr.write(`server error: ${e.stack ?? e}\n`);
  process.exit(1);
});
// Backlog above the 1,000 connections of the largest echo shape, so the kernel never drops their SYNs.
server.listen({ port, host, backlog: 2048 }, () => {
  const a = server.address();
  if (!a || typeof a === 'string') throw new Error(`unexpected address ${String(a)}`);
  process.stdout.write(`${JSON.stringify({ ready: true, port: a.port, family: a.family })}\n`);
});
