/**
 * Ring creation — liburing's setup.c: io_uring_setup(2), then the mmaps the
 * man page describes (one for both rings with IORING_FEAT_SINGLE_MMAP, else
 * two; the SQE array separately; none with IORING_SETUP_NO_MMAP).
 */
import {
  IORING_OFF_CQ_RING, IORING_OFF_SQES, IORING_OFF_SQ_RING, IORING_SETUP_NO_MMAP,
  IORING_SETUP_REGISTERED_FD_ONLY,
} from '../abi/constants.js';
import { ERRNO } from '../abi/errno.js';
import { io_uring_params } from '../abi/structs.js';
import { invalidArgType, invalidArgValue, UringError, validateU32 } from './errors.js';
import { addressOfBuffer, mapAnonymous, PAGE_SIZE } from './memory.js';
import { native } from './native.js';
import {
  decodeParams, encodeParams, noMmapLayout, regionSizes, resolveOptions, resolveParams,
  type IoUringParams, type ResolvedParams, type RingParams, type SetupOptions,
} from './params.js';
import { Ring } from './ring.js';
import { setupErrorDetails } from './setup-errors.js';

/**
 * io_uring_queue_init(3): creates a ring with at least `entries` SQ entries
 * (rounded up to a power of two; the CQ gets twice as many unless
 * `cqEntries` says otherwise) and maps it. `flags` are IORING_SETUP_* bits,
 * or readable options (`{ sqpoll: true, sqThreadIdle: 2000 }`).
 * Throws a UringError whose message explains the failure and whose `setup`
 * holds what was asked (uring/diagnose's explain(err) measures the rest).
 */
export function queueInit(entries: number, flags: number | SetupOptions = 0): Ring {
  const resolved = typeof flags === 'number'
    ? resolveOptions({ flags })
    : resolveOptions(flags);
  const memory = typeof flags === 'object' ? flags.memory : undefined;
  return createRing(entries, resolved, memory, null);
}

/**
 * io_uring_queue_init_params(3): like queueInit, with a C-shaped params
 * struct passed straight to io_uring_setup(2). The kernel's out-fields
 * (sq_entries, cq_entries, features, sq_off, cq_off) are written back into
 * `params`, as in C, and are also on `ring.params`.
 */
export function queueInitParams(entries: number, params: IoUringParams, memory?: ArrayBuffer): Ring {
  return createRing(entries, resolveParams(params), memory, params);
}

/**
 * Page-aligned shared memory for IORING_SETUP_NO_MMAP
 * (io_uring_queue_init_mem(3)); `hugetlb` asks for 2 MiB pages.
 */
export function allocRingMemory(bytes: number, hugetlb = false): ArrayBuffer {
  validateU32(bytes, 'bytes');
  const region = mapAnonymous(bytes, hugetlb);
  if (typeof region === 'number') throw new UringError(region, 'mmap');
  return region;
}

/** Releases memory from allocRingMemory (views of it become empty). */
export function freeRingMemory(memory: ArrayBuffer): void {
  const ret = native.munmap(memory);
  if (ret < 0) throw new UringError(ret, 'munmap');
}

function mapRegion(fd: number, offset: number, length: number, opened: ArrayBuffer[]): ArrayBuffer {
  const region = native.mmap(fd, offset, length);
  if (typeof region === 'number') {
    for (const r of opened) native.munmap(r);
    native.close(fd);
    throw new UringError(region, 'mmap', {
      explanation: `${region === ERRNO.ENOMEM ? 'ENOMEM' : 'mmap'}: mapping ${length} bytes of the ring at offset 0x${offset.toString(16)} failed.`,
    });
  }
  opened.push(region);
  return region;
}

function validateEntries(entries: unknown): number {
  if (typeof entries !== 'number') throw invalidArgType('entries', 'of type number', entries);
  // The kernel takes a u32; anything else is the caller's mistake, not EINVAL.
  return validateU32(entries, 'entries');
}

function createRing(entriesArg: number, p: ResolvedParams, memory: ArrayBuffer | undefined, out: IoUringParams | null): Ring {
  const entries = validateEntries(entriesArg);
  const bytes = encodeParams(p);
  const view = new DataView(bytes.buffer);
  const P = io_uring_params.off;
  let appMemory: ArrayBuffer | null = null;
  let ownedMemory = false;

  if (p.flags & IORING_SETUP_NO_MMAP) {
    const layout = noMmapLayout(entries, p, PAGE_SIZE);
    if (layout !== null) {
      if (memory !== undefined) {
        if (!(memory instanceof ArrayBuffer)) throw invalidArgType('memory', 'an ArrayBuffer from allocRingMemory()', memory);
        if (memory.byteLength < layout.total) {
          throw invalidArgValue('memory', memory, `is ${memory.byteLength} bytes; this ring needs ${layout.total}`);
        }
        appMemory = memory;
      } else {
        appMemory = allocRingMemory(layout.total);
        ownedMemory = true;
      }
      const base = addressOfBuffer(appMemory);
      if (base % PAGE_SIZE !== 0) throw invalidArgValue('memory', memory, 'must be page-aligned (use allocRingMemory())');
      view.setBigUint64(P.sq_off + 32, BigInt(base + layout.sqesOffset), true);
      view.setBigUint64(P.cq_off + 32, BigInt(base + layout.ringsOffset), true);
    }
  } else if (p.flags & IORING_SETUP_REGISTERED_FD_ONLY) {
    // liburing refuses this before the kernel does: without an fd nothing can be mapped.
    throw new UringError(ERRNO.EINVAL, 'io_uring_setup', setupErrorDetails(ERRNO.EINVAL, entries, p));
  }

  const fd = native.setup(entries, bytes);
  if (fd < 0) {
    if (ownedMemory && appMemory) native.munmap(appMemory);
    throw new UringError(fd, 'io_uring_setup', setupErrorDetails(fd, entries, p));
  }
  const params = decodeParams(bytes);
  const sizes = regionSizes(params);
  const owned: ArrayBuffer[] = [];

  if (appMemory !== null) {
    // Rings and SQEs live in the application's memory at the offsets given to the kernel.
    const layout = noMmapLayout(entries, p, PAGE_SIZE)!;
    if (ownedMemory) owned.push(appMemory);
    const ring = new Ring({
      fd, params, sizes, owned,
      sqRing: appMemory, cqRing: appMemory, sqes: appMemory,
      ringsOffset: layout.ringsOffset, sqesOffset: layout.sqesOffset,
    });
    return finish(ring, out, params);
  }

  const sqRing = mapRegion(fd, IORING_OFF_SQ_RING, sizes.sqRingSize, owned);
  const cqRing = sizes.singleMmap ? sqRing : mapRegion(fd, IORING_OFF_CQ_RING, sizes.cqRingSize, owned);
  const sqes = mapRegion(fd, IORING_OFF_SQES, sizes.sqesSize, owned);
  return finish(new Ring({ fd, params, sizes, sqRing, cqRing, sqes, owned, ringsOffset: 0, sqesOffset: 0 }), out, params);
}

function finish(ring: Ring, out: IoUringParams | null, params: RingParams): Ring {
  if (out !== null) {
    out.sq_entries = params.sq_entries;
    out.cq_entries = params.cq_entries;
    out.features = params.features;
    out.sq_off = params.sq_off;
    out.cq_off = params.cq_off;
  }
  return ring;
}
