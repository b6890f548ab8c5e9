/**
 * diagnose(): a structured report of this machine as it bears on io_uring,
 * with a verdict first, then findings, each with the fixes that apply.
 */
import { IORING_SETUP_SQPOLL } from '../abi/constants.js';
import { setupFlagNames } from '../abi/names.js';
import { PAGE_SIZE, queueInit, resolveOptions, ringMemorySize, type SetupOptions, UringError } from '../ring/index.js';
import { type Environment, type EnvironmentSource, formatBytes, liveSource, readEnvironment } from './environment.js';
import { type Diagnosis, diagnoseSetupFailure } from './explain.js';
import { type FlagSupport, largestEntries, probeOpcodes, probeSetupFlags, ringsChargeMemlock } from './probe.js';

export interface DiagnoseOptions {
  /** The ring shape to check (default 256 entries, no flags). */
  entries?: number;
  setup?: SetupOptions;
  /** Stand-in for /proc and the process (tests). */
  source?: EnvironmentSource;
  /** Overrides whether this kernel charges rings to RLIMIT_MEMLOCK (tests). */
  chargesMemlock?: boolean;
  /** Skip the slower probes (flags, largest ring). */
  quick?: boolean;
}

export interface Finding {
  severity: 'error' | 'warning' | 'info';
  message: string;
  fixes: string[];
}

export interface Report {
  ok: boolean;
  verdict: string;
  kernel: string;
  environment: Omit<Environment, 'capabilities'> & { capabilities: { ipcLock: boolean; sysAdmin: boolean; sysNice: boolean; effective: string } };
  chargesMemlock: boolean;
  shape: { entries: number; flags: string[]; ringBytes: number | null; mlockBytes: number };
  setup: { ok: true; sqEntries: number; cqEntries: number; features: string[] } | { ok: false; error: string; diagnosis: Diagnosis };
  flags?: FlagSupport[];
  opcodes?: string[] | { error: string };
  largestEntries?: number;
  findings: Finding[];
}

/** The locked memory a ring of this shape needs (liburing's io_uring_mlock_size): 0 where rings are not charged to RLIMIT_MEMLOCK. */
export function mlockSize(entries: number, setup: SetupOptions = {}, charges?: boolean): number {
  const p = resolveOptions(setup);
  const env = readEnvironment(liveSource, PAGE_SIZE);
  if (!(charges ?? ringsChargeMemlock(env.kernel.major, env.kernel.minor))) return 0;
  return ringMemorySize(entries, p, PAGE_SIZE) ?? 0;
}

/** Examines this machine (or an injected view of one) and the requested ring shape. */
export function diagnose(options: DiagnoseOptions = {}): Report {
  const source = options.source ?? liveSource;
  const env = readEnvironment(source, PAGE_SIZE);
  const entries = options.entries ?? 256;
  const setupOptions = options.setup ?? {};
  const p = resolveOptions(setupOptions);
  const charges = options.chargesMemlock ?? ringsChargeMemlock(env.kernel.major, env.kernel.minor);
  const ringBytes = ringMemorySize(entries, p, PAGE_SIZE);
  const findings: Finding[] = [];

  // What the environment says before asking the kernel.
  if (env.ioUringDisabled === 2) findings.push({ severity: 'error', message: 'kernel.io_uring_disabled is 2: io_uring is disabled for every process.', fixes: ['`sysctl -w kernel.io_uring_disabled=0`'] });
  if (env.ioUringDisabled === 1 && !env.capabilities.sysAdmin && !env.inIoUringGroup) {
    findings.push({ severity: 'error', message: `kernel.io_uring_disabled is 1 and this process has neither CAP_SYS_ADMIN nor membership of kernel.io_uring_group (${env.ioUringGroup}).`, fixes: ['join the io_uring group, or `sysctl -w kernel.io_uring_disabled=0`'] });
  }
  if (env.seccomp.mode === 2) findings.push({ severity: 'warning', message: `a seccomp filter is active (${env.seccomp.filters} filter(s)); container profiles often block io_uring.`, fixes: ['allow io_uring_setup, io_uring_enter, io_uring_register in the profile'] });
  if (env.container.likely) findings.push({ severity: 'info', message: `running in a container: ${env.container.hints.join('; ')}.`, fixes: [] });
  if (charges && ringBytes !== null && !env.capabilities.ipcLock && ringBytes > env.memlock.soft) {
    findings.push({ severity: 'error', message: `a ring of ${entries} entries needs ${formatBytes(ringBytes)} of locked memory; RLIMIT_MEMLOCK is ${formatBytes(env.memlock.soft)}.`, fixes: [`\`ulimit -l ${Math.ceil(ringBytes / 1024)}\``, 'LimitMEMLOCK=infinity (systemd)', '--ulimit memlock=-1:-1 (Docker)'] });
  } else if (!charges) {
    findings.push({ severity: 'info', message: `ring memory is accounted to the memory cgroup, not RLIMIT_MEMLOCK (IORING_FEAT_NATIVE_WORKERS); RLIMIT_MEMLOCK (${formatBytes(env.memlock.soft)}) still limits registered buffers.`, fixes: [] });
  }
  if (p.flags & IORING_SETUP_SQPOLL && env.euid !== 0 && env.kernel.major === 5 && env.kernel.minor < 13) {
    findings.push({ severity: 'warning', message: 'SQPOLL needs privileges before Linux 5.13.', fixes: ['drop sqpoll'] });
  }
  if (env.openFds !== null && env.nofile.soft - env.openFds < 16) {
    findings.push({ severity: 'warning', message: `only ${env.nofile.soft - env.openFds} file descriptors left under RLIMIT_NOFILE (${env.nofile.soft}).`, fixes: ['raise `ulimit -n`'] });
  }

  // Then the kernel's answer for the requested shape.
  let setup: Report['setup'];
  try {
    const ring = queueInit(entries, setupOptions);
    setup = { ok: true, sqEntries: ring.sqEntries, cqEntries: ring.cqEntries, features: Object.entries(ring.feature).filter(([, v]) => v).map(([k]) => k) };
    ring.queueExit();
  } catch (e) {
    if (!(e instanceof UringError)) throw e;
    const diagnosis = diagnoseSetupFailure(e.errno, entries, p, { env, chargesMemlock: charges });
    setup = { ok: false, error: e.code, diagnosis };
    findings.unshift({ severity: 'error', message: diagnosis.cause, fixes: diagnosis.fixes });
  }

  const report: Report = {
    ok: setup.ok,
    verdict: setup.ok
      ? `io_uring: OK — a ring of ${entries} entries${p.flags ? ` (${setupFlagNames(p.flags).join('|')})` : ''} can be created on Linux ${env.kernel.release}`
      : `io_uring: NOT USABLE — ${setup.error} creating a ring of ${entries} entries on Linux ${env.kernel.release}; uring/fs will run on node:fs`,
    kernel: env.kernel.release,
    environment: { ...env, capabilities: { ...env.capabilities, effective: `0x${env.capabilities.effective.toString(16)}` } },
    chargesMemlock: charges,
    shape: { entries, flags: setupFlagNames(p.flags), ringBytes, mlockBytes: charges ? ringBytes ?? 0 : 0 },
    setup,
    findings,
  };
  if (!options.quick) {
    const flags = probeSetupFlags();
    report.flags = flags.flags;
    report.opcodes = (() => { const o = probeOpcodes(); return 'error' in o ? o : o.names; })();
    report.largestEntries = setup.ok ? largestEntries(setupOptions) : 0;
  }
  return report;
}
