/**
 * Prep helpers: one per opcode, liburing's io_uring_prep_* in camelCase, with
 * the same argument order. Each fills every field of the first 64 bytes of
 * the SQE (so a reused slot carries nothing over) and leaves user_data to
 * the caller (`sqe.userData = n`).
 *
 * Memory arguments are Buffers, typed arrays or DataViews — never raw
 * addresses (those are in `unsafe.ts`, named as such). Each helper checks
 * what it can before writing anything: a length against the buffer it
 * points into (with an optional offset into that buffer as the last
 * argument), a path for its terminating NUL, a struct for its size. When a
 * check fails the slot becomes a NOP that posts no CQE
 * (IOSQE_CQE_SKIP_SUCCESS), so a half-written SQE can never reach the
 * kernel, and the helper throws Node's ERR_INVALID_ARG_* / ERR_OUT_OF_RANGE.
 *
 * Lifetime: this layer does not keep memory alive. Everything an SQE points
 * at must outlive its CQE; the driver layer does that bookkeeping.
 */
import {
  IORING_OP, IOSQE_BUFFER_SELECT, IOSQE_FIXED_FILE, IORING_FILE_INDEX_ALLOC,
  IORING_POLL_ADD_MULTI, IORING_TIMEOUT_UPDATE, IORING_ASYNC_CANCEL_FD, IORING_RECV_MULTISHOT,
  IORING_ACCEPT_MULTISHOT, IORING_RECVSEND_FIXED_BUF, IORING_RECVSEND_BUNDLE, IORING_MSG_SEND_FD,
  IORING_MSG_RING_FLAGS_PASS, IOSQE_CQE_SKIP_SUCCESS, LINUX,
} from '../abi/constants.js';
import {
  EPOLL_EVENT_SIZE, futex_waitv, iovec, msghdr, open_how, SIGINFO_SIZE, statx, __kernel_timespec,
} from '../abi/structs.js';
import { invalidArgType, invalidArgValue, outOfRange } from './errors.js';
import { addressOf, writeU64 } from './memory.js';
import { fillSqe, SQE_WORD, setSqeU64, type Sqe } from './sqe.js';

/** Memory the kernel reads or writes: a Buffer, typed array or DataView; null for "none". */
export type Memory = ArrayBufferView | null;

const W = SQE_WORD;
const { AT_FDCWD } = LINUX;
const SOCKLEN_SIZE = 4;
const MAX_LEN = 0xffffffff;

const fill = fillSqe;

/** Turns the slot into a NOP that posts no CQE, then throws `err`. */
function refuse(sqe: Sqe, err: Error): never {
  fill(IORING_OP.IORING_OP_NOP, sqe, -1, 0, 0, 0);
  sqe.flags = IOSQE_CQE_SKIP_SUCCESS;
  throw err;
}

function checkView(sqe: Sqe, mem: unknown, name: string): ArrayBufferView {
  if (!ArrayBuffer.isView(mem)) refuse(sqe, invalidArgType(name, 'an instance of Buffer, TypedArray, or DataView', mem));
  return mem;
}

function checkCount(sqe: Sqe, value: unknown, name: string, max = MAX_LEN): number {
  if (typeof value !== 'number') refuse(sqe, invalidArgType(name, 'of type number', value));
  if (!Number.isInteger(value) || value < 0 || value > max) refuse(sqe, outOfRange(name, `an integer >= 0 && <= ${max}`, value));
  return value;
}

/**
 * Address of `length` bytes at `offset` into `mem`, after checking they lie
 * inside it. null is address 0: the kernel answers EFAULT, or picks a buffer
 * itself (IOSQE_BUFFER_SELECT).
 */
function span(sqe: Sqe, mem: unknown, name: string, length: number, offset: number): number {
  if (mem === null) {
    checkCount(sqe, length, 'nbytes');
    return 0;
  }
  const view = checkView(sqe, mem, name);
  checkCount(sqe, length, 'nbytes');
  checkCount(sqe, offset, 'bufOffset');
  if (offset + length > view.byteLength) {
    refuse(sqe, outOfRange(name, `at least ${offset + length} bytes long (bufOffset ${offset} + nbytes ${length})`, view.byteLength));
  }
  return addressOf(view) + offset;
}

/** Address of a buffer or null (0), requiring at least `size` bytes. */
function struct(sqe: Sqe, mem: unknown, name: string, size: number, optional = false): number {
  if (mem === null && optional) return 0;
  const view = checkView(sqe, mem, name);
  if (view.byteLength < size) refuse(sqe, outOfRange(`${name}.byteLength`, `>= ${size}`, view.byteLength));
  return addressOf(view);
}

function lastByte(view: ArrayBufferView): number {
  return view instanceof Uint8Array ? view[view.length - 1] : new Uint8Array(view.buffer, view.byteOffset, view.byteLength)[view.byteLength - 1];
}

/** Address of a NUL-terminated string (a path, an xattr name): its last byte must be 0. */
function cString(sqe: Sqe, mem: unknown, name: string): number {
  const view = checkView(sqe, mem, name);
  if (view.byteLength === 0 || lastByte(view) !== 0) refuse(sqe, invalidArgValue(name, mem, 'must end with a NUL byte (see toPathBuffer)'));
  return addressOf(view);
}

/** Target slot of a direct (fixed-file) op: index + 1, with IORING_FILE_INDEX_ALLOC meaning "allocate". */
function setTargetFixedFile(sqe: Sqe, fileIndex: number): void {
  sqe.fileIndex = (fileIndex === IORING_FILE_INDEX_ALLOC ? fileIndex - 1 : fileIndex) + 1;
}

/**
 * struct iovec[] built from buffers, holding them: what readv/writev and
 * msghdr point at. The Iovecs object must outlive the request (it keeps
 * each buffer alive with it).
 */
export class Iovecs {
  /** The buffers, in order (a copy of the array given). */
  readonly buffers: readonly ArrayBufferView[];
  /** The struct iovec array the kernel reads. */
  readonly bytes: Uint8Array;
  /** Total bytes over all buffers. */
  readonly totalLength: number;

