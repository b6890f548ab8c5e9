/**
 * uring/net's fallbacks. Each optional kernel feature switched off by
 * URING_NET_DISABLE in turn (and all at once): the io_uring backend still
 * echoes every byte and matches node:net. URING_BACKEND=node, and io_uring
 * denied by a seccomp filter (as Docker's default profile does): uring/net
 * is node:net, says why, and works.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backend } from '../../src/net/index.js';
import { OPTIONAL_FEATURES } from '../../src/net/runtime.js';
import { runChild, seccompHelper } from '../helpers.js';
import { exitWhenDone } from './util.js';

exitWhenDone();

const info = await backend();
const child = new URL('./fallback-child.js', import.meta.url).href;
const script = `await import(${JSON.stringify(child)});`;

function run(env: NodeJS.ProcessEnv, prefix?: string[]): any {
  const r = runChild(script, { env, prefix, timeout: 60_000 });
  assert.equal(r.status, 0, `child failed (${r.status}): ${r.stderr}`);
  return r.json;
}

const variants: [string, string][] = [...OPTIONAL_FEATURES.map((f) => [f, f] as [string, string]), ['everything optional', OPTIONAL_FEATURES.join(',')]];
for (const [name, off] of variants) {
  test(`without ${name}: same bytes, same behaviour as node:net`, { skip: info.name !== 'io_uring' && `uring/net is node:net here: ${info.reason}`, timeout: 60_000 }, () => {
    const out = run({ URING_NET_DISABLE: off, URING_BACKEND: '' });
    assert.equal(out.backend, 'io_uring');
    for (const f of off.split(',')) assert.notEqual(out.features[f], true, `${f} still on: ${JSON.stringify(out.features)}`);
    assert.equal(out.echoOk, true, 'echo bytes differ');
    assert.deepEqual(out.diffs, { echoAndClose: true, halfOpen: true, connectRefused: true, addressInUse: true });
  });
}

test('URING_BACKEND=node: uring/net is node:net, with the reason', { timeout: 60_000 }, () => {
  const out = run({ URING_BACKEND: 'node', URING_NET_DISABLE: '' });
  assert.equal(out.backend, 'node:net');
  assert.match(out.reason, /URING_BACKEND=node/);
  assert.equal(out.isNodeServer, true);
  assert.equal(out.socketInstanceOf, true);
  assert.equal(out.echoOk, true);
});

const seccomp = seccompHelper();
test('io_uring denied by seccomp (EPERM): uring/net is node:net, the reason names it, everything works', { skip: !seccomp && 'no C compiler for the seccomp helper', timeout: 60_000 }, () => {
  const out = run({ URING_BACKEND: '', URING_NET_DISABLE: '' }, [seccomp!]);
  assert.equal(out.backend, 'node:net');
  assert.match(out.reason, /EPERM|seccomp|denied|not permitted/i);
  assert.equal(out.isNodeServer, true);
  assert.equal(out.echoOk, true);
  assert.deepEqual(out.diffs, { echoAndClose: true, halfOpen: true, connectRefused: true, addressInUse: true });
});
