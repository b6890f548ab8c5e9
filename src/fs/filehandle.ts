/**
 * The FileHandle of uring/fs: Node's own FileHandle class, extended.
 *
 * Node's class is not exported, so it is taken from a file node:fs itself
 * opens (once, at the first open). Extending it keeps everything node's
 * machinery checks and relies on — `instanceof FileHandle` (so
 * fs.createReadStream(path, { fd: handle }) and fsPromises.readFile(handle)
 * accept it), EventEmitter and its 'close' event, close() that waits for
 * operations in flight (its reference count), createReadStream,
 * createWriteStream, readLines, [Symbol.asyncDispose] — while every I/O
 * method is ours, on io_uring, with node's argument rules and results. The
 * "native handle" underneath is a small object holding the fd and closing
 * it through the ring.
 *
 * What cannot work: transferring the handle to a worker (postMessage with
 * it in the transfer list): node transfers its native handle, and ours is
 * not one (DataCloneError). A handle dropped without close() is closed when
 * it is collected, with node's warnings.
 */
import { AsyncResource } from 'node:async_hooks';
import fs, { type BigIntStats, type Stats } from 'node:fs';
import type fsp from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { IORING_OP_FTRUNCATE } from '../abi/constants.js';
import { statx as SX } from '../abi/structs.js';
import { S_IFMT, S_IFREG, statxSize } from '../abi/statx.js';
import type { IO } from '../driver/io.js';
import { invalidArgType, invalidArgValue, withCode } from '../ring/errors.js';
import { holdFdForThread, releaseFdOfThread } from '../ring/thread-fds.js';
import { nodeFsp } from './node.js';
import { STATX_MASK, toBigIntStats, toStats } from './stats.js';
import {
  checkAborted, fileTooLarge, getOptions, invalidStateError, IO_MAX_LENGTH, isCustomIterable, MAX_USER_ID,
  parseFileMode, READ_CHUNK, READ_UNKNOWN_CHUNK, validateAbortSignal, validateBoolean, validateBufferArray,
  validateEncoding, validateInteger, validateObjectOrNull, validateOffsetLengthRead, validateOffsetLengthWrite,
  validateStringAfterArrayBufferView, WRITE_CHUNK,
} from './validate.js';

/** The IO of this thread's backend, looked up per call (a new ring after an identity change). */
/** This thread's ring for a handle's next call; null once the fs backend has moved to node:fs (see backend.ts). */
export type IoSource = () => IO | null;

type NodeFileHandle = fsp.FileHandle;
type NodeFileHandleClass = new (handle: unknown) => NodeFileHandle;

interface Internals {
  Base: NodeFileHandleClass;
  kRef: symbol;
  kUnref: symbol;
  kClosePromise: symbol;
}
let internals: Internals | null = null;

function symbolNamed(symbols: symbol[], name: string): symbol {
  const s = symbols.find((x) => x.description === name);
  if (!s) throw new Error(`uring/fs: node's FileHandle has no ${name} (Node ${process.version} is not supported)`);
  return s;
}

let probing: Promise<Internals> | null = null;

/**
 * Node's FileHandle class and the private symbols of its reference count,
 * from a file node:fs opens itself — once per thread, however many opens
 * race to be first (each probe is a node:fs open in the thread pool, and one
 * still in flight when a worker exits is an fd node never closes).
 */
function nodeInternals(): Promise<Internals> {
  if (internals) return Promise.resolve(internals);
  probing ??= (async () => {
    const probe = await nodeFsp.open(fileURLToPath(import.meta.url), 'r');
    try {
      const Base = probe.constructor as NodeFileHandleClass;
      const proto = Object.getOwnPropertySymbols(Base.prototype);
      internals = {
        Base,
        kRef: symbolNamed(proto, 'kRef'),
        kUnref: symbolNamed(proto, 'kUnref'),
        kClosePromise: symbolNamed(Object.getOwnPropertySymbols(probe), 'kClosePromise'),
      };
    } finally {
      await probe.close();
    }
    return internals;
  })();
  return probing;
}

/** Closes what was collected without close(), as node does for its own FileHandles. */
const collected = new FinalizationRegistry<number>((fd) => {
  process.emitWarning(`Closing file descriptor ${fd} on garbage collection`);
  process.emitWarning(
    'Closing a FileHandle object on garbage collection is deprecated. Please close FileHandle objects explicitly ' +
      'using FileHandle.prototype.close(). In the future, an error will be thrown if a file descriptor is closed during garbage collection.',
    'DeprecationWarning', 'DEP0137',
  );
  // Released and closed in one step: an asynchronous close could be lost if the thread exits before it runs.
  releaseFdOfThread(fd);
  try {
    fs.closeSync(fd);
  } catch {
    // already closed by other means: nothing to do, as node's own GC close
  }
});

