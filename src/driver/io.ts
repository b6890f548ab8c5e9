/**
 * Operations on a driver, two ways:
 *  - promises: `await io.read(fd, buf, pos)`, with `signal` (AbortSignal →
 *    IORING_OP_ASYNC_CANCEL, rejects with AbortError) and `timeout` (ms, an
 *    IORING_OP_LINK_TIMEOUT; rejects with ETIMEDOUT-coded ECANCELED);
 *  - callbacks for hot paths: `io.readInto(fd, buf, off, len, pos, cb, token)`
 *    allocates nothing per op; `cb(res, token)` gets the raw result.
 * Arguments are validated before any SQE exists (Node-style errors).
 */
import {
  IORING_FSYNC_DATASYNC, IORING_OP, IOSQE_FIXED_FILE, IOSQE_IO_HARDLINK, IOSQE_IO_LINK, LINUX,
} from '../abi/constants.js';
import { S_IFDIR, S_IFREG, statxSize, statxType } from '../abi/statx.js';
import { iovec, statx as statxLayout } from '../abi/structs.js';
import {
  invalidArgType, invalidArgValue, outOfRange, UringError, validateBuffer, validateFd,
  validateInteger,
} from '../ring/errors.js';
import { addressOf, allocAlignedBuffer, writeU64 } from '../ring/memory.js';
import { prepRw } from '../ring/prep.js';
import type { Sqe } from '../ring/sqe.js';
import { type Completion, Driver, ECANCELED } from './driver.js';

export { S_IFDIR, S_IFREG, statxSize, statxType };

/** Per-op options of the promise API. */
export interface OpOptions {
  /** Cancels the op when aborted; the promise rejects with an AbortError. */
  signal?: AbortSignal;
  /** Cancels the op after this many milliseconds (IORING_OP_LINK_TIMEOUT). */
  timeout?: number;
  /** `fd` is an index into the registered files (IOSQE_FIXED_FILE). */
  fixedFile?: boolean;
}

interface Pending {
  resolve(value: number): void;
  reject(error: Error): void;
  syscall: string;
  path: string | undefined;
  dest: string | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  timedOut: boolean;
}

function abortError(signal: AbortSignal): Error {
  const err = new Error('The operation was aborted', { cause: signal.reason });
  err.name = 'AbortError';
  (err as NodeJS.ErrnoException).code = 'ABORT_ERR';
  return err;
}

/** Settles the promise of an op from its CQE (the one completion function of the promise API). */
function settle(res: number, p: Pending): void {
  if (p.onAbort) p.signal!.removeEventListener('abort', p.onAbort);
  if (res >= 0) {
    p.resolve(res);
  } else if (res === ECANCELED && p.signal?.aborted) {
    p.reject(abortError(p.signal));
  } else if (res === ECANCELED && p.timedOut) {
    p.reject(new UringError(-110, p.syscall, { path: p.path, explanation: 'ETIMEDOUT: the operation did not complete within its timeout and was cancelled.' }));
  } else {
    p.reject(new UringError(res, p.syscall, { path: p.path, dest: p.dest }));
  }
}

const settleCompletion = settle as Completion<Pending>;
const { AT_FDCWD, AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, AT_REMOVEDIR } = LINUX;
const TWO_53 = Number.MAX_SAFE_INTEGER;

/** A path as the kernel wants it: NUL-terminated bytes; Node's rules for what a path may be. */
export function toPathBuffer(path: unknown, name = 'path'): Buffer {
  if (typeof path === 'string') {
    // The common case, in one allocation.
    if (path.includes('\0')) throw invalidArgValue(name, path, 'must be a string, Uint8Array, or URL without null bytes');
    return Buffer.from(`${path}\0`, 'utf8');
  }
  let text: string | Buffer;
  if (typeof path === 'string') text = path;
  else if (Buffer.isBuffer(path) || path instanceof Uint8Array) text = Buffer.from(path as Uint8Array);
  else if (path instanceof URL) {
    if (path.protocol !== 'file:') throw invalidArgType(name, 'of scheme file', path);
    text = decodeURIComponent(path.pathname);
  } else throw invalidArgType(name, 'of type string or an instance of Buffer or URL', path);
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  if (bytes.includes(0)) {
    throw invalidArgValue(name, path, 'must be a string, Uint8Array, or URL without null bytes');
  }
  const out = Buffer.allocUnsafe(bytes.length + 1);
  bytes.copy(out);
  out[bytes.length] = 0;
  return out;
}

