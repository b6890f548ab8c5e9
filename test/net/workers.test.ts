/**
 * uring/net in worker threads: each worker has its own ring, pool and
 * listener; listeners of several workers share a port with reusePort
 * (SO_REUSEPORT, the kernel spreads connections); a worker that exits or is
 * terminated with sockets open and bytes in flight takes its sockets with
 * it — the process does not crash, no fd is left (the peers of its sockets
 * see them close), and uring/net keeps working on the main thread.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import nodeNet from 'node:net';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import net, { backend } from '../../src/net/index.js';
import { exitWhenDone } from './util.js';

exitWhenDone();

const info = await backend();
const skip = info.name !== 'io_uring' && `uring/net is node:net here: ${info.reason}`;
const childUrl = new URL('./worker-child.js', import.meta.url);
const fds = (): number => fs.readdirSync('/proc/self/fd').length;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function message(w: Worker, key: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: Record<string, unknown>): void => {
      if (m && m[key]) {
        w.off('message', onMessage);
        resolve(m);
      }
    };
    w.on('message', onMessage);
    w.once('error', reject);
  });
}

test('workers each with their own listener on one port (reusePort): the kernel spreads connections over them', { skip, timeout: 30_000 }, async () => {
  // A port for all: taken with reusePort on the main thread, then handed over.
  const first = net.createServer();
  first.listen({ port: 0, host: '127.0.0.1', reusePort: true });
  await once(first, 'listening');
  const port = (first.address() as nodeNet.AddressInfo).port;
  const workers = [1, 2].map((id) => new Worker(childUrl, { workerData: { mode: 'reuseport', id, port } }));
  await Promise.all(workers.map((w) => message(w, 'listening')));
  await new Promise((r) => first.close(r));
  const seen = new Map<string, number>();
  for (let i = 0; i < 200; i += 20) {
    const replies = await Promise.all(
      Array.from({ length: 20 }, () =>
        new Promise<string>((resolve, reject) => {
          const c = nodeNet.connect(port, '127.0.0.1');
          let text = '';
          c.on('data', (d) => (text += d));
          c.on('end', () => resolve(text.trim()));
          c.on('error', reject);
        }),
      ),
    );
    for (const r of replies) seen.set(r, (seen.get(r) ?? 0) + 1);
  }
  assert.deepEqual([...seen.keys()].sort(), ['worker 1', 'worker 2'], `replies: ${JSON.stringify([...seen])}`);
  // A second listener without reusePort on that port is refused, as node:net reports it.
  const other = net.createServer();
  other.listen(port, '127.0.0.1');
  const [err] = await once(other, 'error');
  assert.equal((err as NodeJS.ErrnoException).code, 'EADDRINUSE');
  for (const w of workers) w.postMessage('close');
  await Promise.all(workers.map((w) => message(w, 'closed')));
  await Promise.all(workers.map((w) => w.terminate()));
});

for (const end of ['exit', 'terminate'] as const) {
  test(`a worker with open sockets and bytes in flight that ${end === 'exit' ? 'exits (process.exit)' : 'is terminated'}: no crash, no fd left, its peers see the close`, { skip, timeout: 30_000 }, async () => {
    const fd0 = fds();
    const peers = new Set<nodeNet.Socket>();
    let peerClosed = 0;
    const parentServer = nodeNet.createServer((s) => {
      peers.add(s);
      s.on('error', () => {});
      s.on('close', () => peerClosed++);
      s.resume();
      const chunk = Buffer.alloc(64 * 1024, 9);
      const go = (): void => {
        while (!s.destroyed && s.write(chunk));
        if (!s.destroyed) s.once('drain', go);
      };
      go();
    });
    parentServer.listen(0, '127.0.0.1');
    await once(parentServer, 'listening');
    const port = (parentServer.address() as nodeNet.AddressInfo).port;
    const conns = 20;
    const w = new Worker(childUrl, { workerData: { mode: 'busy', id: 1, port, end: end === 'exit' ? 'exit' : 'wait', conns } });
    const exited = once(w, 'exit');
    await message(w, 'ready');
    for (let i = 0; i < 200 && peers.size < conns; i++) await sleep(10);
    assert.equal(peers.size, conns);
    if (end === 'terminate') {
      await sleep(50);
      await w.terminate();
    }
    const [code] = await exited;
    assert.equal(code, end === 'exit' ? 0 : 1);
    // The worker's sockets are closed by its teardown: the peers here see every one of them end.
    const deadline = Date.now() + 10_000;
    while (peerClosed < conns && Date.now() < deadline) await sleep(20);
    assert.equal(peerClosed, conns, `${conns - peerClosed} of the worker's sockets were left open`);
    await new Promise((r) => parentServer.close(r));
    while (fds() > fd0 && Date.now() < deadline) await sleep(20);
    assert.ok(fds() <= fd0, `fds: ${fds()} now, ${fd0} before the worker`);
    // uring/net still works here.
    const s = net.createServer((sock) => sock.end('still here'));
    s.listen(0, '127.0.0.1');
    await once(s, 'listening');
    const c = nodeNet.connect((s.address() as nodeNet.AddressInfo).port, '127.0.0.1');
    let text = '';
    c.on('data', (d) => (text += d));
    await once(c, 'end');
    assert.equal(text, 'still here');
    await new Promise((r) => s.close(r));
  });
}
