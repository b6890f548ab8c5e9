/**
 * struct io_uring_params in and out of the kernel, and the sizing rules of
 * io_uring_setup(2) / io_uring_queue_init(3) (the same arithmetic liburing's
 * setup.c and the kernel use), so that sizes can be known before a ring
 * exists: for NO_MMAP memory, for the doctor, for io_uring_mlock_size.
 */
import {
  IORING_MAX_CQ_ENTRIES, IORING_MAX_ENTRIES, IORING_SETUP_ATTACH_WQ, IORING_SETUP_CLAMP,
  IORING_SETUP_COOP_TASKRUN, IORING_SETUP_CQE32, IORING_SETUP_CQE_MIXED, IORING_SETUP_CQSIZE,
  IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_HYBRID_IOPOLL, IORING_SETUP_IOPOLL,
  IORING_SETUP_NO_MMAP, IORING_SETUP_NO_SQARRAY, IORING_SETUP_REGISTERED_FD_ONLY,
  IORING_SETUP_R_DISABLED, IORING_SETUP_SINGLE_ISSUER, IORING_SETUP_SQE128,
  IORING_SETUP_SQE_MIXED, IORING_SETUP_SQPOLL, IORING_SETUP_SQ_AFF, IORING_SETUP_SQ_REWIND,
  IORING_SETUP_SUBMIT_ALL, IORING_SETUP_TASKRUN_FLAG, IORING_FEAT, KRING_HEADER_SIZE,
} from '../abi/constants.js';
import { io_cqring_offsets, io_sqring_offsets, io_uring_cqe, io_uring_params, io_uring_sqe } from '../abi/structs.js';
import { invalidArgType, validateU32 } from './errors.js';

/** io_uring_params as C has it (the in-fields a caller may set). */
export interface IoUringParams {
  flags?: number;
  sq_thread_cpu?: number;
  sq_thread_idle?: number;
  /** With IORING_SETUP_CQSIZE. */
  cq_entries?: number;
  /** With IORING_SETUP_ATTACH_WQ: the fd of the ring whose workers to share. */
  wq_fd?: number;
  /** Out: filled in by the kernel. */
  sq_entries?: number;
  features?: number;
  sq_off?: SqRingOffsets;
  cq_off?: CqRingOffsets;
}

/** Readable setup options; each maps to one IORING_SETUP_* flag or params field. */
export interface SetupOptions {
  /** Raw IORING_SETUP_* bits, OR-ed with the named options below. */
  flags?: number;
  /** IORING_SETUP_IOPOLL: busy-poll for completions (O_DIRECT on a polled device). */
  iopoll?: boolean;
  /** IORING_SETUP_HYBRID_IOPOLL (6.13+, with iopoll). */
  hybridIopoll?: boolean;
  /** IORING_SETUP_SQPOLL: a kernel thread polls the SQ. */
  sqpoll?: boolean;
  /** sq_thread_idle in milliseconds, with sqpoll. */
  sqThreadIdle?: number;
  /** IORING_SETUP_SQ_AFF with sq_thread_cpu: pin the SQPOLL thread. */
  sqThreadCpu?: number;
  /** IORING_SETUP_CQSIZE with cq_entries. */
  cqEntries?: number;
  /** IORING_SETUP_CLAMP: clamp entries to the maximum instead of failing. */
  clamp?: boolean;
  /** IORING_SETUP_ATTACH_WQ with wq_fd: share the async workers of this ring (fd). */
  attachWq?: number | { readonly fd: number };
  /** IORING_SETUP_R_DISABLED: start disabled (restrictions, then enableRings). */
  rDisabled?: boolean;
  /** IORING_SETUP_SUBMIT_ALL: keep submitting past a failing SQE. */
  submitAll?: boolean;
  /** IORING_SETUP_COOP_TASKRUN: no IPI to interrupt the task on completion. */
  coopTaskrun?: boolean;
  /** IORING_SETUP_TASKRUN_FLAG: raise IORING_SQ_TASKRUN when work is pending. */
  taskrunFlag?: boolean;
  /** IORING_SETUP_SQE128: 128-byte SQEs. */
  sqe128?: boolean;
  /** IORING_SETUP_CQE32: 32-byte CQEs. */
  cqe32?: boolean;
  /** IORING_SETUP_SINGLE_ISSUER: only the creating task submits. */
  singleIssuer?: boolean;
  /** IORING_SETUP_DEFER_TASKRUN: run completions only when the task waits. */
  deferTaskrun?: boolean;
  /** IORING_SETUP_NO_MMAP: rings live in memory the application provides. */
  noMmap?: boolean;
  /** With noMmap: memory from `allocRingMemory` (page-aligned, shared). */
  memory?: ArrayBuffer;
  /** IORING_SETUP_REGISTERED_FD_ONLY (with noMmap): no fd, only a registered index. */
  registeredFdOnly?: boolean;
  /** IORING_SETUP_NO_SQARRAY: no SQ index array; SQEs are consumed in order. */
  noSqarray?: boolean;
  /** IORING_SETUP_CQE_MIXED (6.18): 16- and 32-byte CQEs in one ring. */
  cqeMixed?: boolean;
  /** IORING_SETUP_SQE_MIXED: 64- and 128-byte SQEs in one ring. */
  sqeMixed?: boolean;
  /** IORING_SETUP_SQ_REWIND. */
  sqRewind?: boolean;
}

