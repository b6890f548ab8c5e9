/** Shared by the net tests. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import nodeNet from 'node:net';
import { after } from 'node:test';
import type net from '../../src/net/index.js';
import { existingRuntime, type RecvPool } from '../../src/net/runtime.js';

/**
 * Once the file's tests are done, a process still held open by something a
 * failed test left behind (a listening server, an op in flight) exits after
 * 5 s instead of hanging the suite; a clean run exits on its own before that
 * (the timer is unreferenced).
 */
export function exitWhenDone(): void {
  after(() => {
    setTimeout(() => {
      console.error('# net test: handles were left open by a failed test; exiting');
      process.exit(1);
    }, 5000).unref();
  });
}

/**
 * 32 node:net clients stream 512 KiB of random bytes each, at once, through
 * an echo server of `uringNet`, and every byte must come back in order; then
 * the checks that hold for any pool under such a burst: receives met an empty
 * ring (-ENOBUFS), both the copy and the hand-over paths ran, incremental
 * buffers were reused, bundles spanned buffers. Returns the receive pool for
 * the caller's own checks (its size, whether it grew).
 */
export async function echoBurstLosesNoByte(uringNet: typeof net): Promise<RecvPool> {
  const server = uringNet.createServer((s) => {
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
  await new Promise((r) => server.close(r));
  for (const r of results) {
    assert.equal(r.got, per);
    assert.ok(r.same, 'the echo differs from what was sent');
  }
  const rt = existingRuntime()!;
  const pool = rt.pool!;
  assert.ok(rt.stats.enobufs > 0, `the ring never ran dry (stats ${JSON.stringify(rt.stats)})`);
  assert.ok(pool.stats.copied > 0 && pool.stats.handedOver > 0, `both copy and hand-over paths ran (${JSON.stringify(pool.stats)})`);
  if (pool.incremental) assert.ok(pool.stats.reused + pool.stats.replaced > 0);
  if (rt.features.bundle) assert.ok(pool.stats.bundles > 0, `no receive spanned buffers (${JSON.stringify(pool.stats)})`);
  return pool;
}
