/**
 * What this kernel accepts, found by asking it: each setup flag tried (with
 * the flags it needs), the opcodes of IORING_REGISTER_PROBE, and the largest
 * ring a shape allows now, by search.
 */
import {
  IORING_MAX_ENTRIES, IORING_SETUP, IORING_SETUP_ATTACH_WQ, IORING_SETUP_COOP_TASKRUN, IORING_SETUP_CQSIZE,
  IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_HYBRID_IOPOLL, IORING_SETUP_IOPOLL, IORING_SETUP_NO_MMAP,
  IORING_SETUP_REGISTERED_FD_ONLY, IORING_SETUP_SINGLE_ISSUER, IORING_SETUP_SQPOLL, IORING_SETUP_SQ_AFF,
  IORING_SETUP_TASKRUN_FLAG,
} from '../abi/constants.js';
import {
  getProbe, PAGE_SIZE, resolveOptions, type ResolvedParams, ringMemorySize, type Ring, type SetupOptions, UringError,
} from '../ring/index.js';
import { fitsBudget, releaseRing, tryRing } from './memlock.js';

/** The flags a flag needs to be tried alone. */
const PREREQUISITES: Readonly<Record<number, number>> = {
  [IORING_SETUP_SQ_AFF]: IORING_SETUP_SQPOLL,
  [IORING_SETUP_TASKRUN_FLAG]: IORING_SETUP_COOP_TASKRUN,
  [IORING_SETUP_DEFER_TASKRUN]: IORING_SETUP_SINGLE_ISSUER,
  [IORING_SETUP_REGISTERED_FD_ONLY]: IORING_SETUP_NO_MMAP,
  [IORING_SETUP_HYBRID_IOPOLL]: IORING_SETUP_IOPOLL,
};

/** Errors that say the machine is short of something, not that the flag is missing. */
const RESOURCE_ERRORS = new Set(['ENOMEM', 'EMFILE', 'ENFILE', 'EAGAIN']);

/**
 * A setup flag as the kernel answered for it:
 * `accepted`; `unsupported` (EINVAL: this kernel does not know the flag or
 * refuses it here); `untested` (ENOMEM/EMFILE/ENFILE: resources were short,
 * so the answer says nothing about the flag); `refused` (EPERM, …: policy).
 */
export interface FlagSupport {
  name: string;
  status: 'accepted' | 'unsupported' | 'untested' | 'refused';
  /** True for `accepted` (kept for programs written against the first report format). */
  accepted: boolean;
  /** The errno name when not accepted. */
  error?: string;
}

/**
 * Each IORING_SETUP_* flag tried on a 1-entry ring (with its prerequisite
 * flags). `budgetBytes`: free RLIMIT_MEMLOCK where rings are charged, so a
 * transient ENOMEM from rings this probe just closed is waited out.
 */
export function probeSetupFlags(budgetBytes: number = Infinity): { flags: FlagSupport[]; accepted: number } {
  const out: FlagSupport[] = [];
  let accepted = 0;
  let base: Ring | null = null;
  try {
    for (const [name, bit] of Object.entries(IORING_SETUP)) {
      const options: SetupOptions = { flags: bit | (PREREQUISITES[bit] ?? 0) };
      if (bit === IORING_SETUP_SQ_AFF) options.sqThreadCpu = 0;
      if (bit === IORING_SETUP_CQSIZE) options.cqEntries = 2;
      if (bit === IORING_SETUP_ATTACH_WQ) {
        if (!base) {
          const b = tryRing(1, {}, fitsBudget(ringMemorySize(1, resolveOptions({}), PAGE_SIZE), budgetBytes));
          base = b.ring ?? null;
        }
        if (base) options.attachWq = base.fd;
        else {
          out.push({ name, status: 'untested', accepted: false, error: 'ENOMEM' });
          continue;
        }
      }
      const need = ringMemorySize(1, resolveOptions(options), PAGE_SIZE) ?? 0;
      const r = tryRing(1, options, fitsBudget(need, budgetBytes - (base ? ringMemorySize(1, resolveOptions({}), PAGE_SIZE)! : 0)));
      if (r.ring) {
        releaseRing(r.ring);
        out.push({ name, status: 'accepted', accepted: true });
        accepted |= bit;
      } else {
        const code = r.error.code;
        const status = code === 'EINVAL' ? 'unsupported' : RESOURCE_ERRORS.has(code) ? 'untested' : 'refused';
        out.push({ name, status, accepted: false, error: code });
      }
    }
  } finally {
    if (base) releaseRing(base);
  }
  return { flags: out, accepted: accepted >>> 0 };
}

