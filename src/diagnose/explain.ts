/**
 * Why a ring could not be created on this machine, with the numbers, and
 * what to do about it, least privilege first. Follows io_uring_setup(2)'s
 * ERRORS section and the vendor note on -ENOMEM (locked memory, queue depth,
 * containers), with what the kernel answers here instead of what a version
 * number suggests.
 *
 * Nothing happens on import: explain(err) is called by whoever wants the
 * full story (the fs backend when it falls back, the CLI, a program).
 */
import { IORING_SETUP, IORING_SETUP_SQPOLL } from '../abi/constants.js';
import { flagNames } from '../abi/names.js';
import {
  computeSizing, einvalCause, errnoName, explainSetupFailure, PAGE_SIZE, ringMemorySize, SETUP_FLAG_SINCE,
  type ResolvedParams, UringError,
} from '../ring/index.js';
import { type Environment, type EnvironmentSource, formatBytes, kernelAtLeast, liveSource, readEnvironment } from './environment.js';
import { freeMemlock, largestEntriesWithin, type MemlockFacts, memlockFacts, type RingHolder } from './memlock.js';
import { largestEntries, type LargestRing, setupOptionsOf } from './probe.js';

export { SETUP_FLAG_SINCE };

/** One way out: what it does, and the command that does it. */
export interface Fix {
  /** What the fix does and what it needs (privilege, a restart). */
  action: string;
  /** The exact command (or configuration line). */
  command: string;
}

/** A diagnosis: the cause with its numbers, the fixes in least-privilege order, and the facts behind them. */
export interface Diagnosis {
  code: string;
  /**
   * `shape`: the requested ring breaks a rule every kernel applies (EINVAL);
   * `unsupported`: this kernel lacks a requested flag (EINVAL);
   * `machine`: this machine's limits, policy or kernel (ENOMEM, EPERM, EMFILE, …);
   * `other`: not a setup failure.
   */
  kind: 'shape' | 'unsupported' | 'machine' | 'other';
  cause: string;
  fixes: Fix[];
  facts: Record<string, unknown>;
  /** Cause and first fix on one line (for logs and the fs backend's reason). */
  summary: string;
}

/** What the diagnosis may use beyond the error: the environment, and what was measured. */
export interface ExplainContext {
  env: Environment;
  /** Locked-memory facts (measured); needed for ENOMEM. */
  memlock?: MemlockFacts;
  /** The largest ring of this shape that can be created now (by search). */
  largest?: LargestRing;
  /** Setup flags this kernel accepted, each tried alone. */
  acceptedFlags?: number;
}

const KiB = (n: number): number => Math.ceil(n / 1024);
/** A limit to suggest (KiB): the need rounded up to whole MiB, within the hard limit when one applies. */
function suggestKiB(need: number, hard = Infinity): number {
  const rounded = Math.ceil(need / (1 << 20)) * 1024;
  return Number.isFinite(hard) ? Math.max(KiB(need), Math.min(rounded, Math.floor(hard / 1024))) : rounded;
}
const withBytes = (n: number): string => (Number.isFinite(n) && n >= 1024 ? `${formatBytes(n)} (${n} bytes)` : formatBytes(n));

function summarize(cause: string, fixes: Fix[]): string {
  return fixes.length ? `${cause} Fix: ${fixes[0].action}: ${fixes[0].command}` : cause;
}

function diagnosis(code: string, kind: Diagnosis['kind'], cause: string, fixes: Fix[], facts: Record<string, unknown>): Diagnosis {
  return { code, kind, cause, fixes, facts, summary: summarize(cause, fixes) };
}

/** "pid 4242 (node) holds 2 rings, 6.2 MiB of your 8 MiB" */
export function describeHolder(h: RingHolder, limit?: number): string {
  const parts = [`${h.rings} ring${h.rings === 1 ? '' : 's'}, ${formatBytes(h.ringBytes)}`];
  if (h.bufferBytes) parts.push(`${formatBytes(h.bufferBytes)} of registered buffers`);
  const of = limit !== undefined && Number.isFinite(limit) && !h.exempt ? ` of your ${formatBytes(limit)}` : '';
  return `pid ${h.pid} (${h.comm})${h.self ? ' [this process]' : ''} holds ${parts.join(' and ')}${of}${h.exempt ? ' (has CAP_IPC_LOCK: probably not charged)' : ''}`;
}

