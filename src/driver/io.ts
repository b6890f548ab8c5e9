/**
 * Operations on a driver, two ways:
 *  - promises: `await io.read(fd, buf, pos)`, with `signal` (AbortSignal →
 *    IORING_OP_ASYNC_CANCEL, rejects with AbortError) and `timeout` (ms, an
 *    IORING_OP_LINK_TIMEOUT; rejects with ETIMEDOUT when the timer fired).
 *    Like node:fs/promises, they reject — never throw — on bad arguments.
 *  - callbacks for hot paths: `io.readInto(fd, buf, off, len, pos, cb, token)`
 *    allocates nothing per op; `cb(res, token)` gets the raw result. Like
 *    node:fs's callback API, they throw synchronously on bad arguments.
 * Every argument is validated before any SQE exists; each op (or chain) is
 * one driver transaction, so a failure leaves nothing half-prepared.
 */
import {
  IORING_CQE_F_MORE, IORING_FSYNC_DATASYNC, IORING_OP_FTRUNCATE, IOSQE_FIXED_FILE, IOSQE_IO_HARDLINK,
  IOSQE_IO_LINK, LINUX,
} from '../abi/constants.js';
import { S_IFDIR, S_IFREG, statxSize, statxType } from '../abi/statx.js';
import { statx as statxLayout } from '../abi/structs.js';
import { ERRNO } from '../abi/errno.js';
import {
  invalidArgType, invalidArgValue, outOfRange, systemError, validateBuffer, validateFd, validateInteger,
} from '../ring/errors.js';
import { allocAlignedBuffer } from '../ring/memory.js';
import {
  Iovecs, prepClose, prepCloseDirect, prepFsync, prepFtruncate, prepLinkat, prepMkdirat, prepNop,
  prepOpenat, prepOpenatDirect, prepRead, prepReadFixed, prepReadv, prepRenameat, prepStatx,
  prepSymlinkat, prepUnlinkat, prepWrite, prepWriteFixed, prepWritev,
} from '../ring/prep.js';
import type { Sqe } from '../ring/sqe.js';
import { holdFdForThread } from '../ring/thread-fds.js';
import { type Completion, Driver, ECANCELED, ETIMEDOUT, MAX_TIMEOUT_MS } from './driver.js';

/** Per-op options of the promise API. */
export interface OpOptions {
  /** Cancels the op when aborted; the promise rejects with an AbortError. */
  signal?: AbortSignal;
  /** Cancels the op after this many milliseconds (IORING_OP_LINK_TIMEOUT); the promise rejects with ETIMEDOUT. */
  timeout?: number;
  /** `fd` is an index into the registered files (IOSQE_FIXED_FILE). */
  fixedFile?: boolean;
}

type PathArg = string | Buffer | URL;
type PrepFn = (sqe: Sqe, ...args: any[]) => void;

interface Pending {
  resolve(value: number): void;
  reject(error: Error): void;
  driver: Driver;
  syscall: string;
  path: string | undefined;
  dest: string | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  timeout: number | undefined;
  settled: boolean;
  /** The result is a new fd to hold for the thread from its completion on (openHeld()). */
  holdFd: boolean;
}

const { EPERM } = ERRNO;
const { AT_FDCWD, AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, AT_REMOVEDIR } = LINUX;
const TWO_53 = Number.MAX_SAFE_INTEGER;
const noop = (): void => {};

function abortError(signal: AbortSignal): Error {
  const err = new Error('The operation was aborted', { cause: signal.reason });
  err.name = 'AbortError';
  (err as NodeJS.ErrnoException).code = 'ABORT_ERR';
  return err;
}

/** The error a failed op rejects with, saying what actually happened. */
function opError(res: number, p: Pending): Error {
  if (res === ECANCELED && p.signal?.aborted) return abortError(p.signal);
  if (res === ETIMEDOUT && p.timeout !== undefined) {
    return systemError(res, p.syscall, { path: p.path, dest: p.dest, explanation: `ETIMEDOUT: the operation did not complete within its timeout (${p.timeout} ms) and was cancelled.` });
  }
  if (res === ECANCELED && p.driver.closing) {
    return systemError(res, p.syscall, { path: p.path, dest: p.dest, explanation: 'ECANCELED: the io_uring driver was closed while this operation was pending.' });
  }
  if (res === EPERM && p.driver.identityChanged) {
    return systemError(res, p.syscall, { path: p.path, dest: p.dest, explanation: 'EPERM: refused (ERR_URING_CREDENTIALS_CHANGED): the process changed its identity before this operation was submitted.' });
  }
  return systemError(res, p.syscall, { path: p.path, dest: p.dest });
}