/** Opcode names the kernel supports, or the error that prevented asking. */
export function probeOpcodes(budgetBytes: number = Infinity): { names: string[]; lastOp: number } | { error: string } {
  const r = tryRing(1, {}, fitsBudget(ringMemorySize(1, resolveOptions({}), PAGE_SIZE), budgetBytes));
  if (!r.ring) return { error: r.error.code };
  try {
    const probe = getProbe(r.ring);
    return { names: [...probe.names], lastOp: probe.lastOp };
  } catch (e) {
    return { error: (e as UringError).code ?? String(e) };
  } finally {
    releaseRing(r.ring);
  }
}

/** The result of the largest-ring search. */
export interface LargestRing {
  /** Largest entries (a power of two) that could be created now; 0 if none. */
  entries: number;
  /** Its ring memory. */
  ringBytes: number;
  /** Sizes tried, largest first, with the kernel's answer. */
  tries: Array<{ entries: number; result: string }>;
  /** When nothing fits: the error of the smallest try. */
  error?: string;
}

/**
 * The largest ring of this shape that can be created now, by search: from
 * IORING_MAX_ENTRIES down, each size tried for real, the first that the
 * kernel grants is the answer. Failed tries cost nothing (the kernel checks
 * the charge before allocating), and only one ring is ever created, so the
 * search does not trip over the delayed release of its own rings.
 * `budgetBytes` is the measured free RLIMIT_MEMLOCK where rings are charged.
 */
export function largestEntries(options: SetupOptions = {}, budgetBytes: number = Infinity): LargestRing {
  const tries: LargestRing['tries'] = [];
  let last = 'ENOMEM';
  for (let e = IORING_MAX_ENTRIES; e >= 1; e = Math.floor(e / 2)) {
    const opts = { ...options };
    if (opts.cqEntries !== undefined) opts.cqEntries = Math.max(opts.cqEntries, e);
    const bytes = ringMemorySize(e, resolveOptions(opts), PAGE_SIZE);
    if (bytes === null) continue;
    const r = tryRing(e, opts, fitsBudget(bytes, budgetBytes));
    if (r.ring) {
      releaseRing(r.ring);
      tries.push({ entries: e, result: 'OK' });
      return { entries: e, ringBytes: bytes, tries };
    }
    last = r.error.code;
    tries.push({ entries: e, result: last });
    if (last !== 'ENOMEM') break;
  }
  return { entries: 0, ringBytes: 0, tries, error: last };
}

/** The SetupOptions that stand for resolved params (the inverse of resolveOptions). */
export function setupOptionsOf(p: ResolvedParams): SetupOptions {
  const options: SetupOptions = { flags: p.flags & ~(IORING_SETUP_SQ_AFF | IORING_SETUP_CQSIZE | IORING_SETUP_ATTACH_WQ) };
  if (p.flags & IORING_SETUP_SQ_AFF) options.sqThreadCpu = p.sq_thread_cpu;
  if (p.flags & IORING_SETUP_CQSIZE) options.cqEntries = p.cq_entries;
  if (p.flags & IORING_SETUP_ATTACH_WQ) options.attachWq = p.wq_fd;
  if (p.sq_thread_idle) options.sqThreadIdle = p.sq_thread_idle;
  return options;
}
