/**
 * io_uring_register(2) — liburing's register.c: fixed files and buffers,
 * eventfd, probe, ring fd, restrictions and enabling, personalities, io-wq
 * limits, provided-buffer rings.
 */
import {
  IORING_FEAT_REG_REG_RING, IORING_OP, IORING_REGISTER, IORING_REGISTER_USE_REGISTERED_RING,
  IORING_RSRC_REGISTER_SPARSE, IORING_RESTRICTION, IO_URING_OP_SUPPORTED,
} from '../abi/constants.js';
import { ERRNO } from '../abi/errno.js';
import { opName } from '../abi/names.js';
import {
  io_uring_buf, io_uring_buf_reg, io_uring_buf_ring, io_uring_buf_status,
  io_uring_file_index_range, io_uring_files_update, io_uring_probe, io_uring_probe_op,
  io_uring_restriction, io_uring_rsrc_register, io_uring_rsrc_update, io_uring_rsrc_update2,
  iovec,
} from '../abi/structs.js';
import {
  errnoName, invalidArgType, invalidArgValue, UringError, validateBuffer, validateFd, validateInteger,
  validateU32,
} from './errors.js';
import { addressOf, addressOfBuffer, mapAnonymous, Scratch, writeU64 } from './memory.js';
import { native } from './native.js';
import type { Ring } from './ring.js';

const R = IORING_REGISTER;

/** Registered resources a ring keeps referenced so their memory outlives the registration. */
const pinned = new WeakMap<Ring, { buffers: ArrayBufferView[]; bufRings: Map<number, BufRing> }>();
function pins(ring: Ring): { buffers: ArrayBufferView[]; bufRings: Map<number, BufRing> } {
  let p = pinned.get(ring);
  if (!p) {
    p = { buffers: [], bufRings: new Map() };
    pinned.set(ring, p);
  }
  return p;
}

const REGISTER_EXPLANATIONS: Record<string, string> = {
  ENOMEM: 'ENOMEM: registering would exceed the locked-memory limit (RLIMIT_MEMLOCK, `ulimit -l`) — registered buffers are pinned and charged to it unless the process has CAP_IPC_LOCK — or the kernel is out of memory. Raise the limit or register less.',
  EFAULT: 'EFAULT: a registered buffer is not valid memory, or a buffer is file-backed memory the kernel cannot pin.',
  EBUSY: 'EBUSY: a set of this kind is already registered; unregister it first (or use the update call).',
  EMFILE: 'EMFILE: more files than RLIMIT_NOFILE allows would be registered.',
  EBADF: 'EBADF: a file descriptor in the set is not open (use -1 for an empty slot).',
  ENXIO: 'ENXIO: nothing of that kind is registered on this ring.',
  EEXIST: 'EEXIST: that slot (or buffer group) is already in use.',
  EBADFD: 'EBADFD: the ring is not in the state this call needs (e.g. restrictions only on an R_DISABLED ring before enabling).',
};

/** @internal io_uring_register(2) on this ring; returns the result or throws. `pinBytes`: memory the call pins, for the ENOMEM message. */
export function register(ring: Ring, opcode: number, arg: number, nrArgs: number, what: string, pinBytes = 0): number {
  ring.assertOpen();
  let fd = ring.fd;
  let op = opcode;
  if (fd < 0 || (ring.registeredIndex >= 0 && ring.features & IORING_FEAT_REG_REG_RING)) {
    fd = ring.registeredIndex;
    op = (opcode | IORING_REGISTER_USE_REGISTERED_RING) >>> 0;
  }
  const ret = native.register(fd, op, arg, nrArgs);
  if (ret < 0) {
    let explanation = REGISTER_EXPLANATIONS[errnoName(ret)];
    if (errnoName(ret) === 'ENOMEM' && pinBytes > 0) {
      const limit = native.getrlimit(native.RLIMIT_MEMLOCK);
      const soft = typeof limit === 'number' ? 'unknown' : limit[0] < 0 ? 'unlimited' : `${limit[0]} bytes`;
      explanation = `ENOMEM: pinning ${pinBytes} bytes of buffers exceeds the locked-memory limit RLIMIT_MEMLOCK (${soft}); registered buffers are charged to it unless the process has CAP_IPC_LOCK. Raise \`ulimit -l\` (LimitMEMLOCK= in systemd, --ulimit memlock= in Docker) or register less.`;
    }
    throw new UringError(ret, 'io_uring_register', { explanation: explanation && `${what}: ${explanation}`, info: { opcode: what } });
  }
  return ret;
}

