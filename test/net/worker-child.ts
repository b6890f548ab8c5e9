/**
 * Worker of workers.test.ts. mode 'reuseport': listens on workerData.port
 * with reusePort and answers each connection with its id. mode 'busy': opens
 * a uring/net server, connections to it and to the parent's server, keeps
 * bytes flowing on all of them, then ends as told: 'exit' (process.exit
 * inside the worker) or 'wait' (the parent terminates it).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type * as NodeNet from 'node:net';
import net from '../../src/net/index.js';

const data = workerData as { mode: 'reuseport' | 'busy'; id: number; port: number; end?: 'exit' | 'wait'; conns?: number };

if (data.mode === 'reuseport') {
  const server = net.createServer((s) => {
    s.end(`worker ${data.id}\n`);
    s.on('error', () => {});
  });
  server.listen({ port: data.port, host: '127.0.0.1', reusePort: true }, () => parentPort!.postMessage({ listening: true }));
  parentPort!.on('message', (m) => {
    if (m === 'close') server.close(() => parentPort!.postMessage({ closed: true }));
  });
} else {
  const chunk = Buffer.alloc(64 * 1024, 3);
  const pump = (s: NodeNet.Socket): void => {
    const go = (): void => {
      while (!s.destroyed && s.write(chunk));
      if (!s.destroyed) s.once('drain', go);
    };
    go();
  };
  const local = net.createServer((s) => {
    s.on('error', () => {});
    s.resume();
    pump(s);
  });
  local.listen(0, '127.0.0.1', () => {
    const port = (local.address() as NodeNet.AddressInfo).port;
    let ready = 0;
    const n = data.conns ?? 20;
    const onReady = (): void => {
      if (++ready < 2 * n) return;
      parentPort!.postMessage({ ready: true });
      // Let data flow for a moment, then end as told.
      if (data.end === 'exit') setTimeout(() => process.exit(0), 50);
    };
    for (let i = 0; i < n; i++) {
      const c = net.connect(port, '127.0.0.1', onReady);
      c.on('error', () => {});
      c.resume();
      pump(c);
      const p = net.connect(data.port, '127.0.0.1', onReady);
      p.on('error', () => {});
      p.resume();
      pump(p);
    }
  });
}
