/**
 * fs/ — the node:fs/promises API on io_uring: same names, arguments, return
 * values and errors (`code`, `errno`, `syscall`, `path`). Calls with an
 * io_uring op (open, read, write, readv, writev, stat/lstat/fstat via statx,
 * fsync, ftruncate, close, mkdir, unlink, rmdir, rename, link, symlink) run
 * on the ring; compositions of them (readFile, writeFile, appendFile,
 * truncate, rm of a file) too. Everything else — and options io_uring has no
 * op for (recursive mkdir/rm, bigint stats) — delegates to node:fs/promises.
 * When no ring can be created, every call runs on node:fs (see backend()).
 */
import fs, { type Stats } from 'node:fs';
import nodeFsp from 'node:fs/promises';
import { promisify } from 'node:util';
import { statx as SX } from '../abi/structs.js';
import { LINUX } from '../abi/constants.js';
import { S_IFDIR, statxSize, statxType } from '../abi/statx.js';
import type { IO } from '../driver/io.js';
import { invalidArgType, invalidArgValue, UringError } from '../ring/errors.js';
import { backend, currentIo } from './backend.js';

export { backend, type BackendInfo } from './backend.js';

type PathLike = string | Buffer | URL;
type Mode = number | string | undefined;

const O = fs.constants;
const FLAGS: Record<string, number> = {
  r: O.O_RDONLY, rs: O.O_RDONLY | O.O_SYNC, sr: O.O_RDONLY | O.O_SYNC,
  'r+': O.O_RDWR, 'rs+': O.O_RDWR | O.O_SYNC, 'sr+': O.O_RDWR | O.O_SYNC,
  w: O.O_TRUNC | O.O_CREAT | O.O_WRONLY, wx: O.O_TRUNC | O.O_CREAT | O.O_WRONLY | O.O_EXCL, xw: O.O_TRUNC | O.O_CREAT | O.O_WRONLY | O.O_EXCL,
  'w+': O.O_TRUNC | O.O_CREAT | O.O_RDWR, 'wx+': O.O_TRUNC | O.O_CREAT | O.O_RDWR | O.O_EXCL, 'xw+': O.O_TRUNC | O.O_CREAT | O.O_RDWR | O.O_EXCL,
  a: O.O_APPEND | O.O_CREAT | O.O_WRONLY, ax: O.O_APPEND | O.O_CREAT | O.O_WRONLY | O.O_EXCL, xa: O.O_APPEND | O.O_CREAT | O.O_WRONLY | O.O_EXCL,
  as: O.O_APPEND | O.O_CREAT | O.O_WRONLY | O.O_SYNC, sa: O.O_APPEND | O.O_CREAT | O.O_WRONLY | O.O_SYNC,
  'a+': O.O_APPEND | O.O_CREAT | O.O_RDWR, 'ax+': O.O_APPEND | O.O_CREAT | O.O_RDWR | O.O_EXCL, 'xa+': O.O_APPEND | O.O_CREAT | O.O_RDWR | O.O_EXCL,
  'as+': O.O_APPEND | O.O_CREAT | O.O_RDWR | O.O_SYNC, 'sa+': O.O_APPEND | O.O_CREAT | O.O_RDWR | O.O_SYNC,
};

/** Node's stringToFlags. */
function toFlags(flags: unknown, fallback: string): number {
  if (flags === undefined || flags === null) return FLAGS[fallback];
  if (typeof flags === 'number') return flags;
  if (typeof flags === 'string' && flags in FLAGS) return FLAGS[flags];
  throw invalidArgValue('flags', flags, 'is invalid');
}

function toMode(mode: Mode, fallback: number): number {
  if (mode === undefined || mode === null) return fallback;
  if (typeof mode === 'string') {
    if (!/^[0-7]+$/.test(mode)) throw invalidArgValue('mode', mode, 'must be a 32-bit unsigned integer or an octal string');
    return parseInt(mode, 8);
  }
  if (typeof mode !== 'number') throw invalidArgType('mode', 'of type number', mode);
  return mode;
}