/** The fixes for "the ring does not fit in RLIMIT_MEMLOCK", least privilege first, each a command. */
function memlockFixes(env: Environment, facts: MemlockFacts, need: number, entries: number, fit: number, fitBytes: number): Fix[] {
  const fixes: Fix[] = [];
  const used = facts.usedBytes ?? facts.heldBytes;
  const total = used + need;
  const others = facts.holders.filter((h) => !h.self && !h.exempt);
  if (fit > 0 && fit < entries) {
    fixes.push({
      action: `lower entries to ${fit}, the largest ring that fits now (${formatBytes(fitBytes)}; needs no privilege)`,
      command: `uring doctor --entries ${fit}   # in code: queueInit(${fit}) or queueInitAdaptive(${entries})`,
    });
  }
  if (others.length > 0) {
    const held = others.reduce((n, h) => n + h.ringBytes + h.bufferBytes, 0);
    fixes.push({
      action: `stop or shrink your other processes that hold rings (${formatBytes(held)} of your ${formatBytes(facts.soft)}): ${others.map((h) => describeHolder(h)).join('; ')}`,
      command: `kill ${others.map((h) => h.pid).join(' ')}`,
    });
  }
  if (total <= facts.hard) {
    fixes.push({
      action: `raise the soft limit to at least ${KiB(total)} KiB (up to the hard limit, ${formatBytes(facts.hard)}; no privilege needed) in the shell that starts the program`,
      command: `ulimit -l ${suggestKiB(total, facts.hard)}`,
    });
  } else {
    fixes.push({
      action: `raise soft and hard limit for the shell that starts the program (root): the hard limit (${formatBytes(facts.hard)}) is below the ${KiB(total)} KiB needed, so \`ulimit -l\` alone cannot reach it`,
      command: `sudo prlimit --pid $$ --memlock=${suggestKiB(total) * 1024}:${suggestKiB(total) * 1024}   # then: ulimit -l ${suggestKiB(total)}`,
    });
  }
  const user = env.uid === 0 ? 'root' : `$(id -un)`;
  fixes.push({
    action: `raise the hard limit for the user (root; takes effect at the next login) to at least ${KiB(total)} KiB`,
    command: `echo "${user} - memlock ${suggestKiB(total)}" | sudo tee -a /etc/security/limits.conf`,
  });
  fixes.push({
    action: 'under systemd: raise the service\'s limit (root; restart the service)',
    command: `sudo systemctl edit <service>   # [Service] LimitMEMLOCK=${suggestKiB(total)}K`,
  });
  fixes.push({
    action: 'give the program CAP_IPC_LOCK (root): the kernel does not charge rings of a CAP_IPC_LOCK holder; every program run by that node binary gets it',
    command: 'sudo setcap cap_ipc_lock+ep "$(readlink -f "$(command -v node)")"',
  });
  fixes.push({
    action: 'in Docker/Podman: add only CAP_IPC_LOCK to the container (counts in rootful containers; a rootless one has no CAP_IPC_LOCK in the initial user namespace, use --ulimit there)',
    command: 'docker run --cap-add IPC_LOCK …',
  });
  fixes.push({
    action: 'in Kubernetes: add CAP_IPC_LOCK to the container',
    command: 'securityContext: { capabilities: { add: ["IPC_LOCK"] } }',
  });
  fixes.push({
    action: 'in Docker/Podman: raise the container\'s locked-memory limit (Kubernetes has no per-pod ulimit: set LimitMEMLOCK= on the container runtime\'s service, e.g. containerd)',
    command: `docker run --ulimit memlock=${suggestKiB(total) * 1024}:${suggestKiB(total) * 1024} …`,
  });
  fixes.push({
    action: 'run as root on the host (root holds CAP_IPC_LOCK), as the vendor note advises',
    command: 'sudo <program>',
  });
  fixes.push({
    action: 'last resort: a privileged container (WARNING: --privileged grants the container nearly all host privileges; use with caution)',
    command: 'docker run --privileged=true …',
  });
  return fixes;
}

