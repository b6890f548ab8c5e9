/**
 * Loads the native shim (native/uring_shim.c): the syscall boundary and
 * nothing more. Importing the ring layer on a platform other than Linux, or
 * without the built addon, throws a clear error; the package root stays
 * importable because it loads this module lazily.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Opaque handle of a libuv poll watcher. */
export type Watcher = { readonly __watcher: unique symbol };
/** Opaque handle of a ring guarded for thread teardown (see native/uring_shim.c). */
export type RingGuard = { readonly __guard: unique symbol };

export interface NativeShim {
  /** io_uring_setup(2): fd (or registered index) or -errno. */
  setup(entries: number, params: Uint8Array): number;
  /** io_uring_enter(2): count or -errno; `arg` is an address (sigset or getevents_arg). */
  enter(fd: number, toSubmit: number, minComplete: number, flags: number, arg?: number, argSize?: number): number;
  /** io_uring_register(2): result or -errno. */
  register(fd: number, opcode: number, arg: number, nrArgs: number): number;
  /** mmap(2) of a ring region (fd >= 0) or anonymous shared memory (fd < 0). */
  mmap(fd: number, offset: number, length: number, hugetlb?: boolean): ArrayBuffer | number;
  /** Detaches then unmaps; idempotent; 0 or -errno. */
  munmap(region: ArrayBuffer): number;
  madvise(region: ArrayBuffer, advice: number): number;
  /** Address of the first byte of an ArrayBuffer, typed array or DataView (also over a SharedArrayBuffer). */
  addressOf(bytes: ArrayBuffer | ArrayBufferView): number;
  eventfd(): number;
  readEventfd(fd: number): number;
  close(fd: number): number;
  /** Watches fd for readability; the callback gets the poll events or a negative status. */
  watch(fd: number, onReadable: (events: number) => void): Watcher | number;
  watchRef(watcher: Watcher, keepAlive: boolean): void;
  unwatch(watcher: Watcher): void;
  /**
   * Hands the shim what it needs to tear a ring down if this thread's
   * environment exits with requests in flight: the ring fd and eventfd (closed
   * then), the region sizes [sqRingSize, cqRingSize, singleMmap ? 1 : 0], the
   * byte offsets [sq head, sq tail, cq head, cq tail, cq ring_mask, cqes,
   * CQE size], and the counter of requests in flight (see the contract in the
   * shim). Returns the guard or -errno.
   */
  guardRing(ringFd: number, eventFd: number, regions: Float64Array, offsets: Uint32Array, outstanding: Int32Array): RingGuard | number;
  /** The ring was drained by JavaScript and is being closed normally. */
  releaseRing(guard: RingGuard): void;
  /** getrlimit(2): [soft, hard], -1 meaning unlimited; or -errno. */
  getrlimit(resource: number): [number, number] | number;
  readonly RLIMIT_MEMLOCK: number;
  readonly RLIMIT_NOFILE: number;
  readonly MADV_DONTFORK: number;
  readonly MADV_DOFORK: number;
  readonly PAGE_SIZE: number;
}

function load(): NativeShim {
  if (process.platform !== 'linux') {
    const err = new Error(
      `uring: io_uring exists only on Linux; this is ${process.platform}. ` +
        `Use the fs API, which falls back to node:fs, or run on Linux.`,
    );
    (err as NodeJS.ErrnoException).code = 'ERR_URING_UNSUPPORTED_PLATFORM';
    throw err;
  }
  const require = createRequire(import.meta.url);
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const candidates = [
    path.join(root, 'build', 'Release', 'uring_shim.node'),
    path.join(root, 'build', 'Debug', 'uring_shim.node'),
  ];
  let lastError: unknown;
  for (const file of candidates) {
    try {
      return require(file) as NativeShim;
    } catch (e) {
      lastError = e;
      if ((e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') break;
    }
  }
  const err = new Error(
    `uring: the native shim is not built (${(lastError as Error)?.message}). ` +
      `Run \`npm ci\` (or \`npx node-gyp rebuild\`) in ${root}; it needs python3, make and a C compiler.`,
    { cause: lastError },
  );
  (err as NodeJS.ErrnoException).code = 'ERR_URING_NATIVE_MISSING';
  throw err;
}

export const native: NativeShim = load();
