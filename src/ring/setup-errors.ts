/**
 * Why io_uring_setup(2) refused, in the words of its ERRORS section, worked
 * out from the arguments and what this process can see of itself (its
 * limits, its CPUs, its descriptors). Nothing here measures the machine or
 * starts a process: `uring/diagnose`'s explain(err) does that on request,
 * from the `setup` (entries + params) every setup UringError carries.
 *
 * This is the one place that reasons about EINVAL: the CLI, explain() and
 * adaptive setup all ask einvalCause().
 */
import fs from 'node:fs';
import os from 'node:os';
import {
  IORING_SETUP, IORING_SETUP_ATTACH_WQ, IORING_SETUP_COOP_TASKRUN, IORING_SETUP_CQE32, IORING_SETUP_CQE_MIXED,
  IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_HYBRID_IOPOLL, IORING_SETUP_IOPOLL,
  IORING_SETUP_NO_MMAP, IORING_SETUP_REGISTERED_FD_ONLY, IORING_SETUP_SINGLE_ISSUER,
  IORING_SETUP_SQE128, IORING_SETUP_SQE_MIXED, IORING_SETUP_SQPOLL, IORING_SETUP_SQ_AFF,
  IORING_SETUP_TASKRUN_FLAG,
} from '../abi/constants.js';
import { setupFlagNames } from '../abi/names.js';
import { errnoName, type UringErrorDetails } from './errors.js';
import { PAGE_SIZE } from './memory.js';
import { native } from './native.js';
import { computeSizing, KNOWN_SETUP_FLAGS, ringMemorySize, type ResolvedParams } from './params.js';

/** The mainline release that introduced each setup flag (from the kernel's uapi header history). */
export const SETUP_FLAG_SINCE: Readonly<Record<string, readonly [number, number]>> = Object.freeze({
  IORING_SETUP_IOPOLL: [5, 1], IORING_SETUP_SQPOLL: [5, 1], IORING_SETUP_SQ_AFF: [5, 1],
  IORING_SETUP_CQSIZE: [5, 5], IORING_SETUP_CLAMP: [5, 6], IORING_SETUP_ATTACH_WQ: [5, 6],
  IORING_SETUP_R_DISABLED: [5, 10], IORING_SETUP_SUBMIT_ALL: [5, 18], IORING_SETUP_COOP_TASKRUN: [5, 19],
  IORING_SETUP_TASKRUN_FLAG: [5, 19], IORING_SETUP_SQE128: [5, 19], IORING_SETUP_CQE32: [5, 19],
  IORING_SETUP_SINGLE_ISSUER: [6, 0], IORING_SETUP_DEFER_TASKRUN: [6, 1], IORING_SETUP_NO_MMAP: [6, 5],
  IORING_SETUP_REGISTERED_FD_ONLY: [6, 5], IORING_SETUP_NO_SQARRAY: [6, 6], IORING_SETUP_HYBRID_IOPOLL: [6, 13],
  IORING_SETUP_CQE_MIXED: [6, 18], IORING_SETUP_SQE_MIXED: [6, 19], IORING_SETUP_SQ_REWIND: [6, 19],
});

/** A rule of io_uring_setup(2) that a flag combination breaks (EINVAL on every kernel). */
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

/**
 * What an EINVAL from io_uring_setup(2) means for these arguments:
 * - `shape`: the arguments break a rule every kernel applies (entries out of
 *   bounds, CQ smaller than SQ, a flag without the flag it needs, a CPU this
 *   process may not use, a wq_fd that is not a ring) — the caller's mistake;
 * - `unsupported`: a flag this kernel does not have (newer than it, or
 *   refused when tried alone by `uring doctor`);
 * - `unknown`: the arguments pass every rule known here.
 */
export interface EinvalCause {
  kind: 'shape' | 'unsupported' | 'unknown';
  /** One sentence, starting with 'EINVAL: '. */
  text: string;
  /** For `unsupported`: the flags this kernel lacks. */
  flags?: string[];
}

/** What the caller may know beyond the arguments (the doctor's flag probe). */
export interface EinvalKnowledge {
  /** Setup flags this kernel accepted, each tried alone. */
  acceptedFlags?: number;
  /** Kernel release to compare SETUP_FLAG_SINCE with (default: os.release()). */
  release?: string;
}