function enomem(entries: number, p: ResolvedParams, ctx: ExplainContext, facts: Record<string, unknown>): Diagnosis {
  const env = ctx.env;
  const need = ringMemorySize(entries, p, env.pageSize) ?? 0;
  const sizing = computeSizing(entries, p);
  facts.ringBytes = need;
  facts.sq = sizing.ok ? sizing.sqEntries : null;
  facts.cq = sizing.ok ? sizing.cqEntries : null;
  facts.memAvailableBytes = env.memAvailableBytes;
  const m = ctx.memlock;
  const largest = ctx.largest;
  if (largest) facts.largest = { entries: largest.entries, ringBytes: largest.ringBytes };
  const shapeText = sizing.ok ? `${entries} entries (SQ ${sizing.sqEntries}, CQ ${sizing.cqEntries})` : `${entries} entries`;
  if (m) {
    facts.memlock = {
      soft: m.soft, hard: m.hard, charged: m.charging.self.charged, kernelCharges: m.charging.kernel.charged, exempt: m.charging.exempt,
      how: m.charging.self.how, evidence: m.charging.self.evidence, freeBytes: m.headroom?.freeBytes ?? null, usedBytes: m.usedBytes,
      holders: m.holders, heldBytes: m.heldBytes,
    };
  }
  if (m && m.charging.self.charged === true && Number.isFinite(m.soft)) {
    const free = freeMemlock(m);
    if (need > free) {
      const fit = largest && largest.entries > 0 ? largest.entries : largestEntriesWithin(free, p);
      const fitBytes = largest && largest.entries > 0 ? largest.ringBytes : ringMemorySize(fit, p, env.pageSize) ?? 0;
      facts.largestFitting = fit;
      const used = m.usedBytes ?? m.heldBytes;
      const others = m.holders.filter((h) => !h.self);
      const heldText = others.length ? `; ${others.map((h) => describeHolder(h, m.soft)).join('; ')}` : '';
      const unattributed = m.usedBytes !== null ? m.usedBytes - m.heldBytes : 0;
      const unattributedText = unattributed >= PAGE_SIZE
        ? `; ${formatBytes(unattributed)} of it is held by nothing /proc shows (rings closed in the last moments are released asynchronously${m.unreadable ? `, ${m.unreadable} process(es) could not be inspected` : ''})`
        : '';
      const cause = `ENOMEM: a ring of ${shapeText} needs ${withBytes(need)} of locked memory, but RLIMIT_MEMLOCK is ${withBytes(m.soft)}` +
        ` and your user (uid ${env.uid}, all its processes together) already has ${withBytes(used)} charged, leaving ${withBytes(free)}${heldText}${unattributedText}. ` +
        `This kernel (${env.kernel.release}) charges ring memory to RLIMIT_MEMLOCK for processes without CAP_IPC_LOCK — ${m.charging.self.how === 'kernel-history' ? 'by its version history' : 'measured'}: ${m.charging.self.evidence}. ` +
        (fit > 0 ? `The largest ring that fits now has ${fit} entries (${formatBytes(fitBytes)}).` : 'No ring fits now, not even one entry.');
      return diagnosis('ENOMEM', 'machine', cause, memlockFixes(env, m, need, entries, fit, fitBytes), facts);
    }
    const cause = `ENOMEM: a ring of ${shapeText} needs ${withBytes(need)} and ${withBytes(free)} of RLIMIT_MEMLOCK (${withBytes(m.soft)}) is free now, so the limit was not the cause this time: ` +
      'either rings closed moments earlier were still charged (the kernel releases them asynchronously) or memory (or the memory cgroup) is short' +
      (env.memAvailableBytes !== null ? ` (${formatBytes(env.memAvailableBytes)} available)` : '') + '.';
    return diagnosis('ENOMEM', 'machine', cause, [
      { action: 'retry: a transient charge is gone within milliseconds', command: 'uring doctor --entries ' + entries },
      ...memoryFixes(entries, largest),
    ], facts);
  }
  const notCharged = m
    ? m.charging.self.charged === false
      ? `this process is not charged to RLIMIT_MEMLOCK (${m.charging.exempt ? 'it holds CAP_IPC_LOCK' : 'this kernel does not charge ring memory to it'}; ${m.charging.self.evidence})`
      : `whether this kernel charges rings to RLIMIT_MEMLOCK (${formatBytes(m.soft)}) could not be determined (${m.charging.self.evidence})`
    : 'RLIMIT_MEMLOCK was not examined';
  const cause = `ENOMEM: the kernel could not allocate a ring of ${shapeText} (${withBytes(need)})` +
    (env.memAvailableBytes !== null ? ` with ${formatBytes(env.memAvailableBytes)} of memory available` : '') +
    `; ${notCharged}, so memory or the memory cgroup's limit is short` +
    (largest && largest.entries > 0 ? `. The largest ring that fits now has ${largest.entries} entries.` : '.');
  return diagnosis('ENOMEM', 'machine', cause, memoryFixes(entries, largest), facts);
}