const BOOLEAN_FLAGS: ReadonlyArray<readonly [keyof SetupOptions, number]> = [
  ['iopoll', IORING_SETUP_IOPOLL], ['hybridIopoll', IORING_SETUP_HYBRID_IOPOLL],
  ['sqpoll', IORING_SETUP_SQPOLL], ['clamp', IORING_SETUP_CLAMP],
  ['rDisabled', IORING_SETUP_R_DISABLED], ['submitAll', IORING_SETUP_SUBMIT_ALL],
  ['coopTaskrun', IORING_SETUP_COOP_TASKRUN], ['taskrunFlag', IORING_SETUP_TASKRUN_FLAG],
  ['sqe128', IORING_SETUP_SQE128], ['cqe32', IORING_SETUP_CQE32],
  ['singleIssuer', IORING_SETUP_SINGLE_ISSUER], ['deferTaskrun', IORING_SETUP_DEFER_TASKRUN],
  ['noMmap', IORING_SETUP_NO_MMAP], ['registeredFdOnly', IORING_SETUP_REGISTERED_FD_ONLY],
  ['noSqarray', IORING_SETUP_NO_SQARRAY], ['cqeMixed', IORING_SETUP_CQE_MIXED],
  ['sqeMixed', IORING_SETUP_SQE_MIXED], ['sqRewind', IORING_SETUP_SQ_REWIND],
];

/** The in-fields of io_uring_params, resolved from options or a params struct. */
export interface ResolvedParams {
  flags: number;
  sq_thread_cpu: number;
  sq_thread_idle: number;
  cq_entries: number;
  wq_fd: number;
}

/** SetupOptions → the params fields they stand for. */
export function resolveOptions(options: SetupOptions): ResolvedParams {
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  let flags = options.flags === undefined ? 0 : validateU32(options.flags, 'options.flags');
  for (const [key, bit] of BOOLEAN_FLAGS) {
    const value = options[key];
    if (value === undefined) continue;
    if (typeof value !== 'boolean') throw invalidArgType(`options.${key}`, 'of type boolean', value);
    if (value) flags |= bit;
  }
  const resolved: ResolvedParams = { flags, sq_thread_cpu: 0, sq_thread_idle: 0, cq_entries: 0, wq_fd: 0 };
  if (options.sqThreadIdle !== undefined) resolved.sq_thread_idle = validateU32(options.sqThreadIdle, 'options.sqThreadIdle');
  if (options.sqThreadCpu !== undefined) {
    resolved.sq_thread_cpu = validateU32(options.sqThreadCpu, 'options.sqThreadCpu');
    resolved.flags |= IORING_SETUP_SQ_AFF;
  }
  if (options.cqEntries !== undefined) {
    resolved.cq_entries = validateU32(options.cqEntries, 'options.cqEntries');
    resolved.flags |= IORING_SETUP_CQSIZE;
  }
  if (options.attachWq !== undefined) {
    const wq = typeof options.attachWq === 'object' && options.attachWq !== null ? options.attachWq.fd : options.attachWq;
    resolved.wq_fd = validateU32(wq, 'options.attachWq');
    resolved.flags |= IORING_SETUP_ATTACH_WQ;
  }
  resolved.flags >>>= 0;
  return resolved;
}

