/**
 * fs/ — node:fs/promises on io_uring: the same names, arguments, return
 * values, errors (`code`, `errno`, `syscall`, `path`) and events.
 *
 * On the ring: open and the FileHandle's I/O (read, write, readv, writev,
 * stat, sync, datasync, truncate, readFile, writeFile, appendFile, close),
 * readFile, writeFile, appendFile, stat, lstat (statx, also { bigint }),
 * mkdir, unlink, rmdir, rename, link, symlink, truncate. io_uring has no op
 * for the rest — access, copyFile, cp, chmod, lchmod, chown, lchown, utimes,
 * lutimes, readdir, readlink, realpath, mkdtemp, opendir, watch, statfs, rm,
 * recursive mkdir/rmdir — which are node:fs/promises' own (as captured
 * before register mode could replace them). When no ring can be created,
 * everything runs on node:fs (see backend()).
 *
 * Arguments are checked by node's rules before anything reaches the kernel
 * (validate.ts). Importing this module loads neither the ring layer nor the
 * native addon: the backend is chosen at the first call.
 */
import type { BigIntStats, Dirent, MakeDirectoryOptions, Mode, ObjectEncodingOptions, OpenMode, PathLike, RmDirOptions, Stats, StatOptions } from 'node:fs';
import type { FileHandle as NodeFileHandle } from 'node:fs/promises';
import type { Abortable } from 'node:events';
import type { Stream } from 'node:stream';
import { statx as SX } from '../abi/structs.js';
import { BlockPool } from '../ring/blocks.js';
import { releaseFdOfThread } from '../ring/thread-fds.js';
import type { IO } from '../driver/io.js';
import { backend, readyIo, resolveBackend } from './backend.js';
import { isUringFileHandle, makeFileHandle, readAll, writeAll, writeFileArgs } from './filehandle.js';
import { nodeFsp } from './node.js';
import { STATX_MASK, toBigIntStats, toStats } from './stats.js';
import {
  checkAborted, getOptions, getValidatedPath, parseFileMode, stringToFlags, validateBoolean, validateSymlinkType,
} from './validate.js';

export { backend, type BackendInfo } from './backend.js';
export type { UringFileHandle as FileHandle } from './filehandle.js';
/** True for a FileHandle of uring/fs (one whose I/O runs on the ring); node's own FileHandles give false. */
export { isUringFileHandle } from './filehandle.js';

/** This thread's IO, or null on the node:fs backend; the first call resolves the backend. */
async function ring(): Promise<IO | null> {
  await resolveBackend();
  return readyIo() ?? null;
}

/** statx results, reused (a block goes back once its op completed and was read). */
const statxBlocks = new BlockPool(SX.size);

/** The IO for a FileHandle's later calls: this thread's current ring. */
const currentRing = (): IO | null => readyIo() ?? null;

/** handleFdClose: the op's result, then close; a close error joins the op's error (node's aggregateTwoErrors). */
async function closeAfter<T>(op: Promise<T>, close: () => Promise<unknown>): Promise<T> {
  let result: T;
  try {
    result = await op;
  } catch (opError) {
    try {
      await close();
    } catch (closeError) {
      const both = new AggregateError([opError, closeError], (opError as Error).message);
      (both as NodeJS.ErrnoException).code = (opError as NodeJS.ErrnoException).code;
      throw both;
    }
    throw opError;
  }
  await close();
  return result;
}

/** fsPromises.open(path, flags = 'r', mode = 0o666) → FileHandle. */
export async function open(path: PathLike, flags?: OpenMode, mode?: Mode): Promise<NodeFileHandle> {
  const p = getValidatedPath(path);
  const flagsNumber = stringToFlags(flags);
  const m = parseFileMode(mode, 'mode', 0o666);
  let io = readyIo();
  if (io === undefined) io = await ring();
  if (!io) return nodeFsp.open(path, flags, mode);
  const fd = await io.openHeld(p as string, flagsNumber, m); // held from its CQE on: a worker that exits from here on still closes it
  return makeFileHandle(fd, currentRing);
}