function memoryFixes(entries: number, largest?: LargestRing): Fix[] {
  const fixes: Fix[] = [];
  if (largest && largest.entries > 0 && largest.entries < entries) {
    fixes.push({ action: `lower entries to ${largest.entries}, the largest ring that fits now`, command: `uring doctor --entries ${largest.entries}   # in code: queueInit(${largest.entries})` });
  }
  fixes.push({ action: 'raise the memory limit of the container or cgroup', command: 'docker run --memory <more> …   # Kubernetes: resources.limits.memory' });
  fixes.push({ action: 'free memory on the machine', command: 'free -m   # then stop what uses it' });
  return fixes;
}

/** Explains a failed io_uring_setup(2) in this environment. */
export function diagnoseSetupFailure(errno: number, entries: number, p: ResolvedParams, ctx: ExplainContext): Diagnosis {
  const code = errnoName(errno);
  const env = ctx.env;
  const flags = flagNames(IORING_SETUP, p.flags);
  const facts: Record<string, unknown> = { errno: -Math.abs(errno), entries, flags, kernel: env.kernel.release };
  switch (code) {
    case 'ENOMEM':
      return enomem(entries, p, ctx, facts);
    case 'EPERM': {
      facts.ioUringDisabled = env.ioUringDisabled;
      facts.ioUringGroup = env.ioUringGroup;
      facts.seccomp = env.seccomp;
      if (env.ioUringDisabled === 2) {
        return diagnosis(code, 'machine', 'EPERM: io_uring is disabled system-wide: /proc/sys/kernel/io_uring_disabled is 2.', [
          { action: 'allow io_uring (root); 1 with kernel.io_uring_group limits it to one group', command: 'sudo sysctl -w kernel.io_uring_disabled=0' },
          { action: 'until then, uring/fs runs on node:fs', command: 'URING_BACKEND=node <program>' },
        ], facts);
      }
      if (env.ioUringDisabled === 1 && !env.capabilities.sysAdmin && !env.inIoUringGroup) {
        const group = env.ioUringGroup !== null && env.ioUringGroup >= 0 ? `group ${env.ioUringGroup}` : 'no group (io_uring_group is -1)';
        return diagnosis(code, 'machine',
          `EPERM: /proc/sys/kernel/io_uring_disabled is 1: io_uring is limited to processes with CAP_SYS_ADMIN or in kernel.io_uring_group (${group}); this process has neither.`, [
            env.ioUringGroup !== null && env.ioUringGroup >= 0
              ? { action: `add the user to group ${env.ioUringGroup} (root), then log in again`, command: `sudo usermod -aG "$(getent group ${env.ioUringGroup} | cut -d: -f1)" "$(id -un)"` }
              : { action: 'name a group that may use io_uring (root), then add the user to it', command: 'sudo sysctl -w kernel.io_uring_group=<gid>' },
            { action: 'allow io_uring for everyone (root)', command: 'sudo sysctl -w kernel.io_uring_disabled=0' },
          ], facts);
      }
      if (env.seccomp.mode === 2) {
        return diagnosis(code, 'machine',
          `EPERM: a seccomp filter denies io_uring to this process (Seccomp mode 2, ${env.seccomp.filters} filter(s)); container runtimes' default profiles block io_uring_setup.`, [
            { action: 'in Docker/Podman: a seccomp profile that allows io_uring_setup, io_uring_enter and io_uring_register', command: 'docker run --security-opt seccomp=<profile.json> …   # or seccomp=unconfined' },
            { action: 'in Kubernetes: a seccomp profile that allows those three syscalls', command: 'securityContext: { seccompProfile: { type: Localhost, localhostProfile: <profile.json> } }' },
            { action: 'until then, uring/fs runs on node:fs', command: 'URING_BACKEND=node <program>' },
          ], facts);
      }
      if (p.flags & IORING_SETUP_SQPOLL) {
        const needs = kernelAtLeast(env, 5, 13) ? 'nothing special on 5.13+' : kernelAtLeast(env, 5, 11) ? 'CAP_SYS_NICE on 5.11–5.12' : 'root (CAP_SYS_ADMIN) before 5.11';
        return diagnosis(code, 'machine', `EPERM: IORING_SETUP_SQPOLL was specified, but the effective user (uid ${env.euid}) lacks the privileges it needs on Linux ${env.kernel.release} (${needs}).`, [
          { action: 'drop SQPOLL (the driver does not need it)', command: 'uring doctor   # without --flag sqpoll' },
          { action: 'or grant CAP_SYS_NICE (root)', command: 'sudo setcap cap_sys_nice+ep "$(readlink -f "$(command -v node)")"' },
        ], facts);
      }
      return diagnosis(code, 'machine', 'EPERM: io_uring_setup is not permitted to this process (a security module or policy denies it).', [
        { action: 'look for the denial in the audit log (SELinux/AppArmor) and the container\'s seccomp profile', command: 'sudo journalctl -k | grep -i -e denied -e io_uring' },
      ], facts);
    }
    case 'ENOSYS': {
      facts.seccomp = env.seccomp;
      const seccomp = env.seccomp.mode === 2;
      return seccomp
        ? diagnosis(code, 'machine', `ENOSYS: io_uring_setup is reported as missing while a seccomp filter is active (${env.seccomp.filters} filter(s)): the filter blocks it, as container runtimes do.`, [
          { action: 'allow io_uring_setup, io_uring_enter and io_uring_register in the seccomp profile', command: 'docker run --security-opt seccomp=<profile.json> …' },
        ], facts)
        : diagnosis(code, 'machine', `ENOSYS: this kernel (${env.kernel.release}) has no io_uring_setup: io_uring is not built in (CONFIG_IO_URING) or the kernel predates 5.1.`, [
          { action: 'use a kernel with CONFIG_IO_URING=y (5.1+, 6.1+ recommended)', command: 'grep CONFIG_IO_URING /boot/config-$(uname -r)' },
        ], facts);
    }
    case 'EMFILE': {
      facts.nofile = env.nofile;
      facts.openFds = env.openFds;
      const fixes: Fix[] = [];
      if (env.nofile.soft < env.nofile.hard) fixes.push({ action: `raise the soft limit up to the hard one (${env.nofile.hard}; no privilege needed)`, command: `ulimit -n ${env.nofile.hard}` });
      fixes.push({ action: 'close descriptors the program no longer needs', command: `ls -l /proc/${process.pid}/fd` });
      fixes.push({ action: 'raise the hard limit (root): limits.conf, systemd LimitNOFILE=, Docker --ulimit', command: `docker run --ulimit nofile=${Math.max(1024, env.nofile.hard * 2)}:${Math.max(1024, env.nofile.hard * 2)} …   # systemd: LimitNOFILE=${Math.max(1024, env.nofile.hard * 2)}` });
      return diagnosis(code, 'machine',
        `EMFILE: this process has ${env.openFds ?? '?'} open file descriptors and RLIMIT_NOFILE is ${env.nofile.soft} (hard ${env.nofile.hard}); a ring needs one more.`, fixes, facts);
    }
    case 'ENFILE': {
      facts.systemFiles = env.systemFiles;
      const f = env.systemFiles;
      const numbers = f
        ? `the system has ${f.allocated} file handles allocated and fs.file-max is ${f.max} (/proc/sys/fs/file-nr)`
        : 'the system-wide table of open files is full (/proc/sys/fs/file-nr could not even be read, which confirms it)';
      return diagnosis(code, 'machine', `ENFILE: ${numbers}; processes without CAP_SYS_ADMIN cannot open anything until files are closed.`, [
        { action: 'find the processes holding the most descriptors', command: 'for p in /proc/[0-9]*; do echo "$(ls $p/fd 2>/dev/null | wc -l) $p $(cat $p/comm 2>/dev/null)"; done | sort -n | tail -5' },
        { action: 'raise the system-wide limit (root)', command: `sudo sysctl -w fs.file-max=${f ? f.max * 2 : '<more>'}` },
      ], facts);
    }
    case 'EINVAL': {
      const cause = einvalCause(entries, p, { acceptedFlags: ctx.acceptedFlags, release: env.kernel.release });
      facts.einval = cause.kind;
      if (cause.kind === 'unsupported') {
        facts.rejectedFlags = cause.flags;
        return diagnosis(code, 'unsupported', cause.text, [
          { action: `drop ${cause.flags!.join(', ')} (io_uring itself works here)`, command: 'uring doctor   # lists the flags this kernel accepts' },
          { action: 'or let adaptive setup drop optional flags the kernel rejects', command: 'queueInitAdaptive(entries, options)' },
          { action: 'or run on a kernel that has them', command: cause.flags!.map((n) => `${n}: Linux ${SETUP_FLAG_SINCE[n]?.join('.') ?? '?'}+`).join(', ') },
        ], facts);
      }
      const sizing = computeSizing(entries, p);
      const fixes: Fix[] = !sizing.ok
        ? [
            { action: 'pass entries between 1 and 32768 (the kernel rounds up to a power of two), or let the kernel clamp', command: 'uring doctor --entries 256   # in code: queueInit(n, { clamp: true })' },
            { action: 'with cqEntries: at least the SQ size, at most 65536', command: 'uring doctor --entries 256 --cq-entries 1024' },
          ]
        : cause.kind === 'shape'
          ? [{ action: 'change the arguments as stated (io_uring itself works here)', command: 'uring doctor --flag <flag>   # checks a shape' }]
          : [{ action: 'try each requested flag alone to see which this kernel refuses', command: `uring doctor ${flags.map((f) => `--flag ${f.replace('IORING_SETUP_', '').toLowerCase()}`).join(' ')}` }];
      return diagnosis(code, cause.kind === 'unknown' ? 'unsupported' : 'shape', cause.text, fixes, facts);
    }
    case 'ENXIO':
    case 'EBADF':
    case 'EFAULT':
      // A descriptor or address the caller passed: the shape of the request, not the machine.
      return diagnosis(code, 'shape', explainSetupFailure(errno, entries, p), [
        { action: 'pass an open io_uring descriptor as wq_fd (attachWq: ring or ring.fd), or memory from allocRingMemory() for NO_MMAP', command: 'queueInit(n, { attachWq: otherRing })' },
      ], facts);
    default: {
      const err = new UringError(errno, 'io_uring_setup');
      return diagnosis(code, 'machine', `${code}: io_uring_setup(2) failed (${err.message.split(': ')[1] ?? code}).`, [], facts);
    }
  }
}

