/**
 * Setup diagnostics: every error produced for real where this kernel allows
 * (EINVAL, EMFILE, ENOMEM, EPERM via seccomp), injected where it does not
 * (io_uring_disabled, a kernel charging rings to RLIMIT_MEMLOCK), adaptive
 * setup, and the `uring` CLI run as a user runs it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { IORING_SETUP_SQE_MIXED, IORING_SETUP_SQPOLL } from '../../src/abi/index.js';
import {
  diagnose, diagnoseSetupFailure, type EnvironmentSource, liveSource, mlockSize, queueInitAdaptive,
  readEnvironment,
} from '../../src/diagnose/index.js';
import { PAGE_SIZE, queueInit, resolveOptions, ringMemorySize, UringError } from '../../src/ring/index.js';
import { distUrl, hasCommand, NOBODY, ROOT, runChild, seccompHelper } from '../helpers.js';

const CLI = path.join(ROOT, 'bin', 'uring.js');

function einval(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: UringError) => {
    assert.equal(e.code, 'EINVAL');
    assert.equal(e.syscall, 'io_uring_setup');
    assert.match(e.message, pattern);
    assert.ok(e.info && Array.isArray(e.info.fixes), 'structured fixes');
    return true;
  });
}

test('EINVAL, explained: entries 0, above the maximum, bad CQSIZE, SQ_AFF without SQPOLL, unknown flags', () => {
  einval(() => queueInit(0), /entries is 0/);
  einval(() => queueInit(40000), /entries 40000 is above IORING_MAX_ENTRIES \(32768\) and IORING_SETUP_CLAMP is not set/);
  einval(() => queueInit(8, { cqEntries: 2 }), /cq_entries 2 .* smaller than the SQ size 8/);
  einval(() => queueInit(8, { cqEntries: 0 }), /CQSIZE is set but cq_entries is 0/);
  einval(() => queueInit(8, { sqThreadCpu: 0 }), /SQ_AFF was specified, but IORING_SETUP_SQPOLL was not/);
  einval(() => queueInit(8, { flags: 1 << 29 }), /bits this library does not know/);
  einval(() => queueInit(8, { flags: IORING_SETUP_SQE_MIXED }), /does not support IORING_SETUP_SQE_MIXED/);
});

test('EMFILE, for real: a child out of file descriptors under a small RLIMIT_NOFILE', { skip: !hasCommand('prlimit', ['--version']) && 'prlimit (util-linux) missing' }, () => {
  const r = runChild(`
    import ${JSON.stringify(distUrl('diagnose/index.js'))};
    import { queueInit } from ${JSON.stringify(distUrl('ring/index.js'))};
    import fs from 'node:fs';
    const fds = [];
    try { for (;;) fds.push(fs.openSync('/dev/null', 'r')); } catch {}
    try { queueInit(8); console.log(JSON.stringify({ ok: true })); }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
  `, { prefix: ['prlimit', '--nofile=96:96'] });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.json.code, 'EMFILE');
  assert.match(r.json.message, /96 open file descriptors and RLIMIT_NOFILE is 96 \(hard 96\)/);
  assert.match(r.json.message, /ulimit -n/);
});

test('ENOMEM, for real: registered buffers beyond RLIMIT_MEMLOCK as a non-root user without CAP_IPC_LOCK', { skip: process.getuid?.() !== 0 && 'needs root to drop privileges' }, () => {
  const r = runChild(`
    import { queueInit, registerBuffers } from ${JSON.stringify(distUrl('ring/index.js'))};
    const ring = queueInit(8);
    let out;
    try { registerBuffers(ring, [Buffer.alloc(1 << 20)]); out = { ok: true }; }
    catch (e) { out = { code: e.code, message: e.message }; }
    // Pressure gone (smaller buffers): the ring still works.
    registerBuffers(ring, [Buffer.alloc(4096)]);
    out.recovered = true;
    console.log(JSON.stringify(out));
  `, { prefix: ['prlimit', '--memlock=65536:65536', 'setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--inh-caps=-all'] });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.json.code, 'ENOMEM');
  assert.match(r.json.message, /pinning 1048576 bytes .* RLIMIT_MEMLOCK \(65536 bytes\)/);
  assert.equal(r.json.recovered, true);
});

test('EPERM, for real: a seccomp filter blocks io_uring; the error and the doctor say so', { skip: !hasCommand('cc') && 'no C compiler for the seccomp helper' }, () => {
  const helper = seccompHelper();
  assert.ok(helper);
  const r = runChild(`
    import ${JSON.stringify(distUrl('diagnose/index.js'))};
    import { queueInit } from ${JSON.stringify(distUrl('ring/index.js'))};
    try { queueInit(8); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
  `, { prefix: [helper] });
  assert.equal(r.json.code, 'EPERM');
  assert.match(r.json.message, /seccomp filter denies io_uring .*Seccomp mode 2/);
  assert.match(r.json.message, /security-opt seccomp/);

  const human = spawnSync(helper, [process.execPath, CLI, 'doctor', '--quick'], { encoding: 'utf8' });
  assert.equal(human.status, 1, 'non-zero exit when io_uring cannot be used');
  assert.match(human.stdout.split('\n')[0], /^io_uring: NOT USABLE — EPERM/);
  assert.match(human.stdout, /seccomp\s+filter \(1\)/);
  const json = spawnSync(helper, [process.execPath, CLI, 'doctor', '--json', '--quick'], { encoding: 'utf8' });
  assert.equal(json.status, 1);
  const report = JSON.parse(json.stdout);
  assert.equal(report.ok, false);
  assert.equal(report.setup.error, 'EPERM');
  assert.equal(report.environment.seccomp.mode, 2);
});

/** A view of a machine this one cannot be turned into. */
function injected(files: Record<string, string>, extra: Partial<EnvironmentSource> = {}): EnvironmentSource {
  return {
    ...liveSource,
    readFile: (p) => (p in files ? files[p] : liveSource.readFile(p)),
    ...extra,
  };
}