function iovecsOf(buffers: readonly ArrayBufferView[], name: string): Scratch {
  if (!Array.isArray(buffers)) throw invalidArgType(name, 'an array of Buffer, TypedArray or DataView', buffers);
  const iov = new Scratch(Math.max(1, buffers.length) * iovec.size);
  buffers.forEach((b, i) => {
    validateBuffer(b, `${name}[${i}]`);
    writeU64(iov.u32, (i * iovec.size) >> 2, addressOf(b));
    writeU64(iov.u32, (i * iovec.size + iovec.off.iov_len) >> 2, b.byteLength);
  });
  return iov;
}

/** io_uring_register_buffers(3): registers buffers for READ_FIXED / WRITE_FIXED (index = position). */
export function registerBuffers(ring: Ring, buffers: readonly ArrayBufferView[]): void {
  const iov = iovecsOf(buffers, 'buffers');
  register(ring, R.IORING_REGISTER_BUFFERS, iov.address, buffers.length, 'IORING_REGISTER_BUFFERS', buffers.reduce((n, b) => n + b.byteLength, 0));
  pins(ring).buffers = [...buffers];
}

/** IORING_REGISTER_{FILES,BUFFERS}2 with IORING_RSRC_REGISTER_SPARSE: `nr` empty slots. */
function registerSparse(ring: Ring, opcode: number, what: string, nr: number): void {
  const reg = new Scratch(io_uring_rsrc_register.size);
  reg.u32[io_uring_rsrc_register.off.nr >> 2] = nr;
  reg.u32[io_uring_rsrc_register.off.flags >> 2] = IORING_RSRC_REGISTER_SPARSE;
  register(ring, opcode, reg.address, io_uring_rsrc_register.size, what);
}

/** io_uring_register_buffers_sparse(3): `nr` empty buffer slots, filled later by registerBuffersUpdate. */
export function registerBuffersSparse(ring: Ring, nr: number): void {
  registerSparse(ring, R.IORING_REGISTER_BUFFERS2, 'IORING_REGISTER_BUFFERS2', validateInteger(nr, 'nr', 1, 1 << 16));
  pins(ring).buffers = new Array(nr);
}

/** io_uring_register_buffers_update_tag(3): replaces buffers from slot `offset`. */
export function registerBuffersUpdate(ring: Ring, offset: number, buffers: readonly ArrayBufferView[]): number {
  validateU32(offset, 'offset');
  const iov = iovecsOf(buffers, 'buffers');
  const tags = new Scratch(Math.max(1, buffers.length) * 8);
  const up = new Scratch(io_uring_rsrc_update2.size);
  const o = io_uring_rsrc_update2.off;
  up.u32[o.offset >> 2] = offset;
  writeU64(up.u32, o.data >> 2, iov.address);
  writeU64(up.u32, o.tags >> 2, tags.address);
  up.u32[o.nr >> 2] = buffers.length;
  const n = register(ring, R.IORING_REGISTER_BUFFERS_UPDATE, up.address, io_uring_rsrc_update2.size, 'IORING_REGISTER_BUFFERS_UPDATE', buffers.reduce((m, b) => m + b.byteLength, 0));
  const kept = pins(ring).buffers;
  buffers.forEach((b, i) => (kept[offset + i] = b));
  return n;
}

/** io_uring_unregister_buffers(3). */
export function unregisterBuffers(ring: Ring): void {
  register(ring, R.IORING_UNREGISTER_BUFFERS, 0, 0, 'IORING_UNREGISTER_BUFFERS');
  pins(ring).buffers = [];
}

function fdArray(fds: readonly number[], name: string): Scratch {
  if (!Array.isArray(fds)) throw invalidArgType(name, 'an array of file descriptors', fds);
  const arr = new Scratch(Math.max(1, fds.length) * 4);
  const i32 = new Int32Array(arr.u32.buffer);
  fds.forEach((fd, i) => (i32[i] = validateInteger(fd, `${name}[${i}]`, -2, 0x7fffffff)));
  return arr;
}