function pathText(path: unknown): string {
  if (typeof path === 'string') return path;
  if (path instanceof URL) return decodeURIComponent(path.pathname);
  return Buffer.from(path as Uint8Array).toString();
}

function validatePosition(position: unknown): number {
  if (position === null || position === undefined || position === -1) return -1;
  if (typeof position === 'bigint') position = Number(position);
  if (typeof position !== 'number') throw invalidArgType('position', 'of type number or bigint', position);
  if (!Number.isInteger(position)) throw outOfRange('position', 'an integer', position);
  if (position < -1 || position > TWO_53) throw outOfRange('position', `>= -1 && <= ${TWO_53}`, position);
  return position;
}

/** Files up to this size are read in one round trip by readSmallFile. */
const SMALL_FILE_LIMIT = 64 * 1024;
/** Reused read and statx buffers of readSmallFile (the state object pins them while in flight). */
const smallBuffers: Buffer[] = [];
const statxBuffers: Uint8Array[] = [];
/** At most this many pooled buffers (64 KiB each) are kept between calls. */
const SMALL_POOL_MAX = 128;

interface SmallFileRead {
  io: IO;
  slot: number;
  path: string | Buffer | URL;
  /** Kept referenced until every CQE of the chain arrived: the kernel reads it. */
  p: Buffer;
  buf: Buffer;
  stx: Uint8Array;
  len: number;
  resolve(v: Buffer | null): void;
  reject(e: Error): void;
  pending: number;
  statRes: number;
  openRes: number;
  readRes: number;
}

function onSmallStat(res: number, s: SmallFileRead): void { s.statRes = res; smallDone(s); }
function onSmallOpen(res: number, s: SmallFileRead): void { s.openRes = res; smallDone(s); }
function onSmallRead(res: number, s: SmallFileRead): void { s.readRes = res; smallDone(s); }
function onSmallClose(_res: number, s: SmallFileRead): void { smallDone(s); }

/** Settles a readSmallFile once all four CQEs (statx, open, read, close) are in. */
function smallDone(s: SmallFileRead): void {
  if (--s.pending > 0) return;
  s.io.driver.releaseDirectSlot(s.slot);
  let result: Buffer | null = null;
  let error: Error | null = null;
  if (s.openRes < 0) error = new UringError(s.openRes, 'open', { path: pathText(s.path) });
  else if (s.readRes < 0) error = new UringError(s.readRes, 'read');
  else if (s.statRes >= 0) {
    const n = s.readRes;
    if (statxType(s.stx) === S_IFREG && n < s.len && n === statxSize(s.stx)) {
      result = Buffer.allocUnsafe(n);
      s.buf.copy(result, 0, 0, n);
    }
  }
  if (smallBuffers.length < SMALL_POOL_MAX) {
    smallBuffers.push(s.buf);
    statxBuffers.push(s.stx);
  }
  if (error) s.reject(error);
  else s.resolve(result);
}

/** io_uring operations bound to a driver. */
export class IO {
  readonly driver: Driver;

  constructor(driver: Driver) {
    this.driver = driver;
  }

  private start(sqe: Sqe, syscall: string, path: string | undefined, pin: unknown, opts: OpOptions | undefined, dest?: string): Promise<number> {
    const signal = opts?.signal;
    if (opts?.fixedFile) sqe.flags |= IOSQE_FIXED_FILE;
    return new Promise<number>((resolve, reject) => {
      const p: Pending = { resolve, reject, syscall, path, dest, signal, onAbort: undefined, timedOut: false };
      const userData = this.driver.track(sqe, settleCompletion, p, pin);
      if (opts?.timeout !== undefined) {
        const timeout = opts.timeout;
        this.driver.linkTimeout(sqe, userData, timeout);
        p.timedOut = true; // only consulted if the op ends in -ECANCELED without an abort
      }
      if (signal) {
        p.onAbort = () => this.driver.cancel(userData);
        signal.addEventListener('abort', p.onAbort, { once: true });
      }
    });
  }

  private checkOptions(opts: OpOptions | undefined): void {
    if (opts === undefined) return;
    if (typeof opts !== 'object' || opts === null) throw invalidArgType('options', 'of type object', opts);
    if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an instance of AbortSignal', opts.signal);
    if (opts.signal?.aborted) throw abortError(opts.signal);
    if (opts.timeout !== undefined) {
      if (typeof opts.timeout !== 'number' || !(opts.timeout >= 0) || !Number.isFinite(opts.timeout)) throw outOfRange('options.timeout', 'a finite number >= 0', opts.timeout);
    }
  }

