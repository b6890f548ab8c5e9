/**
 * Why io_uring_setup(2) refused, in the words of its ERRORS section, worked
 * out from the arguments alone. The diagnose layer adds what only the
 * environment can tell (limits, sysctls, seccomp) through `setSetupExplainer`.
 */
import {
  IORING_SETUP_COOP_TASKRUN, IORING_SETUP_CQE32, IORING_SETUP_CQE_MIXED,
  IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_HYBRID_IOPOLL, IORING_SETUP_IOPOLL,
  IORING_SETUP_NO_MMAP, IORING_SETUP_REGISTERED_FD_ONLY, IORING_SETUP_SINGLE_ISSUER,
  IORING_SETUP_SQE128, IORING_SETUP_SQE_MIXED, IORING_SETUP_SQPOLL, IORING_SETUP_SQ_AFF,
  IORING_SETUP_TASKRUN_FLAG, IORING_SETUP_ATTACH_WQ,
} from '../abi/constants.js';
import { setupFlagNames } from '../abi/names.js';
import { errnoName } from './errors.js';
import { computeSizing, KNOWN_SETUP_FLAGS, type ResolvedParams } from './params.js';

/** A rule of io_uring_setup(2) that a flag combination breaks (EINVAL). */
export function invalidCombination(flags: number): string | null {
  const has = (bit: number): boolean => (flags & bit) !== 0;
  if (flags & ~KNOWN_SETUP_FLAGS) {
    return `p.flags contains bits this library does not know (${setupFlagNames(flags & ~KNOWN_SETUP_FLAGS).join(', ')}); the kernel rejects flags it does not support`;
  }
  if (has(IORING_SETUP_SQ_AFF) && !has(IORING_SETUP_SQPOLL)) return 'IORING_SETUP_SQ_AFF was specified, but IORING_SETUP_SQPOLL was not';
  if (has(IORING_SETUP_SQPOLL) && (flags & (IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_DEFER_TASKRUN))) {
    return 'IORING_SETUP_SQPOLL cannot be combined with COOP_TASKRUN, TASKRUN_FLAG or DEFER_TASKRUN: completions are run by the SQ thread, not the task';
  }
  if (has(IORING_SETUP_DEFER_TASKRUN) && !has(IORING_SETUP_SINGLE_ISSUER)) return 'IORING_SETUP_DEFER_TASKRUN requires IORING_SETUP_SINGLE_ISSUER';
  if (has(IORING_SETUP_TASKRUN_FLAG) && !(flags & (IORING_SETUP_COOP_TASKRUN | IORING_SETUP_DEFER_TASKRUN))) {
    return 'IORING_SETUP_TASKRUN_FLAG requires IORING_SETUP_COOP_TASKRUN or IORING_SETUP_DEFER_TASKRUN';
  }
  if (has(IORING_SETUP_REGISTERED_FD_ONLY) && !has(IORING_SETUP_NO_MMAP)) return 'IORING_SETUP_REGISTERED_FD_ONLY requires IORING_SETUP_NO_MMAP (without an fd the rings cannot be mapped)';
  if (has(IORING_SETUP_HYBRID_IOPOLL) && !has(IORING_SETUP_IOPOLL)) return 'IORING_SETUP_HYBRID_IOPOLL requires IORING_SETUP_IOPOLL';
  if (has(IORING_SETUP_CQE32) && has(IORING_SETUP_CQE_MIXED)) return 'IORING_SETUP_CQE32 and IORING_SETUP_CQE_MIXED exclude each other';
  if (has(IORING_SETUP_SQE128) && has(IORING_SETUP_SQE_MIXED)) return 'IORING_SETUP_SQE128 and IORING_SETUP_SQE_MIXED exclude each other';
  return null;
}