/** A C-shaped params struct → its in-fields (validated). */
export function resolveParams(params: IoUringParams): ResolvedParams {
  if (params === null || typeof params !== 'object') throw invalidArgType('params', 'of type object', params);
  const field = (name: keyof IoUringParams): number => {
    const v = params[name];
    return v === undefined ? 0 : validateU32(v, `params.${name}`);
  };
  return {
    flags: field('flags'),
    sq_thread_cpu: field('sq_thread_cpu'),
    sq_thread_idle: field('sq_thread_idle'),
    cq_entries: field('cq_entries'),
    wq_fd: field('wq_fd'),
  };
}

const P = io_uring_params.off;

/** Encodes the in-fields into the 120 bytes io_uring_setup(2) reads; resv stays zero. */
export function encodeParams(p: ResolvedParams): Uint8Array {
  const bytes = new Uint8Array(io_uring_params.size);
  const view = new DataView(bytes.buffer);
  view.setUint32(P.flags, p.flags, true);
  view.setUint32(P.sq_thread_cpu, p.sq_thread_cpu, true);
  view.setUint32(P.sq_thread_idle, p.sq_thread_idle, true);
  view.setUint32(P.cq_entries, p.cq_entries, true);
  view.setUint32(P.wq_fd, p.wq_fd, true);
  return bytes;
}

export interface SqRingOffsets {
  head: number; tail: number; ring_mask: number; ring_entries: number; flags: number;
  dropped: number; array: number; resv1: number; user_addr: number;
}
export interface CqRingOffsets {
  head: number; tail: number; ring_mask: number; ring_entries: number; overflow: number;
  cqes: number; flags: number; resv1: number; user_addr: number;
}

/** Named booleans for every IORING_FEAT_* bit ('SINGLE_MMAP' → singleMmap). */
export type FeatureSet = Record<string, boolean>;

/** The out-fields the kernel wrote into io_uring_params. */
export interface RingParams {
  sq_entries: number;
  cq_entries: number;
  flags: number;
  sq_thread_cpu: number;
  sq_thread_idle: number;
  features: number;
  wq_fd: number;
  sq_off: SqRingOffsets;
  cq_off: CqRingOffsets;
}

function readOffsets<T>(view: DataView, base: number, layout: { off: Record<string, number> }): T {
  const out: Record<string, number> = {};
  for (const [name, off] of Object.entries(layout.off)) {
    out[name] = name === 'user_addr'
      ? Number(view.getBigUint64(base + off, true))
      : view.getUint32(base + off, true);
  }
  return out as T;
}

/** Decodes what the kernel wrote back. */
export function decodeParams(bytes: Uint8Array): RingParams {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    sq_entries: view.getUint32(P.sq_entries, true),
    cq_entries: view.getUint32(P.cq_entries, true),
    flags: view.getUint32(P.flags, true),
    sq_thread_cpu: view.getUint32(P.sq_thread_cpu, true),
    sq_thread_idle: view.getUint32(P.sq_thread_idle, true),
    features: view.getUint32(P.features, true),
    wq_fd: view.getUint32(P.wq_fd, true),
    sq_off: readOffsets<SqRingOffsets>(view, P.sq_off, io_sqring_offsets),
    cq_off: readOffsets<CqRingOffsets>(view, P.cq_off, io_cqring_offsets),
  };
}