/** glibc's makedev(major, minor), as libuv reports st_dev. */
function makedev(major: number, minor: number): number {
  return Number(((BigInt(major) & 0xfffff000n) << 32n) | ((BigInt(major) & 0xfffn) << 8n) | ((BigInt(minor) & 0xffffff00n) << 12n) | (BigInt(minor) & 0xffn));
}

function statxTimeMs(view: DataView, off: number): number {
  return Number(view.getBigInt64(off, true)) * 1000 + view.getUint32(off + 8, true) / 1e6;
}

/** struct statx → fs.Stats, field for field as libuv fills uv_stat_t from statx. */
function toStats(buf: Uint8Array): Stats {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const f = SX.off;
  const u32 = (o: number): number => v.getUint32(o, true);
  const u64 = (o: number): number => Number(v.getBigUint64(o, true));
  // fs.Stats' constructor is not public API, but it is what node:fs builds its results with.
  const StatsCtor = fs.Stats as unknown as new (...args: number[]) => Stats;
  return new StatsCtor(
    makedev(u32(f.stx_dev_major), u32(f.stx_dev_minor)), v.getUint16(f.stx_mode, true), u32(f.stx_nlink),
    u32(f.stx_uid), u32(f.stx_gid), makedev(u32(f.stx_rdev_major), u32(f.stx_rdev_minor)),
    u32(f.stx_blksize), u64(f.stx_ino), u64(f.stx_size), u64(f.stx_blocks),
    statxTimeMs(v, f.stx_atime), statxTimeMs(v, f.stx_mtime), statxTimeMs(v, f.stx_ctime), statxTimeMs(v, f.stx_btime),
  );
}

// node:fs/promises' own functions, copied now: uring/register replaces them in node's exports object
// (which `nodeFsp` is), and a delegation to node:fs must never reach our replacement (and recurse).
const fsp: typeof nodeFsp = { ...nodeFsp };

const ring = currentIo;

const kClosed = -1;

/** A file opened through io_uring; the same methods and results as node:fs/promises' FileHandle. */
export class FileHandle {
  #fd: number;
  readonly #io: IO;

  /** @internal */
  constructor(io: IO, fd: number) {
    this.#io = io;
    this.#fd = fd;
  }

  get fd(): number {
    return this.#fd;
  }