/** Options for explain(). */
export interface ExplainOptions {
  /** Stand-in for /proc and the process (tests). */
  source?: EnvironmentSource;
  /** Re-measure what is cached for this boot. */
  fresh?: boolean;
  /** Setup flags the kernel accepted (from probeSetupFlags). */
  acceptedFlags?: number;
}

/**
 * The full story of an error: for a failed io_uring_setup(2) (a UringError
 * carrying `setup`), its cause on this machine with measured numbers and
 * the fixes in least-privilege order; for anything else, its message.
 * On ENOMEM this measures: whether rings are charged to RLIMIT_MEMLOCK (a
 * child process, once per boot), how much of the limit is free (registered
 * buffers on a 1-entry ring), which of this user's processes hold rings,
 * and the largest ring that fits now (by search).
 */
export function explain(err: unknown, options: ExplainOptions = {}): Diagnosis {
  if (!(err instanceof UringError) || !err.setup) {
    const e = err as { code?: unknown; message?: unknown };
    const message = typeof e?.message === 'string' ? e.message.split('\n').join(' ') : String(err);
    return diagnosis(typeof e?.code === 'string' ? e.code : 'ERROR', 'other', message, [], {});
  }
  const env = readEnvironment(options.source ?? liveSource, PAGE_SIZE);
  const { entries, params } = err.setup;
  const ctx: ExplainContext = { env, acceptedFlags: options.acceptedFlags };
  if (err.code === 'ENOMEM') {
    ctx.memlock = memlockFacts({ env, fresh: options.fresh, source: options.source });
    const budget = ctx.memlock.charging.self.charged ? freeMemlock(ctx.memlock) : Infinity;
    ctx.largest = largestEntries(setupOptionsOf(params), budget);
  }
  return diagnoseSetupFailure(err.errno, entries, params, ctx);
}

/** The diagnosis as text: cause, then the numbered fixes. */
export function renderDiagnosis(d: Diagnosis): string {
  if (!d.fixes.length) return d.cause;
  return `${d.cause}\nFixes, least privilege first:\n${d.fixes.map((f, i) => `  ${i + 1}. ${f.action}:\n       ${f.command}`).join('\n')}`;
}
