/**
 * Setup diagnostics: every error produced for real where this kernel allows
 * (EINVAL, ENXIO, EMFILE, EPERM via seccomp, ENOMEM by address space),
 * injected only where this machine cannot (or, being shared, must not) be put
 * in the state (io_uring_disabled, a full system file table, an old kernel);
 * errors that explain themselves only when asked (explain(err)); adaptive
 * setup. The CLI is in cli.test.ts, the RLIMIT_MEMLOCK cases in memlock.test.ts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { IORING_SETUP_SQE_MIXED, IORING_SETUP_SQPOLL } from '../../src/abi/index.js';
import {
  diagnose, diagnoseSetupFailure, type EnvironmentSource, explain, historyChargesRings, liveSource, type MemlockFacts,
  mlockSize, queueInitAdaptive, readEnvironment, ringCharging,
} from '../../src/diagnose/index.js';
import * as ring from '../../src/ring/index.js';
import { PAGE_SIZE, queueInit, resolveOptions, ringMemorySize, UringError } from '../../src/ring/index.js';
import { distUrl, hasCommand, runChild, seccompHelper } from '../helpers.js';
import { cacheHome, run } from './util.js';

// The per-boot answers go to a cache of this test's own, not the developer's ~/.cache.
process.env.XDG_CACHE_HOME = cacheHome(process.getuid?.() ?? 0);

function setupError(fn: () => unknown): UringError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof UringError, String(e));
    assert.equal(e.syscall, 'io_uring_setup');
    return e;
  }
  assert.fail('expected a setup failure');
}

test('a setup UringError carries errno and what was asked; explain(err) is explicit and classifies shape errors', () => {
  const e = setupError(() => queueInit(0, { cqEntries: 16 }));
  assert.equal(e.code, 'EINVAL');
  assert.equal(e.errno, -22);
  assert.deepEqual(e.setup, { entries: 0, params: { flags: resolveOptions({ cqEntries: 16 }).flags, sq_thread_cpu: 0, sq_thread_idle: 0, cq_entries: 16, wq_fd: 0 } });
  const d = explain(e);
  assert.equal(d.kind, 'shape', 'a shape error is not a machine failure');
  assert.match(d.cause, /^EINVAL: entries is 0/);
  assert.equal(explain(new Error('plain')).kind, 'other');
});

test('EINVAL, explained from the arguments: bounds, CQSIZE, flag rules, a CPU this process may not use, a wq_fd that is no ring, a flag newer than this kernel', () => {
  const text = (fn: () => unknown): string => setupError(fn).message.split('\n')[1];
  assert.match(text(() => queueInit(40000)), /^EINVAL: entries 40000 is above IORING_MAX_ENTRIES \(32768\) and IORING_SETUP_CLAMP is not set\.$/);
  assert.match(text(() => queueInit(8, { cqEntries: 2 })), /cq_entries 2 .* smaller than the SQ size 8/);
  assert.match(text(() => queueInit(8, { cqEntries: 0 })), /CQSIZE is set but cq_entries is 0/);
  assert.match(text(() => queueInit(8, { sqThreadCpu: 0 })), /SQ_AFF was specified, but IORING_SETUP_SQPOLL was not/);
  assert.match(text(() => queueInit(8, { flags: 1 << 29 })), /bits this library does not know/);
  assert.match(text(() => queueInit(8, { sqpoll: true, sqThreadCpu: 4096 })), /^EINVAL: sq_thread_cpu 4096 \(IORING_SETUP_SQ_AFF\) is not a CPU this process may run on \(Cpus_allowed_list [\d,-]+\)\.$/);
  const fd = fs.openSync('/dev/null', 'r');
  try {
    assert.match(text(() => queueInit(8, { attachWq: fd })), new RegExp(`^EINVAL: wq_fd ${fd} \\(IORING_SETUP_ATTACH_WQ\\) is not an io_uring descriptor; it is /dev/null\\.$`));
  } finally {
    fs.closeSync(fd);
  }
  const mixed = setupError(() => queueInit(8, { flags: IORING_SETUP_SQE_MIXED }));
  assert.match(mixed.message, /EINVAL: IORING_SETUP_SQE_MIXED \(Linux 6\.19\+\) is newer than this kernel \(/);
  assert.equal(explain(mixed).kind, 'unsupported');
  for (const e of [mixed, setupError(() => queueInit(8, { sqpoll: true, sqThreadCpu: 4096 }))]) {
    assert.doesNotMatch(e.message, /:,/, 'no stray punctuation');
    assert.doesNotMatch(e.message, /a flag may be newer/, 'leads with the cause it found');
  }
  const closed = setupError(() => queueInit(8, { attachWq: 999 }));
  assert.equal(closed.code, 'ENXIO');
  assert.equal(explain(closed).kind, 'shape');
});

test('importing uring/diagnose changes nothing: no hook, the same error text, no rings and no children created by importing', () => {
  assert.equal((ring as Record<string, unknown>).setSetupExplainer, undefined, 'no global explainer hook in ring/');
  const r = runChild(`
    import fs from 'node:fs';
    import { queueInit } from ${JSON.stringify(distUrl('ring/index.js'))};
    const rings = () => fs.readdirSync('/proc/self/fd').filter((f) => { try { return fs.readlinkSync('/proc/self/fd/' + f).includes('io_uring'); } catch { return false; } }).length;
    const msg = () => { try { queueInit(0); } catch (e) { return e.message; } };
    const before = msg();
    const ringsBefore = rings();
    await import(${JSON.stringify(distUrl('diagnose/index.js'))});
    console.log(JSON.stringify({ same: before === msg(), rings: rings() - ringsBefore, children: fs.readFileSync('/proc/self/task/' + process.pid + '/children', 'utf8').trim() }));
  `);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.json, { same: true, rings: 0, children: '' });
});

test('EMFILE, for real, with the numbers: a child out of descriptors under RLIMIT_NOFILE 96', { skip: !hasCommand('prlimit', ['--version']) && 'prlimit (util-linux) missing' }, () => {
  const r = runChild(`
    import { queueInit } from ${JSON.stringify(distUrl('ring/index.js'))};
    import { explain } from ${JSON.stringify(distUrl('diagnose/index.js'))};
    import fs from 'node:fs';
    const fds = [];
    try { for (;;) fds.push(fs.openSync('/dev/null', 'r')); } catch {}
    let out;
    try { queueInit(8); out = { ok: true }; } catch (e) { out = { code: e.code, message: e.message, cause: explain(e).cause, kind: explain(e).kind }; }
    console.log(JSON.stringify(out));
  `, { prefix: ['prlimit', '--nofile=96:96'] });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.json.code, 'EMFILE');
  assert.match(r.json.message, /RLIMIT_NOFILE 96, hard 96/);
  assert.match(r.json.cause, /96 open file descriptors and RLIMIT_NOFILE is 96 \(hard 96\)/);
  assert.equal(r.json.kind, 'machine');
});

test('ENOMEM, for real, from registered buffers beyond RLIMIT_MEMLOCK (a user of its own, without CAP_IPC_LOCK); the ring keeps working', { skip: process.getuid?.() !== 0 && 'needs root to drop privileges' }, () => {
  const r = runChild(`
    import { queueInit, registerBuffers } from ${JSON.stringify(distUrl('ring/index.js'))};
    const ring = queueInit(8);
    let out;
    try { registerBuffers(ring, [Buffer.alloc(1 << 20)]); out = { ok: true }; }
    catch (e) { out = { code: e.code, message: e.message }; }
    registerBuffers(ring, [Buffer.alloc(4096)]);
    out.recovered = true;
    console.log(JSON.stringify(out));
  `, { prefix: ['prlimit', '--memlock=65536:65536', 'setpriv', '--reuid=61260', '--regid=61260', '--clear-groups', '--inh-caps=-all'] });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.json.code, 'ENOMEM');
  assert.match(r.json.message, /pinning 1048576 bytes .* RLIMIT_MEMLOCK \(65536 bytes\)/);
  assert.equal(r.json.recovered, true);
});

test('EPERM, for real: a seccomp filter blocks io_uring; explain(err) says so and how to allow it', { skip: !hasCommand('cc') && 'no C compiler for the seccomp helper' }, () => {
  const helper = seccompHelper();
  assert.ok(helper);
  const r = runChild(`
    import { queueInit } from ${JSON.stringify(distUrl('ring/index.js'))};
    import { explain } from ${JSON.stringify(distUrl('diagnose/index.js'))};
    try { queueInit(8); } catch (e) { console.log(JSON.stringify({ code: e.code, cause: explain(e).cause, fixes: explain(e).fixes })); }
  `, { prefix: [helper] });
  assert.equal(r.json.code, 'EPERM');
  assert.match(r.json.cause, /seccomp filter denies io_uring .*Seccomp mode 2/);
  assert.ok(r.json.fixes.some((f: { command: string }) => /security-opt seccomp/.test(f.command)));
});

/** A view of a machine this one cannot (or must not) be turned into. */
function injected(files: Record<string, string>, extra: Partial<EnvironmentSource> = {}): EnvironmentSource {
  return { ...liveSource, readFile: (p) => (p in files ? files[p] : liveSource.readFile(p)), ...extra };
}