function parseCpuList(list: string): Set<number> {
  const cpus = new Set<number>();
  for (const part of list.trim().split(',')) {
    const [a, b] = part.split('-').map((x) => parseInt(x, 10));
    if (Number.isNaN(a)) continue;
    for (let c = a; c <= (Number.isNaN(b) ? a : b); c++) cpus.add(c);
  }
  return cpus;
}

/** The CPUs this process may run on (the kernel checks sq_thread_cpu against them), or null if unknown. */
function allowedCpus(): { set: Set<number>; text: string } | null {
  try {
    const m = fs.readFileSync('/proc/self/status', 'utf8').match(/^Cpus_allowed_list:\s*(.*)$/m);
    return m ? { set: parseCpuList(m[1]), text: m[1].trim() } : null;
  } catch {
    return null;
  }
}

/** What an fd of this process is, by its /proc link ('anon_inode:[io_uring]', '/dev/null', …), or null if not open. */
function fdTarget(fd: number): string | null {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
}

function kernelVersion(release: string): [number, number] {
  const [major, minor] = release.split('.').map((x) => parseInt(x, 10));
  return [major || 0, minor || 0];
}

/** Why io_uring_setup(2) returned EINVAL for these arguments (the one place that reasons about it). */
export function einvalCause(entries: number, p: ResolvedParams, known: EinvalKnowledge = {}): EinvalCause {
  const sizing = computeSizing(entries, p);
  if (!sizing.ok) return { kind: 'shape', text: `EINVAL: ${sizing.reason}.` };
  const combo = invalidCombination(p.flags);
  if (combo) return { kind: 'shape', text: `EINVAL: ${combo}.` };
  if (p.flags & IORING_SETUP_SQ_AFF) {
    const cpus = allowedCpus();
    if (cpus && !cpus.set.has(p.sq_thread_cpu)) {
      return { kind: 'shape', text: `EINVAL: sq_thread_cpu ${p.sq_thread_cpu} (IORING_SETUP_SQ_AFF) is not a CPU this process may run on (Cpus_allowed_list ${cpus.text}).` };
    }
  }
  if (p.flags & IORING_SETUP_ATTACH_WQ) {
    const target = fdTarget(p.wq_fd);
    if (target !== null && target !== 'anon_inode:[io_uring]') {
      return { kind: 'shape', text: `EINVAL: wq_fd ${p.wq_fd} (IORING_SETUP_ATTACH_WQ) is not an io_uring descriptor; it is ${target}.` };
    }
  }
  const release = known.release ?? os.release();
  const [major, minor] = kernelVersion(release);
  const newer: string[] = [];
  const refused: string[] = [];
  for (const name of setupFlagNames(p.flags)) {
    const bit = (IORING_SETUP as Record<string, number>)[name];
    const since = SETUP_FLAG_SINCE[name];
    if (since !== undefined && (major < since[0] || (major === since[0] && minor < since[1]))) newer.push(`${name} (Linux ${since[0]}.${since[1]}+)`);
    else if (known.acceptedFlags !== undefined && bit !== undefined && (known.acceptedFlags & bit) === 0) refused.push(name);
  }
  if (newer.length + refused.length > 0) {
    const parts: string[] = [];
    if (newer.length) parts.push(`${newer.join(', ')} ${newer.length === 1 ? 'is' : 'are'} newer than this kernel (${release})`);
    if (refused.length) parts.push(`this kernel (${release}) refused ${refused.join(', ')} when tried alone`);
    return { kind: 'unsupported', flags: [...newer.map((m) => m.split(' ')[0]), ...refused], text: `EINVAL: ${parts.join('; ')}.` };
  }
  const extra: string[] = [];
  if (p.flags & IORING_SETUP_SQ_AFF) extra.push(`sq_thread_cpu ${p.sq_thread_cpu}`);
  if (p.flags & IORING_SETUP_ATTACH_WQ) extra.push(`wq_fd ${p.wq_fd}`);
  if (p.flags & IORING_SETUP_NO_MMAP) extra.push('the IORING_SETUP_NO_MMAP memory');
  return {
    kind: 'unknown',
    text: `EINVAL: the kernel rejected entries ${entries} with flags ${setupFlagNames(p.flags).join('|') || '0'}` +
      `${extra.length ? ` (${extra.join(', ')})` : ''}, although they pass every io_uring_setup(2) rule this library checks; ` +
      '`uring doctor` tries each flag alone and says which this kernel refuses.',
  };
}

