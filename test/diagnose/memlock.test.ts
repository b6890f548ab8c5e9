/**
 * The seed's ENOMEM, on this machine's kernel: rings charged to
 * RLIMIT_MEMLOCK, per user, measured by the doctor, named by process, fixed
 * in least-privilege order; adaptive setup granting what fits. Every case is
 * a real child under a real limit and real credentials. The scenarios run in
 * parallel, each as its own user (the charge is per user, so two scenarios
 * sharing a uid would see each other's rings), except the seed's own uid
 * 65534, whose steps run one after another.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PAGE_SIZE, resolveOptions, ringMemorySize } from '../../src/ring/index.js';
import { as, cacheHome, CLI, dist, privilegeSkip, run, script } from './util.js';

const skip = privilegeSkip();
const KB64 = 65536;
const need = (entries: number, setup = {}): number => ringMemorySize(entries, resolveOptions(setup), PAGE_SIZE)!;
/** The expectation, worked out here rather than by the code under test: the largest power-of-two ring within `bytes`. */
function fitsIn(bytes: number): number {
  let best = 0;
  for (let e = 1; e <= 32768; e *= 2) if (need(e) <= bytes) best = e;
  return best;
}

describe('RLIMIT_MEMLOCK and rings, for real', { concurrency: true, skip: skip ?? false }, () => {
  test('uid 65534 under RLIMIT_MEMLOCK 64 KiB: the doctor (JSON and human) measures the charge, gives need vs limit, the largest fit and the fixes; adaptive setup grants that size', async () => {
    const env = { XDG_CACHE_HOME: cacheHome(65534) };
    const json = await run(as({ uid: 65534 }, KB64)[0], [...as({ uid: 65534 }, KB64).slice(1), process.execPath, CLI, 'doctor', '--json', '--entries', '4096'], { env });
    assert.equal(json.status, 4, `exit 4 (limited): ${json.stderr}`);
    const r = json.json;
    assert.equal(r.status, 'limited');
    assert.equal(r.environment.uid, 65534);
    assert.equal(r.memlock.soft, KB64);
    assert.equal(r.memlock.chargesRings, true, 'this kernel charges rings to RLIMIT_MEMLOCK');
    assert.equal(r.memlock.kernelChargesRings, true);
    assert.equal(r.memlock.how, 'measured', 'asked the kernel (fresh cache), not a version table or a feature bit');
    assert.match(r.memlock.evidence, /RLIMIT_MEMLOCK 0 got ENOMEM/);
    assert.equal(r.shape.ringBytes, need(4096));
    assert.equal(r.shape.mlockBytes, need(4096), 'the whole ring is locked-memory need');
    assert.equal(r.memlock.freeExact, true);
    assert.equal(r.memlock.usedBytes + r.memlock.freeBytes, KB64, 'used + free = the limit');
    // The largest ring: found by search, and exactly what the measured free part allows.
    const fit = fitsIn(r.memlock.freeBytes);
    assert.ok(fit >= 1, `something fits in ${r.memlock.freeBytes} bytes`);
    assert.equal(r.largest.entries, fit);
    assert.equal(r.largest.ringBytes, need(fit));
    assert.deepEqual(r.largest.tries.at(-1), { entries: fit, result: 'OK' });
    const d = r.setup.diagnosis;
    assert.equal(d.code, 'ENOMEM');
    assert.match(d.cause, new RegExp(`needs 404 KiB \\(${need(4096)} bytes\\) of locked memory, but RLIMIT_MEMLOCK is 64 KiB \\(65536 bytes\\)`));
    assert.match(d.cause, /charges ring memory to RLIMIT_MEMLOCK/);
    const commands = d.fixes.map((f: { action: string; command: string }) => `${f.action} ${f.command}`);
    assert.match(d.fixes[0].command, new RegExp(`--entries ${fit}\\b`), 'least privilege first: the exact entries that fit');
    assert.ok(commands.some((c: string) => /ulimit -l/.test(c)), 'the ulimit -l fix');
    assert.ok(commands.some((c: string) => /setcap cap_ipc_lock/.test(c)), 'the CAP_IPC_LOCK fix');
    assert.ok(commands.some((c: string) => /--cap-add IPC_LOCK/.test(c)));
    assert.match(d.fixes.at(-1).command, /--privileged/, '--privileged last');
    assert.match(d.fixes.at(-1).action, /nearly all host privileges/);
    // The flag probe: EINVAL is "unsupported", and the churn of its own rings under 64 KiB is waited out.
    assert.ok(r.flags.every((f: { status: string }) => f.status === 'accepted' || f.status === 'unsupported'), JSON.stringify(r.flags.filter((f: { status: string }) => f.status !== 'accepted')));
    assert.equal(r.flags.find((f: { name: string }) => f.name === 'IORING_SETUP_ATTACH_WQ').status, 'accepted');

    const human = await run(as({ uid: 65534 }, KB64)[0], [...as({ uid: 65534 }, KB64).slice(1), process.execPath, CLI, 'doctor', '--entries', '4096'], { env });
    assert.equal(human.status, 4);
    const lines = human.stdout.split('\n');
    assert.match(lines[0], new RegExp(`^io_uring: LIMITED — a ring of 4096 entries does not fit now: it needs 404 KiB of locked memory .* the largest ring that fits has ${fit} entries`));
    assert.match(human.stdout, /^ {2}rings charged {3}YES, for processes without CAP_IPC_LOCK/m);
    assert.match(human.stdout, /^RLIMIT_MEMLOCK {4}64 KiB \(65536 bytes\), hard 64 KiB \(65536 bytes\)$/m);
    assert.match(human.stdout, /needs 404 KiB \(413696 bytes\) of locked memory/);
    assert.match(human.stdout, /ulimit -l/);
    assert.match(human.stdout, /cap_ipc_lock/);
    assert.match(human.stdout, /cached for this boot/, 'the second run reads the per-boot answer');

    const adaptive = await run(as({ uid: 65534 }, KB64)[0], [...as({ uid: 65534 }, KB64).slice(1), process.execPath, ...script(`
      const d = await import(${dist('diagnose/index.js')});
      // What this user's other processes hold right now (none on a quiet machine).
      const held = d.userRingHolders ? d.userRingHolders(process.getuid()).holders.reduce((n, h) => n + h.ringBytes + h.bufferBytes, 0) : 0;
      const { queueInitAdaptive } = d;
      const r = queueInitAdaptive(4096);
      console.log(JSON.stringify({ held, granted: r.granted, attempts: r.attempts, limitedBy: r.limitedBy, reason: r.reason }));
    `)], { env });
    assert.equal(adaptive.status, 0, adaptive.stderr);
    const a = adaptive.json;
    const expected = fitsIn(KB64 - a.held);
    assert.equal(a.granted.entries, expected, 'the largest ring that fits');
    assert.deepEqual(a.attempts, [{ entries: 4096, flags: [], error: 'ENOMEM' }], 'one try after the request: computed, not halved');
    assert.equal(a.limitedBy, 'RLIMIT_MEMLOCK');
    assert.match(a.reason, new RegExp(`^asked 4096, granted ${expected}: limited by RLIMIT_MEMLOCK 64 KiB`));
  });

  test('same uid, a second process holding rings: the doctor names it (pid, comm, rings, bytes) and counts it against the limit', async () => {
    const uid = 61231;
    const holder = `
      import { queueInit } from ${dist('ring/index.js')};
      const rings = [queueInit(256), queueInit(128)];
      console.log(JSON.stringify({ pid: process.pid }));
      process.stdin.resume(); process.stdin.on('end', () => process.exit(0));
    `;
    const prefix = as({ uid }, KB64);
    const { spawn } = await import('node:child_process');
    const child = spawn(prefix[0], [...prefix.slice(1), process.execPath, ...script(holder)], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const pid: number = await new Promise((resolve, reject) => {
        child.stdout.once('data', (d) => resolve(JSON.parse(String(d)).pid));
        child.once('exit', () => reject(new Error('holder exited')));
      });
      const held = need(256) + need(128);
      const r = await run(prefix[0], [...prefix.slice(1), process.execPath, CLI, 'doctor', '--json', '--quick'], { env: { XDG_CACHE_HOME: cacheHome(uid) } });
      const j = r.json;
      assert.equal(r.status, 4, 'a 256-entry ring no longer fits');
      assert.deepEqual(j.memlock.holders.map((h: any) => ({ pid: h.pid, comm: h.comm, rings: h.rings, ringBytes: h.ringBytes })), [{ pid, comm: 'node', rings: 2, ringBytes: held }]);
      assert.ok(j.memlock.usedBytes >= held, `measured use ${j.memlock.usedBytes} includes the holder's ${held}`);
      assert.equal(j.memlock.freeBytes, KB64 - j.memlock.usedBytes);
      assert.match(j.setup.diagnosis.cause, new RegExp(`pid ${pid} \\(node\\) holds 2 rings, 44 KiB of your 64 KiB`));
      assert.ok(j.setup.diagnosis.fixes.some((f: any) => f.command === `kill ${pid}`));
      assert.equal(j.largest.entries, fitsIn(j.memlock.freeBytes));
    } finally {
      child.stdin.end();
    }
  });

  test('root without CAP_IPC_LOCK (a container\'s root): charged; root with it: not charged, and the doctor says why', async () => {
    const [without, withCap] = await Promise.all([
      run('prlimit', [`--memlock=${KB64}:${KB64}`, 'setpriv', '--bounding-set=-ipc_lock', '--inh-caps=-ipc_lock', process.execPath, CLI, 'doctor', '--json', '--quick', '--entries', '4096'], { env: { XDG_CACHE_HOME: cacheHome(0) } }),
      run('prlimit', [`--memlock=${KB64}:${KB64}`, process.execPath, CLI, 'doctor', '--json', '--quick', '--entries', '4096'], { env: { XDG_CACHE_HOME: cacheHome(0) } }),
    ]);
    const a = without.json;
    assert.equal(a.environment.euid, 0);
    assert.equal(a.environment.capabilities.ipcLock, false);
    assert.equal(a.memlock.chargesRings, true);
    assert.equal(a.memlock.exempt, false);
    assert.equal(a.memlock.how, 'measured');
    assert.equal(without.status, 4, 'a 4096-entry ring does not fit in 64 KiB');
    assert.match(a.setup.diagnosis.cause, /needs 404 KiB \(413696 bytes\) of locked memory, but RLIMIT_MEMLOCK is 64 KiB/);

    const b = withCap.json;
    assert.equal(withCap.status, 0, 'with CAP_IPC_LOCK the limit does not apply');
    assert.equal(b.environment.capabilities.ipcLock, true);
    assert.equal(b.memlock.chargesRings, false);
    assert.equal(b.memlock.exempt, true);
    assert.equal(b.memlock.kernelChargesRings, true, 'but processes without it are charged (a second child, without CAP_IPC_LOCK)');
    assert.match(b.memlock.kernelEvidence, /without CAP_IPC_LOCK .* got ENOMEM/);
    assert.equal(b.shape.mlockBytes, 0);
    assert.ok(b.findings.some((f: any) => /holds CAP_IPC_LOCK, so its rings are not charged/.test(f.message)));
  });

  test('the ring memory the doctor computes is exactly what the kernel charges: the ring fits at that limit, not one page below', async () => {
    const shapes: Array<[number, object]> = [[4096, {}], [1000, { cqEntries: 5000 }], [512, { sqe128: true, cqe32: true }], [256, { noSqarray: true }]];
    const probe = (entries: number, setup: object): string => `
      import { queueInit } from ${dist('ring/index.js')};
      try { queueInit(${entries}, ${JSON.stringify(setup)}).queueExit(); console.log('"OK"'); } catch (e) { console.log(JSON.stringify(e.code)); }`;
    const results = await Promise.all(shapes.flatMap(([entries, setup], i) => [0, PAGE_SIZE].map((less, j) => {
      const prefix = as({ uid: 61240 + 2 * i + j }, need(entries, setup) - less);
      return run(prefix[0], [...prefix.slice(1), process.execPath, ...script(probe(entries, setup))]);
    })));
    results.forEach((r, k) => {
      const [entries, setup] = shapes[k >> 1];
      assert.equal(r.json, k % 2 === 0 ? 'OK' : 'ENOMEM', `${entries} ${JSON.stringify(setup)} at ${need(entries, setup) - (k % 2) * PAGE_SIZE} bytes: ${r.stderr}`);
    });
  });

  test('the fs backend falls back with the measured reason (explain(err)), not a guess', async () => {
    const uid = 61250;
    const prefix = as({ uid }, 32768);
    const r = await run(prefix[0], [...prefix.slice(1), process.execPath, ...script(`
      import { backend } from ${dist('fs/backend.js')};
      const b = await backend();
      console.log(JSON.stringify(b));
    `)], { env: { XDG_CACHE_HOME: cacheHome(uid) } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.json.name, 'node:fs');
    assert.match(r.json.reason, /^ENOMEM: a ring of 256 entries \(SQ 256, CQ 1024\) needs \d+ KiB \(\d+ bytes\) of locked memory, but RLIMIT_MEMLOCK is 32 KiB \(32768 bytes\)/);
    assert.match(r.json.reason, /charges ring memory to RLIMIT_MEMLOCK/);
    assert.match(r.json.reason, /Fix: lower entries to \d+, the largest ring that fits now/);
  });
});