  constructor(buffers: readonly ArrayBufferView[]) {
    if (!Array.isArray(buffers)) throw invalidArgType('buffers', 'an instance of Array', buffers);
    if (buffers.length > 1024) throw outOfRange('buffers.length', '<= 1024 (IOV_MAX)', buffers.length);
    const kept = buffers.slice();
    const bytes = new Uint8Array(Math.max(1, kept.length) * iovec.size);
    const u32 = new Uint32Array(bytes.buffer);
    let total = 0;
    for (let i = 0; i < kept.length; i++) {
      const b = kept[i];
      if (!ArrayBuffer.isView(b)) throw invalidArgType(`buffers[${i}]`, 'an instance of Buffer, TypedArray, or DataView', b);
      writeU64(u32, i * 4, addressOf(b));
      writeU64(u32, i * 4 + 2, b.byteLength);
      total += b.byteLength;
    }
    this.buffers = Object.freeze(kept);
    this.bytes = bytes;
    this.totalLength = total;
  }

  get length(): number {
    return this.buffers.length;
  }
}

/** A struct msghdr for sendmsg/recvmsg, holding what it points at (name, iovecs, control). */
export class Msghdr {
  readonly bytes: Uint8Array;
  readonly name: ArrayBufferView | null;
  readonly iov: Iovecs;
  readonly control: ArrayBufferView | null;

  constructor(options: { name?: ArrayBufferView | null; iov: Iovecs; control?: ArrayBufferView | null; flags?: number }) {
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
    if (!(options.iov instanceof Iovecs)) throw invalidArgType('options.iov', 'an instance of Iovecs', options.iov);
    const name = options.name ?? null;
    const control = options.control ?? null;
    if (name !== null && !ArrayBuffer.isView(name)) throw invalidArgType('options.name', 'an ArrayBufferView or null', name);
    if (control !== null && !ArrayBuffer.isView(control)) throw invalidArgType('options.control', 'an ArrayBufferView or null', control);
    this.bytes = new Uint8Array(msghdr.size);
    const u32 = new Uint32Array(this.bytes.buffer);
    const o = msghdr.off;
    if (name) {
      writeU64(u32, o.msg_name >> 2, addressOf(name));
      u32[o.msg_namelen >> 2] = name.byteLength;
    }
    writeU64(u32, o.msg_iov >> 2, addressOf(options.iov.bytes));
    writeU64(u32, o.msg_iovlen >> 2, options.iov.length);
    if (control) {
      writeU64(u32, o.msg_control >> 2, addressOf(control));
      writeU64(u32, o.msg_controllen >> 2, control.byteLength);
    }
    u32[o.msg_flags >> 2] = options.flags ?? 0;
    this.name = name;
    this.iov = options.iov;
    this.control = control;
  }
}

/** struct futex_waitv[] built from futex words, holding them (IORING_OP_FUTEX_WAITV). */
export class FutexWaitv {
  readonly bytes: Uint8Array;
  readonly futexes: readonly ArrayBufferView[];

  constructor(entries: ReadonlyArray<{ futex: Uint32Array | BigUint64Array; value: number | bigint; flags: number }>) {
    if (!Array.isArray(entries) || entries.length === 0 || entries.length > 128) throw invalidArgValue('entries', entries, 'must be an array of 1 to 128 futexes');
    this.bytes = new Uint8Array(entries.length * futex_waitv.size);
    const view = new DataView(this.bytes.buffer);
    const kept: ArrayBufferView[] = [];
    entries.forEach((e, i) => {
      if (!(e?.futex instanceof Uint32Array || e?.futex instanceof BigUint64Array) || e.futex.length === 0) {
        throw invalidArgType(`entries[${i}].futex`, 'a non-empty Uint32Array or BigUint64Array', e?.futex);
      }
      const base = i * futex_waitv.size;
      view.setBigUint64(base + futex_waitv.off.val, BigInt(e.value), true);
      view.setBigUint64(base + futex_waitv.off.uaddr, BigInt(addressOf(e.futex)), true);
      view.setUint32(base + futex_waitv.off.flags, e.flags >>> 0, true);
      kept.push(e.futex);
    });
    this.futexes = Object.freeze(kept);
  }
}

function iovecsOf(sqe: Sqe, iovecs: unknown, nrVecs: unknown): number {
  if (!(iovecs instanceof Iovecs)) refuse(sqe, invalidArgType('iovecs', 'an instance of Iovecs', iovecs));
  checkCount(sqe, nrVecs, 'nrVecs', iovecs.length);
  return addressOf(iovecs.bytes);
}

/** io_uring_prep_nop(3): a no-op request; completes with res 0. */
export function prepNop(sqe: Sqe): void {
  fill(IORING_OP.IORING_OP_NOP, sqe, -1, 0, 0, 0);
}

/** io_uring_prep_nop128: a no-op occupying a 128-byte SQE (SQE_MIXED rings). */
export function prepNop128(sqe: Sqe): void {
  fill(IORING_OP.IORING_OP_NOP128, sqe, -1, 0, 0, 0);
}

/** io_uring_prep_read(3): read(2)/pread(2) of `nbytes` into `buf` (from byte `bufOffset`) at file `offset` (-1: file position). */
export function prepRead(sqe: Sqe, fd: number, buf: Memory, nbytes: number, offset: number, bufOffset = 0): void {
  fill(IORING_OP.IORING_OP_READ, sqe, fd, span(sqe, buf, 'buf', nbytes, bufOffset), nbytes, offset);
}

/** io_uring_prep_write(3): write(2)/pwrite(2) of `nbytes` from `buf` (from byte `bufOffset`) at `offset`. */
export function prepWrite(sqe: Sqe, fd: number, buf: Memory, nbytes: number, offset: number, bufOffset = 0): void {
  fill(IORING_OP.IORING_OP_WRITE, sqe, fd, span(sqe, buf, 'buf', nbytes, bufOffset), nbytes, offset);
}

/** io_uring_prep_readv(3): preadv(2) into the first `nrVecs` buffers of `iovecs`. */
export function prepReadv(sqe: Sqe, fd: number, iovecs: Iovecs, nrVecs: number, offset: number): void {
  fill(IORING_OP.IORING_OP_READV, sqe, fd, iovecsOf(sqe, iovecs, nrVecs), nrVecs, offset);
}