  private rw(op: number, syscall: string, fd: number, buffer: ArrayBufferView, offset: number, length: number, position: number, opts?: OpOptions): Promise<number> {
    this.checkOptions(opts);
    const sqe = this.driver.sqe();
    prepRw(op, sqe, fd, addressOf(buffer) + offset, length, position);
    return this.start(sqe, syscall, undefined, buffer, opts);
  }

  /** Validates (buffer, offset, length) the way fs.read does. */
  private span(buffer: unknown, offset: unknown, length: unknown): [ArrayBufferView, number, number] {
    const buf = validateBuffer(buffer);
    const off = offset === undefined || offset === null ? 0 : validateInteger(offset, 'offset', 0, buf.byteLength);
    const len = length === undefined || length === null ? buf.byteLength - off : validateInteger(length, 'length', 0, 0x7fffffff);
    if (off + len > buf.byteLength) throw outOfRange('length', `<= ${buf.byteLength - off}`, len);
    return [buf, off, len];
  }

  /** read(2)/pread(2) into `buffer` (IORING_OP_READ); position -1 or null reads at the file position. Resolves to bytes read. */
  read(fd: number, buffer: ArrayBufferView, position: number | bigint | null = -1, opts?: OpOptions & { offset?: number; length?: number }): Promise<number> {
    validateFd(fd);
    const [buf, off, len] = this.span(buffer, opts?.offset, opts?.length);
    return this.rw(IORING_OP.IORING_OP_READ, 'read', fd, buf, off, len, validatePosition(position), opts);
  }

  /** write(2)/pwrite(2) from `buffer` (IORING_OP_WRITE). Resolves to bytes written. */
  write(fd: number, buffer: ArrayBufferView, position: number | bigint | null = -1, opts?: OpOptions & { offset?: number; length?: number }): Promise<number> {
    validateFd(fd);
    const [buf, off, len] = this.span(buffer, opts?.offset, opts?.length);
    return this.rw(IORING_OP.IORING_OP_WRITE, 'write', fd, buf, off, len, validatePosition(position), opts);
  }

  /** READ_FIXED: into registered buffer `bufIndex` (buffer must lie inside it). */
  readFixed(fd: number, buffer: ArrayBufferView, bufIndex: number, position: number = -1, opts?: OpOptions): Promise<number> {
    return this.fixed(IORING_OP.IORING_OP_READ_FIXED, 'read', fd, buffer, bufIndex, position, opts);
  }

  /** WRITE_FIXED: from registered buffer `bufIndex`. */
  writeFixed(fd: number, buffer: ArrayBufferView, bufIndex: number, position: number = -1, opts?: OpOptions): Promise<number> {
    return this.fixed(IORING_OP.IORING_OP_WRITE_FIXED, 'write', fd, buffer, bufIndex, position, opts);
  }

  private fixed(op: number, syscall: string, fd: number, buffer: ArrayBufferView, bufIndex: number, position: number, opts?: OpOptions): Promise<number> {
    validateFd(fd);
    validateBuffer(buffer);
    validateInteger(bufIndex, 'bufIndex', 0, 0xffff);
    this.checkOptions(opts);
    const sqe = this.driver.sqe();
    prepRw(op, sqe, fd, addressOf(buffer), buffer.byteLength, validatePosition(position));
    sqe.bufIndex = bufIndex;
    return this.start(sqe, syscall, undefined, buffer, opts);
  }

  private vector(op: number, syscall: string, fd: number, buffers: readonly ArrayBufferView[], position: number | null | bigint, opts?: OpOptions): Promise<number> {
    validateFd(fd);
    if (!Array.isArray(buffers)) throw invalidArgType('buffers', 'an instance of Array', buffers);
    if (buffers.length > 1024) throw outOfRange('buffers.length', '<= 1024 (IOV_MAX)', buffers.length);
    const iov = Buffer.alloc(Math.max(1, buffers.length) * iovec.size);
    const u32 = new Uint32Array(iov.buffer, iov.byteOffset, iov.length >> 2);
    buffers.forEach((b, i) => {
      validateBuffer(b, `buffers[${i}]`);
      writeU64(u32, i * 4, addressOf(b));
      writeU64(u32, i * 4 + 2, b.byteLength);
    });
    this.checkOptions(opts);
    const sqe = this.driver.sqe();
    prepRw(op, sqe, fd, addressOf(iov), buffers.length, validatePosition(position));
    return this.start(sqe, syscall, undefined, [iov, buffers], opts);
  }