type ReadFileOptions = (ObjectEncodingOptions & Abortable & { flag?: OpenMode }) | BufferEncoding | null;

/** fsPromises.readFile(path | FileHandle, options). */
export function readFile(path: PathLike | NodeFileHandle, options?: ({ encoding?: null; flag?: OpenMode } & Abortable) | null): Promise<Buffer>;
export function readFile(path: PathLike | NodeFileHandle, options: ({ encoding: BufferEncoding; flag?: OpenMode } & Abortable) | BufferEncoding): Promise<string>;
export function readFile(path: PathLike | NodeFileHandle, options?: ReadFileOptions): Promise<string | Buffer>;
export async function readFile(path: PathLike | NodeFileHandle, options?: ReadFileOptions): Promise<string | Buffer> {
  if (isUringFileHandle(path)) return path.readFile(options as Parameters<NodeFileHandle['readFile']>[0]);
  const opts = getOptions(options, { flag: 'r' });
  const flag = opts.flag || 'r';
  let io = readyIo();
  if (io === undefined) io = await ring();
  if (!io || !isPathLike(path)) return nodeFsp.readFile(path as PathLike, options as Parameters<typeof nodeFsp.readFile>[1]);
  const p = getValidatedPath(path);
  checkAborted(opts.signal);
  const flags = stringToFlags(flag);
  if (flags === stringToFlags('r') && opts.signal === undefined) {
    // Small regular files: one round trip (statx + open → read → close, linked, on a direct descriptor).
    const data = await io.readSmallFile(p as string);
    if (data !== null) return opts.encoding ? data.toString(opts.encoding) : data;
  }
  const fd = await io.openHeld(p as string, flags, 0o666);
  return closeAfter(readAll(io, fd, opts), () => closeHeld(io, fd));
}

function isPathLike(path: unknown): path is PathLike {
  return typeof path === 'string' || path instanceof Uint8Array || path instanceof URL;
}

type WriteData = string | NodeJS.ArrayBufferView | Iterable<string | NodeJS.ArrayBufferView> | AsyncIterable<string | NodeJS.ArrayBufferView> | Stream;
type WriteFileOptions = (ObjectEncodingOptions & { mode?: Mode; flag?: OpenMode; flush?: boolean } & Abortable) | BufferEncoding | null;

/** fsPromises.writeFile(path | FileHandle, data, options). */
export async function writeFile(path: PathLike | NodeFileHandle, data: WriteData, options?: WriteFileOptions): Promise<void> {
  return writeWith(path, data, options, { encoding: 'utf8', mode: 0o666, flag: 'w', flush: false });
}

/** fsPromises.appendFile(path | FileHandle, data, options). */
export async function appendFile(path: PathLike | NodeFileHandle, data: string | Uint8Array, options?: WriteFileOptions): Promise<void> {
  const opts = { ...getOptions(options, { encoding: 'utf8', mode: 0o666, flag: 'a' }) };
  opts.flag = opts.flag || 'a';
  return writeWith(path, data, opts, { encoding: 'utf8', mode: 0o666, flag: 'a', flush: false });
}

