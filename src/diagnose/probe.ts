/**
 * What this kernel accepts, found by asking it: each setup flag tried (with
 * the flags it needs), the opcodes of IORING_REGISTER_PROBE, the largest
 * ring a shape allows, and whether ring memory counts against
 * RLIMIT_MEMLOCK (liburing's test: no IORING_FEAT_NATIVE_WORKERS).
 */
import {
  IORING_FEAT_NATIVE_WORKERS, IORING_SETUP, IORING_SETUP_ATTACH_WQ, IORING_SETUP_COOP_TASKRUN,
  IORING_SETUP_CQSIZE, IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_HYBRID_IOPOLL, IORING_SETUP_IOPOLL,
  IORING_SETUP_NO_MMAP, IORING_SETUP_REGISTERED_FD_ONLY, IORING_SETUP_SINGLE_ISSUER, IORING_SETUP_SQPOLL,
  IORING_SETUP_SQ_AFF, IORING_SETUP_TASKRUN_FLAG, IORING_MAX_ENTRIES,
} from '../abi/constants.js';
import { getProbe, queueInit, type Ring, type SetupOptions, UringError } from '../ring/index.js';

/** The flags a flag needs to be tried alone. */
const PREREQUISITES: Readonly<Record<number, number>> = {
  [IORING_SETUP_SQ_AFF]: IORING_SETUP_SQPOLL,
  [IORING_SETUP_TASKRUN_FLAG]: IORING_SETUP_COOP_TASKRUN,
  [IORING_SETUP_DEFER_TASKRUN]: IORING_SETUP_SINGLE_ISSUER,
  [IORING_SETUP_REGISTERED_FD_ONLY]: IORING_SETUP_NO_MMAP,
  [IORING_SETUP_HYBRID_IOPOLL]: IORING_SETUP_IOPOLL,
};

/** Tries a ring; returns null on success, else the error code. */
function attempt(entries: number, options: SetupOptions): string | null {
  let ring: Ring | null = null;
  try {
    ring = queueInit(entries, options);
    return null;
  } catch (e) {
    return (e as UringError).code ?? 'ERROR';
  } finally {
    ring?.queueExit();
  }
}

export interface FlagSupport {
  name: string;
  accepted: boolean;
  /** The error when refused. */
  error?: string;
}

/** Each IORING_SETUP_* flag tried on a 4-entry ring. */
export function probeSetupFlags(): { flags: FlagSupport[]; accepted: number } {
  const out: FlagSupport[] = [];
  let accepted = 0;
  let base: Ring | null = null;
  try {
    for (const [name, bit] of Object.entries(IORING_SETUP)) {
      const options: SetupOptions = { flags: bit | (PREREQUISITES[bit] ?? 0) };
      if (bit === IORING_SETUP_SQ_AFF) options.sqThreadCpu = 0;
      if (bit === IORING_SETUP_CQSIZE) options.cqEntries = 8;
      if (bit === IORING_SETUP_ATTACH_WQ) {
        try {
          base ??= queueInit(2);
          options.attachWq = base.fd;
        } catch {
          // without a base ring ATTACH_WQ cannot be tried; it will report the setup error
        }
      }
      const error = attempt(4, options);
      out.push(error === null ? { name, accepted: true } : { name, accepted: false, error });
      if (error === null) accepted |= bit;
    }
  } finally {
    base?.queueExit();
  }
  return { flags: out, accepted: accepted >>> 0 };
}

/** Opcode names the kernel supports, or the error that prevented asking. */
export function probeOpcodes(): { names: string[]; lastOp: number } | { error: string } {
  let ring: Ring | null = null;
  try {
    ring = queueInit(2);
    const probe = getProbe(ring);
    return { names: [...probe.names], lastOp: probe.lastOp };
  } catch (e) {
    return { error: (e as UringError).code ?? String(e) };
  } finally {
    ring?.queueExit();
  }
}

/** The largest power-of-two entries (<= 32768) for which this shape can be set up now; 0 if none. */
export function largestEntries(options: SetupOptions = {}): number {
  for (let e = IORING_MAX_ENTRIES; e >= 1; e = Math.floor(e / 2)) {
    const opts = { ...options };
    if (opts.cqEntries !== undefined) opts.cqEntries = Math.max(opts.cqEntries, e);
    if (attempt(e, opts) === null) return e;
  }
  return 0;
}

/** Whether rings are charged to RLIMIT_MEMLOCK here: liburing's rule (no IORING_FEAT_NATIVE_WORKERS), or the kernel version if no ring can be made. */
export function ringsChargeMemlock(kernelMajor: number, kernelMinor: number): boolean {
  let ring: Ring | null = null;
  try {
    ring = queueInit(1);
    return (ring.features & IORING_FEAT_NATIVE_WORKERS) === 0;
  } catch {
    return kernelMajor < 5 || (kernelMajor === 5 && kernelMinor < 12);
  } finally {
    ring?.queueExit();
  }
}
