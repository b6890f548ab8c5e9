/**
 * Why a ring could not be created on this machine, with the numbers, and
 * what to do about it. Follows io_uring_setup(2)'s ERRORS section and the
 * vendor note on -ENOMEM (locked memory, queue depth, containers).
 */
import { IORING_SETUP, IORING_SETUP_SQPOLL } from '../abi/constants.js';
import { flagNames } from '../abi/names.js';
import { computeSizing, ringMemorySize, type ResolvedParams } from '../ring/params.js';
import { errnoName, invalidCombination, explainSetupFailure } from '../ring/index.js';
import { type Environment, formatBytes, kernelAtLeast } from './environment.js';

/** The kernel release that introduced each setup flag. */
export const SETUP_FLAG_SINCE: Readonly<Record<string, readonly [number, number]>> = Object.freeze({
  IORING_SETUP_IOPOLL: [5, 1], IORING_SETUP_SQPOLL: [5, 1], IORING_SETUP_SQ_AFF: [5, 1],
  IORING_SETUP_CQSIZE: [5, 5], IORING_SETUP_CLAMP: [5, 6], IORING_SETUP_ATTACH_WQ: [5, 6],
  IORING_SETUP_R_DISABLED: [5, 10], IORING_SETUP_SUBMIT_ALL: [5, 18], IORING_SETUP_COOP_TASKRUN: [5, 19],
  IORING_SETUP_TASKRUN_FLAG: [5, 19], IORING_SETUP_SQE128: [5, 19], IORING_SETUP_CQE32: [5, 19],
  IORING_SETUP_SINGLE_ISSUER: [6, 0], IORING_SETUP_DEFER_TASKRUN: [6, 1], IORING_SETUP_NO_MMAP: [6, 5],
  IORING_SETUP_REGISTERED_FD_ONLY: [6, 5], IORING_SETUP_NO_SQARRAY: [6, 6], IORING_SETUP_HYBRID_IOPOLL: [6, 13],
  IORING_SETUP_CQE_MIXED: [6, 18], IORING_SETUP_SQE_MIXED: [6, 19], IORING_SETUP_SQ_REWIND: [6, 19],
});

/** A diagnosis: the cause in one or two sentences, the fixes that apply, and the facts behind them. */
export interface Diagnosis {
  code: string;
  cause: string;
  fixes: string[];
  facts: Record<string, unknown>;
}

/** Context for explaining: the environment, and whether ring memory is charged to RLIMIT_MEMLOCK. */
export interface ExplainContext {
  env: Environment;
  /** True on kernels without IORING_FEAT_NATIVE_WORKERS (before 5.12), where rings count against RLIMIT_MEMLOCK. */
  chargesMemlock: boolean;
  /** Setup flags this kernel accepts (each tried alone), when known. */
  acceptedFlags?: number;
}

function largestFittingEntries(p: ResolvedParams, budget: number, pageSize: number): number {
  let best = 0;
  for (let e = 1; e <= 32768; e *= 2) {
    const size = ringMemorySize(e, { ...p, flags: p.flags & ~IORING_SETUP.IORING_SETUP_CQSIZE }, pageSize);
    if (size !== null && size <= budget) best = e;
  }
  return best;
}

function containerFixes(env: Environment, what: string): string[] {
  if (!env.container.likely) return [];
  return [
    `this looks like a container (${env.container.hints.join('; ')}): ${what}`,
  ];
}