/** io_uring_prep_readv2(3): preadv2(2) with RWF_* flags. */
export function prepReadv2(sqe: Sqe, fd: number, iovecs: Iovecs, nrVecs: number, offset: number, flags: number): void {
  prepReadv(sqe, fd, iovecs, nrVecs, offset);
  sqe.opFlags = flags;
}

/** io_uring_prep_writev(3): pwritev(2) from the first `nrVecs` buffers of `iovecs`. */
export function prepWritev(sqe: Sqe, fd: number, iovecs: Iovecs, nrVecs: number, offset: number): void {
  fill(IORING_OP.IORING_OP_WRITEV, sqe, fd, iovecsOf(sqe, iovecs, nrVecs), nrVecs, offset);
}

/** io_uring_prep_writev2(3): pwritev2(2) with RWF_* flags. */
export function prepWritev2(sqe: Sqe, fd: number, iovecs: Iovecs, nrVecs: number, offset: number, flags: number): void {
  prepWritev(sqe, fd, iovecs, nrVecs, offset);
  sqe.opFlags = flags;
}

function checkBufIndex(sqe: Sqe, bufIndex: unknown): number {
  return checkCount(sqe, bufIndex, 'bufIndex', 0xffff);
}

/** io_uring_prep_read_fixed(3): read into registered buffer `bufIndex`; `buf` (from `bufOffset`) lies inside it (else the kernel answers EFAULT). */
export function prepReadFixed(sqe: Sqe, fd: number, buf: Memory, nbytes: number, offset: number, bufIndex: number, bufOffset = 0): void {
  checkBufIndex(sqe, bufIndex);
  fill(IORING_OP.IORING_OP_READ_FIXED, sqe, fd, span(sqe, buf, 'buf', nbytes, bufOffset), nbytes, offset);
  sqe.bufIndex = bufIndex;
}

/** io_uring_prep_write_fixed(3): write from registered buffer `bufIndex`. */
export function prepWriteFixed(sqe: Sqe, fd: number, buf: Memory, nbytes: number, offset: number, bufIndex: number, bufOffset = 0): void {
  checkBufIndex(sqe, bufIndex);
  fill(IORING_OP.IORING_OP_WRITE_FIXED, sqe, fd, span(sqe, buf, 'buf', nbytes, bufOffset), nbytes, offset);
  sqe.bufIndex = bufIndex;
}

/** io_uring_prep_readv_fixed(3): preadv2 whose buffers lie in registered buffer `bufIndex`. */
export function prepReadvFixed(sqe: Sqe, fd: number, iovecs: Iovecs, nrVecs: number, offset: number, flags: number, bufIndex: number): void {
  checkBufIndex(sqe, bufIndex);
  prepReadv2(sqe, fd, iovecs, nrVecs, offset, flags);
  sqe.opcode = IORING_OP.IORING_OP_READV_FIXED;
  sqe.bufIndex = bufIndex;
}

/** io_uring_prep_writev_fixed(3). */
export function prepWritevFixed(sqe: Sqe, fd: number, iovecs: Iovecs, nrVecs: number, offset: number, flags: number, bufIndex: number): void {
  checkBufIndex(sqe, bufIndex);
  prepWritev2(sqe, fd, iovecs, nrVecs, offset, flags);
  sqe.opcode = IORING_OP.IORING_OP_WRITEV_FIXED;
  sqe.bufIndex = bufIndex;
}

/** io_uring_prep_read_multishot(3): repeated reads into buffers of group `bufGroup`. */
export function prepReadMultishot(sqe: Sqe, fd: number, nbytes: number, offset: number, bufGroup: number): void {
  fill(IORING_OP.IORING_OP_READ_MULTISHOT, sqe, fd, 0, nbytes, offset);
  sqe.bufIndex = bufGroup;
  sqe.flags = IOSQE_BUFFER_SELECT;
}

/** io_uring_prep_fsync(3): fsync(2); IORING_FSYNC_DATASYNC for fdatasync(2). */
export function prepFsync(sqe: Sqe, fd: number, fsyncFlags: number): void {
  fill(IORING_OP.IORING_OP_FSYNC, sqe, fd, 0, 0, 0);
  sqe.opFlags = fsyncFlags;
}

/** io_uring_prep_sync_file_range(3). */
export function prepSyncFileRange(sqe: Sqe, fd: number, len: number, offset: number, flags: number): void {
  fill(IORING_OP.IORING_OP_SYNC_FILE_RANGE, sqe, fd, 0, len, offset);
  sqe.opFlags = flags;
}

/** io_uring_prep_fallocate(3): fallocate(2) of `len` bytes at `offset` (len travels in the addr field). */
export function prepFallocate(sqe: Sqe, fd: number, mode: number, offset: number, len: number): void {
  fill(IORING_OP.IORING_OP_FALLOCATE, sqe, fd, len, mode, offset);
}

/** io_uring_prep_ftruncate(3): ftruncate(2) to `len` (6.9+). */
export function prepFtruncate(sqe: Sqe, fd: number, len: number): void {
  fill(IORING_OP.IORING_OP_FTRUNCATE, sqe, fd, 0, 0, len);
}

/** io_uring_prep_fadvise(3): posix_fadvise(2). */
export function prepFadvise(sqe: Sqe, fd: number, offset: number, len: number, advice: number): void {
  fill(IORING_OP.IORING_OP_FADVISE, sqe, fd, 0, len, offset);
  sqe.opFlags = advice;
}

/** io_uring_prep_madvise(3): madvise(2) of the first `length` bytes of `mem`. */
export function prepMadvise(sqe: Sqe, mem: Memory, length: number, advice: number): void {
  fill(IORING_OP.IORING_OP_MADVISE, sqe, -1, span(sqe, mem, 'mem', length, 0), length, 0);
  sqe.opFlags = advice;
}

/** io_uring_prep_openat(3): openat(2) of a NUL-terminated path. */
export function prepOpenat(sqe: Sqe, dfd: number, path: Memory, flags: number, mode: number): void {
  fill(IORING_OP.IORING_OP_OPENAT, sqe, dfd, cString(sqe, path, 'path'), mode, 0);
  sqe.opFlags = flags;
}