test('injected: io_uring_disabled = 2, and = 1 without / with io_uring_group membership', () => {
  const p = resolveOptions({});
  const env2 = readEnvironment(injected({ '/proc/sys/kernel/io_uring_disabled': '2\n' }), PAGE_SIZE);
  const d2 = diagnoseSetupFailure(-1, 8, p, { env: env2, chargesMemlock: false });
  assert.match(d2.cause, /disabled system-wide: \/proc\/sys\/kernel\/io_uring_disabled is 2/);
  assert.ok(d2.fixes.some((f) => /io_uring_disabled=0/.test(f)));

  const noCaps = { '/proc/sys/kernel/io_uring_disabled': '1\n', '/proc/sys/kernel/io_uring_group': '4242\n', '/proc/self/status': 'Seccomp:\t0\nCapEff:\t0000000000000000\n' };
  const env1 = readEnvironment(injected(noCaps), PAGE_SIZE);
  const d1 = diagnoseSetupFailure(-1, 8, p, { env: env1, chargesMemlock: false });
  assert.match(d1.cause, /io_uring_disabled is 1: .* kernel.io_uring_group \(group 4242\)/);
  assert.ok(d1.fixes.some((f) => /group 4242/.test(f)));
  const report = diagnose({ source: injected(noCaps), quick: true });
  assert.ok(report.findings.some((f) => f.severity === 'error' && /io_uring_disabled is 1/.test(f.message)));

  const member = readEnvironment(injected(noCaps, { groups: () => [4242] }), PAGE_SIZE);
  assert.equal(member.inIoUringGroup, true);
  const ok = diagnose({ source: injected(noCaps, { groups: () => [4242] }), quick: true });
  assert.ok(!ok.findings.some((f) => /io_uring_disabled is 1/.test(f.message)), 'a group member is allowed');
});

test('injected: a kernel that charges rings to RLIMIT_MEMLOCK — ENOMEM with the numbers and the fixes', () => {
  const limits = 'Max locked memory         65536                65536                bytes     \nMax open files            1024                 4096                 files     \n';
  const source = injected({ '/proc/self/limits': limits, '/proc/self/status': 'Seccomp:\t0\nCapEff:\t0000000000000000\n' }, { kernelRelease: () => '5.10.0-test' });
  const env = readEnvironment(source, PAGE_SIZE);
  assert.equal(env.memlock.soft, 65536);
  const p = resolveOptions({});
  const needed = ringMemorySize(32768, p, PAGE_SIZE)!;
  const d = diagnoseSetupFailure(-12, 32768, p, { env, chargesMemlock: true });
  assert.match(d.cause, new RegExp(`a ring of 32768 entries needs ${(needed / 1048576).toFixed(1)} MiB of locked memory and RLIMIT_MEMLOCK is 64 KiB`));
  assert.ok(d.fixes.some((f) => /ulimit -l/.test(f)));
  assert.ok(d.fixes.some((f) => /LimitMEMLOCK=/.test(f)));
  assert.ok(d.fixes.some((f) => /--ulimit memlock=/.test(f)));
  const lower = d.fixes.find((f) => /lower entries to (\d+)/.test(f));
  assert.ok(lower, 'suggests a queue depth that fits');
  const fit = Number(lower.match(/lower entries to (\d+)/)![1]);
  assert.ok(ringMemorySize(fit, p, PAGE_SIZE)! <= 65536 && ringMemorySize(fit * 2, p, PAGE_SIZE)! > 65536);
  const report = diagnose({ source, chargesMemlock: true, entries: 32768, quick: true });
  assert.ok(report.findings.some((f) => /needs .* of locked memory; RLIMIT_MEMLOCK is 64 KiB/.test(f.message)));
  assert.equal(report.shape.mlockBytes, needed);
});

test('mlockSize: 0 where rings are not charged (this kernel), the ring size where they are', () => {
  assert.equal(mlockSize(4096), 0, 'IORING_FEAT_NATIVE_WORKERS here');
  assert.equal(mlockSize(4096, {}, true), ringMemorySize(4096, resolveOptions({}), PAGE_SIZE));
  assert.equal(mlockSize(4096, { cqe32: true }, true), ringMemorySize(4096, resolveOptions({ cqe32: true }), PAGE_SIZE));
});