/** Bytes as people read them: 64 KiB, 2.3 MiB ('unlimited' for Infinity). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return 'unlimited';
  if (Math.abs(n) < 1024) return `${n} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}

function rlimit(resource: number): { soft: number; hard: number } | null {
  const r = native.getrlimit(resource);
  if (typeof r === 'number') return null;
  return { soft: r[0] < 0 ? Infinity : r[0], hard: r[1] < 0 ? Infinity : r[1] };
}

/**
 * The explanation io_uring_setup(2)'s ERRORS section gives, fitted to the
 * call and to this process's own limits. The machine-wide measurements
 * (whether this kernel charges rings to RLIMIT_MEMLOCK, what this user's
 * other processes hold) are explain(err)'s job in uring/diagnose.
 */
export function explainSetupFailure(errno: number, entries: number, p: ResolvedParams): string {
  const code = errnoName(errno);
  switch (code) {
    case 'EINVAL':
      return einvalCause(entries, p).text;
    case 'ENOMEM': {
      const need = ringMemorySize(entries, p, PAGE_SIZE);
      const memlock = rlimit(native.RLIMIT_MEMLOCK);
      return `ENOMEM: insufficient kernel resources for a ring of ${entries} entries` +
        (need !== null ? ` (${formatBytes(need)} of ring memory)` : '') +
        (memlock ? `; RLIMIT_MEMLOCK is ${formatBytes(memlock.soft)} (hard ${formatBytes(memlock.hard)})` : '') +
        '. Linux 5.1–5.11 and 6.14+ charge ring memory to RLIMIT_MEMLOCK, per user and shared by all of the user\'s processes, ' +
        'unless the process has CAP_IPC_LOCK; otherwise memory (or the memory cgroup) is short. ' +
        '`uring doctor --entries ' + entries + '` (or explain(err) from uring/diagnose) measures which applies and the largest ring that fits.';
    }
    case 'EPERM':
      return p.flags & IORING_SETUP_SQPOLL
        ? 'EPERM: IORING_SETUP_SQPOLL was specified, but the caller lacks the privileges it needs on this kernel, ' +
          'or io_uring is disabled by /proc/sys/kernel/io_uring_disabled. Drop SQPOLL or see `uring doctor`.'
        : 'EPERM: io_uring is disabled for this process: /proc/sys/kernel/io_uring_disabled is 2, or it is 1 and the ' +
          'process lacks CAP_SYS_ADMIN and is not in kernel.io_uring_group; a seccomp filter may also deny it. See `uring doctor`.';
    case 'EMFILE': {
      const nofile = rlimit(native.RLIMIT_NOFILE);
      return `EMFILE: this process has reached its limit on open file descriptors (RLIMIT_NOFILE${nofile ? ` ${nofile.soft}, hard ${nofile.hard}` : ''}, \`ulimit -n\`); a ring needs one. Close descriptors or raise the limit.`;
    }
    case 'ENFILE':
      return 'ENFILE: the system-wide table of open files is full (/proc/sys/fs/file-nr has reached fs.file-max); processes without CAP_SYS_ADMIN cannot open anything until files are closed.';
    case 'EFAULT':
      return 'EFAULT: params (or the memory given for IORING_SETUP_NO_MMAP) is outside the accessible address space.';
    case 'ENOSYS':
      return 'ENOSYS: this kernel has no io_uring_setup system call (io_uring not built in, or a kernel older than 5.1), or a seccomp filter makes it fail with ENOSYS, as container runtimes do.';
    case 'ENXIO':
    case 'EBADF':
      return p.flags & IORING_SETUP_ATTACH_WQ
        ? `${code}: wq_fd ${p.wq_fd} given with IORING_SETUP_ATTACH_WQ is not an open file descriptor.`
        : `${code}: a file descriptor in params is not open.`;
    case 'EACCES':
      return 'EACCES: a security module (SELinux, AppArmor) or seccomp profile denies io_uring to this process.';
    default:
      return `${code}: io_uring_setup(2) failed.`;
  }
}

/** The details a setup UringError carries: the explanation, and what was asked (for explain(err)). */
export function setupErrorDetails(errno: number, entries: number, p: ResolvedParams): UringErrorDetails {
  return { explanation: explainSetupFailure(errno, entries, p), setup: { entries, params: { ...p } } };
}