/** io_uring_prep_open(3): openat(2) relative to the current directory. */
export function prepOpen(sqe: Sqe, path: Memory, flags: number, mode: number): void {
  prepOpenat(sqe, AT_FDCWD, path, flags, mode);
}

/** io_uring_prep_openat_direct(3): openat into fixed-file slot `fileIndex` (IORING_FILE_INDEX_ALLOC: any free slot). */
export function prepOpenatDirect(sqe: Sqe, dfd: number, path: Memory, flags: number, mode: number, fileIndex: number): void {
  prepOpenat(sqe, dfd, path, flags, mode);
  setTargetFixedFile(sqe, fileIndex);
}

/** io_uring_prep_openat2(3): openat2(2) with a struct open_how. */
export function prepOpenat2(sqe: Sqe, dfd: number, path: Memory, how: Memory): void {
  const p = cString(sqe, path, 'path');
  fill(IORING_OP.IORING_OP_OPENAT2, sqe, dfd, p, open_how.size, struct(sqe, how, 'how', open_how.size));
}

/** io_uring_prep_openat2_direct(3). */
export function prepOpenat2Direct(sqe: Sqe, dfd: number, path: Memory, how: Memory, fileIndex: number): void {
  prepOpenat2(sqe, dfd, path, how);
  setTargetFixedFile(sqe, fileIndex);
}

/** io_uring_prep_close(3): close(2). */
export function prepClose(sqe: Sqe, fd: number): void {
  fill(IORING_OP.IORING_OP_CLOSE, sqe, fd, 0, 0, 0);
}

/** io_uring_prep_close_direct(3): releases fixed-file slot `fileIndex`. */
export function prepCloseDirect(sqe: Sqe, fileIndex: number): void {
  prepClose(sqe, 0);
  setTargetFixedFile(sqe, fileIndex);
}

/** io_uring_prep_files_update(3): updates registered files from `offset` with the first `nrFds` fds of `fds`. */
export function prepFilesUpdate(sqe: Sqe, fds: Int32Array, nrFds: number, offset: number): void {
  if (!(fds instanceof Int32Array)) refuse(sqe, invalidArgType('fds', 'an instance of Int32Array', fds));
  checkCount(sqe, nrFds, 'nrFds', fds.length);
  fill(IORING_OP.IORING_OP_FILES_UPDATE, sqe, -1, addressOf(fds), nrFds, offset);
}

/** io_uring_prep_fixed_fd_install(3): installs fixed file `fd` as a normal fd. */
export function prepFixedFdInstall(sqe: Sqe, fd: number, flags: number): void {
  fill(IORING_OP.IORING_OP_FIXED_FD_INSTALL, sqe, fd, 0, 0, 0);
  sqe.flags = IOSQE_FIXED_FILE;
  sqe.opFlags = flags;
}

/** io_uring_prep_statx(3): statx(2) into a 256-byte struct statx. */
export function prepStatx(sqe: Sqe, dfd: number, path: Memory, flags: number, mask: number, statxbuf: Memory): void {
  const p = cString(sqe, path, 'path');
  fill(IORING_OP.IORING_OP_STATX, sqe, dfd, p, mask, struct(sqe, statxbuf, 'statxbuf', statx.size));
  sqe.opFlags = flags;
}

/** io_uring_prep_renameat(3): renameat2(2). */
export function prepRenameat(sqe: Sqe, olddfd: number, oldpath: Memory, newdfd: number, newpath: Memory, flags: number): void {
  const a = cString(sqe, oldpath, 'oldpath');
  fill(IORING_OP.IORING_OP_RENAMEAT, sqe, olddfd, a, newdfd, cString(sqe, newpath, 'newpath'));
  sqe.opFlags = flags;
}

/** io_uring_prep_rename(3). */
export function prepRename(sqe: Sqe, oldpath: Memory, newpath: Memory): void {
  prepRenameat(sqe, AT_FDCWD, oldpath, AT_FDCWD, newpath, 0);
}

/** io_uring_prep_unlinkat(3): unlinkat(2); AT_REMOVEDIR for rmdir. */
export function prepUnlinkat(sqe: Sqe, dfd: number, path: Memory, flags: number): void {
  fill(IORING_OP.IORING_OP_UNLINKAT, sqe, dfd, cString(sqe, path, 'path'), 0, 0);
  sqe.opFlags = flags;
}

/** io_uring_prep_unlink(3). */
export function prepUnlink(sqe: Sqe, path: Memory, flags: number): void {
  prepUnlinkat(sqe, AT_FDCWD, path, flags);
}

/** io_uring_prep_mkdirat(3): mkdirat(2). */
export function prepMkdirat(sqe: Sqe, dfd: number, path: Memory, mode: number): void {
  fill(IORING_OP.IORING_OP_MKDIRAT, sqe, dfd, cString(sqe, path, 'path'), mode, 0);
}

/** io_uring_prep_mkdir(3). */
export function prepMkdir(sqe: Sqe, path: Memory, mode: number): void {
  prepMkdirat(sqe, AT_FDCWD, path, mode);
}

/** io_uring_prep_symlinkat(3): symlinkat(2). */
export function prepSymlinkat(sqe: Sqe, target: Memory, newdirfd: number, linkpath: Memory): void {
  const t = cString(sqe, target, 'target');
  fill(IORING_OP.IORING_OP_SYMLINKAT, sqe, newdirfd, t, 0, cString(sqe, linkpath, 'linkpath'));
}

/** io_uring_prep_symlink(3). */
export function prepSymlink(sqe: Sqe, target: Memory, linkpath: Memory): void {
  prepSymlinkat(sqe, target, AT_FDCWD, linkpath);
}

/** io_uring_prep_linkat(3): linkat(2). */
export function prepLinkat(sqe: Sqe, olddfd: number, oldpath: Memory, newdfd: number, newpath: Memory, flags: number): void {
  const a = cString(sqe, oldpath, 'oldpath');
  fill(IORING_OP.IORING_OP_LINKAT, sqe, olddfd, a, newdfd, cString(sqe, newpath, 'newpath'));
  sqe.opFlags = flags;
}

/** io_uring_prep_link(3). */
export function prepLink(sqe: Sqe, oldpath: Memory, newpath: Memory, flags: number): void {
  prepLinkat(sqe, AT_FDCWD, oldpath, AT_FDCWD, newpath, flags);
}