test('injected: io_uring_disabled = 2, and = 1 without / with io_uring_group membership', () => {
  ringCharging({ env: readEnvironment() }); // the real answers, cached for this boot
  const p = resolveOptions({});
  const env2 = readEnvironment(injected({ '/proc/sys/kernel/io_uring_disabled': '2\n' }), PAGE_SIZE);
  const d2 = diagnoseSetupFailure(-1, 8, p, { env: env2 });
  assert.match(d2.cause, /disabled system-wide: \/proc\/sys\/kernel\/io_uring_disabled is 2/);
  assert.ok(d2.fixes.some((f) => /io_uring_disabled=0/.test(f.command)));
  const noCaps = { '/proc/sys/kernel/io_uring_disabled': '1\n', '/proc/sys/kernel/io_uring_group': '4242\n', '/proc/self/status': 'Seccomp:\t0\nCapEff:\t0000000000000000\n' };
  const d1 = diagnoseSetupFailure(-1, 8, p, { env: readEnvironment(injected(noCaps), PAGE_SIZE) });
  assert.match(d1.cause, /io_uring_disabled is 1: .* kernel.io_uring_group \(group 4242\)/);
  assert.ok(d1.fixes.some((f) => /usermod -aG/.test(f.command) && /4242/.test(f.command)));
  const report = diagnose({ source: injected(noCaps), quick: true });
  assert.ok(report.findings.some((f) => f.severity === 'error' && /io_uring_disabled is 1/.test(f.message)));
  const ok = diagnose({ source: injected(noCaps, { groups: () => [4242] }), quick: true });
  assert.ok(!ok.findings.some((f) => /io_uring_disabled is 1/.test(f.message)), 'a group member is allowed');
  // The injected view said "no CAP_IPC_LOCK" while the real children had it: that must not become the kernel's answer.
  const env = readEnvironment();
  const real = ringCharging({ env });
  const expected = historyChargesRings(env.kernel.major, env.kernel.minor);
  if (real.kernel.how !== 'kernel-history' && expected !== null) assert.equal(real.kernel.charged, expected, real.kernel.evidence);
  assert.doesNotMatch(real.kernel.evidence, /CAP_IPC_LOCK yes\) under RLIMIT_MEMLOCK 0 created/, 'a child with CAP_IPC_LOCK cannot speak for processes without it');
});

