/**
 * Child of fallback.test.ts, run under a given URING_BACKEND /
 * URING_NET_DISABLE / seccomp filter: reports the backend, runs a byte-exact
 * echo of 16 connections x 256 KiB (random data) through a uring/net server
 * with uring/net and node:net clients, and three differential scripts
 * against node:net. Prints one JSON line.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import nodeNet from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import net, { backend } from '../../src/net/index.js';
import { type Net, scenarios } from './scenarios.js';

const info = await backend();
const server = net.createServer((s) => {
  s.on('data', (d) => s.write(d));
  s.on('end', () => s.end());
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const port = (server.address() as nodeNet.AddressInfo).port;
const echoes = await Promise.all(
  Array.from({ length: 16 }, async (_, i) => {
    const data = randomBytes(256 * 1024);
    const c = (i % 2 ? net : nodeNet).connect(port, '127.0.0.1');
    await once(c, 'connect');
    const h = createHash('sha256');
    const done = new Promise<void>((resolve) => c.on('end', resolve));
    c.on('data', (d) => h.update(d));
    c.end(data);
    await done;
    return h.digest('hex') === createHash('sha256').update(data).digest('hex');
  }),
);
await new Promise((r) => server.close(r));
const diffs: Record<string, boolean> = {};
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uring-fallback-'));
for (const name of ['echoAndClose', 'halfOpen', 'connectRefused', 'addressInUse']) {
  const a = await scenarios[name](nodeNet as unknown as Net, { dir: fs.mkdtempSync(path.join(dir, 'n')), real: nodeNet });
  const b = await scenarios[name](net as unknown as Net, { dir: fs.mkdtempSync(path.join(dir, 'u')), real: nodeNet });
  diffs[name] = isDeepStrictEqual(a, b);
}
fs.rmSync(dir, { recursive: true, force: true });
const sample = net.createServer();
process.stdout.write(`${JSON.stringify({
  backend: info.name, reason: info.reason ?? null, features: info.features ?? null,
  echoOk: echoes.every(Boolean), diffs,
  isNodeServer: sample instanceof nodeNet.Server && Object.getPrototypeOf(sample) === nodeNet.Server.prototype,
  socketInstanceOf: new net.Socket() instanceof net.Socket,
})}\n`);
process.exit(0);