  #live(syscall: string): number {
    if (this.#fd === kClosed) {
      // node:fs/promises reports a closed FileHandle this way: EBADF without errno.
      throw Object.assign(new Error('file closed'), { code: 'EBADF', syscall });
    }
    return this.#fd;
  }

  /** filehandle.read(buffer, offset, length, position) or read({ buffer, offset, length, position }). */
  async read<T extends NodeJS.ArrayBufferView = Buffer>(
    bufferOrOptions?: T | { buffer?: T; offset?: number; length?: number; position?: number | bigint | null },
    offset?: number | null, length?: number | null, position?: number | bigint | null,
  ): Promise<{ bytesRead: number; buffer: T }> {
    let buffer: T;
    if (bufferOrOptions === undefined || bufferOrOptions === null || !ArrayBuffer.isView(bufferOrOptions)) {
      const o = (bufferOrOptions ?? {}) as { buffer?: T; offset?: number; length?: number; position?: number | bigint | null };
      buffer = o.buffer ?? (Buffer.alloc(16384) as unknown as T);
      offset = o.offset ?? 0;
      length = o.length ?? buffer.byteLength - (offset ?? 0);
      position = o.position ?? null;
    } else {
      buffer = bufferOrOptions;
    }
    const fd = this.#live('read');
    const len = length ?? buffer.byteLength - (offset ?? 0);
    // node:fs answers a zero-length read without asking the kernel; so do we.
    if (len === 0) return { bytesRead: 0, buffer };
    const bytesRead = await this.#io.read(fd, buffer, position ?? -1, { offset: offset ?? 0, length: len });
    return { bytesRead, buffer };
  }

  /** filehandle.write(buffer, offset?, length?, position?) or write(string, position?, encoding?). */
  async write<T extends NodeJS.ArrayBufferView | string>(data: T, offsetOrPosition?: number | null, lengthOrEncoding?: number | BufferEncoding | null, position?: number | null): Promise<{ bytesWritten: number; buffer: T }> {
    const fd = this.#live('write');
    if (typeof data === 'string') {
      const bytes = Buffer.from(data, (lengthOrEncoding as BufferEncoding) ?? 'utf8');
      const bytesWritten = await this.#io.write(fd, bytes, offsetOrPosition ?? -1);
      return { bytesWritten, buffer: data };
    }
    if (!ArrayBuffer.isView(data)) throw invalidArgType('buffer', 'of type string or an instance of Buffer, TypedArray, or DataView', data);
    // node:fs answers an empty buffer without asking the kernel; so do we.
    if (data.byteLength === 0) return { bytesWritten: 0, buffer: data };
    const offset = offsetOrPosition ?? 0;
    const length = (lengthOrEncoding as number | null | undefined) ?? data.byteLength - offset;
    const bytesWritten = await this.#io.write(fd, data, position ?? -1, { offset, length });
    return { bytesWritten, buffer: data };
  }

  async readv<T extends NodeJS.ArrayBufferView[]>(buffers: T, position?: number | null): Promise<{ bytesRead: number; buffers: T }> {
    const bytesRead = await this.#io.readv(this.#live('read'), buffers, position ?? -1);
    return { bytesRead, buffers };
  }

  async writev<T extends NodeJS.ArrayBufferView[]>(buffers: T, position?: number | null): Promise<{ bytesWritten: number; buffers: T }> {
    const bytesWritten = await this.#io.writev(this.#live('write'), buffers, position ?? -1);
    return { bytesWritten, buffers };
  }

  async stat(options?: { bigint?: boolean }): Promise<Stats> {
    const fd = this.#live('fstat');
    if (options?.bigint) return promisify(fs.fstat)(fd, { bigint: true }) as unknown as Promise<Stats>;
    const buf = new Uint8Array(SX.size);
    await this.#io.statx(null, buf, { fd });
    return toStats(buf);
  }

  async sync(): Promise<void> {
    await this.#io.fsync(this.#live('fsync'), false);
  }

  async datasync(): Promise<void> {
    await this.#io.fsync(this.#live('fdatasync'), true);
  }

  async truncate(len = 0): Promise<void> {
    await this.#io.ftruncate(this.#live('ftruncate'), Math.max(0, len));
  }

  async close(): Promise<void> {
    if (this.#fd === kClosed) return;
    const fd = this.#fd;
    this.#fd = kClosed;
    await this.#io.close(fd);
  }

  async readFile(options?: BufferEncoding | { encoding?: BufferEncoding | null; signal?: AbortSignal }): Promise<Buffer | string> {
    const encoding = typeof options === 'string' ? options : options?.encoding ?? null;
    const signal = typeof options === 'object' ? options?.signal : undefined;
    const data = await readAll(this.#io, this.#live('read'), signal);
    return encoding ? data.toString(encoding) : data;
  }

  async writeFile(data: string | NodeJS.ArrayBufferView, options?: BufferEncoding | { encoding?: BufferEncoding | null; signal?: AbortSignal }): Promise<void> {
    const encoding = (typeof options === 'string' ? options : options?.encoding) ?? 'utf8';
    await writeAll(this.#io, this.#live('write'), toBytes(data, encoding), typeof options === 'object' ? options?.signal : undefined);
  }

  async appendFile(data: string | NodeJS.ArrayBufferView, options?: BufferEncoding | { encoding?: BufferEncoding | null }): Promise<void> {
    return this.writeFile(data, options);
  }
}

function toBytes(data: unknown, encoding: BufferEncoding): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, encoding);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw invalidArgType('data', 'of type string or an instance of Buffer, TypedArray, or DataView', data);
}

async function readAll(io: IO, fd: number, signal?: AbortSignal): Promise<Buffer> {
  const st = new Uint8Array(SX.size);
  await io.statx(null, st, { fd }, { signal });
  const size = statxSize(st);
  if (statxType(st) === S_IFDIR) throw new UringError(-21, 'read');
  if (size > 0) {
    const buf = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const n = await io.read(fd, buf, -1, { offset: got, length: size - got, signal });
      if (n === 0) break;
      got += n;
    }
    // The file may have grown since statx: keep reading until EOF.
    if (got === size) return Buffer.concat([buf, await readRest(io, fd, signal)]);
    return buf.subarray(0, got);
  }
  return readRest(io, fd, signal);
}