  /** preadv(2) (IORING_OP_READV). */
  readv(fd: number, buffers: readonly ArrayBufferView[], position: number | bigint | null = -1, opts?: OpOptions): Promise<number> {
    return this.vector(IORING_OP.IORING_OP_READV, 'read', fd, buffers, position, opts);
  }

  /** pwritev(2) (IORING_OP_WRITEV). */
  writev(fd: number, buffers: readonly ArrayBufferView[], position: number | bigint | null = -1, opts?: OpOptions): Promise<number> {
    return this.vector(IORING_OP.IORING_OP_WRITEV, 'write', fd, buffers, position, opts);
  }

  /** fsync(2) / fdatasync(2) (IORING_OP_FSYNC). */
  fsync(fd: number, datasync = false, opts?: OpOptions): Promise<number> {
    validateFd(fd);
    this.checkOptions(opts);
    const sqe = this.driver.sqe();
    prepRw(IORING_OP.IORING_OP_FSYNC, sqe, fd, 0, 0, 0);
    sqe.opFlags = datasync ? IORING_FSYNC_DATASYNC : 0;
    return this.start(sqe, datasync ? 'fdatasync' : 'fsync', undefined, null, opts);
  }

  /** ftruncate(2) (IORING_OP_FTRUNCATE, 6.9+). */
  ftruncate(fd: number, length = 0, opts?: OpOptions): Promise<number> {
    validateFd(fd);
    validateInteger(length, 'len', 0, TWO_53);
    this.checkOptions(opts);
    const sqe = this.driver.sqe();
    prepRw(IORING_OP.IORING_OP_FTRUNCATE, sqe, fd, 0, 0, length);
    return this.start(sqe, 'ftruncate', undefined, null, opts);
  }

  /** openat(2) (IORING_OP_OPENAT). Resolves to the new fd. */
  open(path: string | Buffer | URL, flags: number, mode = 0o666, opts?: OpOptions & { dirfd?: number }): Promise<number> {
    const p = toPathBuffer(path);
    validateInteger(flags, 'flags', -0x80000000, 0xffffffff);
    validateInteger(mode, 'mode', 0, 0o7777);
    this.checkOptions(opts);
    const sqe = this.driver.sqe();
    prepRw(IORING_OP.IORING_OP_OPENAT, sqe, opts?.dirfd ?? AT_FDCWD, addressOf(p), mode, 0);
    sqe.opFlags = flags | LINUX.O_CLOEXEC;
    return this.start(sqe, 'open', pathText(path), p, opts);
  }

  /** close(2) (IORING_OP_CLOSE). */
  close(fd: number, opts?: OpOptions): Promise<number> {
    validateFd(fd);
    this.checkOptions(opts);
    const sqe = this.driver.sqe();
    prepRw(IORING_OP.IORING_OP_CLOSE, sqe, fd, 0, 0, 0);
    return this.start(sqe, 'close', undefined, null, opts);
  }

  /** statx(2) into a 256-byte buffer (IORING_OP_STATX); `fd` form with AT_EMPTY_PATH when path is null. */
  statx(path: string | Buffer | URL | null, target: Uint8Array, options: { fd?: number; followSymlinks?: boolean; mask?: number; syscall?: string } = {}, opts?: OpOptions): Promise<number> {
    if (target.byteLength < statxLayout.size) throw outOfRange('target.byteLength', `>= ${statxLayout.size}`, target.byteLength);
    const p = path === null ? Buffer.from([0]) : toPathBuffer(path);
    let flags = options.followSymlinks === false ? AT_SYMLINK_NOFOLLOW : 0;
    let dirfd: number = AT_FDCWD;
    if (path === null) {
      dirfd = validateFd(options.fd);
      flags |= AT_EMPTY_PATH;
    }
    this.checkOptions(opts);
    const sqe = this.driver.sqe();
    prepRw(IORING_OP.IORING_OP_STATX, sqe, dirfd, addressOf(p), options.mask ?? 0xfff, addressOf(target));
    sqe.opFlags = flags;
    return this.start(sqe, options.syscall ?? (path === null ? 'fstat' : flags & AT_SYMLINK_NOFOLLOW ? 'lstat' : 'stat'), path === null ? undefined : pathText(path), [p, target], opts);
  }

