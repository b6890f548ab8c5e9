/**
 * Child of idle.test.ts: a server (uring/net or node:net, by argv[2]) that
 * accepts connections and echoes, and answers the parent's questions on
 * stdin/stdout as JSON lines: its RSS and heap after a full GC, how many
 * connections it holds, its open fds and (uring/net) the driver's ops in
 * flight.
 */
import fs from 'node:fs';
import type * as NodeNet from 'node:net';
import readline from 'node:readline';

const which = process.argv[2];
const net: typeof NodeNet = which === 'uring' ? ((await import('../../src/net/index.js')).default as unknown as typeof NodeNet) : await import('node:net');
const driver = which === 'uring' ? (await import('../../src/driver/index.js')).io().driver : null;

let connections = 0;
const server = net.createServer((s) => {
  connections++;
  s.on('data', (d) => s.write(d));
  s.on('error', () => {});
  s.on('close', () => connections--);
});

function measure(): Record<string, number> {
  (globalThis as { gc?: () => void }).gc?.();
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    external: m.external + m.arrayBuffers,
    connections,
    fds: fs.readdirSync('/proc/self/fd').length,
    ops: driver ? driver.pending : -1,
  };
}

server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as NodeNet.AddressInfo).port, ...measure() })}\n`);
});
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'measure') process.stdout.write(`${JSON.stringify(measure())}\n`);
  if (line === 'exit') process.exit(0);
});
process.stdin.on('end', () => process.exit(0));