/** Settles the promise of an op from its CQE (the one completion function of the promise API). */
function settle(res: number, p: Pending, flags: number): void {
  // The first CQE settles; an op with more to come (a zero-copy send's notification) keeps its listener until the last.
  if (!p.settled) {
    p.settled = true;
    if (res >= 0 && p.holdFd) holdFdForThread(res);
    if (res >= 0) p.resolve(res);
    else p.reject(opError(res, p));
  }
  if (p.onAbort && !(flags & IORING_CQE_F_MORE)) {
    const onAbort = p.onAbort;
    p.onAbort = undefined;
    p.signal!.removeEventListener('abort', onAbort);
  }
}

const settleCompletion = settle as Completion<Pending>;

// One executor for every promise: no closure per op.
let nextResolve: (value: number) => void = noop;
let nextReject: (error: Error) => void = noop;
function capture(resolve: (value: number) => void, reject: (error: Error) => void): void {
  nextResolve = resolve;
  nextReject = reject;
}

/** A path as the kernel wants it: NUL-terminated bytes; Node's rules for what a path may be. */
export function toPathBuffer(path: unknown, name = 'path'): Buffer {
  if (typeof path === 'string') {
    if (path.includes('\0')) throw invalidArgValue(name, path, 'must be a string, Uint8Array, or URL without null bytes');
    return Buffer.from(`${path}\0`, 'utf8');
  }
  let bytes: Uint8Array;
  if (path instanceof Uint8Array) bytes = path;
  else if (path instanceof URL) {
    if (path.protocol !== 'file:') throw invalidArgType(name, 'of scheme file', path);
    bytes = Buffer.from(decodeURIComponent(path.pathname), 'utf8');
  } else throw invalidArgType(name, 'of type string or an instance of Buffer or URL', path);
  if (bytes.includes(0)) throw invalidArgValue(name, path, 'must be a string, Uint8Array, or URL without null bytes');
  const out = Buffer.allocUnsafe(bytes.length + 1);
  out.set(bytes);
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
  if (typeof position === 'bigint') {
    if (position < -1n || position > BigInt(TWO_53)) throw outOfRange('position', `>= -1 && <= ${TWO_53}`, position);
    return Number(position);
  }
  if (typeof position !== 'number') throw invalidArgType('position', 'of type number or bigint', position);
  if (!Number.isInteger(position)) throw outOfRange('position', 'an integer', position);
  if (position < -1 || position > TWO_53) throw outOfRange('position', `>= -1 && <= ${TWO_53}`, position);
  return position;
}

/** Validates (buffer, offset, length) the way fs.read does; returns [buffer, offset, length]. */
function span(buffer: unknown, offset: unknown, length: unknown): [ArrayBufferView, number, number] {
  const buf = validateBuffer(buffer);
  const off = offset === undefined || offset === null ? 0 : validateInteger(offset, 'offset', 0, buf.byteLength);
  const len = length === undefined || length === null ? buf.byteLength - off : validateInteger(length, 'length', 0, 0x7fffffff);
  if (off + len > buf.byteLength) throw outOfRange('length', `<= ${buf.byteLength - off}`, len);
  return [buf, off, len];
}

/** The mode argument: a number, or an octal string (Node's parseFileMode). */
export function parseMode(value: unknown, name: string, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'string') {
    if (!/^[0-7]+$/.test(value)) throw invalidArgValue(name, value, 'must be a 32-bit unsigned integer or an octal string');
    value = parseInt(value, 8);
  }
  return validateInteger(value, name, 0, 0xffffffff);
}

/**
 * Validates the per-op options and returns what was validated, read once:
 * an options object with getters cannot hand one value to the check and
 * another to the op.
 */