async function writeWith(path: PathLike | NodeFileHandle, data: unknown, options: unknown, defaults: Record<string, unknown>): Promise<void> {
  const args = writeFileArgs(data, options, defaults);
  let io = readyIo();
  if (io === undefined) io = await ring();
  if (isUringFileHandle(path)) {
    const handleIo = currentRing();
    if (handleIo === null) return path.writeFile(data as string, options as Parameters<NodeFileHandle['writeFile']>[1]);
    return writeAll(handleIo, path.fd, args.data, args.options.signal, args.options.encoding);
  }
  if (!io || !isPathLike(path)) return nodeFsp.writeFile(path as PathLike, data as string, options as Parameters<typeof nodeFsp.writeFile>[2]);
  const p = getValidatedPath(path);
  checkAborted(args.options.signal);
  const flags = stringToFlags(args.options.flag || defaults.flag);
  const fd = await io.openHeld(p as string, flags, parseFileMode(args.options.mode, 'mode', 0o666));
  let op = writeAll(io, fd, args.data, args.options.signal, args.options.encoding);
  if (args.flush) op = op.then(() => io.fsync(fd, false)).then(() => undefined);
  return closeAfter(op, () => closeHeld(io, fd));
}

/** Closes an fd of openHeld(), released first (see ring/thread-fds.ts). */
function closeHeld(io: IO, fd: number): Promise<unknown> {
  releaseFdOfThread(fd);
  return io.close(fd);
}

function statOptions(options: unknown): { bigint: boolean } {
  return (options ?? { bigint: false }) as { bigint: boolean };
}

/** fsPromises.stat (statx). */
export function stat(path: PathLike, opts?: StatOptions & { bigint?: false }): Promise<Stats>;
export function stat(path: PathLike, opts: StatOptions & { bigint: true }): Promise<BigIntStats>;
export function stat(path: PathLike, opts?: StatOptions): Promise<Stats | BigIntStats>;
export function stat(path: PathLike, options?: StatOptions): Promise<Stats | BigIntStats> {
  return statPath(path, true, statOptions(options));
}

/** fsPromises.lstat (statx with AT_SYMLINK_NOFOLLOW). */
export function lstat(path: PathLike, opts?: StatOptions & { bigint?: false }): Promise<Stats>;
export function lstat(path: PathLike, opts: StatOptions & { bigint: true }): Promise<BigIntStats>;
export function lstat(path: PathLike, opts?: StatOptions): Promise<Stats | BigIntStats>;
export function lstat(path: PathLike, options?: StatOptions): Promise<Stats | BigIntStats> {
  return statPath(path, false, statOptions(options));
}

async function statPath(path: PathLike, follow: boolean, options: { bigint: boolean }): Promise<Stats | BigIntStats> {
  const p = getValidatedPath(path);
  let io = readyIo();
  if (io === undefined) io = await ring();
  if (!io) return (follow ? nodeFsp.stat : nodeFsp.lstat)(path, options);
  const stx = statxBlocks.take();
  try {
    await io.statx(p as string, stx, { followSymlinks: follow, mask: STATX_MASK });
    return options.bigint ? toBigIntStats(stx) : toStats(stx);
  } finally {
    statxBlocks.give(stx);
  }
}

/** fsPromises.mkdir (mkdirat; `recursive` through node:fs, which returns the first directory it made). */
export async function mkdir(path: PathLike, options?: Mode | MakeDirectoryOptions | null): Promise<string | undefined> {
  const opts = typeof options === 'number' || typeof options === 'string' ? { mode: options } : (options ?? {});
  const { recursive = false, mode = 0o777 } = opts as MakeDirectoryOptions;
  const p = getValidatedPath(path);
  validateBoolean(recursive, 'options.recursive');
  const m = parseFileMode(mode, 'mode', 0o777);
  let io = readyIo();
  if (io === undefined) io = await ring();
  if (!io || recursive) return nodeFsp.mkdir(path, options as MakeDirectoryOptions);
  await io.mkdir(p as string, m);
  return undefined;
}

/** fsPromises.unlink (unlinkat). */
export async function unlink(path: PathLike): Promise<void> {
  const p = getValidatedPath(path);
  let io = readyIo();
  if (io === undefined) io = await ring();
  if (!io) return nodeFsp.unlink(path);
  await io.unlink(p as string, false);
}