/** Explains a failed io_uring_setup(2) in this environment. */
export function diagnoseSetupFailure(errno: number, entries: number, p: ResolvedParams, ctx: ExplainContext): Diagnosis {
  const code = errnoName(errno);
  const env = ctx.env;
  const flags = flagNames(IORING_SETUP, p.flags);
  const facts: Record<string, unknown> = { errno: -Math.abs(errno), entries, flags, kernel: env.kernel.release };
  switch (code) {
    case 'ENOMEM': {
      const sizing = computeSizing(entries, p);
      const needed = ringMemorySize(entries, p, env.pageSize) ?? 0;
      facts.ringBytes = needed;
      facts.sq = sizing.ok ? sizing.sqEntries : null;
      facts.cq = sizing.ok ? sizing.cqEntries : null;
      facts.memlock = env.memlock;
      facts.chargesMemlock = ctx.chargesMemlock;
      facts.memAvailableBytes = env.memAvailableBytes;
      const fixes: string[] = [];
      let cause: string;
      if (ctx.chargesMemlock && !env.capabilities.ipcLock && needed > env.memlock.soft) {
        const fit = largestFittingEntries(p, env.memlock.soft, env.pageSize);
        cause = `ENOMEM: a ring of ${entries} entries needs ${formatBytes(needed)} of locked memory and RLIMIT_MEMLOCK is ${formatBytes(env.memlock.soft)}; this kernel (${env.kernel.release}) charges ring memory to the locked-memory limit.`;
        fixes.push(`raise the limit: \`ulimit -l ${Math.ceil(needed / 1024)}\` (KiB) or \`ulimit -l unlimited\` before starting the program`);
        fixes.push('under systemd: `LimitMEMLOCK=infinity` in the service\'s [Service] section');
        fixes.push('in Docker: `docker run --ulimit memlock=-1:-1 …` (or give the container CAP_IPC_LOCK)');
        if (fit > 0) fixes.push(`or lower entries to ${fit}, the largest ring that fits in ${formatBytes(env.memlock.soft)}`);
        fixes.push('or run with root privileges (CAP_IPC_LOCK), as the vendor note advises');
      } else {
        cause = `ENOMEM: the kernel could not allocate a ring of ${entries} entries (${formatBytes(needed)})` +
          (env.memAvailableBytes !== null ? ` with ${formatBytes(env.memAvailableBytes)} of memory available` : '') +
          (ctx.chargesMemlock ? '' : '; this kernel accounts ring memory to the memory cgroup, not to RLIMIT_MEMLOCK') + '.';
        const fit = largestFittingEntries(p, Math.max(env.pageSize * 4, Math.floor(needed / 4)), env.pageSize);
        fixes.push(`lower entries (try ${fit > 0 ? fit : Math.max(1, Math.floor(entries / 2))}; uring's adaptive setup halves entries until the ring fits)`);
        fixes.push('free memory, or raise the memory limit of the cgroup/container the program runs in');
      }
      fixes.push(...containerFixes(env, 'a container without full privileges can hit ENOMEM even as root; `--privileged` lifts it, at the price of nearly all host privileges'));
      return { code, cause, fixes, facts };
    }
    case 'EPERM': {
      facts.ioUringDisabled = env.ioUringDisabled;
      facts.ioUringGroup = env.ioUringGroup;
      facts.seccomp = env.seccomp;
      if (env.ioUringDisabled === 2) {
        return { code, cause: 'EPERM: io_uring is disabled system-wide: /proc/sys/kernel/io_uring_disabled is 2.', fixes: ['an administrator can allow it: `sysctl -w kernel.io_uring_disabled=0` (or 1 with kernel.io_uring_group)', 'until then, uring/fs runs on node:fs'], facts };
      }
      if (env.ioUringDisabled === 1 && !env.capabilities.sysAdmin && !env.inIoUringGroup) {
        const group = env.ioUringGroup !== null && env.ioUringGroup >= 0 ? `group ${env.ioUringGroup}` : 'no group (io_uring_group is -1)';
        return {
          code,
          cause: `EPERM: /proc/sys/kernel/io_uring_disabled is 1: io_uring is limited to processes with CAP_SYS_ADMIN or in kernel.io_uring_group (${group}); this process has neither.`,
          fixes: [
            env.ioUringGroup !== null && env.ioUringGroup >= 0 ? `add the user to group ${env.ioUringGroup} (e.g. \`usermod -aG <that group> $USER\`), then log in again` : 'an administrator can set `sysctl -w kernel.io_uring_group=<gid>` and add the user to that group',
            'or set `sysctl -w kernel.io_uring_disabled=0`',
            'or run with CAP_SYS_ADMIN',
          ],
          facts,
        };
      }
      if (env.seccomp.mode === 2) {
        return {
          code,
          cause: `EPERM: a seccomp filter denies io_uring to this process (Seccomp mode 2, ${env.seccomp.filters} filter(s)); container runtimes' default profiles block io_uring_setup.`,
          fixes: [
            'in Docker/Podman: run with a seccomp profile that allows io_uring_setup, io_uring_enter and io_uring_register (`--security-opt seccomp=<profile.json>`), or `--security-opt seccomp=unconfined`',
            'in Kubernetes: a securityContext.seccompProfile that allows those three syscalls',
            'until then, uring/fs runs on node:fs',
          ],
          facts,
        };
      }
      if (p.flags & IORING_SETUP_SQPOLL) {
        const needs = kernelAtLeast(env, 5, 13) ? 'nothing special on 5.13+' : kernelAtLeast(env, 5, 11) ? 'CAP_SYS_NICE on 5.11–5.12' : 'root (CAP_SYS_ADMIN) before 5.11';
        return { code, cause: `EPERM: IORING_SETUP_SQPOLL was specified, but the effective user (uid ${env.euid}) lacks the privileges it needs on Linux ${env.kernel.release} (${needs}).`, fixes: ['drop SQPOLL (the driver does not need it)', 'or grant CAP_SYS_NICE / run as root'], facts };
      }
      return { code, cause: 'EPERM: io_uring_setup is not permitted to this process (a security module or policy denies it).', fixes: ['check SELinux/AppArmor policies and the container\'s seccomp profile'], facts };
    }
    case 'ENOSYS': {
      facts.seccomp = env.seccomp;
      const seccomp = env.seccomp.mode === 2;
      return {
        code,
        cause: seccomp
          ? `ENOSYS: io_uring_setup is reported as missing while a seccomp filter is active (${env.seccomp.filters} filter(s)): the filter blocks it, as container runtimes do.`
          : `ENOSYS: this kernel (${env.kernel.release}) has no io_uring_setup: io_uring is not built in (CONFIG_IO_URING) or the kernel predates 5.1.`,
        fixes: seccomp ? ['allow io_uring_setup, io_uring_enter and io_uring_register in the seccomp profile'] : ['use a kernel with CONFIG_IO_URING=y (5.1+, 6.1+ recommended)'],
        facts,
      };
    }
    case 'EMFILE':
      facts.nofile = env.nofile;
      facts.openFds = env.openFds;
      return {
        code,
        cause: `EMFILE: this process has ${env.openFds ?? '?'} open file descriptors and RLIMIT_NOFILE is ${env.nofile.soft} (hard ${env.nofile.hard}); a ring needs one more.`,
        fixes: [env.nofile.soft < env.nofile.hard ? `raise the soft limit up to the hard one: \`ulimit -n ${env.nofile.hard}\`` : '`ulimit -n <more>` (the hard limit needs root), or `LimitNOFILE=` under systemd, `--ulimit nofile=` in Docker', 'close descriptors that are no longer needed'],
        facts,
      };
    case 'ENFILE':
      return { code, cause: 'ENFILE: the system-wide limit on open files has been reached (/proc/sys/fs/file-max).', fixes: ['raise fs.file-max, or find the process holding too many files'], facts };
    case 'EINVAL': {
      const sizing = computeSizing(entries, p);
      if (!sizing.ok) return { code, cause: `EINVAL: ${sizing.reason}.`, fixes: ['pass entries between 1 and 32768, or set IORING_SETUP_CLAMP (`{ clamp: true }`)', 'with cqEntries: at least entries, at most 65536'], facts };
      const combo = invalidCombination(p.flags);
      if (combo) return { code, cause: `EINVAL: ${combo}.`, fixes: ['fix the flag combination as stated'], facts };
      const tooNew: string[] = [];
      for (const name of flags) {
        const since = SETUP_FLAG_SINCE[name];
        const rejected = ctx.acceptedFlags !== undefined && (IORING_SETUP as Record<string, number>)[name] !== undefined && !(ctx.acceptedFlags & (IORING_SETUP as Record<string, number>)[name]);
        if ((since && !kernelAtLeast(env, since[0], since[1])) || rejected) tooNew.push(since ? `${name} (Linux ${since[0]}.${since[1]}+)` : name);
      }
      facts.rejectedFlags = tooNew;
      if (tooNew.length > 0) {
        return { code, cause: `EINVAL: this kernel (${env.kernel.release}) does not support ${tooNew.join(', ')}.`, fixes: ['drop the flag, or use uring\'s adaptive setup, which drops optional flags the kernel rejects', 'or run on a newer kernel'], facts };
      }
      return { code, cause: explainSetupFailure(errno, entries, p), fixes: ['check sq_thread_cpu, wq_fd and NO_MMAP memory against io_uring_setup(2)'], facts };
    }
    default:
      return { code, cause: explainSetupFailure(errno, entries, p), fixes: [], facts };
  }
}

/** The diagnosis as text: cause, then fixes. */
export function renderDiagnosis(d: Diagnosis): string {
  return d.fixes.length ? `${d.cause}\nFixes:\n${d.fixes.map((f) => `  - ${f}`).join('\n')}` : d.cause;
}