async function readRest(io: IO, fd: number, signal?: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (;;) {
    const chunk = Buffer.allocUnsafe(64 * 1024);
    const n = await io.read(fd, chunk, -1, { signal });
    if (n === 0) break;
    chunks.push(chunk.subarray(0, n));
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}

async function writeAll(io: IO, fd: number, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    done += await io.write(fd, bytes, -1, { offset: done, length: bytes.byteLength - done, signal });
  }
}

/** fsPromises.open(path, flags = 'r', mode = 0o666) → FileHandle. */
export async function open(path: PathLike, flags?: string | number, mode?: Mode): Promise<FileHandle | nodeFsp.FileHandle> {
  const io = await ring();
  if (!io) return fsp.open(path, flags, mode);
  const fd = await io.open(path, toFlags(flags, 'r'), toMode(mode, 0o666));
  return new FileHandle(io, fd);
}

type ReadFileOptions = BufferEncoding | { encoding?: BufferEncoding | null; flag?: string | number; signal?: AbortSignal } | null;

/** fsPromises.readFile(path | FileHandle, options). */
export async function readFile(path: PathLike | FileHandle, options?: ReadFileOptions): Promise<Buffer | string> {
  const io = await ring();
  if (!io || !(path instanceof FileHandle || typeof path === 'string' || Buffer.isBuffer(path) || path instanceof URL)) {
    return fsp.readFile(path as PathLike, options as Parameters<typeof fsp.readFile>[1]);
  }
  if (path instanceof FileHandle) return path.readFile(options ?? undefined);
  const opts = typeof options === 'string' ? { encoding: options } : options ?? {};
  if ((opts.flag === undefined || opts.flag === 'r') && opts.signal === undefined) {
    // Small regular files: one round trip (statx + open → read → close, linked).
    const data = await io.readSmallFile(path);
    if (data !== null) return opts.encoding ? data.toString(opts.encoding) : data;
  }
  const fd = await io.open(path, toFlags(opts.flag, 'r'), 0o666, { signal: opts.signal });
  try {
    const data = await readAll(io, fd, opts.signal);
    return opts.encoding ? data.toString(opts.encoding) : data;
  } finally {
    await io.close(fd);
  }
}

type WriteFileOptions = BufferEncoding | { encoding?: BufferEncoding | null; mode?: Mode; flag?: string | number; signal?: AbortSignal } | null;

/** fsPromises.writeFile(path | FileHandle, data, options). */
export async function writeFile(path: PathLike | FileHandle, data: string | NodeJS.ArrayBufferView, options?: WriteFileOptions): Promise<void> {
  return writeWith(path, data, options, 'w');
}

/** fsPromises.appendFile(path | FileHandle, data, options). */
export async function appendFile(path: PathLike | FileHandle, data: string | NodeJS.ArrayBufferView, options?: WriteFileOptions): Promise<void> {
  return writeWith(path, data, options, 'a');
}

async function writeWith(path: PathLike | FileHandle, data: string | NodeJS.ArrayBufferView, options: WriteFileOptions | undefined, flag: 'w' | 'a'): Promise<void> {
  const io = await ring();
  const opts = typeof options === 'string' ? { encoding: options } : options ?? {};
  if (!io || (typeof data !== 'string' && !ArrayBuffer.isView(data))) {
    const fn = flag === 'w' ? fsp.writeFile : fsp.appendFile;
    return fn(path as PathLike, data as string, options as Parameters<typeof fsp.writeFile>[2]);
  }
  if (path instanceof FileHandle) return path.writeFile(data, options ?? undefined);
  const bytes = toBytes(data, opts.encoding ?? 'utf8');
  const fd = await io.open(path, toFlags(opts.flag, flag), toMode(opts.mode, 0o666), { signal: opts.signal });
  try {
    await writeAll(io, fd, bytes, opts.signal);
  } finally {
    await io.close(fd);
  }
}

async function statPath(path: PathLike, follow: boolean, options?: { bigint?: boolean }): Promise<Stats> {
  const io = await ring();
  if (!io || options?.bigint) return (follow ? fsp.stat : fsp.lstat)(path, options as { bigint: false });
  const buf = new Uint8Array(SX.size);
  await io.statx(path, buf, { followSymlinks: follow });
  return toStats(buf);
}