/** io_uring_prep_splice(3): splice(2) from fd_in at off_in to fd_out at off_out (-1: no offset). */
export function prepSplice(sqe: Sqe, fdIn: number, offIn: number, fdOut: number, offOut: number, nbytes: number, spliceFlags: number): void {
  fill(IORING_OP.IORING_OP_SPLICE, sqe, fdOut, offIn, nbytes, offOut); // addr holds splice_off_in
  sqe.fileIndex = fdIn; // splice_fd_in
  sqe.opFlags = spliceFlags;
}

/** io_uring_prep_tee(3): tee(2). */
export function prepTee(sqe: Sqe, fdIn: number, fdOut: number, nbytes: number, spliceFlags: number): void {
  fill(IORING_OP.IORING_OP_TEE, sqe, fdOut, 0, nbytes, 0);
  sqe.fileIndex = fdIn;
  sqe.opFlags = spliceFlags;
}

/** io_uring_prep_timeout(3): completes after `ts` (struct __kernel_timespec, read at submission) or after `count` other completions. */
export function prepTimeout(sqe: Sqe, ts: Memory, count: number, flags: number): void {
  fill(IORING_OP.IORING_OP_TIMEOUT, sqe, -1, struct(sqe, ts, 'ts', __kernel_timespec.size), 1, count);
  sqe.opFlags = flags;
}

/** io_uring_prep_timeout_remove(3): cancels the timeout with this user_data. */
export function prepTimeoutRemove(sqe: Sqe, userData: number, flags: number): void {
  fill(IORING_OP.IORING_OP_TIMEOUT_REMOVE, sqe, -1, userData, 0, 0);
  sqe.opFlags = flags;
}

/** io_uring_prep_timeout_update(3): re-arms the timeout with this user_data. */
export function prepTimeoutUpdate(sqe: Sqe, ts: Memory, userData: number, flags: number): void {
  const t = struct(sqe, ts, 'ts', __kernel_timespec.size);
  fill(IORING_OP.IORING_OP_TIMEOUT_REMOVE, sqe, -1, userData, 0, t);
  sqe.opFlags = flags | IORING_TIMEOUT_UPDATE;
}

/** io_uring_prep_link_timeout(3): a timeout for the previous SQE of a link chain. */
export function prepLinkTimeout(sqe: Sqe, ts: Memory, flags: number): void {
  fill(IORING_OP.IORING_OP_LINK_TIMEOUT, sqe, -1, struct(sqe, ts, 'ts', __kernel_timespec.size), 1, 0);
  sqe.opFlags = flags;
}

/** io_uring_prep_cancel64(3): cancels the request with this user_data (IORING_ASYNC_CANCEL_* flags). */
export function prepCancel64(sqe: Sqe, userData: number, flags: number): void {
  fill(IORING_OP.IORING_OP_ASYNC_CANCEL, sqe, -1, userData, 0, 0);
  sqe.opFlags = flags;
}

/** io_uring_prep_cancel(3): same as prepCancel64 (user_data given as a number). */
export function prepCancel(sqe: Sqe, userData: number, flags: number): void {
  prepCancel64(sqe, userData, flags);
}

/** io_uring_prep_cancel_fd(3): cancels requests on `fd`. */
export function prepCancelFd(sqe: Sqe, fd: number, flags: number): void {
  fill(IORING_OP.IORING_OP_ASYNC_CANCEL, sqe, fd, 0, 0, 0);
  sqe.opFlags = flags | IORING_ASYNC_CANCEL_FD;
}

/** io_uring_prep_poll_add(3): one-shot poll for `pollMask` events. */
export function prepPollAdd(sqe: Sqe, fd: number, pollMask: number): void {
  fill(IORING_OP.IORING_OP_POLL_ADD, sqe, fd, 0, 0, 0);
  sqe.opFlags = pollMask;
}

/** io_uring_prep_poll_multishot(3): a CQE per readiness event until cancelled. */
export function prepPollMultishot(sqe: Sqe, fd: number, pollMask: number): void {
  prepPollAdd(sqe, fd, pollMask);
  sqe.len = IORING_POLL_ADD_MULTI;
}

/** io_uring_prep_poll_remove(3): removes the poll with this user_data. */
export function prepPollRemove(sqe: Sqe, userData: number): void {
  fill(IORING_OP.IORING_OP_POLL_REMOVE, sqe, -1, userData, 0, 0);
}

/** io_uring_prep_poll_update(3). */
export function prepPollUpdate(sqe: Sqe, oldUserData: number, newUserData: number, pollMask: number, flags: number): void {
  fill(IORING_OP.IORING_OP_POLL_REMOVE, sqe, -1, oldUserData, flags, newUserData);
  sqe.opFlags = pollMask;
}

/** io_uring_prep_epoll_ctl(3): epoll_ctl(2); `ev` may be null for EPOLL_CTL_DEL. */
export function prepEpollCtl(sqe: Sqe, epfd: number, fd: number, op: number, ev: Memory): void {
  fill(IORING_OP.IORING_OP_EPOLL_CTL, sqe, epfd, struct(sqe, ev, 'ev', EPOLL_EVENT_SIZE, true), op, fd);
}

/** io_uring_prep_epoll_wait(3): epoll_wait(2) into room for `maxevents` events (6.15+). */
export function prepEpollWait(sqe: Sqe, fd: number, events: Memory, maxevents: number, flags: number): void {
  checkCount(sqe, maxevents, 'maxevents', 0x7fffffff);
  fill(IORING_OP.IORING_OP_EPOLL_WAIT, sqe, fd, struct(sqe, events, 'events', maxevents * EPOLL_EVENT_SIZE), maxevents, 0);
  sqe.opFlags = flags;
}

function msghdrOf(sqe: Sqe, msg: unknown): number {
  if (!(msg instanceof Msghdr)) refuse(sqe, invalidArgType('msg', 'an instance of Msghdr', msg));
  return addressOf(msg.bytes);
}

/** io_uring_prep_sendmsg(3): sendmsg(2). */
export function prepSendmsg(sqe: Sqe, fd: number, msg: Msghdr, flags: number): void {
  fill(IORING_OP.IORING_OP_SENDMSG, sqe, fd, msghdrOf(sqe, msg), 1, 0);
  sqe.opFlags = flags;
}