function checkOptions(opts: OpOptions | undefined): OpOptions | undefined {
  if (opts === undefined) return undefined;
  if (typeof opts !== 'object' || opts === null) throw invalidArgType('options', 'of type object', opts);
  const { signal, timeout, fixedFile } = opts;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an instance of AbortSignal', signal);
  if (timeout !== undefined) {
    if (typeof timeout !== 'number') throw invalidArgType('options.timeout', 'of type number', timeout);
    if (!(timeout >= 0 && timeout <= MAX_TIMEOUT_MS)) throw outOfRange('options.timeout', `a number of milliseconds >= 0 && <= ${MAX_TIMEOUT_MS}`, timeout);
  }
  if (fixedFile !== undefined && typeof fixedFile !== 'boolean') throw invalidArgType('options.fixedFile', 'of type boolean', fixedFile);
  if (signal?.aborted) throw abortError(signal);
  // Options that carry only offset/length (the facade's reads) need no snapshot: nothing is allocated for them.
  if (signal === undefined && timeout === undefined && fixedFile === undefined) return undefined;
  return { signal, timeout, fixedFile };
}

function validateCallback(callback: unknown): void {
  if (typeof callback !== 'function') throw invalidArgType('callback', 'of type function', callback);
}

function validateDirfd(value: unknown): number {
  if (value === undefined) return AT_FDCWD;
  const fd = validateInteger(value, 'options.dirfd', AT_FDCWD, 0x7fffffff);
  if (fd < 0 && fd !== AT_FDCWD) throw outOfRange('options.dirfd', `>= 0 or AT_FDCWD (${AT_FDCWD})`, fd);
  return fd;
}

export { S_IFDIR, S_IFREG, statxSize, statxType };

/** Files up to this size are read in one round trip by readSmallFile. */
export const SMALL_FILE_LIMIT = 64 * 1024;
/** Reused read and statx buffers of readSmallFile (the op table pins them while in flight). */
const smallBuffers: Buffer[] = [];
const statxBuffers: Uint8Array[] = [];
/** At most this many pooled buffers (64 KiB each) are kept between calls. */
const SMALL_POOL_MAX = 128;

interface SmallFileRead {
  driver: Driver;
  slot: number;
  path: PathArg;
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
  s.driver.releaseDirectSlot(s.slot);
  let result: Buffer | null = null;
  let error: Error | null = null;
  if (s.openRes < 0) error = systemError(s.openRes, 'open', { path: pathText(s.path) });
  else if (s.readRes < 0) error = systemError(s.readRes, 'read');
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
  /** Set just before #submit of an op whose result is a new fd (see Driver.txTrack's fdResult); consumed by #track. */
  #fdResultNext = false;
  /** Set by openHeld(): the op's fd is held for the thread at completion. */
  #holdNext = false;
  readonly driver: Driver;
  /** The error of the last promise op refused before submission (link() reports it). */
  #refusal: unknown = undefined;

  constructor(driver: Driver) {
    if (!(driver instanceof Driver)) throw invalidArgType('driver', 'an instance of Driver', driver);
    this.driver = driver;
  }