/** fsPromises.rmdir (unlinkat with AT_REMOVEDIR; the deprecated `recursive` through node:fs). */
export async function rmdir(path: PathLike, options?: RmDirOptions): Promise<void> {
  const p = getValidatedPath(path);
  let io = readyIo();
  if (io === undefined) io = await ring();
  if (!io || options !== undefined) return nodeFsp.rmdir(path, options);
  await io.unlink(p as string, true);
}

/** fsPromises.rename (renameat2). */
export async function rename(oldPath: PathLike, newPath: PathLike): Promise<void> {
  const a = getValidatedPath(oldPath, 'oldPath');
  const b = getValidatedPath(newPath, 'newPath');
  let io = readyIo();
  if (io === undefined) io = await ring();
  if (!io) return nodeFsp.rename(oldPath, newPath);
  await io.rename(a as string, b as string);
}

/** fsPromises.link (linkat). */
export async function link(existingPath: PathLike, newPath: PathLike): Promise<void> {
  const a = getValidatedPath(existingPath, 'existingPath');
  const b = getValidatedPath(newPath, 'newPath');
  let io = readyIo();
  if (io === undefined) io = await ring();
  if (!io) return nodeFsp.link(existingPath, newPath);
  await io.hardlink(a as string, b as string);
}

/** fsPromises.symlink (symlinkat; `type` has no effect on Linux, but an unknown one is an error, as in node). */
export async function symlink(target: PathLike, path: PathLike, type?: string | null): Promise<void> {
  validateSymlinkType(type);
  const t = getValidatedPath(target, 'target');
  const p = getValidatedPath(path);
  let io = readyIo();
  if (io === undefined) io = await ring();
  if (!io) return nodeFsp.symlink(target, path, type);
  await io.symlink(t as string, p as string);
}

/** fsPromises.truncate (open 'r+' + ftruncate + close). */
export async function truncate(path: PathLike, len = 0): Promise<void> {
  let io = readyIo();
  if (io === undefined) io = await ring();
  if (!io) return nodeFsp.truncate(path, len);
  const fh = await open(path, 'r+');
  return closeAfter(fh.truncate(len), () => fh.close());
}

// No io_uring op exists for these: they are node:fs/promises' own.
export const access: typeof nodeFsp.access = nodeFsp.access;
export const copyFile: typeof nodeFsp.copyFile = nodeFsp.copyFile;
export const cp: typeof nodeFsp.cp = nodeFsp.cp;
export const chmod: typeof nodeFsp.chmod = nodeFsp.chmod;
export const lchmod: typeof nodeFsp.lchmod = nodeFsp.lchmod;
export const chown: typeof nodeFsp.chown = nodeFsp.chown;
export const lchown: typeof nodeFsp.lchown = nodeFsp.lchown;
export const utimes: typeof nodeFsp.utimes = nodeFsp.utimes;
export const lutimes: typeof nodeFsp.lutimes = nodeFsp.lutimes;
export const readdir: typeof nodeFsp.readdir = nodeFsp.readdir;
export const readlink: typeof nodeFsp.readlink = nodeFsp.readlink;
export const realpath: typeof nodeFsp.realpath = nodeFsp.realpath;
export const mkdtemp: typeof nodeFsp.mkdtemp = nodeFsp.mkdtemp;
export const opendir: typeof nodeFsp.opendir = nodeFsp.opendir;
export const watch: typeof nodeFsp.watch = nodeFsp.watch;
export const statfs: typeof nodeFsp.statfs = nodeFsp.statfs;
export const rm: typeof nodeFsp.rm = nodeFsp.rm;
export const constants: typeof nodeFsp.constants = nodeFsp.constants;

export type { Dirent };

export default {
  access, appendFile, chmod, chown, constants, copyFile, cp, lchmod, lchown, link, lstat, lutimes, mkdir, mkdtemp,
  open, opendir, readdir, readFile, readlink, realpath, rename, rm, rmdir, stat, statfs, symlink, truncate, unlink,
  utimes, watch, writeFile, backend,
};