/**
 * A file position as node's FileHandle methods take it: a non-negative safe
 * integer is that offset; anything else (null, negative, fractional, a
 * bigint, which node 20's promise read/write also ignore) means the current
 * position, as libuv reads a negative offset.
 */
function filePosition(position: unknown): number {
  return typeof position === 'number' && Number.isSafeInteger(position) && position >= 0 ? position : -1;
}

/** A view over a resizable ArrayBuffer: the ring refuses such memory (ring/memory.ts), node:fs's own code takes it. */
function isResizableView(value: unknown): boolean {
  return ArrayBuffer.isView(value) && (value.buffer as { resizable?: boolean }).resizable === true;
}

/** What node's FileHandle calls its native handle: the fd, close(), closeSync(), getAsyncId(). */
class RingFdHandle {
  readonly fd: number;
  readonly #io: IoSource;
  #asyncId = -1;

  constructor(fd: number, io: IoSource) {
    this.fd = fd;
    this.#io = io;
    collected.register(this, fd, this);
    // A worker that exits with the handle open: its teardown closes the fd, as node's does for its handles.
    holdFdForThread(fd);
  }

  close(): Promise<void> {
    collected.unregister(this);
    releaseFdOfThread(this.fd);
    const io = this.#io();
    if (io === null) return closeNode(this.fd);
    return io.close(this.fd).then(() => undefined);
  }

  closeSync(): void {
    collected.unregister(this);
    releaseFdOfThread(this.fd);
    fs.closeSync(this.fd);
  }

  getAsyncId(): number {
    if (this.#asyncId < 0) this.#asyncId = new AsyncResource('FILEHANDLE').asyncId();
    return this.#asyncId;
  }
}

const fchmod = promisify(fs.fchmod);
const fchown = promisify(fs.fchown);
const futimes = promisify(fs.futimes);
const ftruncateNode = promisify(fs.ftruncate);
const closeNode = promisify(fs.close);

/** Node's ERR_INTERNAL_ASSERTION (a method called on something that is not a FileHandle). */
function internalAssertion(message: string): Error {
  return withCode(new Error(`${message}\nThis is caused by either a bug in Node.js or incorrect usage of Node.js internals.\n` +
    'Please open an issue with this stack trace at https://github.com/nodejs/node/issues\n'), 'ERR_INTERNAL_ASSERTION');
}

function fileClosed(syscall: string): Error {
  return Object.assign(new Error('file closed'), { code: 'EBADF', syscall });
}

/** Wraps a call the way node's fsCall does: EBADF when closed; the handle referenced while the call runs. */
async function fsCall<T>(fh: UringFileHandle, syscall: string, fn: (fd: number) => Promise<T>): Promise<T> {
  if (!isUringFileHandle(fh)) throw internalAssertion('handle must be an instance of FileHandle');
  const fd = fh.fd;
  if (fd === -1) throw fileClosed(syscall);
  const { kRef, kUnref } = internals!;
  const refs = fh as unknown as Record<symbol, () => void>;
  refs[kRef]();
  try {
    return await fn(fd);
  } finally {
    refs[kUnref]();
  }
}

/** The methods our FileHandle adds over node's; the class itself is made once node's is known. */
export interface UringFileHandle extends NodeFileHandle {
  readonly fd: number;
}

type ReadResult<T> = { bytesRead: number; buffer: T };

let FileHandleClass: (new (fd: number, io: IoSource) => UringFileHandle) | null = null;

/** True for a FileHandle of uring/fs. */
export function isUringFileHandle(value: unknown): value is UringFileHandle {
  return FileHandleClass !== null && value instanceof FileHandleClass;
}

/** A FileHandle of uring/fs for an open fd. */
export async function makeFileHandle(fd: number, io: IoSource): Promise<UringFileHandle> {
  // One class for all: concurrent first opens share the one definition.
  if (!FileHandleClass) {
    const found = await nodeInternals();
    FileHandleClass ??= defineFileHandle(found);
  }
  return new FileHandleClass(fd, io);
}

/** readFileHandle: the whole file from the current position, node's chunking, abort checks and result types. */
export async function readAll(io: IO, fd: number, options: Record<string, any>): Promise<Buffer | string> {
  const { signal } = options;
  const encoding = options.encoding ?? undefined;
  checkAborted(signal);
  const stx = new Uint8Array(SX.size);
  await io.statx(null, stx, { fd, mask: STATX_MASK });
  checkAborted(signal);
  let size = 0;
  if ((new Uint16Array(stx.buffer, SX.off.stx_mode, 1)[0] & S_IFMT) === S_IFREG) size = statxSize(stx);
  if (size > IO_MAX_LENGTH) throw fileTooLarge(size);
  if (size === 0) {
    // Unknown size (procfs, pipes, devices): read until EOF.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      checkAborted(signal);
      const chunk = Buffer.allocUnsafeSlow(READ_UNKNOWN_CHUNK);
      const n = await io.read(fd, chunk, -1);
      if (n === 0) break;
      chunks.push(n === chunk.length ? chunk : chunk.subarray(0, n));
      total += n;
    }
    const data = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
    return encoding ? data.toString(encoding) : data;
  }
  const buffer = Buffer.allocUnsafeSlow(size);
  let got = 0;
  while (got < size) {
    checkAborted(signal);
    const n = await io.read(fd, buffer, -1, { offset: got, length: Math.min(size - got, READ_CHUNK) });
    if (n === 0) break;
    got += n;
  }
  const data = got === size ? buffer : buffer.subarray(0, got);
  return encoding ? data.toString(encoding) : data;
}