  /** mkdirat(2). */
  mkdir(path: string | Buffer | URL, mode = 0o777, opts?: OpOptions): Promise<number> {
    const p = toPathBuffer(path);
    this.checkOptions(opts);
    const sqe = this.driver.sqe();
    prepRw(IORING_OP.IORING_OP_MKDIRAT, sqe, AT_FDCWD, addressOf(p), mode, 0);
    return this.start(sqe, 'mkdir', pathText(path), p, opts);
  }

  /** unlinkat(2); `dir` for rmdir. */
  unlink(path: string | Buffer | URL, dir = false, opts?: OpOptions): Promise<number> {
    const p = toPathBuffer(path);
    this.checkOptions(opts);
    const sqe = this.driver.sqe();
    prepRw(IORING_OP.IORING_OP_UNLINKAT, sqe, AT_FDCWD, addressOf(p), 0, 0);
    sqe.opFlags = dir ? AT_REMOVEDIR : 0;
    return this.start(sqe, dir ? 'rmdir' : 'unlink', pathText(path), p, opts);
  }

  /** renameat2(2). */
  rename(oldPath: string | Buffer | URL, newPath: string | Buffer | URL, opts?: OpOptions): Promise<number> {
    return this.twoPaths(IORING_OP.IORING_OP_RENAMEAT, 'rename', oldPath, 'oldPath', newPath, opts);
  }

  /** linkat(2): a hard link (fs.link). */
  hardlink(existingPath: string | Buffer | URL, newPath: string | Buffer | URL, opts?: OpOptions): Promise<number> {
    return this.twoPaths(IORING_OP.IORING_OP_LINKAT, 'link', existingPath, 'existingPath', newPath, opts);
  }

  /** renameat/linkat: (AT_FDCWD, from) → (AT_FDCWD, to); errors carry both paths, as node:fs's do. */
  private twoPaths(op: number, syscall: string, from: string | Buffer | URL, fromName: string, to: string | Buffer | URL, opts?: OpOptions): Promise<number> {
    const a = toPathBuffer(from, fromName);
    const b = toPathBuffer(to, 'newPath');
    this.checkOptions(opts);
    const sqe = this.driver.sqe();
    prepRw(op, sqe, AT_FDCWD, addressOf(a), AT_FDCWD, addressOf(b));
    return this.start(sqe, syscall, pathText(from), [a, b], opts, pathText(to));
  }

  /** symlinkat(2). */
  symlink(target: string | Buffer | URL, path: string | Buffer | URL, opts?: OpOptions): Promise<number> {
    const a = toPathBuffer(target, 'target');
    const b = toPathBuffer(path);
    this.checkOptions(opts);
    const sqe = this.driver.sqe();
    prepRw(IORING_OP.IORING_OP_SYMLINKAT, sqe, AT_FDCWD, addressOf(a), 0, addressOf(b));
    return this.start(sqe, 'symlink', pathText(target), [a, b], opts, pathText(path));
  }

  /** IORING_OP_NOP: a round trip through the kernel. */
  nop(opts?: OpOptions): Promise<number> {
    this.checkOptions(opts);
    const sqe = this.driver.sqe();
    prepRw(IORING_OP.IORING_OP_NOP, sqe, -1, 0, 0, 0);
    return this.start(sqe, 'nop', undefined, null, opts);
  }

  /**
   * A linked chain (IOSQE_IO_LINK): each op starts when the previous one
   * succeeded; after a failure (or a short read/write) the rest complete
   * with -ECANCELED. `ops` are thunks calling this IO's methods; they are
   * prepared back to back in one batch. Resolves to each op's settled result.
   */
  async link(...ops: Array<() => Promise<number>>): Promise<PromiseSettledResult<number>[]> {
    if (ops.length === 0) return [];
    const promises: Promise<number>[] = [];
    const ring = this.driver.ring;
    for (let i = 0; i < ops.length; i++) {
      if (typeof ops[i] !== 'function') throw invalidArgType(`ops[${i}]`, 'a function', ops[i]);
      const before = ring.sqeTail;
      promises.push(ops[i]());
      if (i < ops.length - 1) {
        // Mark every SQE the thunk prepared as linked to the next one.
        for (let t = before; t !== ring.sqeTail; t = (t + 1) >>> 0) ring.sqeSlots[t & ring.sqMask].flags |= IOSQE_IO_LINK;
      }
    }
    return Promise.allSettled(promises);
  }