/** The explanation io_uring_setup(2)'s ERRORS section gives, fitted to the call. */
export function explainSetupFailure(errno: number, entries: number, p: ResolvedParams): string {
  const code = errnoName(errno);
  switch (code) {
    case 'EINVAL': {
      const sizing = computeSizing(entries, p);
      if (!sizing.ok) return `EINVAL: ${sizing.reason}.`;
      const combo = invalidCombination(p.flags);
      if (combo) return `EINVAL: ${combo}.`;
      const parts = [
        `EINVAL: the kernel rejected the parameters (entries ${entries}, flags ${setupFlagNames(p.flags).join('|') || '0'}):`,
        'a flag may be newer than this kernel (`uring doctor` lists the flags it accepts)',
      ];
      if (p.flags & IORING_SETUP_SQ_AFF) parts.push(`or sq_thread_cpu ${p.sq_thread_cpu} is not an online CPU this process may use`);
      if (p.flags & IORING_SETUP_ATTACH_WQ) parts.push(`or wq_fd ${p.wq_fd} is not an io_uring file descriptor`);
      if (p.flags & IORING_SETUP_NO_MMAP) parts.push('or the memory given for IORING_SETUP_NO_MMAP is too small or not page-aligned');
      return `${parts.join(', ')}.`;
    }
    case 'ENOMEM':
      return 'ENOMEM: insufficient kernel resources: the kernel could not allocate the ring ' +
        `(${entries} entries). Either memory (or the locked-memory limit, \`ulimit -l\`, on kernels that charge rings to it) ` +
        'is short, or the queue is too deep: lower entries, raise RLIMIT_MEMLOCK, or run with privileges. ' +
        'Run `uring doctor` for the numbers on this machine.';
    case 'EPERM':
      return p.flags & IORING_SETUP_SQPOLL
        ? 'EPERM: IORING_SETUP_SQPOLL was specified, but the caller lacks the privileges it needs on this kernel, ' +
          'or io_uring is disabled by /proc/sys/kernel/io_uring_disabled. Drop SQPOLL or see `uring doctor`.'
        : 'EPERM: io_uring is disabled for this process: /proc/sys/kernel/io_uring_disabled is 2, or it is 1 and the ' +
          'process lacks CAP_SYS_ADMIN and is not in kernel.io_uring_group; a seccomp filter may also deny it. See `uring doctor`.';
    case 'EMFILE':
      return 'EMFILE: the per-process limit on open file descriptors (RLIMIT_NOFILE, `ulimit -n`) has been reached. Close files or raise the limit.';
    case 'ENFILE':
      return 'ENFILE: the system-wide limit on open files (/proc/sys/fs/file-max) has been reached.';
    case 'EFAULT':
      return 'EFAULT: params (or the memory given for IORING_SETUP_NO_MMAP) is outside the accessible address space.';
    case 'ENOSYS':
      return 'ENOSYS: this kernel has no io_uring_setup system call (io_uring not built in, or a kernel older than 5.1), or a seccomp filter makes it fail with ENOSYS, as container runtimes do.';
    case 'ENXIO':
      return p.flags & IORING_SETUP_ATTACH_WQ
        ? `ENXIO: wq_fd ${p.wq_fd} given with IORING_SETUP_ATTACH_WQ is not an open file descriptor.`
        : 'ENXIO: io_uring_setup(2) failed.';
    case 'EBADF':
      return p.flags & IORING_SETUP_ATTACH_WQ
        ? `EBADF: wq_fd ${p.wq_fd} given with IORING_SETUP_ATTACH_WQ is not an open file descriptor.`
        : 'EBADF: a file descriptor in params is not open.';
    case 'EACCES':
      return 'EACCES: a security module (SELinux, AppArmor) or seccomp profile denies io_uring to this process.';
    default:
      return `${code}: io_uring_setup(2) failed.`;
  }
}

/** Hook by which the diagnose layer turns a setup failure into a full explanation. */
export type SetupExplainer = (errno: number, entries: number, params: ResolvedParams) => { explanation: string; info?: Record<string, unknown> } | null;

let explainer: SetupExplainer | null = null;
/** The explainer may itself try rings (to learn the kernel's features): no explaining its failures. */
let explaining = false;

/** Installs the environment-aware explainer (the diagnose layer does this on import). */
export function setSetupExplainer(fn: SetupExplainer | null): void {
  explainer = fn;
}

/** The best explanation available for a failed io_uring_setup(2). */
export function describeSetupFailure(errno: number, entries: number, p: ResolvedParams): { explanation: string; info?: Record<string, unknown> } {
  if (explainer && !explaining) {
    explaining = true;
    try {
      const deep = explainer(errno, entries, p);
      if (deep) return deep;
    } catch {
      // the diagnosis is a courtesy; the kernel's answer stands without it
    } finally {
      explaining = false;
    }
  }
  return { explanation: explainSetupFailure(errno, entries, p) };
}
