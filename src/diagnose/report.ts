/**
 * diagnose(): a structured report of this machine as it bears on io_uring,
 * with a verdict first, then findings, each with the fixes that apply.
 *
 * The verdict distinguishes four outcomes (the CLI's exit status):
 *   ok (0)            the requested ring can be created;
 *   unusable (1)      no ring can be created (disabled, seccomp, no kernel
 *                     support, limits exhausted): uring/fs runs on node:fs;
 *   invalid-shape (3) the requested shape is invalid or uses a flag this
 *                     kernel lacks (EINVAL), but io_uring works;
 *   limited (4)       the requested ring does not fit now (ENOMEM), a
 *                     smaller one does.
 */
import { IORING_SETUP_SQPOLL } from '../abi/constants.js';
import { setupFlagNames } from '../abi/names.js';
import { computeSizing, PAGE_SIZE, resolveOptions, ringMemorySize, type SetupOptions } from '../ring/index.js';
import { type Environment, type EnvironmentSource, formatBytes, liveSource, readEnvironment } from './environment.js';
import { type Diagnosis, diagnoseSetupFailure, type Fix } from './explain.js';
import { fitsBudget, freeMemlock, type MemlockFacts, memlockFacts, releaseRing, tryRing } from './memlock.js';
import { type FlagSupport, type LargestRing, largestEntries, probeOpcodes, probeSetupFlags } from './probe.js';

export interface DiagnoseOptions {
  /** The ring shape to check (default 256 entries, no flags). */
  entries?: number;
  setup?: SetupOptions;
  /** Stand-in for /proc and the process (tests of states this machine cannot be put in). */
  source?: EnvironmentSource;
  /** Re-measure what is cached for this boot (whether rings are charged to RLIMIT_MEMLOCK). */
  fresh?: boolean;
  /** Skip the flag and opcode probes. */
  quick?: boolean;
}

export interface Finding {
  severity: 'error' | 'warning' | 'info';
  message: string;
  fixes: Fix[];
}

/** The exit status of `uring doctor` for each outcome. */
export const EXIT_CODES = Object.freeze({ ok: 0, unusable: 1, usage: 2, 'invalid-shape': 3, limited: 4 });

export interface Report {
  /** The requested ring can be created. */
  ok: boolean;
  status: 'ok' | 'unusable' | 'invalid-shape' | 'limited';
  exitCode: number;
  verdict: string;
  kernel: string;
  environment: Omit<Environment, 'capabilities'> & { capabilities: { ipcLock: boolean; sysAdmin: boolean; sysNice: boolean; effective: string } };
  /** RLIMIT_MEMLOCK as it bears on rings (bytes; null = unlimited). */
  memlock: {
    soft: number | null;
    hard: number | null;
    /** Rings of this process are charged to it. */
    chargesRings: boolean | null;
    /** Rings of processes without CAP_IPC_LOCK are charged to it on this kernel. */
    kernelChargesRings: boolean | null;
    /** This process holds CAP_IPC_LOCK in the initial user namespace. */
    exempt: boolean;
    how: 'measured' | 'cached' | 'kernel-history';
    evidence: string;
    kernelEvidence: string;
    cacheFile: string | null;
    /** Free part of the limit, measured (null: not charged or unlimited). */
    freeBytes: number | null;
    freeExact: boolean;
    /** How the free part was measured. */
    freeEvidence: string | null;
    /** Already charged to this user (all its processes). */
    usedBytes: number | null;
    holders: MemlockFacts['holders'];
    heldBytes: number;
  };
  /** Kept for programs written against the first report format: `memlock.chargesRings`. */
  chargesMemlock: boolean;
  shape: { entries: number; flags: string[]; sqEntries: number | null; cqEntries: number | null; ringBytes: number | null; mlockBytes: number };
  setup: { ok: true; sqEntries: number; cqEntries: number; features: string[] } | { ok: false; error: string; diagnosis: Diagnosis };
  /** The largest ring that can be created now, by search (with the requested flags, or none if those are the problem). */
  largest: LargestRing & { flags: string[] };
  /** Same as `largest.entries`. */
  largestEntries: number;
  flags?: FlagSupport[];
  opcodes?: string[] | { error: string };
  findings: Finding[];
}

/** The locked memory a ring of this shape needs (liburing's io_uring_mlock_size), measured: 0 where this process's rings are not charged to RLIMIT_MEMLOCK. */
export function mlockSize(entries: number, setup: SetupOptions = {}, charges?: boolean): number {
  const p = resolveOptions(setup);
  const charged = charges ?? memlockFacts({ measure: false }).charging.self.charged === true;
  return charged ? ringMemorySize(entries, p, PAGE_SIZE) ?? 0 : 0;
}

const limitOrNull = (n: number): number | null => (Number.isFinite(n) ? n : null);