/** fsPromises.stat (statx). */
export function stat(path: PathLike, options?: { bigint?: boolean }): Promise<Stats> {
  return statPath(path, true, options);
}

/** fsPromises.lstat (statx with AT_SYMLINK_NOFOLLOW). */
export function lstat(path: PathLike, options?: { bigint?: boolean }): Promise<Stats> {
  return statPath(path, false, options);
}

/** fsPromises.mkdir (mkdirat; `recursive` delegates to node:fs). */
export async function mkdir(path: PathLike, options?: Mode | { recursive?: boolean; mode?: Mode }): Promise<string | undefined> {
  const io = await ring();
  const opts = typeof options === 'object' && options !== null ? options : { mode: options };
  if (!io || opts.recursive) return fsp.mkdir(path, options as fs.MakeDirectoryOptions);
  await io.mkdir(path, toMode(opts.mode, 0o777));
  return undefined;
}

/** fsPromises.unlink (unlinkat). */
export async function unlink(path: PathLike): Promise<void> {
  const io = await ring();
  if (!io) return fsp.unlink(path);
  await io.unlink(path, false);
}

/** fsPromises.rmdir (unlinkat with AT_REMOVEDIR). */
export async function rmdir(path: PathLike, options?: fs.RmDirOptions): Promise<void> {
  const io = await ring();
  if (!io || options?.recursive) return fsp.rmdir(path, options);
  await io.unlink(path, true);
}

/** fsPromises.rm: a file (or symlink) through unlinkat; directories and `recursive` through node:fs. */
export async function rm(path: PathLike, options?: fs.RmOptions): Promise<void> {
  const io = await ring();
  if (!io) return fsp.rm(path, options);
  let st: Stats;
  try {
    st = await lstat(path);
  } catch (e) {
    if ((e as UringError).code === 'ENOENT' && options?.force) return;
    throw Object.assign(e as UringError, { syscall: 'lstat' });
  }
  if (st.isDirectory()) return fsp.rm(path, options);
  try {
    await io.unlink(path, false);
  } catch (e) {
    if (!((e as UringError).code === 'ENOENT' && options?.force)) throw e;
  }
}

/** fsPromises.rename (renameat2). */
export async function rename(oldPath: PathLike, newPath: PathLike): Promise<void> {
  const io = await ring();
  if (!io) return fsp.rename(oldPath, newPath);
  await io.rename(oldPath, newPath);
}

/** fsPromises.link (linkat). */
export async function link(existingPath: PathLike, newPath: PathLike): Promise<void> {
  const io = await ring();
  if (!io) return fsp.link(existingPath, newPath);
  await io.hardlink(existingPath, newPath);
}

/** fsPromises.symlink (symlinkat; `type` is ignored on Linux, as in Node). */
export async function symlink(target: PathLike, path: PathLike, type?: string | null): Promise<void> {
  const io = await ring();
  if (!io) return fsp.symlink(target, path, type);
  await io.symlink(target, path);
}

/** fsPromises.truncate (open + ftruncate + close; node:fs where the kernel lacks IORING_OP_FTRUNCATE). */
export async function truncate(path: PathLike, len = 0): Promise<void> {
  const io = await ring();
  if (!io || !io.driver.supports(55)) return fsp.truncate(path, len);
  const fd = await io.open(path, LINUX.O_WRONLY, 0o666);
  try {
    await io.ftruncate(fd, Math.max(0, len));
  } finally {
    await io.close(fd);
  }
}

// No io_uring op exists for these: they are node:fs/promises' own.
export const {
  access, copyFile, cp, chmod, chown, lchown, lutimes, utimes, readdir, readlink, realpath,
  mkdtemp, opendir, watch, statfs, constants,
} = fsp;

export default {
  open, readFile, writeFile, appendFile, stat, lstat, mkdir, unlink, rmdir, rm, rename, link,
  symlink, truncate, access, copyFile, cp, chmod, chown, lchown, lutimes, utimes, readdir, readlink,
  realpath, mkdtemp, opendir, watch, statfs, constants, backend,
};
