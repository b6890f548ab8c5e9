/**
 * node:http hello-world for the net benchmark's HTTP workload.
 *
 *   node dist/bench/net/http-server.js --net node|node-emit|uring
 *        [--host 127.0.0.1] [--port 0] [--lifetime 600]
 *
 * node       http.createServer(handler).listen(): node:http as everyone runs it
 * uring      the same http.Server fed by uring/net, the recipe of issue 13:
 *              const server = http.createServer(handler);
 *              net.createServer((socket) => server.emit('connection', socket)).listen(port);
 * node-emit  that recipe with node:net, so the cost of the recipe itself is
 *            visible apart from the cost of the module
 *
 * In the recipe the sockets get TCP_NODELAY by hand: http.Server sets it only
 * on connections its own listener accepts (its noDelay option, on by default).
 * Prints {"ready":true,"port":P,"family":F}; exits like echo-server.js.
 */
import fs from 'node:fs';
import http from 'node:http';
import { EXIT_SKIP, loadNet } from './harness.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const which = opt('--net', 'node');
const host = opt('--host', '127.0.0.1');
const port = Number(opt('--port', '0'));
const lifetime = Number(opt('--lifetime', '600'));
if (!['node', 'node-emit', 'uring'].includes(which)) throw new Error(`--net must be node, node-emit or uring, not ${which}`);

setTimeout(() => process.exit(0), lifetime * 1000).unref();
const stdin = fs.fstatSync(0);
if (stdin.isFIFO() || stdin.isSocket()) process.stdin.on('end', () => process.exit(0)).on('error', () => process.exit(0)).resume();

const body = Buffer.from('hello world\n');
const handler = (_req: http.IncomingMessage, res: http.ServerResponse): void => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
};

const server = http.createServer(handler);
let listener: import('node:net').Server = server;
if (which !== 'node') {
  let net: typeof import('node:net');
  try {
    net = await loadNet(which === 'uring' ? 'uring' : 'node');
  } catch (e) {
    if ((e as { code?: string }).code === 'URING_NET_MISSING') {
      process.stderr.write(`skip: ${(e as Error).message}\n`);
      process.exit(EXIT_SKIP);
    }
    throw e;
  }
  listener = net.createServer((socket) => {
    socket.setNoDelay(true);
    server.emit('connection', socket);
  });
}
listener.on('error', (e: Error) => {
  process.stderr.write(`server error: ${e.stack ?? e}\n`);
  process.exit(1);
});
listener.listen({ port, host, backlog: 2048 }, () => {
  const a = listener.address();
  if (!a || typeof a === 'string') throw new Error(`unexpected address ${String(a)}`);
  process.stdout.write(`${JSON.stringify({ ready: true, port: a.port, family: a.family })}\n`);
});