/** io_uring_prep_sendmsg_zc(3): zero-copy sendmsg. */
export function prepSendmsgZc(sqe: Sqe, fd: number, msg: Msghdr, flags: number): void {
  prepSendmsg(sqe, fd, msg, flags);
  sqe.opcode = IORING_OP.IORING_OP_SENDMSG_ZC;
}

/** io_uring_prep_recvmsg(3): recvmsg(2). */
export function prepRecvmsg(sqe: Sqe, fd: number, msg: Msghdr, flags: number): void {
  fill(IORING_OP.IORING_OP_RECVMSG, sqe, fd, msghdrOf(sqe, msg), 1, 0);
  sqe.opFlags = flags;
}

/** io_uring_prep_recvmsg_multishot(3). */
export function prepRecvmsgMultishot(sqe: Sqe, fd: number, msg: Msghdr, flags: number): void {
  prepRecvmsg(sqe, fd, msg, flags);
  sqe.ioprio |= IORING_RECV_MULTISHOT;
}

/** io_uring_prep_send(3): send(2) of `len` bytes of `buf` (from `bufOffset`). */
export function prepSend(sqe: Sqe, sockfd: number, buf: Memory, len: number, flags: number, bufOffset = 0): void {
  fill(IORING_OP.IORING_OP_SEND, sqe, sockfd, span(sqe, buf, 'buf', len, bufOffset), len, 0);
  sqe.opFlags = flags;
}

/** io_uring_prep_send_bundle(3): send from a provided-buffer bundle (IOSQE_BUFFER_SELECT; no buffer here). */
export function prepSendBundle(sqe: Sqe, sockfd: number, len: number, flags: number): void {
  fill(IORING_OP.IORING_OP_SEND, sqe, sockfd, 0, len, 0);
  sqe.opFlags = flags;
  sqe.ioprio |= IORING_RECVSEND_BUNDLE;
}

/** io_uring_prep_send_set_addr(3): sets the destination of a send (`addrLen` bytes of `destAddr`). */
export function prepSendSetAddr(sqe: Sqe, destAddr: Memory, addrLen: number): void {
  checkCount(sqe, addrLen, 'addrLen', 0xffff);
  setSqeU64(sqe, W.off, span(sqe, destAddr, 'destAddr', addrLen, 0));
  sqe.fileIndex = addrLen;
}

/** io_uring_prep_sendto(3): sendto(2). */
export function prepSendto(sqe: Sqe, sockfd: number, buf: Memory, len: number, flags: number, destAddr: Memory, addrLen: number): void {
  prepSend(sqe, sockfd, buf, len, flags);
  prepSendSetAddr(sqe, destAddr, addrLen);
}

/** io_uring_prep_send_zc(3): zero-copy send; a second CQE (IORING_CQE_F_NOTIF) says when `buf` is free. */
export function prepSendZc(sqe: Sqe, sockfd: number, buf: Memory, len: number, flags: number, zcFlags: number, bufOffset = 0): void {
  fill(IORING_OP.IORING_OP_SEND_ZC, sqe, sockfd, span(sqe, buf, 'buf', len, bufOffset), len, 0);
  sqe.opFlags = flags;
  sqe.ioprio = zcFlags;
}

/** io_uring_prep_send_zc_fixed(3): zero-copy send from registered buffer `bufIndex`. */
export function prepSendZcFixed(sqe: Sqe, sockfd: number, buf: Memory, len: number, flags: number, zcFlags: number, bufIndex: number, bufOffset = 0): void {
  checkBufIndex(sqe, bufIndex);
  prepSendZc(sqe, sockfd, buf, len, flags, zcFlags, bufOffset);
  sqe.ioprio |= IORING_RECVSEND_FIXED_BUF;
  sqe.bufIndex = bufIndex;
}

/** io_uring_prep_recv(3): recv(2) of up to `len` bytes into `buf` (from `bufOffset`); `buf` null with IOSQE_BUFFER_SELECT. */
export function prepRecv(sqe: Sqe, sockfd: number, buf: Memory, len: number, flags: number, bufOffset = 0): void {
  fill(IORING_OP.IORING_OP_RECV, sqe, sockfd, span(sqe, buf, 'buf', len, bufOffset), len, 0);
  sqe.opFlags = flags;
}

/** io_uring_prep_recv_multishot(3): a CQE per receive, into provided buffers (IOSQE_BUFFER_SELECT; `buf` null). */
export function prepRecvMultishot(sqe: Sqe, sockfd: number, buf: Memory, len: number, flags: number): void {
  prepRecv(sqe, sockfd, buf, len, flags);
  sqe.ioprio |= IORING_RECV_MULTISHOT;
}

/** struct sockaddr + socklen_t* for accept: the length word must say no more than the buffer holds. */
function acceptAddr(sqe: Sqe, sockaddr: unknown, addrlen: unknown): [number, number] {
  if (sockaddr === null && addrlen === null) return [0, 0];
  const a = struct(sqe, sockaddr, 'sockaddr', 1);
  const l = struct(sqe, addrlen, 'addrlen', SOCKLEN_SIZE);
  const len = new DataView((addrlen as ArrayBufferView).buffer, (addrlen as ArrayBufferView).byteOffset, SOCKLEN_SIZE).getUint32(0, true);
  if (len > (sockaddr as ArrayBufferView).byteLength) refuse(sqe, outOfRange('addrlen', `<= ${(sockaddr as ArrayBufferView).byteLength} (the sockaddr buffer)`, len));
  return [a, l];
}

/** io_uring_prep_accept(3): accept4(2); `addrlen` holds a socklen_t (in: room in `sockaddr`, out: its length). */
export function prepAccept(sqe: Sqe, fd: number, sockaddr: Memory, addrlen: Memory, flags: number): void {
  const [a, l] = acceptAddr(sqe, sockaddr, addrlen);
  fill(IORING_OP.IORING_OP_ACCEPT, sqe, fd, a, 0, l);
  sqe.opFlags = flags;
}

