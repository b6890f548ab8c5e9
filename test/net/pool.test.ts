/**
 * The provided-buffer ring running dry under load. The pool is shrunk to 4
 * buffers of 4 KiB (configure(), before the first socket of this process),
 * and 32 connections stream random bytes through an echo server at once:
 * receives meet an empty ring (-ENOBUFS, counted), bundles span buffers,
 * incremental buffers are shared by sockets, small chunks are copied and
 * large ones handed over — and every byte comes back, in order.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import net, { backend, configure } from '../../src/net/index.js';
import { echoBurstLosesNoByte, exitWhenDone } from './util.js';

exitWhenDone();

// A ring of 4 that may not grow: the empty-ring path, under load.
configure({ recvBuffers: 4, recvBuffersMax: 4, recvBufferSize: 4096, copyThreshold: 1024 });
const info = await backend();
const skip = info.name !== 'io_uring' && `uring/net is node:net here: ${info.reason}`;

test('an exhausted buffer ring loses no byte: 32 connections x 512 KiB through 4 buffers of 4 KiB', { skip, timeout: 30_000 }, async () => {
  const pool = await echoBurstLosesNoByte(net);
  assert.equal(pool.count, 4);
  assert.equal(pool.stats.grown, 0);
});