/** writeFileHandle: node's chunking (512 KiB), iterables and streams, abort checks between writes. */
export async function writeAll(io: IO, fd: number, data: unknown, signal: AbortSignal | undefined, encoding: BufferEncoding | undefined): Promise<void> {
  checkAborted(signal);
  if (isCustomIterable(data)) {
    for await (const chunk of data as AsyncIterable<unknown>) {
      checkAborted(signal);
      const bytes = ArrayBuffer.isView(chunk) && !isResizableView(chunk) ? chunk : ArrayBuffer.isView(chunk) ? Buffer.from(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)) : Buffer.from(chunk as string, encoding || 'utf8');
      await writeBytes(io, fd, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), signal, true);
    }
    return;
  }
  let view = data as ArrayBufferView;
  if (isResizableView(view)) view = Buffer.from(new Uint8Array(view.buffer, view.byteOffset, view.byteLength)); // the ring refuses resizable memory
  await writeBytes(io, fd, new Uint8Array(view.buffer, view.byteOffset, view.byteLength), signal, false);
}

async function writeBytes(io: IO, fd: number, bytes: Uint8Array, signal: AbortSignal | undefined, checkAfter: boolean): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    if (!checkAfter) checkAborted(signal);
    done += await io.write(fd, bytes, -1, { offset: done, length: Math.min(WRITE_CHUNK, bytes.byteLength - done) });
    if (checkAfter) checkAborted(signal);
  }
}

/** Validates writeFile's data and options as node does; returns the bytes (or the iterable) and the options. */
export function writeFileArgs(data: unknown, options: unknown, defaults: Record<string, unknown>): { data: unknown; options: Record<string, any>; flush: boolean } {
  const opts = getOptions(options, defaults);
  const flush = opts.flush ?? false;
  validateBoolean(flush, 'options.flush');
  let bytes = data;
  if (!ArrayBuffer.isView(data) && !isCustomIterable(data)) {
    validateStringAfterArrayBufferView(data, 'data');
    bytes = Buffer.from(data, (opts.encoding as BufferEncoding) || 'utf8');
  }
  validateAbortSignal(opts.signal);
  return { data: bytes, options: opts, flush };
}