/** io_uring_register_files(3): registers fds for IOSQE_FIXED_FILE (index = position; -1 = empty slot). */
export function registerFiles(ring: Ring, fds: readonly number[]): void {
  const arr = fdArray(fds, 'fds');
  register(ring, R.IORING_REGISTER_FILES, arr.address, fds.length, 'IORING_REGISTER_FILES');
}

/** io_uring_register_files_sparse(3): `nr` empty file slots. */
export function registerFilesSparse(ring: Ring, nr: number): void {
  registerSparse(ring, R.IORING_REGISTER_FILES2, 'IORING_REGISTER_FILES2', validateInteger(nr, 'nr', 1, 1 << 20));
}

/** io_uring_register_files_update(3): replaces files from slot `offset` (-1 clears, -2 skips). Returns how many were updated. */
export function registerFilesUpdate(ring: Ring, offset: number, fds: readonly number[]): number {
  validateU32(offset, 'offset');
  const arr = fdArray(fds, 'fds');
  const up = new Scratch(io_uring_files_update.size);
  up.u32[io_uring_files_update.off.offset >> 2] = offset;
  writeU64(up.u32, io_uring_files_update.off.fds >> 2, arr.address);
  return register(ring, R.IORING_REGISTER_FILES_UPDATE, up.address, fds.length, 'IORING_REGISTER_FILES_UPDATE');
}

/** io_uring_unregister_files(3). */
export function unregisterFiles(ring: Ring): void {
  register(ring, R.IORING_UNREGISTER_FILES, 0, 0, 'IORING_UNREGISTER_FILES');
}

/** io_uring_register_file_alloc_range(3): where IORING_FILE_INDEX_ALLOC may allocate. */
export function registerFileAllocRange(ring: Ring, off: number, len: number): void {
  const range = new Scratch(io_uring_file_index_range.size);
  range.u32[0] = validateU32(off, 'off');
  range.u32[1] = validateU32(len, 'len');
  register(ring, R.IORING_REGISTER_FILE_ALLOC_RANGE, range.address, 0, 'IORING_REGISTER_FILE_ALLOC_RANGE');
}

function eventfdArg(fd: number): Scratch {
  const arg = new Scratch(4);
  arg.u32[0] = validateFd(fd, 'eventfd');
  return arg;
}

/** io_uring_register_eventfd(3): the kernel signals `fd` on every completion. */
export function registerEventfd(ring: Ring, fd: number): void {
  register(ring, R.IORING_REGISTER_EVENTFD, eventfdArg(fd).address, 1, 'IORING_REGISTER_EVENTFD');
}

/** io_uring_register_eventfd_async(3): only for completions that ran asynchronously. */
export function registerEventfdAsync(ring: Ring, fd: number): void {
  register(ring, R.IORING_REGISTER_EVENTFD_ASYNC, eventfdArg(fd).address, 1, 'IORING_REGISTER_EVENTFD_ASYNC');
}

/** io_uring_unregister_eventfd(3). */
export function unregisterEventfd(ring: Ring): void {
  register(ring, R.IORING_UNREGISTER_EVENTFD, 0, 0, 'IORING_UNREGISTER_EVENTFD');
}

/** What the kernel supports: the answer of IORING_REGISTER_PROBE. */
export interface Probe {
  /** The highest opcode this kernel knows. */
  readonly lastOp: number;
  /** Opcodes flagged IO_URING_OP_SUPPORTED. */
  readonly supported: ReadonlySet<number>;
  /** io_uring_opcode_supported(3). */
  isSupported(opcode: number): boolean;
  /** Names of the supported opcodes ('IORING_OP_READ', …). */
  readonly names: readonly string[];
}

const PROBE_OPS = 256;

