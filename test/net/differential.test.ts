/**
 * The same scripts on node:net and on uring/net (test/net/scenarios.ts):
 * event order per object, bytes, error fields (code, errno, syscall,
 * address, port, message), half-close with and without allowHalfOpen,
 * ECONNREFUSED/EADDRINUSE/ENOENT/ECONNRESET/EPIPE, listen() forms and
 * address(), timeouts, backpressure, server.close() with connections open.
 * The logs must be identical.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import nodeNet from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import uringNet, { backend } from '../../src/net/index.js';
import { tempDir } from '../helpers.js';
import { type Log, type Net, scenarios } from './scenarios.js';

const info = await backend();
const dir = tempDir('uring-net-diff-');

async function run(net: Net, name: string, which: string): Promise<Log> {
  const sub = path.join(dir, `${name}-${which}`);
  fs.mkdirSync(sub);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name} on ${which} did not finish within 10 s`)), 10_000);
  });
  try {
    return await Promise.race([scenarios[name](net, { dir: sub, real: nodeNet }), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

test('uring/net runs on io_uring here (else this file compares node:net with itself)', () => {
  assert.equal(info.name, 'io_uring', `backend: ${JSON.stringify(info)}`);
});

for (const name of Object.keys(scenarios)) {
  test(`same as node:net: ${name}`, { skip: info.name !== 'io_uring' && `uring/net is node:net here: ${info.reason}` }, async () => {
    const expected = await run(nodeNet as unknown as Net, name, 'node');
    const actual = await run(uringNet as unknown as Net, name, 'uring');
    assert.deepStrictEqual(actual, expected);
  });
}
