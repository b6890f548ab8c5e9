/**
 * uring/register — `node --import uring/register app.js` makes node:fs/promises (and `fs.promises`,
 * which is the same object) the io_uring implementation of uring/fs for the whole application, its
 * dependencies included, whether they `import` it or `require` it.
 *
 * How: node keeps one exports object for fs/promises; CommonJS `require('fs/promises')`,
 * `require('fs').promises` and ESM default imports all hand out that object, and ESM named imports are
 * bindings copied from it, which `module.syncBuiltinESMExports()` refreshes. So the functions uring/fs
 * implements itself are written into that object in place, then the ESM bindings are synced. Functions
 * uring/fs takes from node unchanged stay node's.
 *
 * `fs.createReadStream` / `fs.createWriteStream` are wrapped so that `{ fd: fileHandle }` with a uring
 * FileHandle builds the stream on that handle's own read/write/close (node's stream constructors accept
 * only node's FileHandle); every other call goes to node's functions untouched.
 *
 * The backend is chosen when this module loads, before anything is replaced: choosing it imports the
 * driver (and, on failure, the diagnosis), and Node 20's ESM loader reads every module's source through
 * fs/promises' readFile, so a replaced readFile asked to load the driver while the backend is being
 * chosen would wait for itself. When no ring can be created the same fallback as uring/fs applies: the
 * replaced functions run node's originals (uring/fs copies them before they are replaced).
 *
 * On Node 20 `--import` runs in the main thread only: worker threads keep node's fs/promises.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import * as facade from './index.js';
import { backend } from './backend.js';
import type { BackendInfo } from './backend.js';

type Callback = (err: Error | null, ...rest: unknown[]) => void;

/** Why the application's fs/promises is (or is not) on io_uring: the backend uring/fs chose at load. */
export const registered: { readonly backend: BackendInfo; readonly replaced: readonly string[] } = await install();

async function install(): Promise<{ backend: BackendInfo; replaced: string[] }> {
  const info = await backend();
  const target = fsp as unknown as Record<string, unknown>;
  const ours = facade as unknown as Record<string, unknown>;
  const replaced: string[] = [];
  for (const name of Object.keys(target)) {
    const fn = ours[name];
    if (typeof fn !== 'function' || fn === target[name] || typeof target[name] !== 'function') continue;
    target[name] = fn;
    replaced.push(name);
  }
  patchStreams();
  // ESM named imports of node:fs/promises and node:fs are copies of the exports: refresh them.
  syncBuiltinESMExports();
  return { backend: info, replaced };
}

/** node's ERR_METHOD_NOT_IMPLEMENTED, for the combination node's streams also refuse. */
function methodNotImplemented(method: string): Error {
  const err = new Error(`The ${method} method is not implemented`);
  Object.defineProperty(err, 'code', { value: 'ERR_METHOD_NOT_IMPLEMENTED', enumerable: true, writable: true, configurable: true });
  return err;
}

/**
 * The `fs` option of a node stream over a uring FileHandle: each callback operation node's
 * ReadStream/WriteStream makes (pread/pwrite/pwritev/fsync/close on the fd) becomes the FileHandle's
 * promise method, so the I/O goes through the ring and closing the stream closes the handle.
 */
function fileHandleOps(fh: facade.FileHandle): Record<string, (...args: any[]) => void> {
  return {
    open: () => {
      throw methodNotImplemented('open()');
    },
    close: (_fd: number, cb: Callback) => {
      fh.close().then(() => cb(null), cb);
    },
    fsync: (_fd: number, cb: Callback) => {
      fh.sync().then(() => cb(null), cb);
    },
    read: (_fd: number, buf: Buffer, offset: number, length: number, position: number | null | undefined, cb: Callback) => {
      fh.read(buf, offset, length, position ?? null).then((r) => cb(null, r.bytesRead, r.buffer), (err) => cb(err, 0, buf));
    },
    write: (_fd: number, buf: Buffer, offset: number, length: number, position: number | null | undefined, cb: Callback) => {
      fh.write(buf, offset, length, position ?? null).then((r) => cb(null, r.bytesWritten, r.buffer), (err) => cb(err, 0, buf));
    },
    writev: (_fd: number, buffers: Buffer[], position: number | null | undefined, cb: Callback) => {
      fh.writev(buffers, position ?? null).then((r) => cb(null, r.bytesWritten, r.buffers), (err) => cb(err, 0, buffers));
    },
  };
}

/** The options node's stream constructors get for `{ fd: ourFileHandle }`, or null to pass the call through. */
function streamOptions(options: unknown): { fh: facade.FileHandle; options: Record<string, unknown> } | null {
  if (options === null || typeof options !== 'object') return null;
  const fh = (options as { fd?: unknown }).fd;
  if (!(fh instanceof facade.FileHandle)) return null;
  // node refuses a FileHandle together with custom fs operations; so do we.
  if ((options as { fs?: unknown }).fs) throw methodNotImplemented('FileHandle with fs');
  return { fh, options: { ...(options as Record<string, unknown>), fd: fh.fd, fs: fileHandleOps(fh) } };
}

/** Closing the FileHandle closes its stream, as node does for its own FileHandle ('close' event). */
function followClose<S extends { close(): void }>(fh: facade.FileHandle, stream: S): S {
  const emitter = fh as unknown as { on?: (event: string, fn: () => void) => void };
  if (typeof emitter.on === 'function') emitter.on('close', () => stream.close());
  return stream;
}

function patchStreams(): void {
  const nodeCreateReadStream = fs.createReadStream;
  const nodeCreateWriteStream = fs.createWriteStream;
  const target = fs as unknown as Record<string, unknown>;
  target.createReadStream = function createReadStream(path: fs.PathLike, options?: unknown) {
    const ours = streamOptions(options);
    if (!ours) return nodeCreateReadStream(path, options as Parameters<typeof fs.createReadStream>[1]);
    return followClose(ours.fh, nodeCreateReadStream(path, ours.options as Parameters<typeof fs.createReadStream>[1]));
  };
  target.createWriteStream = function createWriteStream(path: fs.PathLike, options?: unknown) {
    const ours = streamOptions(options);
    if (!ours) return nodeCreateWriteStream(path, options as Parameters<typeof fs.createWriteStream>[1]);
    return followClose(ours.fh, nodeCreateWriteStream(path, ours.options as Parameters<typeof fs.createWriteStream>[1]));
  };
}