/** io_uring_register_probe(3) / io_uring_get_probe_ring(3). */
export function getProbe(ring: Ring): Probe {
  const probe = new Scratch(io_uring_probe.size + PROBE_OPS * io_uring_probe_op.size);
  register(ring, R.IORING_REGISTER_PROBE, probe.address, PROBE_OPS, 'IORING_REGISTER_PROBE');
  const bytes = probe.bytes;
  const lastOp = bytes[io_uring_probe.off.last_op];
  const opsLen = bytes[io_uring_probe.off.ops_len];
  const supported = new Set<number>();
  for (let i = 0; i < opsLen; i++) {
    const base = io_uring_probe.off.ops + i * io_uring_probe_op.size;
    const flags = probe.view.getUint16(base + io_uring_probe_op.off.flags, true);
    if (flags & IO_URING_OP_SUPPORTED) supported.add(bytes[base + io_uring_probe_op.off.op]);
  }
  const names = [...supported].sort((a, b) => a - b).map(opName);
  return Object.freeze({ lastOp, supported, names, isSupported: (op: number) => supported.has(op) });
}

/** Every opcode name this library knows, for comparing with a probe. */
export const KNOWN_OPS: readonly string[] = Object.keys(IORING_OP);

/**
 * io_uring_register_ring_fd(3): registers the ring's own fd so that
 * io_uring_enter can skip the fd lookup (IORING_ENTER_REGISTERED_RING).
 * Returns the registered index.
 */
export function registerRingFd(ring: Ring): number {
  if (ring.registeredIndex >= 0) return ring.registeredIndex;
  const up = new Scratch(io_uring_rsrc_update.size);
  up.u32[io_uring_rsrc_update.off.offset >> 2] = 0xffffffff; // any free slot
  writeU64(up.u32, io_uring_rsrc_update.off.data >> 2, ring.fd);
  const ret = register(ring, R.IORING_REGISTER_RING_FDS, up.address, 1, 'IORING_REGISTER_RING_FDS');
  if (ret !== 1) throw new UringError(ERRNO.EINVAL, 'io_uring_register', { explanation: 'IORING_REGISTER_RING_FDS registered nothing' });
  ring.useRegisteredRing(up.u32[io_uring_rsrc_update.off.offset >> 2]);
  return ring.registeredIndex;
}

/** io_uring_unregister_ring_fd(3). */
export function unregisterRingFd(ring: Ring): void {
  if (ring.registeredIndex < 0 || ring.fd < 0) return;
  const up = new Scratch(io_uring_rsrc_update.size);
  up.u32[io_uring_rsrc_update.off.offset >> 2] = ring.registeredIndex;
  const index = ring.registeredIndex;
  ring.useRegisteredRing(-1); // register() must use the plain fd for this call
  try {
    register(ring, R.IORING_UNREGISTER_RING_FDS, up.address, 1, 'IORING_UNREGISTER_RING_FDS');
  } catch (e) {
    ring.useRegisteredRing(index);
    throw e;
  }
}

/** One rule of IORING_REGISTER_RESTRICTIONS. */
export type Restriction =
  | { kind: 'registerOp'; op: number }
  | { kind: 'sqeOp'; op: number }
  | { kind: 'sqeFlagsAllowed'; flags: number }
  | { kind: 'sqeFlagsRequired'; flags: number };

/**
 * io_uring_register_restrictions(3): limits what an R_DISABLED ring may do
 * (allowed opcodes, register ops, SQE flags); then enableRings(). A
 * sandbox: SQEs with other opcodes fail with EACCES.
 */
export function registerRestrictions(ring: Ring, restrictions: readonly Restriction[]): void {
  if (!Array.isArray(restrictions) || restrictions.length === 0) throw invalidArgValue('restrictions', restrictions, 'must be a non-empty array');
  const buf = new Scratch(restrictions.length * io_uring_restriction.size);
  restrictions.forEach((r, i) => {
    const base = i * io_uring_restriction.size;
    let opcode: number;
    let value: number;
    switch (r?.kind) {
      case 'registerOp': opcode = IORING_RESTRICTION.IORING_RESTRICTION_REGISTER_OP; value = r.op; break;
      case 'sqeOp': opcode = IORING_RESTRICTION.IORING_RESTRICTION_SQE_OP; value = r.op; break;
      case 'sqeFlagsAllowed': opcode = IORING_RESTRICTION.IORING_RESTRICTION_SQE_FLAGS_ALLOWED; value = r.flags; break;
      case 'sqeFlagsRequired': opcode = IORING_RESTRICTION.IORING_RESTRICTION_SQE_FLAGS_REQUIRED; value = r.flags; break;
      default: throw invalidArgValue(`restrictions[${i}]`, r, "must have kind 'registerOp', 'sqeOp', 'sqeFlagsAllowed' or 'sqeFlagsRequired'");
    }
    buf.view.setUint16(base + io_uring_restriction.off.opcode, opcode, true);
    buf.bytes[base + io_uring_restriction.off.sqe_op] = validateInteger(value, `restrictions[${i}]`, 0, 255);
  });
  register(ring, R.IORING_REGISTER_RESTRICTIONS, buf.address, restrictions.length, 'IORING_REGISTER_RESTRICTIONS');
}

