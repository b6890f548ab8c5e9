/**
 * The short form of the adversarial suite (npm run torture runs it longer):
 * every case in its own child process; a crash or a hang fails the case
 * with that word.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { cases } from './cases.js';
import { runCases } from './run.js';
import { ROOT } from '../helpers.js';

const names = Object.keys(cases);
// Started together (two children at a time); each test awaits its own case.
const outcomes = runCases(names, 0, 90_000, 2);

for (const [i, name] of names.entries()) {
  test(`torture: ${name}`, async () => {
    const outcome = (await outcomes)[i];
    assert.equal(outcome.status, 'ok', `${name} ${outcome.status}: ${outcome.detail}`);
  });
}

test('npm run memcheck\'s own scenario runs (here without valgrind, so a broken script is seen in every run)', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'test', 'tools', 'memcheck-scenario.js')], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /memcheck scenario done/);
});