  /**
   * A whole small file in one round trip: STATX alongside the linked chain
   * OPENAT (into a direct descriptor) → READ (up to `limit` bytes) → CLOSE
   * (hard-linked, so it runs even when the read fails). Resolves to the
   * contents when the file is a regular file that fit; to null when it
   * did not (larger, or not a regular file), so the caller reads it the
   * long way. Rejects with the open or read error as node:fs reports it.
   */
  readSmallFile(path: string | Buffer | URL, limit = SMALL_FILE_LIMIT): Promise<Buffer | null> {
    const slot = this.driver.takeDirectSlot();
    if (slot < 0) return Promise.resolve(null);
    const p = toPathBuffer(path);
    const buf = smallBuffers.pop() ?? allocAlignedBuffer(SMALL_FILE_LIMIT);
    const stx = statxBuffers.pop() ?? new Uint8Array(statxLayout.size);
    const len = Math.min(limit, SMALL_FILE_LIMIT);
    return new Promise<Buffer | null>((resolve, reject) => {
      const state: SmallFileRead = { io: this, slot, path, p, buf, stx, len, resolve, reject, pending: 4, statRes: 0, openRes: 0, readRes: 0 };
      let sqe = this.driver.sqe();
      prepRw(IORING_OP.IORING_OP_STATX, sqe, AT_FDCWD, addressOf(p), 0x7ff, addressOf(stx));
      this.driver.track(sqe, onSmallStat, state, null);
      sqe = this.driver.sqe();
      prepRw(IORING_OP.IORING_OP_OPENAT, sqe, AT_FDCWD, addressOf(p), 0, 0);
      sqe.opFlags = LINUX.O_RDONLY; // a direct descriptor takes no O_CLOEXEC (EINVAL): it is never a process fd
      sqe.fileIndex = slot + 1;
      sqe.flags = IOSQE_IO_LINK;
      this.driver.track(sqe, onSmallOpen, state, null);
      sqe = this.driver.sqe();
      prepRw(IORING_OP.IORING_OP_READ, sqe, slot, addressOf(buf), len, 0);
      sqe.flags = IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK;
      this.driver.track(sqe, onSmallRead, state, null);
      sqe = this.driver.sqe();
      prepRw(IORING_OP.IORING_OP_CLOSE, sqe, 0, 0, 0, 0);
      sqe.fileIndex = slot + 1;
      this.driver.track(sqe, onSmallClose, state, null);
    });
  }

  // ------------------------------------------------ callback API (hot path)

  /** read into buffer[offset, offset+length) at position; `callback(res, token)`; no allocation per op. Returns the op's user_data. */
  readInto<T>(fd: number, buffer: ArrayBufferView, offset: number, length: number, position: number, callback: Completion<T>, token: T): number {
    const sqe = this.driver.sqe();
    prepRw(IORING_OP.IORING_OP_READ, sqe, fd, addressOf(buffer) + offset, length, position);
    return this.driver.track(sqe, callback, token, buffer);
  }

  /** write from buffer[offset, offset+length) at position; no allocation per op. */
  writeFrom<T>(fd: number, buffer: ArrayBufferView, offset: number, length: number, position: number, callback: Completion<T>, token: T): number {
    const sqe = this.driver.sqe();
    prepRw(IORING_OP.IORING_OP_WRITE, sqe, fd, addressOf(buffer) + offset, length, position);
    return this.driver.track(sqe, callback, token, buffer);
  }

  /** READ_FIXED into registered buffer `bufIndex` (or with a fixed file); no allocation per op. */
  readFixedInto<T>(fd: number, buffer: ArrayBufferView, offset: number, length: number, position: number, bufIndex: number, fixedFile: boolean, callback: Completion<T>, token: T): number {
    const sqe = this.driver.sqe();
    prepRw(IORING_OP.IORING_OP_READ_FIXED, sqe, fd, addressOf(buffer) + offset, length, position);
    sqe.bufIndex = bufIndex;
    if (fixedFile) sqe.flags = IOSQE_FIXED_FILE;
    return this.driver.track(sqe, callback, token, buffer);
  }
}