function defineFileHandle({ Base, kClosePromise }: Internals): new (fd: number, io: IoSource) => UringFileHandle {
  const locked = new WeakSet<object>();

  /**
   * Each I/O method runs on the thread's ring; when there is none any more
   * (the backend moved to node:fs, e.g. after process.setuid() to an identity
   * that cannot create one), it runs node's own FileHandle method on the same
   * fd, so open handles keep working and can always be closed.
   */
  class FileHandle extends (Base as unknown as new (handle: unknown) => NodeFileHandle) {
    readonly #io: IoSource;

    constructor(fd: number, io: IoSource) {
      super(new RingFdHandle(fd, io));
      this.#io = io;
    }

    /** The ring for a call on `h`; null (node's own method, which rejects such a call as node does) when `h` is no FileHandle of ours. */
    static #ringOf(h: unknown): IO | null {
      return typeof h === 'object' && h !== null && #io in h ? (h as FileHandle).#io() : null;
    }

    /** filehandle.read(buffer, offset?, length?, position?), read(buffer, options) or read(options). */
    override read(bufferOrParams?: unknown, offset?: unknown, length?: unknown, position?: unknown): Promise<any> {
      const io = FileHandle.#ringOf(this);
      if (io === null || isResizableView(bufferOrParams) || isResizableView((bufferOrParams as { buffer?: unknown } | null)?.buffer)) return super.read(bufferOrParams as any, offset as any, length as any, position as any);
      return fsCall(this, 'read', async (fd) => {
        let buffer = bufferOrParams as ArrayBufferView;
        if (!ArrayBuffer.isView(buffer)) {
          if (bufferOrParams !== undefined) validateObjectOrNull(bufferOrParams, 'options');
          const p = (bufferOrParams ?? {}) as Record<string, any>;
          buffer = p.buffer ?? Buffer.alloc(16384);
          offset = p.offset ?? 0;
          length = p.length ?? buffer.byteLength - (offset as number);
          position = p.position ?? null;
          if (!ArrayBuffer.isView(buffer)) throw invalidArgType('buffer', ['Buffer', 'TypedArray', 'DataView'], buffer);
        }
        if (offset !== null && typeof offset === 'object') {
          const o = offset as Record<string, any>;
          offset = o.offset ?? 0;
          length = o.length ?? buffer.byteLength - (offset as number);
          position = o.position ?? null;
        }
        if (offset === null || offset === undefined) offset = 0;
        else validateInteger(offset, 'offset', 0);
        length ??= buffer.byteLength - (offset as number);
        if (length === 0) return { bytesRead: 0, buffer };
        if (buffer.byteLength === 0) throw invalidArgValue('buffer', buffer, 'is empty and cannot be written');
        validateOffsetLengthRead(offset as number, length as number, buffer.byteLength);
        position = filePosition(position);
        const bytesRead = await io.read(fd, buffer, position as number, { offset: offset as number, length: length as number });
        return { bytesRead, buffer } as ReadResult<ArrayBufferView>;
      });
    }

    override readv(buffers: unknown, position?: unknown): Promise<any> {
      const io = FileHandle.#ringOf(this);
      if (io === null || (Array.isArray(buffers) && buffers.some(isResizableView))) return super.readv(buffers as any, position as any);
      return fsCall(this, 'readv', async (fd) => {
        validateBufferArray(buffers);
        const pos = filePosition(position);
        const bytesRead = await io.readv(fd, buffers as ArrayBufferView[], pos);
        return { bytesRead, buffers };
      });
    }

    /** filehandle.write(buffer, offset?, length?, position?), write(buffer, options) or write(string, position?, encoding?). */
    override write(buffer: unknown, offsetOrOptions?: unknown, length?: unknown, position?: unknown): Promise<any> {
      const io = FileHandle.#ringOf(this);
      if (io === null || isResizableView(buffer)) return super.write(buffer as any, offsetOrOptions as any, length as any, position as any);
      return fsCall(this, 'write', async (fd) => {
        if ((buffer as ArrayBufferView | undefined)?.byteLength === 0) return { bytesWritten: 0, buffer };
        let offset = offsetOrOptions;
        if (ArrayBuffer.isView(buffer)) {
          if (typeof offset === 'object') {
            const o = (offsetOrOptions ?? {}) as Record<string, any>;
            offset = o.offset ?? 0;
            length = o.length ?? buffer.byteLength - (offset as number);
            position = o.position ?? null;
          }
          if (offset === null || offset === undefined) offset = 0;
          else validateInteger(offset, 'offset', 0);
          if (typeof length !== 'number') length = buffer.byteLength - (offset as number);
          const pos = filePosition(position);
          validateOffsetLengthWrite(offset as number, length as number, buffer.byteLength);
          const bytesWritten = await io.write(fd, buffer, pos, { offset: offset as number, length: length as number });
          return { bytesWritten, buffer };
        }
        validateStringAfterArrayBufferView(buffer, 'buffer');
        validateEncoding(buffer, length);
        const bytes = Buffer.from(buffer, (length as BufferEncoding) || 'utf8');
        const bytesWritten = await io.write(fd, bytes, filePosition(offset));
        return { bytesWritten, buffer };
      });
    }

    override writev(buffers: unknown, position?: unknown): Promise<any> {
      const io = FileHandle.#ringOf(this);
      if (io === null || (Array.isArray(buffers) && buffers.some(isResizableView))) return super.writev(buffers as any, position as any);
      return fsCall(this, 'writev', async (fd) => {
        validateBufferArray(buffers);
        const pos = filePosition(position);
        if ((buffers as unknown[]).length === 0) return { bytesWritten: 0, buffers };
        const bytesWritten = await io.writev(fd, buffers as ArrayBufferView[], pos);
        return { bytesWritten, buffers };
      });
    }

    override stat(options: { bigint?: boolean } = { bigint: false }): Promise<any> {
      const io = FileHandle.#ringOf(this);
      if (io === null) return super.stat(options as any);
      return fsCall(this, 'fstat', async (fd): Promise<Stats | BigIntStats> => {
        const stx = new Uint8Array(SX.size);
        await io.statx(null, stx, { fd, mask: STATX_MASK });
        return options?.bigint ? toBigIntStats(stx) : toStats(stx);
      });
    }

    override sync(): Promise<void> {
      const io = FileHandle.#ringOf(this);
      if (io === null) return super.sync();
      return fsCall(this, 'fsync', async (fd) => void (await io.fsync(fd, false)));
    }

    override datasync(): Promise<void> {
      const io = FileHandle.#ringOf(this);
      if (io === null) return super.datasync();
      return fsCall(this, 'fdatasync', async (fd) => void (await io.fsync(fd, true)));
    }

    override truncate(len: unknown = 0): Promise<void> {
      const io = FileHandle.#ringOf(this);
      if (io === null) return super.truncate(len as any);
      return fsCall(this, 'ftruncate', async (fd) => {
        const n = Math.max(0, validateInteger(len, 'len'));
                if (io.driver.supports(IORING_OP_FTRUNCATE)) await io.ftruncate(fd, n);
        else await ftruncateNode(fd, n);
      });
    }

    override chmod(mode: unknown): Promise<void> {
      return fsCall(this, 'fchmod', (fd) => fchmod(fd, parseFileMode(mode, 'mode')));
    }

    override chown(uid: unknown, gid: unknown): Promise<void> {
      return fsCall(this, 'fchown', (fd) => {
        validateInteger(uid, 'uid', -1, MAX_USER_ID);
        validateInteger(gid, 'gid', -1, MAX_USER_ID);
        return fchown(fd, uid as number, gid as number);
      });
    }

    override utimes(atime: unknown, mtime: unknown): Promise<void> {
      return fsCall(this, 'futimes', (fd) => futimes(fd, atime as number, mtime as number));
    }

    override readFile(options?: unknown): Promise<any> {
      const io = FileHandle.#ringOf(this);
      if (io === null) return super.readFile(options as any);
      return fsCall(this, 'readFile', (fd) => readAll(io, fd, getOptions(options, { flag: 'r' })));
    }

    override writeFile(data: unknown, options?: unknown): Promise<void> {
      const io = FileHandle.#ringOf(this);
      if (io === null) return super.writeFile(data as any, options as any);
      return fsCall(this, 'writeFile', (fd) => {
        const args = writeFileArgs(data, options, { encoding: 'utf8', mode: 0o666, flag: 'w', flush: false });
        return writeAll(io, fd, args.data, args.options.signal, args.options.encoding);
      });
    }

    override appendFile(data: unknown, options?: unknown): Promise<void> {
      return this.writeFile(data, options);
    }

    /** A byte-oriented ReadableStream of the file, read through io_uring. */
    override readableWebStream(options: { type?: string } = {}): any {
      if (this.fd === -1) throw invalidStateError('The FileHandle is closed');
      if ((this as unknown as Record<symbol, unknown>)[kClosePromise]) throw invalidStateError('The FileHandle is closing');
      if (locked.has(this)) throw invalidStateError('The FileHandle is locked');
      if (options?.type !== undefined && typeof options.type !== 'string') throw invalidArgType('options.type', ['string'], options.type);
      locked.add(this);
      const { kRef, kUnref } = internals!;
      const refs = this as unknown as Record<symbol, () => void>;
      const read = (view: ArrayBufferView): Promise<{ bytesRead: number }> => this.read(view, 0, view.byteLength);
      let done = false;
      let controller: ReadableByteStreamController | undefined;
      const finish = (): void => {
        if (done) return;
        done = true;
        refs[kUnref]();
      };
      const readable = new ReadableStream({
        type: 'bytes',
        autoAllocateChunkSize: 16384,
        start(c) {
          controller = c;
        },
        async pull(c) {
          const view = c.byobRequest!.view!;
          const { bytesRead } = await read(view);
          if (done) return;
          if (bytesRead === 0) {
            finish();
            c.close();
          }
          c.byobRequest!.respond(bytesRead);
        },
        cancel() {
          finish();
        },
      });
      refs[kRef]();
      // Closing the handle ends the stream, even with a reader holding it (node cancels it internally).
      (this as unknown as NodeJS.EventEmitter).once('close', () => {
        if (done) return;
        finish();
        try {
          controller!.close();
          controller!.byobRequest?.respond(0);
        } catch {
          // already closed or errored
        }
      });
      return readable;
    }
  }
  return FileHandle as unknown as new (fd: number, io: IoSource) => UringFileHandle;
}