/** io_uring_prep_accept_direct(3): accept into fixed-file slot `fileIndex`. */
export function prepAcceptDirect(sqe: Sqe, fd: number, sockaddr: Memory, addrlen: Memory, flags: number, fileIndex: number): void {
  prepAccept(sqe, fd, sockaddr, addrlen, flags);
  setTargetFixedFile(sqe, fileIndex);
}

/** io_uring_prep_multishot_accept(3): a CQE per accepted connection. */
export function prepMultishotAccept(sqe: Sqe, fd: number, sockaddr: Memory, addrlen: Memory, flags: number): void {
  prepAccept(sqe, fd, sockaddr, addrlen, flags);
  sqe.ioprio |= IORING_ACCEPT_MULTISHOT;
}

/** io_uring_prep_multishot_accept_direct(3). */
export function prepMultishotAcceptDirect(sqe: Sqe, fd: number, sockaddr: Memory, addrlen: Memory, flags: number): void {
  prepMultishotAccept(sqe, fd, sockaddr, addrlen, flags);
  setTargetFixedFile(sqe, IORING_FILE_INDEX_ALLOC);
}

/** io_uring_prep_connect(3): connect(2) to the first `addrlen` bytes of `sockaddr`. */
export function prepConnect(sqe: Sqe, fd: number, sockaddr: Memory, addrlen: number): void {
  fill(IORING_OP.IORING_OP_CONNECT, sqe, fd, span(sqe, sockaddr, 'sockaddr', addrlen, 0), 0, addrlen);
}

/** io_uring_prep_bind(3): bind(2) (6.11+). */
export function prepBind(sqe: Sqe, fd: number, sockaddr: Memory, addrlen: number): void {
  fill(IORING_OP.IORING_OP_BIND, sqe, fd, span(sqe, sockaddr, 'sockaddr', addrlen, 0), 0, addrlen);
}

/** io_uring_prep_listen(3): listen(2) (6.11+). */
export function prepListen(sqe: Sqe, fd: number, backlog: number): void {
  fill(IORING_OP.IORING_OP_LISTEN, sqe, fd, 0, backlog, 0);
}

/** io_uring_prep_shutdown(3): shutdown(2). */
export function prepShutdown(sqe: Sqe, fd: number, how: number): void {
  fill(IORING_OP.IORING_OP_SHUTDOWN, sqe, fd, 0, how, 0);
}

/** io_uring_prep_socket(3): socket(2). */
export function prepSocket(sqe: Sqe, domain: number, type: number, protocol: number, flags: number): void {
  fill(IORING_OP.IORING_OP_SOCKET, sqe, domain, 0, protocol, type);
  sqe.opFlags = flags;
}

/** io_uring_prep_socket_direct(3): socket into fixed-file slot `fileIndex`. */
export function prepSocketDirect(sqe: Sqe, domain: number, type: number, protocol: number, fileIndex: number, flags: number): void {
  prepSocket(sqe, domain, type, protocol, flags);
  setTargetFixedFile(sqe, fileIndex);
}

/** io_uring_prep_socket_direct_alloc(3). */
export function prepSocketDirectAlloc(sqe: Sqe, domain: number, type: number, protocol: number, flags: number): void {
  prepSocketDirect(sqe, domain, type, protocol, IORING_FILE_INDEX_ALLOC, flags);
}

/** io_uring_prep_provide_buffers(3): hands `nr` buffers of `len` bytes from `mem` to group `bgid`, ids from `bid`. */
export function prepProvideBuffers(sqe: Sqe, mem: Memory, len: number, nr: number, bgid: number, bid: number): void {
  checkCount(sqe, nr, 'nr', 0xffff);
  checkCount(sqe, len, 'len');
  fill(IORING_OP.IORING_OP_PROVIDE_BUFFERS, sqe, nr, span(sqe, mem, 'mem', len * nr, 0), len, bid);
  sqe.bufIndex = bgid;
}

/** io_uring_prep_remove_buffers(3). */
export function prepRemoveBuffers(sqe: Sqe, nr: number, bgid: number): void {
  fill(IORING_OP.IORING_OP_REMOVE_BUFFERS, sqe, nr, 0, 0, 0);
  sqe.bufIndex = bgid;
}

/** io_uring_prep_msg_ring(3): posts a CQE (res = len, user_data = data) on the ring `fd`. */
export function prepMsgRing(sqe: Sqe, fd: number, len: number, data: number, flags: number): void {
  fill(IORING_OP.IORING_OP_MSG_RING, sqe, fd, 0, len, data);
  sqe.opFlags = flags;
}

/** io_uring_prep_msg_ring_cqe_flags(3): same, with the target CQE's flags. */
export function prepMsgRingCqeFlags(sqe: Sqe, fd: number, len: number, data: number, flags: number, cqeFlags: number): void {
  fill(IORING_OP.IORING_OP_MSG_RING, sqe, fd, 0, len, data);
  sqe.opFlags = IORING_MSG_RING_FLAGS_PASS | flags;
  sqe.fileIndex = cqeFlags;
}

/** io_uring_prep_msg_ring_fd(3): sends fixed file `sourceFd` to slot `targetFd` of ring `fd`. */
export function prepMsgRingFd(sqe: Sqe, fd: number, sourceFd: number, targetFd: number, data: number, flags: number): void {
  fill(IORING_OP.IORING_OP_MSG_RING, sqe, fd, IORING_MSG_SEND_FD, 0, data);
  setSqeU64(sqe, W.addr3, sourceFd);
  setTargetFixedFile(sqe, targetFd >>> 0);
  sqe.opFlags = flags;
}

/** io_uring_prep_msg_ring_fd_alloc(3). */
export function prepMsgRingFdAlloc(sqe: Sqe, fd: number, sourceFd: number, data: number, flags: number): void {
  prepMsgRingFd(sqe, fd, sourceFd, IORING_FILE_INDEX_ALLOC, data, flags);
}

/** io_uring_prep_getxattr(3): getxattr(2) of `name` on `path` into the first `len` bytes of `value`. */
export function prepGetxattr(sqe: Sqe, name: Memory, value: Memory, path: Memory, len: number): void {
  const n = cString(sqe, name, 'name');
  const p = cString(sqe, path, 'path');
  fill(IORING_OP.IORING_OP_GETXATTR, sqe, 0, n, len, span(sqe, value, 'value', len, 0));
  setSqeU64(sqe, W.addr3, p);
}