test('adaptive setup: EINVAL drops optional flags in order; the result says what was asked and granted', () => {
  const r = queueInitAdaptive(64, { flags: IORING_SETUP_SQE_MIXED, singleIssuer: true }, { optionalFlags: [IORING_SETUP_SQE_MIXED] });
  assert.deepEqual(r.requested, { entries: 64, flags: ['IORING_SETUP_SINGLE_ISSUER', 'IORING_SETUP_SQE_MIXED'] });
  assert.deepEqual(r.granted.flags, ['IORING_SETUP_SINGLE_ISSUER']);
  assert.equal(r.granted.sqEntries, 64);
  assert.deepEqual(r.attempts, [{ entries: 64, flags: ['IORING_SETUP_SINGLE_ISSUER', 'IORING_SETUP_SQE_MIXED'], error: 'EINVAL' }]);
  r.ring.queueExit();
  assert.throws(() => queueInitAdaptive(0), { code: 'EINVAL' }, 'nothing to adapt for a bad entries value');
});

test('adaptive setup: ENOMEM (address space exhausted, for real) halves entries until the ring fits', { skip: !hasCommand('prlimit', ['--version']) && 'prlimit missing' }, () => {
  // The child caps its own address space just above what it uses, so a large ring's mmap fails.
  const r = runChild(`
    import { queueInitAdaptive } from ${JSON.stringify(distUrl('diagnose/index.js'))};
    import { execFileSync } from 'node:child_process';
    import fs from 'node:fs';
    const vm = Number(fs.readFileSync('/proc/self/status', 'utf8').match(/VmSize:\\s+(\\d+) kB/)[1]) * 1024;
    execFileSync('prlimit', ['--pid', String(process.pid), '--as=' + (vm + 1536 * 1024)]);
    const r = queueInitAdaptive(32768);
    console.log(JSON.stringify({ granted: r.granted.entries, attempts: r.attempts.map((a) => a.entries + ':' + a.error) }));
  `);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.json.granted < 32768 && r.json.granted >= 1, `granted ${r.json.granted}`);
  assert.equal(r.json.attempts[0], '32768:ENOMEM');
  assert.ok(r.json.attempts.every((a: string) => a.endsWith(':ENOMEM')));
});

test('diagnose() on this machine: a correct, complete report', () => {
  const r = diagnose({ entries: 64, setup: { sqpoll: true } });
  assert.equal(r.ok, true);
  assert.match(r.verdict, /^io_uring: OK — a ring of 64 entries \(IORING_SETUP_SQPOLL\)/);
  assert.equal(r.kernel, readEnvironment().kernel.release);
  assert.equal(r.chargesMemlock, false);
  assert.ok(r.flags!.find((f) => f.name === 'IORING_SETUP_SQPOLL')!.accepted);
  assert.ok(Array.isArray(r.opcodes) && r.opcodes.includes('IORING_OP_READ'));
  assert.equal(r.largestEntries, 32768);
  assert.equal(r.shape.flags[0], 'IORING_SETUP_SQPOLL');
  assert.equal(IORING_SETUP_SQPOLL, 2);
});

test('uring doctor / probe, run as a user would: human and JSON output, exit codes', () => {
  const human = spawnSync(process.execPath, [CLI, 'doctor'], { encoding: 'utf8' });
  assert.equal(human.status, 0, human.stderr);
  const lines = human.stdout.split('\n');
  assert.match(lines[0], /^io_uring: OK — a ring of 256 entries can be created on Linux /);
  assert.match(human.stdout, /^RLIMIT_MEMLOCK {4}/m);
  assert.match(human.stdout, /^setup flags {7}accepted: .*SQPOLL/m);

  const json = spawnSync(process.execPath, [CLI, 'doctor', '--json', '--entries', '8', '--flag', 'sqpoll,single_issuer'], { encoding: 'utf8' });
  assert.equal(json.status, 0, json.stderr);
  const report = JSON.parse(json.stdout);
  assert.equal(report.ok, true);
  assert.deepEqual(report.shape.flags, ['IORING_SETUP_SQPOLL', 'IORING_SETUP_SINGLE_ISSUER']);

  const bad = spawnSync(process.execPath, [CLI, 'doctor', '--entries', '40000', '--quick'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stdout, /NOT USABLE — EINVAL/);
  assert.match(bad.stdout, /IORING_MAX_ENTRIES/);

  const usage = spawnSync(process.execPath, [CLI, 'doctor', '--flag', 'bogus'], { encoding: 'utf8' });
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /unknown setup flag 'bogus'/);

  const probe = spawnSync(process.execPath, [CLI, 'probe', '--json'], { encoding: 'utf8' });
  assert.equal(probe.status, 0);
  const p = JSON.parse(probe.stdout);
  assert.ok(p.opcodes.includes('IORING_OP_NOP'));
  assert.ok(p.features.includes('nodrop'));
});
