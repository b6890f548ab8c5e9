/**
 * The provided-buffer ring growing under load: it starts with 4 buffers of
 * 4 KiB in a ring with room for 256 (configure(), before the first socket
 * of this process); 32 connections streaming at once find it empty
 * (-ENOBUFS), and it doubles until the burst fits — every byte still comes
 * back, in order. (pool.test.ts: the same burst through a ring that may not
 * grow.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import net, { backend, configure } from '../../src/net/index.js';
import { echoBurstLosesNoByte, exitWhenDone } from './util.js';

exitWhenDone();

// A ring that starts with 4 buffers and may grow to 256.
configure({ recvBuffers: 4, recvBuffersMax: 256, recvBufferSize: 4096, copyThreshold: 1024 });
const info = await backend();
const skip = info.name !== 'io_uring' && `uring/net is node:net here: ${info.reason}`;

test('a ring that runs dry grows (doubling, up to its room) and loses no byte: 32 connections x 512 KiB from 4 buffers of 4 KiB', { skip, timeout: 30_000 }, async () => {
  const pool = await echoBurstLosesNoByte(net);
  assert.ok(pool.stats.grown > 0 && pool.count > 4 && pool.count <= 256, `the pool grew: ${pool.count} buffers, ${pool.stats.grown} times`);
  assert.ok((pool.count & (pool.count - 1)) === 0, 'by doubling');
});