/** io_uring_enable_rings(3): starts an IORING_SETUP_R_DISABLED ring. */
export function enableRings(ring: Ring): void {
  register(ring, R.IORING_REGISTER_ENABLE_RINGS, 0, 0, 'IORING_REGISTER_ENABLE_RINGS');
  ring.markEnabled();
}

/** io_uring_register_personality(3): registers the current credentials; returns the id for sqe.personality. */
export function registerPersonality(ring: Ring): number {
  return register(ring, R.IORING_REGISTER_PERSONALITY, 0, 0, 'IORING_REGISTER_PERSONALITY');
}

/** io_uring_unregister_personality(3). */
export function unregisterPersonality(ring: Ring, id: number): void {
  register(ring, R.IORING_UNREGISTER_PERSONALITY, 0, validateU32(id, 'id'), 'IORING_UNREGISTER_PERSONALITY');
}

/**
 * io_uring_register_iowq_max_workers(3): caps the bounded and unbounded
 * async worker counts (0 leaves one unchanged); returns the previous values.
 */
export function registerIowqMaxWorkers(ring: Ring, bounded: number, unbounded: number): [number, number] {
  const vals = new Scratch(8);
  vals.u32[0] = validateU32(bounded, 'bounded');
  vals.u32[1] = validateU32(unbounded, 'unbounded');
  register(ring, R.IORING_REGISTER_IOWQ_MAX_WORKERS, vals.address, 2, 'IORING_REGISTER_IOWQ_MAX_WORKERS');
  return [vals.u32[0], vals.u32[1]];
}

/** io_uring_register_iowq_aff(3): CPU affinity of the async workers, as a cpu_set_t bitmask. */
export function registerIowqAff(ring: Ring, mask: Uint8Array): void {
  validateBuffer(mask, 'mask');
  register(ring, R.IORING_REGISTER_IOWQ_AFF, addressOf(mask), mask.byteLength, 'IORING_REGISTER_IOWQ_AFF');
}

/** io_uring_unregister_iowq_aff(3). */
export function unregisterIowqAff(ring: Ring): void {
  register(ring, R.IORING_UNREGISTER_IOWQ_AFF, 0, 0, 'IORING_UNREGISTER_IOWQ_AFF');
}

/**
 * A provided-buffer ring (io_uring_setup_buf_ring(3)): the application adds
 * buffers, the kernel picks one per request with IOSQE_BUFFER_SELECT and
 * reports its id in the CQE flags (IORING_CQE_F_BUFFER, id << 16).
 */
export class BufRing {
  readonly bgid: number;
  readonly entries: number;
  readonly mask: number;
  /** The shared ring memory. */
  readonly memory: ArrayBuffer;
  readonly #u32: Uint32Array;
  readonly #u16: Uint16Array;
  #tail = 0;
  /** Every buffer handed to the kernel, by buffer id: kept until replaced under the same id or the ring is freed. */
  readonly #buffers = new Map<number, ArrayBufferView>();

  /** @internal */
  constructor(bgid: number, entries: number, memory: ArrayBuffer) {
    this.bgid = bgid;
    this.entries = entries;
    this.mask = entries - 1;
    this.memory = memory;
    this.#u32 = new Uint32Array(memory);
    this.#u16 = new Uint16Array(memory);
  }

