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
import { exitWhenDone } from './util.js';

exitWhenDone();

const info = await backend();
const dir = tempDir('uring-net-diff-');

/**
 * The module as a scenario sees it, recording every server and socket it
 * makes, so that a script that fails or hangs (a broken build) leaves
 * nothing open: the file then ends and reports instead of waiting forever.
 */
function isServer(x: nodeNet.Server | nodeNet.Socket): x is nodeNet.Server {
  return typeof (x as unknown as { listen?: unknown }).listen === 'function';
}

function recording(net: Net): { net: Net; cleanup(): void } {
  const made: (nodeNet.Server | nodeNet.Socket)[] = [];
  const keep = <T extends nodeNet.Server | nodeNet.Socket>(x: T): T => {
    made.push(x);
    if (isServer(x)) x.on('connection', (s: nodeNet.Socket) => made.push(s));
    return x;
  };
  const wrapped = Object.create(net) as Net;
  Object.assign(wrapped, {
    createServer: (...a: unknown[]) => keep((net.createServer as (...x: unknown[]) => nodeNet.Server)(...a)),
    connect: (...a: unknown[]) => keep((net.connect as (...x: unknown[]) => nodeNet.Socket)(...a)),
    createConnection: (...a: unknown[]) => keep((net.createConnection as (...x: unknown[]) => nodeNet.Socket)(...a)),
  });
  return {
    net: wrapped,
    cleanup() {
      for (const x of made) {
        if (isServer(x)) {
          if (x.listening) x.close();
        } else if (!x.destroyed) x.destroy();
      }
    },
  };
}

async function run(net: Net, name: string, which: string): Promise<Log> {
  const sub = path.join(dir, `${name}-${which}`);
  fs.mkdirSync(sub);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name} on ${which} did not finish within 10 s`)), 10_000);
  });
  const rec = recording(net);
  try {
    // A copy: listeners still attached must not change the log after the script returned.
    return structuredClone(await Promise.race([scenarios[name](rec.net, { dir: sub, real: nodeNet }), timeout]));
  } finally {
    clearTimeout(timer);
    rec.cleanup();
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
