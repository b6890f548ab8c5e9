/**
 * The `uring` CLI run as a user runs it: exit codes (shape errors are not
 * machine failures), one-line usage errors, the doctor under a seccomp
 * filter, and the README's doctor command answering in under a second.
 * Only the command is used, so these run against any build of the CLI.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { test } from 'node:test';
import { hasCommand, seccompHelper } from '../helpers.js';
import { cacheHome, CLI, run } from './util.js';

test('uring doctor under a seccomp filter that blocks io_uring: NOT USABLE, exit 1', { skip: !hasCommand('cc') && 'no C compiler for the seccomp helper' }, () => {
  const helper = seccompHelper();
  assert.ok(helper);
  const human = spawnSync(helper, [process.execPath, CLI, 'doctor', '--quick'], { encoding: 'utf8' });
  assert.equal(human.status, 1, 'exit 1: io_uring cannot be used');
  assert.match(human.stdout.split('\n')[0], /^io_uring: NOT USABLE — EPERM/);
  assert.match(human.stdout, /seccomp\s+filter \(1\)/);
});

test('uring doctor: shape errors exit 3 and say io_uring works; out-of-range numbers are usage errors (exit 2, one line)', async () => {
  const cli = (...args: string[]) => run(process.execPath, [CLI, 'doctor', ...args]);
  const [zero, big, mixed, cq, huge, neg, word, bogus] = await Promise.all([
    cli('--entries', '0', '--quick'), cli('--entries', '65536', '--quick'), cli('--flag', 'sqe_mixed', '--quick'),
    cli('--entries', '8', '--cq-entries', '2', '--json', '--quick'), cli('--entries', '99999999999'), cli('--entries', '-1'),
    cli('--cq-entries', 'x'), cli('--flag', 'bogus'),
  ]);
  for (const [r, rule] of [[zero, /entries is 0/], [big, /entries 65536 is above IORING_MAX_ENTRIES \(32768\)/], [mixed, /IORING_SETUP_SQE_MIXED \(Linux 6\.19\+\) is newer than this kernel/]] as const) {
    assert.equal(r.status, 3, r.stdout + r.stderr);
    assert.match(r.stdout.split('\n')[0], /^io_uring: WORKS, but the requested shape is invalid — EINVAL: /);
    assert.match(r.stdout.split('\n')[0], rule);
    assert.match(r.stdout.split('\n')[0], /A ring of \d+ entries can be created/);
    assert.doesNotMatch(r.stdout, /NOT USABLE|node:fs/);
  }
  assert.equal(cq.status, 3);
  assert.equal(cq.json.status, 'invalid-shape');
  assert.equal(cq.json.setup.diagnosis.kind, 'shape');
  for (const [r, msg] of [[huge, /^uring: --entries 99999999999: out of range, must be from 0 to 4294967295/], [neg, /^uring: --entries -1: not a non-negative integer/], [word, /^uring: --cq-entries x: not a non-negative integer/], [bogus, /^uring: unknown setup flag 'bogus'/]] as const) {
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`);
    assert.match(r.stderr, msg);
  }
  const probe = await run(process.execPath, [CLI, 'probe', '--json']);
  assert.equal(probe.status, 0);
  assert.ok(probe.json.opcodes.includes('IORING_OP_NOP'));
  assert.ok(probe.json.features.includes('nodrop'));
});

test('the README\'s doctor command answers in under a second, from a fresh cache (it measures) and from the cached answer', async () => {
  const readme = fs.readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const line = readme.split('\n').find((l) => /^node bin\/uring\.js doctor\b/.test(l));
  assert.ok(line, 'the README shows `node bin/uring.js doctor` (npx would first install the checkout into its cache)');
  const env = { XDG_CACHE_HOME: cacheHome(process.getuid?.() ?? 0) };
  const fresh = await run(process.execPath, [CLI, 'doctor'], { env });
  const cached = await run(process.execPath, [CLI, 'doctor'], { env });
  for (const r of [fresh, cached]) assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(fresh.stdout, /cached for this boot/);
  assert.match(cached.stdout, /cached for this boot/);
  console.log(`# doctor: ${fresh.ms.toFixed(0)} ms measuring, ${cached.ms.toFixed(0)} ms cached`);
  assert.ok(fresh.ms < 1000 && cached.ms < 1000, `fresh ${fresh.ms.toFixed(0)} ms, cached ${cached.ms.toFixed(0)} ms`);
});