test('injected: ENFILE with the system file table\'s numbers (filling it for real would break every process on this shared machine)', () => {
  const env = readEnvironment(injected({ '/proc/sys/fs/file-nr': '2466165\t0\t2466165\n' }), PAGE_SIZE);
  const d = diagnoseSetupFailure(-23, 8, resolveOptions({}), { env });
  assert.match(d.cause, /^ENFILE: the system has 2466165 file handles allocated and fs\.file-max is 2466165/);
  assert.ok(d.fixes.some((f) => f.command === 'sudo sysctl -w fs.file-max=4932330'));
  const unreadable = diagnoseSetupFailure(-23, 8, resolveOptions({}), { env: readEnvironment(injected({ '/proc/sys/fs/file-nr': null as unknown as string }), PAGE_SIZE) });
  assert.match(unreadable.cause, /could not even be read/);
});

test('injected: an old kernel where no child could measure — the kernel\'s history answers, and says so', () => {
  assert.equal(historyChargesRings(5, 10), true);
  assert.equal(historyChargesRings(5, 12), false);
  assert.equal(historyChargesRings(6, 13), false);
  assert.equal(historyChargesRings(6, 14), true);
  assert.equal(historyChargesRings(4, 19), null);
  const env = readEnvironment(injected({}, { kernelRelease: () => '5.10.0-old' }), PAGE_SIZE);
  const history = { charged: true, how: 'kernel-history' as const, evidence: 'no child could run the experiment; by the kernel\'s history, Linux 5.10 charges ring memory to RLIMIT_MEMLOCK' };
  const facts: MemlockFacts = {
    soft: 65536, hard: 65536, charging: { kernel: history, self: history, exempt: false, cacheFile: null },
    headroom: null, usedBytes: null, holders: [], heldBytes: 0, unreadable: 0,
  };
  const d = diagnoseSetupFailure(-12, 4096, resolveOptions({}), { env, memlock: facts });
  assert.match(d.cause, /This kernel \(5\.10\.0-old\) charges ring memory to RLIMIT_MEMLOCK .* by its version history/);
  assert.match(d.fixes[0].command, /--entries 512\b/, 'the largest that fits the limit, computed');
});