/** io_uring_prep_setxattr(3). */
export function prepSetxattr(sqe: Sqe, name: Memory, value: Memory, path: Memory, flags: number, len: number): void {
  const n = cString(sqe, name, 'name');
  const p = cString(sqe, path, 'path');
  fill(IORING_OP.IORING_OP_SETXATTR, sqe, 0, n, len, span(sqe, value, 'value', len, 0));
  setSqeU64(sqe, W.addr3, p);
  sqe.opFlags = flags;
}

/** io_uring_prep_fgetxattr(3). */
export function prepFgetxattr(sqe: Sqe, fd: number, name: Memory, value: Memory, len: number): void {
  const n = cString(sqe, name, 'name');
  fill(IORING_OP.IORING_OP_FGETXATTR, sqe, fd, n, len, span(sqe, value, 'value', len, 0));
}

/** io_uring_prep_fsetxattr(3). */
export function prepFsetxattr(sqe: Sqe, fd: number, name: Memory, value: Memory, flags: number, len: number): void {
  const n = cString(sqe, name, 'name');
  fill(IORING_OP.IORING_OP_FSETXATTR, sqe, fd, n, len, span(sqe, value, 'value', len, 0));
  sqe.opFlags = flags;
}

/** io_uring_prep_uring_cmd(3): a driver-specific command; fill `sqe.cmd` after. */
export function prepUringCmd(sqe: Sqe, cmdOp: number, fd: number): void {
  fill(IORING_OP.IORING_OP_URING_CMD, sqe, fd, 0, 0, 0);
  sqe.u32[sqe.word + SQE_WORD.off] = cmdOp;
  if (sqe.size > 64) sqe.u32.fill(0, sqe.word + 16, sqe.word + (sqe.size >> 2));
}

/** io_uring_prep_uring_cmd128: a uring_cmd in a 128-byte SQE (SQE_MIXED rings). */
export function prepUringCmd128(sqe: Sqe, cmdOp: number, fd: number): void {
  prepUringCmd(sqe, cmdOp, fd);
  sqe.opcode = IORING_OP.IORING_OP_URING_CMD128;
}

/** io_uring_prep_cmd_sock(3): a socket command (SOCKET_URING_OP_*), e.g. getsockopt into the first `optlen` bytes of `optval`. */
export function prepCmdSock(sqe: Sqe, cmdOp: number, fd: number, level: number, optname: number, optval: Memory, optlen: number): void {
  const v = optval === null ? 0 : span(sqe, optval, 'optval', optlen, 0);
  prepUringCmd(sqe, cmdOp, fd);
  setSqeU64(sqe, W.addr3, v);
  sqe.u32[sqe.word + W.addr] = level;
  sqe.u32[sqe.word + W.addr + 1] = optname;
  sqe.fileIndex = optlen;
}

/** io_uring_prep_waitid(3): waitid(2); `infop` (128 bytes, or null) receives a siginfo_t. */
export function prepWaitid(sqe: Sqe, idtype: number, id: number, infop: Memory, options: number, flags: number): void {
  const info = struct(sqe, infop, 'infop', SIGINFO_SIZE, true);
  fill(IORING_OP.IORING_OP_WAITID, sqe, id, 0, idtype, info);
  sqe.opFlags = flags;
  sqe.fileIndex = options;
}

/** io_uring_prep_futex_wait(3): waits while the futex word equals `val`. */
export function prepFutexWait(sqe: Sqe, futex: Memory, val: number, mask: number, futexFlags: number, flags: number): void {
  fill(IORING_OP.IORING_OP_FUTEX_WAIT, sqe, futexFlags, struct(sqe, futex, 'futex', 4), 0, val);
  sqe.opFlags = flags;
  setSqeU64(sqe, W.addr3, mask);
}

/** io_uring_prep_futex_wake(3). */
export function prepFutexWake(sqe: Sqe, futex: Memory, val: number, mask: number, futexFlags: number, flags: number): void {
  fill(IORING_OP.IORING_OP_FUTEX_WAKE, sqe, futexFlags, struct(sqe, futex, 'futex', 4), 0, val);
  sqe.opFlags = flags;
  setSqeU64(sqe, W.addr3, mask);
}

/** io_uring_prep_futex_waitv(3): waits on several futexes. */
export function prepFutexWaitv(sqe: Sqe, futexv: FutexWaitv, flags: number): void {
  if (!(futexv instanceof FutexWaitv)) refuse(sqe, invalidArgType('futexv', 'an instance of FutexWaitv', futexv));
  fill(IORING_OP.IORING_OP_FUTEX_WAITV, sqe, 0, addressOf(futexv.bytes), futexv.futexes.length, 0);
  sqe.opFlags = flags;
}

/** io_uring_prep_pipe(3): pipe2(2) into an Int32Array of 2 (6.16+). */
export function prepPipe(sqe: Sqe, fds: Int32Array, pipeFlags: number): void {
  if (!(fds instanceof Int32Array) || fds.length < 2) refuse(sqe, invalidArgType('fds', 'an Int32Array of at least 2 elements', fds));
  fill(IORING_OP.IORING_OP_PIPE, sqe, 0, addressOf(fds), 0, 0);
  sqe.opFlags = pipeFlags;
}

/** io_uring_prep_pipe_direct(3): pipe into fixed-file slots. */
export function prepPipeDirect(sqe: Sqe, fds: Int32Array, pipeFlags: number, fileIndex: number): void {
  prepPipe(sqe, fds, pipeFlags);
  setTargetFixedFile(sqe, fileIndex);
}

/** io_uring_sqe_set_flags(3): sets IOSQE_* flags (FIXED_FILE, IO_DRAIN, IO_LINK, IO_HARDLINK, ASYNC, BUFFER_SELECT, CQE_SKIP_SUCCESS). */
export function sqeSetFlags(sqe: Sqe, flags: number): void {
  sqe.flags = flags;
}

/** io_uring_sqe_set_data64(3). */
export function sqeSetData(sqe: Sqe, userData: number): void {
  sqe.userData = userData;
}

/** io_uring_sqe_set_buf_group(3). */
export function sqeSetBufGroup(sqe: Sqe, bgid: number): void {
  sqe.bufIndex = bgid;
}
