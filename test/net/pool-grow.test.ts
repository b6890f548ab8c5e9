/**
 * The provided-buffer ring growing under load: it starts with 4 buffers of
 * 4 KiB in a ring with room for 256 (configure(), before the first socket
 * of this process); 32 connections streaming at once find it empty
 * (-ENOBUFS), and it doubles until the burst fits — every byte still comes
 * back, in order. (pool.test.ts: the same burst through a ring that may not
 * grow.)
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import nodeNet from 'node:net';
import { test } from 'node:test';
import net, { backend, configure } from '../../src/net/index.js';
import { existingRuntime } from '../../src/net/runtime.js';
import { exitWhenDone } from './util.js';

exitWhenDone();

// A ring that starts with 4 buffers and may grow to 256.
configure({ recvBuffers: 4, recvBuffersMax: 256, recvBufferSize: 4096, copyThreshold: 1024 });
const info = await backend();
const skip = info.name !== 'io_uring' && `uring/net is node:net here: ${info.reason}`;

test('a ring that runs dry grows (doubling, up to its room) and loses no byte: 32 connections x 512 KiB from 4 buffers of 4 KiB', { skip, timeout: 30_000 }, async () => {
  const server = net.createServer((s) => {
    s.on('data', (d) => s.write(d));
    s.on('end', () => s.end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as nodeNet.AddressInfo).port;
  const per = 512 * 1024;
  const results = await Promise.all(
    Array.from({ length: 32 }, async () => {
      const data = randomBytes(per);
      const c = nodeNet.connect(port, '127.0.0.1');
      await once(c, 'connect');
      const h = createHash('sha256');
      let got = 0;
      const done = new Promise<void>((resolve, reject) => {
        c.on('data', (d) => {
          h.update(d);
          got += d.length;
        });
        c.on('end', resolve);
        c.on('error', reject);
      });
      for (let off = 0; off < per; off += 8192) if (!c.write(data.subarray(off, off + 8192))) await once(c, 'drain');
      c.end();
      await done;
      return { got, same: h.digest('hex') === createHash('sha256').update(data).digest('hex') };
    }),
  );
  for (const r of results) {
    assert.equal(r.got, per);
    assert.ok(r.same, 'the echo differs from what was sent');
  }
  const rt = existingRuntime()!;
  const pool = rt.pool!;
  assert.ok(pool.stats.grown > 0 && pool.count > 4 && pool.count <= 256, `the pool grew: ${pool.count} buffers, ${pool.stats.grown} times`);
  assert.ok((pool.count & (pool.count - 1)) === 0, 'by doubling');
  assert.ok(rt.stats.enobufs > 0, `the ring never ran dry (stats ${JSON.stringify(rt.stats)})`);
  assert.ok(pool.stats.copied > 0 && pool.stats.handedOver > 0, `both copy and hand-over paths ran (${JSON.stringify(pool.stats)})`);
  if (pool.incremental) assert.ok(pool.stats.reused + pool.stats.replaced > 0);
  if (rt.features.bundle) assert.ok(pool.stats.bundles > 0, `no receive spanned buffers (${JSON.stringify(pool.stats)})`);
  await new Promise((r) => server.close(r));
});