test('mlockSize (io_uring_mlock_size) is measured: 0 for this process (CAP_IPC_LOCK), the ring size for one without it', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
  assert.equal(mlockSize(4096), 0);
  assert.equal(mlockSize(4096, { cqe32: true }, true), ringMemorySize(4096, resolveOptions({ cqe32: true }), PAGE_SIZE));
  const r = await run('setpriv', ['--bounding-set=-ipc_lock', '--inh-caps=-ipc_lock', process.execPath, '--input-type=module', '-e', `
    import { mlockSize } from ${JSON.stringify(distUrl('diagnose/index.js'))};
    console.log(JSON.stringify(mlockSize(4096)));`], { env: { XDG_CACHE_HOME: cacheHome(0) } });
  assert.equal(r.json, ringMemorySize(4096, resolveOptions({}), PAGE_SIZE), r.stderr);
});

test('adaptive setup: EINVAL drops optional flags in order; the result says what was asked, granted and why', () => {
  const r = queueInitAdaptive(64, { flags: IORING_SETUP_SQE_MIXED, singleIssuer: true }, { optionalFlags: [IORING_SETUP_SQE_MIXED] });
  assert.deepEqual(r.requested, { entries: 64, flags: ['IORING_SETUP_SINGLE_ISSUER', 'IORING_SETUP_SQE_MIXED'] });
  assert.deepEqual(r.granted.flags, ['IORING_SETUP_SINGLE_ISSUER']);
  assert.equal(r.granted.sqEntries, 64);
  assert.deepEqual(r.attempts, [{ entries: 64, flags: ['IORING_SETUP_SINGLE_ISSUER', 'IORING_SETUP_SQE_MIXED'], error: 'EINVAL' }]);
  assert.equal(r.limitedBy, 'flags');
  assert.match(r.reason, /dropped IORING_SETUP_SQE_MIXED/);
  r.ring.queueExit();
  assert.throws(() => queueInitAdaptive(0), { code: 'EINVAL' }, 'nothing to adapt for a bad entries value');
});

test('adaptive setup: ENOMEM that is not RLIMIT_MEMLOCK (address space exhausted, for real) halves entries until the ring fits', { skip: !hasCommand('prlimit', ['--version']) && 'prlimit missing' }, async () => {
  // The child caps its own address space 5 MiB above what it uses: the 32768-entry ring with 128-byte SQEs and
  // 32-byte CQEs maps 6.2 MiB and fails, half of it fits. A fixed young generation keeps V8 from growing into the gap;
  // --jitless --single-threaded keep compiler threads from allocating there (seen: std::bad_alloc 1 run in 15).
  const r = await run(process.execPath, ['--min-semi-space-size=1', '--max-semi-space-size=1', '--jitless', '--single-threaded', '--input-type=module', '-e', `
    import { queueInitAdaptive } from ${JSON.stringify(distUrl('diagnose/index.js'))};
    import { execFileSync } from 'node:child_process';
    import fs from 'node:fs';
    queueInitAdaptive(8).ring.queueExit();
    const vm = Number(fs.readFileSync('/proc/self/status', 'utf8').match(/VmSize:\\s+(\\d+) kB/)[1]) * 1024;
    execFileSync('prlimit', ['--pid', String(process.pid), '--as=' + (vm + 5 * 1024 * 1024)]);
    const r = queueInitAdaptive(32768, { sqe128: true, cqe32: true });
    console.log(JSON.stringify({ granted: r.granted.entries, attempts: r.attempts.map((a) => a.entries + ':' + a.error), limitedBy: r.limitedBy }));
  `]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.json.granted < 32768 && r.json.granted >= 1, `granted ${r.json.granted}`);
  assert.equal(r.json.attempts[0], '32768:ENOMEM');
  assert.ok(r.json.attempts.every((a: string) => a.endsWith(':ENOMEM')));
  assert.equal(r.json.limitedBy, 'memory');
});

test('diagnose() on this machine as this process: a correct, complete report', () => {
  const r = diagnose({ entries: 64, setup: { sqpoll: true } });
  assert.equal(r.ok, true);
  assert.equal(r.exitCode, 0);
  assert.match(r.verdict, /^io_uring: OK — a ring of 64 entries \(IORING_SETUP_SQPOLL\)/);
  assert.equal(r.kernel, readEnvironment().kernel.release);
  assert.ok(r.flags!.find((f) => f.name === 'IORING_SETUP_SQPOLL')!.accepted);
  assert.ok(Array.isArray(r.opcodes) && r.opcodes.includes('IORING_OP_READ'));
  assert.equal(r.shape.flags[0], 'IORING_SETUP_SQPOLL');
  assert.equal(IORING_SETUP_SQPOLL, 2);
  if (r.environment.capabilities.ipcLock && r.environment.userNamespace === 4026531837) {
    assert.equal(r.memlock.chargesRings, false);
    assert.equal(r.largest.entries, 32768, 'nothing limits an exempt process here');
  }
});