  /**
   * io_uring_buf_ring_add(3): stages `buf` with id `bid` at position
   * `offset` past the tail. The ring keeps `buf` alive under its id (not
   * under its ring slot: ids and slots differ once buffers are recycled out
   * of order) until another buffer is added with the same id.
   */
  add(buf: ArrayBufferView, bid: number, offset = 0): void {
    validateBuffer(buf, 'buf');
    validateInteger(bid, 'bid', 0, 0xffff);
    validateInteger(offset, 'offset', 0, this.mask);
    const slot = (this.#tail + offset) & this.mask;
    const w = (slot * io_uring_buf.size) >> 2;
    this.#buffers.set(bid, buf);
    writeU64(this.#u32, w + (io_uring_buf.off.addr >> 2), addressOf(buf));
    this.#u32[w + (io_uring_buf.off.len >> 2)] = buf.byteLength;
    this.#u16[(slot * io_uring_buf.size + io_uring_buf.off.bid) >> 1] = bid;
  }

  /** io_uring_buf_ring_advance(3): publishes `count` staged buffers to the kernel. */
  advance(count: number): void {
    validateInteger(count, 'count', 0, this.entries);
    this.#tail = (this.#tail + count) & 0xffff;
    // The tail is a u16 at byte 14 of the ring header, written with release ordering.
    const word = io_uring_buf_ring.off.tail >> 2;
    const old = Atomics.load(this.#u32, word);
    Atomics.store(this.#u32, word, (old & 0xffff) | (this.#tail << 16));
  }

  /** The buffer with this id (from a CQE's flags: IORING_CQE_F_BUFFER, id = flags >>> 16). */
  bufferOf(cqeFlags: number): ArrayBufferView | undefined {
    return this.#buffers.get(cqeFlags >>> 16);
  }

  /** The buffer added under id `bid`, if any. */
  bufferById(bid: number): ArrayBufferView | undefined {
    return this.#buffers.get(bid);
  }
}

/** io_uring_setup_buf_ring(3): allocates and registers a buffer ring of `entries` (power of two) for group `bgid`. */
export function setupBufRing(ring: Ring, entries: number, bgid: number, flags = 0): BufRing {
  validateInteger(entries, 'entries', 1, 32768);
  if (entries & (entries - 1)) throw invalidArgValue('entries', entries, 'must be a power of two');
  validateInteger(bgid, 'bgid', 0, 0xffff);
  const size = entries * io_uring_buf.size;
  const region = mapAnonymous(size);
  if (typeof region === 'number') throw new UringError(region, 'mmap');
  const reg = new Scratch(io_uring_buf_reg.size);
  writeU64(reg.u32, io_uring_buf_reg.off.ring_addr >> 2, addressOfBuffer(region));
  reg.u32[io_uring_buf_reg.off.ring_entries >> 2] = entries;
  reg.view.setUint16(io_uring_buf_reg.off.bgid, bgid, true);
  reg.view.setUint16(io_uring_buf_reg.off.flags, flags, true);
  try {
    register(ring, R.IORING_REGISTER_PBUF_RING, reg.address, 1, 'IORING_REGISTER_PBUF_RING');
  } catch (e) {
    native.munmap(region);
    throw e;
  }
  const br = new BufRing(bgid, entries, region);
  pins(ring).bufRings.set(bgid, br);
  return br;
}

/** io_uring_free_buf_ring(3): unregisters and frees a buffer ring. */
export function freeBufRing(ring: Ring, br: BufRing): void {
  const reg = new Scratch(io_uring_buf_reg.size);
  reg.view.setUint16(io_uring_buf_reg.off.bgid, br.bgid, true);
  register(ring, R.IORING_UNREGISTER_PBUF_RING, reg.address, 1, 'IORING_UNREGISTER_PBUF_RING');
  pins(ring).bufRings.delete(br.bgid);
  native.munmap(br.memory);
}

/** io_uring_buf_ring_head(3): the kernel's head of a buffer ring. */
export function bufRingHead(ring: Ring, bgid: number): number {
  const status = new Scratch(io_uring_buf_status.size);
  status.u32[0] = bgid;
  register(ring, R.IORING_REGISTER_PBUF_STATUS, status.address, 1, 'IORING_REGISTER_PBUF_STATUS');
  return status.u32[io_uring_buf_status.off.head >> 2];
}