/** Examines this machine (or an injected view of one) and the requested ring shape. */
export function diagnose(options: DiagnoseOptions = {}): Report {
  const source = options.source ?? liveSource;
  const env = readEnvironment(source, PAGE_SIZE);
  const entries = options.entries ?? 256;
  const setupOptions = options.setup ?? {};
  const p = resolveOptions(setupOptions);
  const ringBytes = ringMemorySize(entries, p, PAGE_SIZE);
  const findings: Finding[] = [];

  // Locked memory first, before this process creates rings of its own.
  const facts = memlockFacts({ env, fresh: options.fresh, source: options.source });
  const charged = facts.charging.self.charged === true;
  const budget = charged ? freeMemlock(facts) : Infinity;

  // What the environment says before asking the kernel.
  if (env.ioUringDisabled === 2) findings.push({ severity: 'error', message: 'kernel.io_uring_disabled is 2: io_uring is disabled for every process.', fixes: [{ action: 'allow it (root)', command: 'sudo sysctl -w kernel.io_uring_disabled=0' }] });
  if (env.ioUringDisabled === 1 && !env.capabilities.sysAdmin && !env.inIoUringGroup) {
    findings.push({ severity: 'error', message: `kernel.io_uring_disabled is 1 and this process has neither CAP_SYS_ADMIN nor membership of kernel.io_uring_group (${env.ioUringGroup}).`, fixes: [{ action: 'join the io_uring group, or allow io_uring for everyone (root)', command: 'sudo sysctl -w kernel.io_uring_disabled=0' }] });
  }
  if (env.seccomp.mode === 2) findings.push({ severity: 'warning', message: `a seccomp filter is active (${env.seccomp.filters} filter(s)); container profiles often block io_uring.`, fixes: [{ action: 'allow io_uring_setup, io_uring_enter, io_uring_register in the profile', command: 'docker run --security-opt seccomp=<profile.json> …' }] });
  if (env.container.likely) findings.push({ severity: 'info', message: `running in a container: ${env.container.hints.join('; ')}.`, fixes: [] });
  if (charged && Number.isFinite(facts.soft)) {
    findings.push({
      severity: 'info',
      message: `rings are charged to RLIMIT_MEMLOCK here (${facts.charging.self.how}: ${facts.charging.self.evidence}); the limit is ${formatBytes(facts.soft)}, per user and shared by all of uid ${env.uid}'s processes` +
        (facts.headroom ? `, ${formatBytes(facts.headroom.freeBytes)} free` : '') + '.',
      fixes: [],
    });
  } else if (facts.charging.self.charged === false) {
    findings.push({
      severity: 'info',
      message: facts.charging.exempt
        ? `this process holds CAP_IPC_LOCK, so its rings are not charged to RLIMIT_MEMLOCK; ${facts.charging.kernel.charged ? 'processes without it are' : 'on this kernel nobody\'s rings are'} (${facts.charging.kernel.how}: ${facts.charging.kernel.evidence}).`
        : `ring memory is not charged to RLIMIT_MEMLOCK on this kernel (${facts.charging.self.how}: ${facts.charging.self.evidence}); the memory cgroup limits it, and RLIMIT_MEMLOCK (${formatBytes(facts.soft)}) still limits registered buffers.`,
      fixes: [],
    });
  }
  if (p.flags & IORING_SETUP_SQPOLL && env.euid !== 0 && env.kernel.major === 5 && env.kernel.minor < 13) {
    findings.push({ severity: 'warning', message: 'SQPOLL needs privileges before Linux 5.13.', fixes: [{ action: 'drop sqpoll', command: 'uring doctor' }] });
  }
  if (env.openFds !== null && env.nofile.soft - env.openFds < 16) {
    findings.push({ severity: 'warning', message: `only ${env.nofile.soft - env.openFds} file descriptors left under RLIMIT_NOFILE (${env.nofile.soft}).`, fixes: [{ action: 'raise the soft limit', command: `ulimit -n ${env.nofile.hard}` }] });
  }
  if (env.systemFiles && env.systemFiles.max - env.systemFiles.allocated < 1024) {
    findings.push({ severity: 'warning', message: `the system file table is nearly full: ${env.systemFiles.allocated} of fs.file-max ${env.systemFiles.max} allocated.`, fixes: [{ action: 'raise it (root)', command: `sudo sysctl -w fs.file-max=${env.systemFiles.max * 2}` }] });
  }

  // Then the kernel's answer for the requested shape (arguments that are not even a u32 throw, as from queueInit).
  const attempt = tryRing(entries, setupOptions, fitsBudget(ringBytes, budget));
  let granted: { sqEntries: number; cqEntries: number; features: string[] } | null = null;
  let flagProbe: ReturnType<typeof probeSetupFlags> | null = null;
  if (attempt.ring) {
    const ring = attempt.ring;
    granted = { sqEntries: ring.sqEntries, cqEntries: ring.cqEntries, features: Object.entries(ring.feature).filter(([, v]) => v).map(([k]) => k) };
    releaseRing(ring);
  } else if (attempt.error.code === 'EINVAL' && !options.quick) {
    // Which flags this kernel refuses alone tells "unsupported" from "invalid".
    flagProbe = probeSetupFlags(budget);
  }

  // The largest ring now, by search: with the requested flags, or with none when the failure was not about memory.
  const searchOptions: SetupOptions = attempt.error && attempt.error.code !== 'ENOMEM' ? {} : setupOptions;
  const largest: Report['largest'] = { ...largestEntries(searchOptions, budget), flags: setupFlagNames(resolveOptions(searchOptions).flags) };

  let diagnosis: Diagnosis | null = null;
  if (attempt.error) {
    diagnosis = diagnoseSetupFailure(attempt.error.errno, entries, p, { env, memlock: facts, largest, acceptedFlags: flagProbe?.accepted });
    findings.unshift({ severity: 'error', message: diagnosis.cause, fixes: diagnosis.fixes });
    // The error already blames the filter; the generic warning would say it twice.
    if (env.seccomp.mode === 2 && (diagnosis.code === 'EPERM' || diagnosis.code === 'ENOSYS')) {
      const i = findings.findIndex((f) => f.severity === 'warning' && /seccomp filter is active/.test(f.message));
      if (i >= 0) findings.splice(i, 1);
    }
  }
  const setup: Report['setup'] = granted ? { ok: true, ...granted } : { ok: false, error: diagnosis!.code, diagnosis: diagnosis! };

  let status: Report['status'];
  if (setup.ok) status = 'ok';
  else if (largest.entries > 0 && (diagnosis!.kind === 'shape' || diagnosis!.kind === 'unsupported')) status = 'invalid-shape';
  else if (largest.entries > 0 && setup.error === 'ENOMEM') status = 'limited';
  else status = 'unusable';

  const shapeText = `a ring of ${entries} entries${p.flags ? ` (${setupFlagNames(p.flags).join('|')})` : ''}`;
  const verdicts: Record<Report['status'], () => string> = {
    ok: () => `io_uring: OK — ${shapeText} can be created on Linux ${env.kernel.release}`,
    unusable: () => `io_uring: NOT USABLE — ${setup.ok ? '' : setup.error} creating ${shapeText} on Linux ${env.kernel.release}; no ring of any size can be created now, so uring/fs will run on node:fs`,
    'invalid-shape': () => `io_uring: WORKS, but the requested shape is invalid — ${diagnosis!.cause} A ring of ${largest.entries} entries${largest.flags.length ? ` (${largest.flags.join('|')})` : ''} can be created on Linux ${env.kernel.release}`,
    limited: () => {
      const why = charged && ringBytes !== null && ringBytes > budget
        ? `it needs ${formatBytes(ringBytes)} of locked memory and ${formatBytes(budget)} of RLIMIT_MEMLOCK (${formatBytes(facts.soft)}) is free`
        : `ENOMEM (${ringBytes === null ? '?' : formatBytes(ringBytes)})`;
      return `io_uring: LIMITED — ${shapeText} does not fit now: ${why}; the largest ring that fits has ${largest.entries} entries (${formatBytes(largest.ringBytes)})`;
    },
  };

  const sizing = computeSizing(entries, p);
  const report: Report = {
    ok: setup.ok,
    status,
    exitCode: EXIT_CODES[status],
    verdict: verdicts[status](),
    kernel: env.kernel.release,
    environment: { ...env, capabilities: { ...env.capabilities, effective: `0x${env.capabilities.effective.toString(16)}` } },
    memlock: {
      soft: limitOrNull(facts.soft),
      hard: limitOrNull(facts.hard),
      chargesRings: facts.charging.self.charged,
      kernelChargesRings: facts.charging.kernel.charged,
      exempt: facts.charging.exempt,
      how: facts.charging.self.how,
      evidence: facts.charging.self.evidence,
      kernelEvidence: facts.charging.kernel.evidence,
      cacheFile: facts.charging.cacheFile,
      freeBytes: facts.headroom?.freeBytes ?? null,
      freeExact: facts.headroom?.exact ?? false,
      freeEvidence: facts.headroom?.evidence ?? null,
      usedBytes: facts.usedBytes,
      holders: facts.holders,
      heldBytes: facts.heldBytes,
    },
    chargesMemlock: charged,
    shape: {
      entries,
      flags: setupFlagNames(p.flags),
      sqEntries: setup.ok ? setup.sqEntries : sizing.ok ? sizing.sqEntries : null,
      cqEntries: setup.ok ? setup.cqEntries : sizing.ok ? sizing.cqEntries : null,
      ringBytes,
      mlockBytes: charged ? ringBytes ?? 0 : 0,
    },
    setup,
    largest,
    largestEntries: largest.entries,
    findings,
  };
  if (!options.quick) {
    flagProbe ??= probeSetupFlags(budget);
    report.flags = flagProbe.flags;
    report.opcodes = (() => { const o = probeOpcodes(budget); return 'error' in o ? o : o.names; })();
  }
  return report;
}