  #refuse(e: unknown): Promise<never> {
    this.#refusal = e;
    return Promise.reject(e);
  }

  /** One op: a transaction of its SQE (and link timeout); `prep(sqe, a…f)` fills the SQE. */
  #submit(syscall: string, path: string | undefined, pin: unknown, pin2: unknown, opts: OpOptions | undefined, dest: string | undefined,
    prep: PrepFn, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, f?: unknown): Promise<number> {
    const driver = this.driver;
    if (opts?.fixedFile) {
      try {
        driver.checkFixedFile(a as number, syscall);
      } catch (err) {
        return this.#refuse(err);
      }
    }
    const mark = driver.txBegin();
    try {
      const sqe = driver.txSqe();
      prep(sqe, a, b, c, d, e, f);
      if (opts?.fixedFile) sqe.flags |= IOSQE_FIXED_FILE;
      const promise = this.#track(sqe, syscall, path, dest, pin, pin2, opts);
      driver.txCommit();
      return promise;
    } catch (err) {
      driver.txRollback(mark);
      return this.#refuse(err);
    }
  }

  /** Tracks the op in `sqe` with a promise; adds its timeout and abort listener (before anything is committed). */
  #track(sqe: Sqe, syscall: string, path: string | undefined, dest: string | undefined, pin: unknown, pin2: unknown, opts: OpOptions | undefined): Promise<number> {
    const driver = this.driver;
    const promise = new Promise<number>(capture);
    const p: Pending = {
      resolve: nextResolve, reject: nextReject, driver, syscall, path, dest,
      signal: opts?.signal, onAbort: undefined, timeout: opts?.timeout, settled: false, holdFd: this.#holdNext,
    };
    const userData = driver.txTrack(sqe, settleCompletion, p, pin, pin2, this.#fdResultNext);
    if (p.timeout !== undefined) driver.txLinkTimeout(sqe, userData, p.timeout);
    if (p.signal) {
      const onAbort = (): void => driver.cancel(userData);
      p.signal.addEventListener('abort', onAbort, { once: true });
      p.onAbort = onAbort;
    }
    return promise;
  }

  /** read(2)/pread(2) into `buffer` (IORING_OP_READ); position -1 or null reads at the file position. Resolves to bytes read. */
  read(fd: number, buffer: ArrayBufferView, position: number | bigint | null = -1, opts?: OpOptions & { offset?: number; length?: number }): Promise<number> {
    return this.#rw(prepRead, 'read', fd, buffer, position, opts);
  }

  /** write(2)/pwrite(2) from `buffer` (IORING_OP_WRITE). Resolves to bytes written. */
  write(fd: number, buffer: ArrayBufferView, position: number | bigint | null = -1, opts?: OpOptions & { offset?: number; length?: number }): Promise<number> {
    return this.#rw(prepWrite, 'write', fd, buffer, position, opts);
  }

  #rw(prep: PrepFn, syscall: string, fd: number, buffer: ArrayBufferView, position: unknown, opts?: OpOptions & { offset?: number; length?: number }): Promise<number> {
    try {
      this.driver.assertUsable();
      validateFd(fd);
      const [buf, off, len] = span(buffer, opts?.offset, opts?.length);
      const pos = validatePosition(position);
      const checked = checkOptions(opts);
      return this.#submit(syscall, undefined, buf, undefined, checked, undefined, prep, fd, buf, len, pos, off);
    } catch (e) {
      return this.#refuse(e);
    }
  }

  /** READ_FIXED: into registered buffer `bufIndex`; `buffer` must lie inside it (else EFAULT). */
  readFixed(fd: number, buffer: ArrayBufferView, bufIndex: number, position: number | bigint | null = -1, opts?: OpOptions): Promise<number> {
    return this.#fixed(prepReadFixed, 'read', fd, buffer, bufIndex, position, opts);
  }

  /** WRITE_FIXED: from registered buffer `bufIndex`. */
  writeFixed(fd: number, buffer: ArrayBufferView, bufIndex: number, position: number | bigint | null = -1, opts?: OpOptions): Promise<number> {
    return this.#fixed(prepWriteFixed, 'write', fd, buffer, bufIndex, position, opts);
  }

  #fixedIndex(bufIndex: unknown): number {
    const count = this.driver.registeredBufferCount;
    if (count === 0) throw invalidArgValue('bufIndex', bufIndex, 'refers to no registered buffer: call registerBuffers() first');
    return validateInteger(bufIndex, 'bufIndex', 0, count - 1);
  }

  #fixed(prep: PrepFn, syscall: string, fd: number, buffer: ArrayBufferView, bufIndex: number, position: unknown, opts?: OpOptions): Promise<number> {
    try {
      this.driver.assertUsable();
      validateFd(fd);
      const buf = validateBuffer(buffer);
      const index = this.#fixedIndex(bufIndex);
      const pos = validatePosition(position);
      const checked = checkOptions(opts);
      return this.#submit(syscall, undefined, buf, this.driver.registeredBuffer(index), checked, undefined, prep, fd, buf, buf.byteLength, pos, index, 0);
    } catch (e) {
      return this.#refuse(e);
    }
  }

  #vector(prep: PrepFn, syscall: string, fd: number, buffers: readonly ArrayBufferView[], position: unknown, opts?: OpOptions): Promise<number> {
    try {
      this.driver.assertUsable();
      validateFd(fd);
      if (!Array.isArray(buffers)) throw invalidArgType('buffers', 'an instance of Array', buffers);
      buffers.forEach((b, i) => validateBuffer(b, `buffers[${i}]`));
      const iov = new Iovecs(buffers); // holds every buffer (a copy of the array) until the CQE
      const pos = validatePosition(position);
      const checked = checkOptions(opts);
      return this.#submit(syscall, undefined, iov, undefined, checked, undefined, prep, fd, iov, iov.length, pos);
    } catch (e) {
      return this.#refuse(e);
    }
  }

  /** preadv(2) (IORING_OP_READV). */
  readv(fd: number, buffers: readonly ArrayBufferView[], position: number | bigint | null = -1, opts?: OpOptions): Promise<number> {
    return this.#vector(prepReadv, 'read', fd, buffers, position, opts);
  }

  /** pwritev(2) (IORING_OP_WRITEV). */
  writev(fd: number, buffers: readonly ArrayBufferView[], position: number | bigint | null = -1, opts?: OpOptions): Promise<number> {
    return this.#vector(prepWritev, 'write', fd, buffers, position, opts);
  }

  /** fsync(2) / fdatasync(2) (IORING_OP_FSYNC). */
  fsync(fd: number, datasync = false, opts?: OpOptions): Promise<number> {
    try {
      this.driver.assertUsable();
      validateFd(fd);
      if (typeof datasync !== 'boolean') throw invalidArgType('datasync', 'of type boolean', datasync);
      const checked = checkOptions(opts);
      return this.#submit(datasync ? 'fdatasync' : 'fsync', undefined, null, undefined, checked, undefined, prepFsync, fd, datasync ? IORING_FSYNC_DATASYNC : 0);
    } catch (e) {
      return this.#refuse(e);
    }
  }

  /** ftruncate(2) (IORING_OP_FTRUNCATE, 6.9+). */
  ftruncate(fd: number, length = 0, opts?: OpOptions): Promise<number> {
    try {
      this.driver.assertUsable();
      validateFd(fd);
      validateInteger(length, 'len', 0, TWO_53);
      const checked = checkOptions(opts);
      if (!this.driver.supports(IORING_OP_FTRUNCATE)) throw systemError(ERRNO.EOPNOTSUPP, 'ftruncate', { explanation: 'EOPNOTSUPP: this kernel has no IORING_OP_FTRUNCATE (Linux 6.9+).' });
      return this.#submit('ftruncate', undefined, null, undefined, checked, undefined, prepFtruncate, fd, length);
    } catch (e) {
      return this.#refuse(e);
    }
  }

  /** openat(2) (IORING_OP_OPENAT), always with O_CLOEXEC. Resolves to the new fd. */
  open(path: PathArg, flags: number, mode: number | string = 0o666, opts?: OpOptions & { dirfd?: number }): Promise<number> {
    this.#fdResultNext = true; // read by #track inside #submit; cleared however the call ends
    try {
      this.driver.assertUsable();
      const p = toPathBuffer(path);
      validateInteger(flags, 'flags', -0x80000000, 0xffffffff);
      const m = parseMode(mode, 'mode', 0o666);
      const checked = checkOptions(opts);
      const dirfd = validateDirfd(opts?.dirfd);
      return this.#submit('open', pathText(path), p, undefined, checked, undefined, prepOpenat, dirfd, p, (flags | LINUX.O_CLOEXEC) >>> 0, m);
    } catch (e) {
      return this.#refuse(e);
    } finally {
      this.#fdResultNext = false;
      this.#holdNext = false;
    }
  }

  /**
   * open(), with the new fd held for this thread from the moment its CQE is
   * delivered (ring/thread-fds.ts): if the thread exits before the caller
   * closes it, its teardown does. The caller must release it
   * (releaseFdOfThread) before closing it. For uring/fs's FileHandles.
   */
  openHeld(path: PathArg, flags: number, mode: number | string = 0o666, opts?: OpOptions & { dirfd?: number }): Promise<number> {
    this.#holdNext = true;
    return this.open(path, flags, mode, opts);
  }

  /** close(2) (IORING_OP_CLOSE). */
  close(fd: number, opts?: OpOptions): Promise<number> {
    try {
      this.driver.assertUsable();
      validateFd(fd);
      const checked = checkOptions(opts);
      return this.#submit('close', undefined, null, undefined, checked, undefined, prepClose, fd);
    } catch (e) {
      return this.#refuse(e);
    }
  }

  /** statx(2) into `target` (at least 256 bytes; IORING_OP_STATX); the fd form (AT_EMPTY_PATH) when path is null. */
  statx(path: PathArg | null, target: ArrayBufferView, options: { fd?: number; followSymlinks?: boolean; mask?: number; syscall?: string } = {}, opts?: OpOptions): Promise<number> {
    try {
      this.driver.assertUsable();
      const stx = validateBuffer(target, 'target');
      if (stx.byteLength < statxLayout.size) throw outOfRange('target.byteLength', `>= ${statxLayout.size}`, stx.byteLength);
      if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
      const { fd, followSymlinks, mask, syscall } = options;
      if (followSymlinks !== undefined && typeof followSymlinks !== 'boolean') throw invalidArgType('options.followSymlinks', 'of type boolean', followSymlinks);
      const m = mask === undefined ? 0xfff : validateInteger(mask, 'options.mask', 0, 0xffffffff);
      if (syscall !== undefined && typeof syscall !== 'string') throw invalidArgType('options.syscall', 'of type string', syscall);
      let flags = followSymlinks === false ? AT_SYMLINK_NOFOLLOW : 0;
      let dirfd: number = AT_FDCWD;
      let p: Buffer;
      if (path === null) {
        dirfd = validateFd(fd, 'options.fd');
        flags |= AT_EMPTY_PATH;
        p = Buffer.from([0]);
      } else {
        p = toPathBuffer(path);
      }
      const checked = checkOptions(opts);
      const name = syscall ?? (path === null ? 'fstat' : flags & AT_SYMLINK_NOFOLLOW ? 'lstat' : 'stat');
      return this.#submit(name, path === null ? undefined : pathText(path), p, stx, checked, undefined, prepStatx, dirfd, p, flags, m, stx);
    } catch (e) {
      return this.#refuse(e);
    }
  }

  /** mkdirat(2). `mode` is a number or an octal string. */
  mkdir(path: PathArg, mode: number | string = 0o777, opts?: OpOptions): Promise<number> {
    try {
      this.driver.assertUsable();
      const p = toPathBuffer(path);
      const m = parseMode(mode, 'mode', 0o777);
      const checked = checkOptions(opts);
      return this.#submit('mkdir', pathText(path), p, undefined, checked, undefined, prepMkdirat, AT_FDCWD, p, m);
    } catch (e) {
      return this.#refuse(e);
    }
  }

  /** unlinkat(2); `dir` for rmdir. */
  unlink(path: PathArg, dir = false, opts?: OpOptions): Promise<number> {
    try {
      this.driver.assertUsable();
      const p = toPathBuffer(path);
      if (typeof dir !== 'boolean') throw invalidArgType('dir', 'of type boolean', dir);
      const checked = checkOptions(opts);
      return this.#submit(dir ? 'rmdir' : 'unlink', pathText(path), p, undefined, checked, undefined, prepUnlinkat, AT_FDCWD, p, dir ? AT_REMOVEDIR : 0);
    } catch (e) {
      return this.#refuse(e);
    }
  }

  /** renameat2(2). */
  rename(oldPath: PathArg, newPath: PathArg, opts?: OpOptions): Promise<number> {
    return this.#twoPaths(prepRenameat, 'rename', oldPath, 'oldPath', newPath, opts);
  }

  /** linkat(2): a hard link (fs.link). */
  hardlink(existingPath: PathArg, newPath: PathArg, opts?: OpOptions): Promise<number> {
    return this.#twoPaths(prepLinkat, 'link', existingPath, 'existingPath', newPath, opts);
  }

  /** renameat/linkat: (AT_FDCWD, from) → (AT_FDCWD, to); errors carry both paths, as node:fs's do. */
  #twoPaths(prep: PrepFn, syscall: string, from: PathArg, fromName: string, to: PathArg, opts?: OpOptions): Promise<number> {
    try {
      this.driver.assertUsable();
      const a = toPathBuffer(from, fromName);
      const b = toPathBuffer(to, 'newPath');
      const checked = checkOptions(opts);
      return this.#submit(syscall, pathText(from), a, b, checked, pathText(to), prep, AT_FDCWD, a, AT_FDCWD, b, 0);
    } catch (e) {
      return this.#refuse(e);
    }
  }

  /** symlinkat(2). */
  symlink(target: PathArg, path: PathArg, opts?: OpOptions): Promise<number> {
    try {
      this.driver.assertUsable();
      const a = toPathBuffer(target, 'target');
      const b = toPathBuffer(path);
      const checked = checkOptions(opts);
      return this.#submit('symlink', pathText(target), a, b, checked, pathText(path), prepSymlinkat, a, AT_FDCWD, b);
    } catch (e) {
      return this.#refuse(e);
    }
  }

  /** IORING_OP_NOP: a round trip through the kernel. */
  nop(opts?: OpOptions): Promise<number> {
    try {
      this.driver.assertUsable();
      const checked = checkOptions(opts);
      return this.#submit('nop', undefined, null, undefined, checked, undefined, prepNop);
    } catch (e) {
      return this.#refuse(e);
    }
  }

  /**
   * A linked chain (IOSQE_IO_LINK): each op starts when the previous one
   * succeeded; after a failure (or a short read/write) the rest complete
   * with -ECANCELED. `ops` are thunks, each starting one op of this IO
   * (e.g. `() => io.read(fd, buf, 0)`); the chain is one transaction, so it
   * never straddles two submissions. If a thunk throws, or its op is
   * refused, nothing of the chain is submitted: link() rejects with that
   * error and the ops already started reject with ECANCELED. Resolves to
   * each op's settled result.
   */
  link(...ops: Array<() => Promise<number>>): Promise<PromiseSettledResult<number>[]> {
    try {
      this.driver.assertUsable();
      ops.forEach((op, i) => {
        if (typeof op !== 'function') throw invalidArgType(`ops[${i}]`, 'of type function', op);
      });
    } catch (e) {
      return Promise.reject(e);
    }
    if (ops.length === 0) return Promise.resolve([]);
    const driver = this.driver;
    const mark = driver.txBegin();
    const promises: Promise<number>[] = [];
    try {
      for (let i = 0; i < ops.length; i++) {
        const before = driver.txOpCount;
        this.#refusal = undefined;
        const started = ops[i]();
        if (started instanceof Promise) promises.push(started);
        if (driver.txOpCount !== before + 1) {
          // None (refused, or not an op of this IO) or several: either way the chain would not be the one asked for.
          throw (driver.txOpCount === before ? this.#refusal : undefined) ?? invalidArgValue(`ops[${i}]`, ops[i], 'must start exactly one operation of this IO and return its promise');
        }
      }
      const n = driver.txSqeCount;
      for (let i = 0; i < n - 1; i++) driver.txSqeAt(i).flags |= IOSQE_IO_LINK;
      driver.txCommit();
    } catch (e) {
      driver.txRollback(mark, ECANCELED);
      for (const p of promises) p.catch(noop);
      return Promise.reject(e);
    }
    return Promise.allSettled(promises);
  }

  /**
   * A whole small file in one round trip: STATX alongside the linked chain
   * OPENAT (into a direct descriptor) → READ (up to `limit` bytes) → CLOSE
   * (hard-linked, so it runs even when the read fails), one transaction.
   * Resolves to the contents when the file is a regular file that fit; to
   * null when it did not (larger, or not a regular file), so the caller reads
   * it the long way. Rejects with the open or read error as node:fs reports it.
   */
  readSmallFile(path: PathArg, limit = SMALL_FILE_LIMIT): Promise<Buffer | null> {
    let p: Buffer;
    try {
      this.driver.assertUsable();
      p = toPathBuffer(path);
      validateInteger(limit, 'limit', 0, SMALL_FILE_LIMIT);
    } catch (e) {
      return Promise.reject(e);
    }
    const driver = this.driver;
    const slot = driver.takeDirectSlot();
    if (slot < 0) return Promise.resolve(null);
    const buf = smallBuffers.pop() ?? allocAlignedBuffer(SMALL_FILE_LIMIT);
    const stx = statxBuffers.pop() ?? new Uint8Array(statxLayout.size);
    return new Promise<Buffer | null>((resolve, reject) => {
      const state: SmallFileRead = { driver, slot, path, buf, stx, len: limit, resolve, reject, pending: 4, statRes: 0, openRes: 0, readRes: 0 };
      const mark = driver.txBegin();
      try {
        let sqe = driver.txSqe();
        prepStatx(sqe, AT_FDCWD, p, 0, 0x7ff, stx);
        driver.txTrack(sqe, onSmallStat, state, p, stx);
        sqe = driver.txSqe();
        // A direct descriptor takes no O_CLOEXEC (EINVAL): it is never a process fd.
        prepOpenatDirect(sqe, AT_FDCWD, p, LINUX.O_RDONLY, 0, slot);
        sqe.flags = IOSQE_IO_LINK;
        driver.txTrack(sqe, onSmallOpen, state, p);
        sqe = driver.txSqe();
        prepRead(sqe, slot, buf, limit, 0);
        sqe.flags = IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK;
        driver.txTrack(sqe, onSmallRead, state, buf);
        sqe = driver.txSqe();
        prepCloseDirect(sqe, slot);
        driver.txTrack(sqe, onSmallClose, state, null);
        driver.txCommit();
      } catch (e) {
        driver.txRollback(mark);
        driver.releaseDirectSlot(slot);
        reject(e as Error);
      }
    });
  }

  // ------------------------------------------------ registered resources

  /** io_uring_register_buffers(3) on this IO's ring (for readFixed/writeFixed/readFixedInto). */
  registerBuffers(buffers: readonly ArrayBufferView[]): void {
    this.driver.registerBuffers(buffers);
  }

  /** io_uring_unregister_buffers(3). */
  unregisterBuffers(): void {
    this.driver.unregisterBuffers();
  }

  /** io_uring_register_files(3) on this IO's ring (for `fixedFile` ops). */
  registerFiles(fds: readonly number[]): void {
    this.driver.registerFiles(fds);
  }

  /** io_uring_unregister_files(3). */
  unregisterFiles(): void {
    this.driver.unregisterFiles();
  }

  // ------------------------------------------------ callback API (hot path)

  #rwInto(prep: PrepFn, fd: number, buffer: ArrayBufferView, offset: number, length: number, position: number, callback: Completion<any>, token: unknown, pin2: unknown, bufIndex: number, fixedFile: boolean): number {
    const driver = this.driver;
    if (fixedFile) driver.checkFixedFile(fd, prep === prepReadFixed ? 'read' : 'write');
    const mark = driver.txBegin();
    try {
      const sqe = driver.txSqe();
      if (bufIndex < 0) prep(sqe, fd, buffer, length, position, offset);
      else prep(sqe, fd, buffer, length, position, bufIndex, offset);
      if (fixedFile) sqe.flags = IOSQE_FIXED_FILE;
      const userData = driver.txTrack(sqe, callback, token, buffer, pin2);
      driver.txCommit();
      return userData;
    } catch (e) {
      driver.txRollback(mark);
      throw e;
    }
  }

  /** Validates the callback API's (fd, buffer, offset, length, position, callback). */
  #checkInto(fd: unknown, buffer: unknown, offset: unknown, length: unknown, position: unknown, callback: unknown): void {
    this.driver.assertUsable();
    validateFd(fd);
    const buf = validateBuffer(buffer);
    validateInteger(offset, 'offset', 0, buf.byteLength);
    validateInteger(length, 'length', 0, buf.byteLength - (offset as number));
    validateInteger(position, 'position', -1, TWO_53);
    validateCallback(callback);
  }

  /** read into buffer[offset, offset+length) at position; `callback(res, token)`; no allocation per op. Returns the op's user_data. Throws on bad arguments. */
  readInto<T>(fd: number, buffer: ArrayBufferView, offset: number, length: number, position: number, callback: Completion<T>, token: T): number {
    this.#checkInto(fd, buffer, offset, length, position, callback);
    return this.#rwInto(prepRead, fd, buffer, offset, length, position, callback, token, undefined, -1, false);
  }

  /** write from buffer[offset, offset+length) at position; no allocation per op. Throws on bad arguments. */
  writeFrom<T>(fd: number, buffer: ArrayBufferView, offset: number, length: number, position: number, callback: Completion<T>, token: T): number {
    this.#checkInto(fd, buffer, offset, length, position, callback);
    return this.#rwInto(prepWrite, fd, buffer, offset, length, position, callback, token, undefined, -1, false);
  }

  /** READ_FIXED into registered buffer `bufIndex` (`fd` a registered file if `fixedFile`); no allocation per op. Throws on bad arguments. */
  readFixedInto<T>(fd: number, buffer: ArrayBufferView, offset: number, length: number, position: number, bufIndex: number, fixedFile: boolean, callback: Completion<T>, token: T): number {
    this.#checkInto(fd, buffer, offset, length, position, callback);
    const index = this.#fixedIndex(bufIndex);
    if (typeof fixedFile !== 'boolean') throw invalidArgType('fixedFile', 'of type boolean', fixedFile);
    return this.#rwInto(prepReadFixed, fd, buffer, offset, length, position, callback, token, this.driver.registeredBuffer(index), index, fixedFile);
  }
}
