/**
 * The fs facade against node:fs/promises: the same sequence of calls runs
 * through both on twin trees and must give the same results and the same
 * errors (code, syscall, errno). Then the same facade on the node:fs
 * fallback, in a child where io_uring is unavailable.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import * as ufs from '../../src/fs/index.js';
import { normalise, pickStats, scenario } from './scenario-runner.js';
import { distUrl, hasCommand, NOBODY, runChild, seccompHelper, tempDir } from '../helpers.js';

type Api = typeof fsp;

test('differential: the facade and node:fs/promises agree step by step', async () => {
  assert.equal((await ufs.backend()).name, 'io_uring');
  const a = tempDir();
  const b = tempDir();
  const expected = await scenario(fsp, a);
  const actual = await scenario(ufs as unknown as Api, b);
  // inode, dev and times differ between twin trees: compare them as shapes.
  assert.deepEqual(normalise(actual), normalise(expected));
  assert.ok(expected.length >= 45);
});

test('stat results equal node:fs field for field on the same file', async () => {
  const file = path.join(tempDir(), 'same');
  fs.writeFileSync(file, 'x'.repeat(12345));
  assert.deepEqual(pickStats(await ufs.stat(file)), pickStats(await fsp.stat(file)));
  assert.deepEqual(pickStats(await ufs.lstat('/proc/self')), pickStats(await fsp.lstat('/proc/self')));
});

test('EACCES as a non-root user, same as node:fs', { skip: process.getuid?.() !== 0 && 'needs root to drop privileges' }, () => {
  const dir = tempDir();
  fs.chmodSync(dir, 0o755);
  const secret = path.join(dir, 'secret');
  fs.writeFileSync(secret, 'root only', { mode: 0o600 });
  const r = runChild(`
    import fsp from 'node:fs/promises';
    import * as ufs from ${JSON.stringify(distUrl('fs/index.js'))};
    const codes = async (fn) => { try { await fn(); return 'ok'; } catch (e) { return e.code + ':' + e.syscall; } };
    const out = {
      backend: (await ufs.backend()).name,
      ours: [await codes(() => ufs.readFile(${JSON.stringify(secret)})), await codes(() => ufs.writeFile(${JSON.stringify(path.join(dir, 'new'))}, 'x'))],
      node: [await codes(() => fsp.readFile(${JSON.stringify(secret)})), await codes(() => fsp.writeFile(${JSON.stringify(path.join(dir, 'new'))}, 'x'))],
    };
    console.log(JSON.stringify(out));
  `, { prefix: ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'] });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.json.backend, 'io_uring');
  assert.deepEqual(r.json.ours, r.json.node);
  assert.deepEqual(r.json.ours, ['EACCES:open', 'EACCES:open']);
});

test('fallback: where io_uring_setup fails (seccomp) the facade runs on node:fs with the same results', { skip: !hasCommand('cc') && 'no C compiler to build the seccomp helper (install gcc)' }, () => {
  const a = tempDir();
  const b = tempDir();
  // A seccomp filter makes io_uring_setup fail with ENOSYS, as container runtimes do.
  const script = `
    import fsp from 'node:fs/promises';
    import * as ufs from ${JSON.stringify(distUrl('fs/index.js'))};
    const { scenarioSource } = await import(${JSON.stringify(new URL('./scenario-runner.js', import.meta.url).href)});
    const info = await ufs.backend();
    const ours = await scenarioSource(ufs, ${JSON.stringify(b)});
    const theirs = await scenarioSource(fsp, ${JSON.stringify(a)});
    console.log(JSON.stringify({ name: info.name, reason: info.reason, same: JSON.stringify(ours) === JSON.stringify(theirs), steps: ours.length }));
  `;
  const helper = seccompHelper();
  if (!helper) return;
  const r = runChild(script, { prefix: [helper] });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.equal(r.json.name, 'node:fs');
  assert.match(r.json.reason, /ENOSYS|EPERM/);
  assert.equal(r.json.same, true);
  assert.ok(r.json.steps >= 45);
});

test('fallback forced by URING_BACKEND=node reports why', () => {
  const r = runChild(`
    import * as ufs from ${JSON.stringify(distUrl('fs/index.js'))};
    const b = await ufs.backend();
    await ufs.writeFile(${JSON.stringify(path.join(tempDir(), 'f'))}, 'x');
    console.log(JSON.stringify(b));
  `, { env: { URING_BACKEND: 'node' } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.json.name, 'node:fs');
  assert.match(r.json.reason, /URING_BACKEND=node/);
});