/** 'IORING_FEAT_SINGLE_MMAP' → 'singleMmap'. */
export function featureKey(name: string): string {
  return name.replace(/^IORING_FEAT_/, '').toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Every IORING_FEAT_* bit as a named boolean. */
export function featureSet(features: number): FeatureSet {
  const out: FeatureSet = {};
  for (const [name, bit] of Object.entries(IORING_FEAT)) out[featureKey(name)] = (features & bit) !== 0;
  return out;
}

/** Rounds up to a power of two (1 stays 1), as the kernel's roundup_pow_of_two. */
export function roundUpPow2(n: number): number {
  if (n <= 1) return 1;
  return 2 ** Math.ceil(Math.log2(n));
}

/** The result of the io_uring_setup(2) sizing rules, or the reason they refuse. */
export type Sizing =
  | { ok: true; sqEntries: number; cqEntries: number; clampedSq: boolean; clampedCq: boolean }
  | { ok: false; errno: 22; reason: string };

/**
 * The SQ and CQ sizes io_uring_setup(2) grants for `entries` and these
 * params: at least `entries` SQEs rounded up to a power of two, a CQ twice
 * that unless IORING_SETUP_CQSIZE gives cq_entries (rounded up, and not
 * below the SQ size), with IORING_SETUP_CLAMP capping both at the kernel's
 * maximum instead of failing with EINVAL.
 */
export function computeSizing(entries: number, p: Pick<ResolvedParams, 'flags' | 'cq_entries'>): Sizing {
  const clamp = (p.flags & IORING_SETUP_CLAMP) !== 0;
  if (entries === 0) return { ok: false, errno: 22, reason: 'entries is 0; at least 1 SQ entry is required' };
  let sq = entries;
  let clampedSq = false;
  if (sq > IORING_MAX_ENTRIES) {
    if (!clamp) {
      return { ok: false, errno: 22, reason: `entries ${entries} is above IORING_MAX_ENTRIES (${IORING_MAX_ENTRIES}) and IORING_SETUP_CLAMP is not set` };
    }
    sq = IORING_MAX_ENTRIES;
    clampedSq = true;
  }
  sq = roundUpPow2(sq);
  let cq: number;
  let clampedCq = false;
  if (p.flags & IORING_SETUP_CQSIZE) {
    if (p.cq_entries === 0) return { ok: false, errno: 22, reason: 'IORING_SETUP_CQSIZE is set but cq_entries is 0' };
    cq = p.cq_entries;
    if (cq > IORING_MAX_CQ_ENTRIES) {
      if (!clamp) {
        return { ok: false, errno: 22, reason: `cq_entries ${p.cq_entries} is above IORING_MAX_CQ_ENTRIES (${IORING_MAX_CQ_ENTRIES}) and IORING_SETUP_CLAMP is not set` };
      }
      cq = IORING_MAX_CQ_ENTRIES;
      clampedCq = true;
    }
    cq = roundUpPow2(cq);
    if (cq < sq) {
      return { ok: false, errno: 22, reason: `cq_entries ${p.cq_entries} (rounded to ${cq}) is smaller than the SQ size ${sq}; the CQ must hold at least as many entries as the SQ` };
    }
  } else {
    cq = 2 * sq;
  }
  return { ok: true, sqEntries: sq, cqEntries: cq, clampedSq, clampedCq };
}

/** Bytes per SQE slot for these flags (IORING_SETUP_SQE128 doubles it). */
export function sqeSizeFor(flags: number): number {
  return flags & IORING_SETUP_SQE128 ? 2 * io_uring_sqe.size : io_uring_sqe.size;
}
/** Bytes per CQE slot for these flags (IORING_SETUP_CQE32 doubles it). */
export function cqeSizeFor(flags: number): number {
  return flags & IORING_SETUP_CQE32 ? 2 * io_uring_cqe.size : io_uring_cqe.size;
}

/** Region sizes of a ring, computed as liburing's io_uring_mmap does. */
export interface RegionSizes {
  sqRingSize: number;
  cqRingSize: number;
  sqesSize: number;
  singleMmap: boolean;
}

/** mmap lengths from the kernel's out-params (io_uring_setup(2) "mmap" section). */
export function regionSizes(p: RingParams): RegionSizes {
  let sqRingSize = p.sq_off.array + p.sq_entries * 4;
  let cqRingSize = p.cq_off.cqes + p.cq_entries * cqeSizeFor(p.flags);
  const singleMmap = (p.features & IORING_FEAT.IORING_FEAT_SINGLE_MMAP) !== 0;
  if (singleMmap) {
    sqRingSize = Math.max(sqRingSize, cqRingSize);
    cqRingSize = sqRingSize;
  }
  return { sqRingSize, cqRingSize, sqesSize: p.sq_entries * sqeSizeFor(p.flags), singleMmap };
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

/**
 * Memory a ring of this shape occupies in pages (liburing's
 * io_uring_memory_size_params / rings_size): the rings region (header, CQEs,
 * SQ index array) and the SQE array, each rounded up to whole pages.
 * Returns null where the sizing rules refuse the shape.
 */
export function ringMemorySize(entries: number, p: Pick<ResolvedParams, 'flags' | 'cq_entries'>, pageSize: number): number | null {
  const sizing = computeSizing(entries, p);
  if (!sizing.ok) return null;
  let rings = KRING_HEADER_SIZE + sizing.cqEntries * cqeSizeFor(p.flags);
  if (!(p.flags & IORING_SETUP_NO_SQARRAY)) rings += sizing.sqEntries * 4;
  const sqes = sizing.sqEntries * sqeSizeFor(p.flags);
  return alignUp(rings, pageSize) + alignUp(sqes, pageSize);
}

/** Layout of application-provided memory for IORING_SETUP_NO_MMAP: SQEs
 * first, then the rings, each page-aligned (liburing's io_uring_alloc_huge). */
export function noMmapLayout(entries: number, p: Pick<ResolvedParams, 'flags' | 'cq_entries'>, pageSize: number):
  { sqesOffset: number; sqesBytes: number; ringsOffset: number; ringsBytes: number; total: number } | null {
  const sizing = computeSizing(entries, p);
  if (!sizing.ok) return null;
  const sqesBytes = alignUp(sizing.sqEntries * sqeSizeFor(p.flags), pageSize);
  let ringsBytes = KRING_HEADER_SIZE + sizing.cqEntries * cqeSizeFor(p.flags);
  if (!(p.flags & IORING_SETUP_NO_SQARRAY)) ringsBytes += sizing.sqEntries * 4;
  ringsBytes = alignUp(ringsBytes, pageSize);
  return { sqesOffset: 0, sqesBytes, ringsOffset: sqesBytes, ringsBytes, total: sqesBytes + ringsBytes };
}

/** Every setup flag this library knows, with its name (for probing and messages). */
export const KNOWN_SETUP_FLAGS: number =
  IORING_SETUP_IOPOLL | IORING_SETUP_SQPOLL | IORING_SETUP_SQ_AFF | IORING_SETUP_CQSIZE |
  IORING_SETUP_CLAMP | IORING_SETUP_ATTACH_WQ | IORING_SETUP_R_DISABLED | IORING_SETUP_SUBMIT_ALL |
  IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SQE128 | IORING_SETUP_CQE32 |
  IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_NO_MMAP |
  IORING_SETUP_REGISTERED_FD_ONLY | IORING_SETUP_NO_SQARRAY | IORING_SETUP_HYBRID_IOPOLL |
  IORING_SETUP_CQE_MIXED | IORING_SETUP_SQE_MIXED | IORING_SETUP_SQ_REWIND;
