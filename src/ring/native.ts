/**
 * Loads the native shim (native/uring_shim.c): the syscall boundary and
 * nothing more. Loading is lazy: importing this module never throws; the
 * first use of `native` loads the addon, and if there is none for this system
 * (no prebuild fits, none was compiled, or not Linux) that use throws
 * ERR_URING_NATIVE_MISSING / ERR_URING_UNSUPPORTED_PLATFORM saying how to fix
 * it, which is what makes the fs API fall back to node:fs. On Linux the ring
 * layer imports even without the addon (its PAGE_SIZE, read at import, comes
 * from the kernel); off Linux importing it throws ERR_URING_UNSUPPORTED_PLATFORM.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { endianness } from 'node:os';
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
  /** getsockname(2) (peer false) or getpeername(2) (peer true) into `buf`: the address length, or -errno. */
  sockName(fd: number, peer: boolean, buf: Uint8Array): number;
  /** Marks fd as owned by this thread (closed by the shim's teardown if the thread's environment exits), or not: 0 or -errno. */
  ownFd(fd: number, owned: boolean): number;
  readonly RLIMIT_MEMLOCK: number;
  readonly RLIMIT_NOFILE: number;
  readonly MADV_DONTFORK: number;
  readonly MADV_DOFORK: number;
  readonly PAGE_SIZE: number;
}

/** Where the addon is looked for: the package root (prebuilds/, build/). */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const FIX =
  'install python3, make and a C compiler, then run `npm rebuild uring` ' +
  '(in a checkout of uring: `npm ci`, or `npx node-gyp rebuild`)';

function missing(detail: string, cause?: unknown): Error {
  const log = path.join(root, 'uring-install.log');
  const err = new Error(
    `uring: the native addon (uring_shim) is not available: ${detail}. To use io_uring, ${FIX}` +
      `${existsSync(log) ? `; the failed install build is logged in ${log}` : ''}.`,
    cause === undefined ? undefined : { cause },
  );
  (err as NodeJS.ErrnoException).code = 'ERR_URING_NATIVE_MISSING';
  return err;
}

/**
 * Finds and loads the addon the way node-gyp-build does (build/Release, then
 * build/Debug, then the prebuilds/<platform>-<arch>/ binary whose tags match
 * this runtime and libc). Throws ERR_URING_UNSUPPORTED_PLATFORM off Linux and
 * ERR_URING_NATIVE_MISSING when nothing loads.
 */
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
  let resolveAddon: (dir: string) => string;
  try {
    resolveAddon = (require('node-gyp-build') as { resolve(dir: string): string }).resolve;
  } catch (e) {
    throw missing(`its loader, node-gyp-build, is not installed (${(e as Error).message.split('\n')[0]})`, e);
  }
  let file: string;
  try {
    file = resolveAddon(root);
  } catch (e) {
    const why = (e as Error).message.split('\n')[0].replace(/^No native build was found for /, '');
    const redirected = process.env.URING_PREBUILD ? `, looked for in URING_PREBUILD=${process.env.URING_PREBUILD}` : ` in ${root}`;
    throw missing(`no prebuilt binary fits this system and none was built from source (${why})${redirected}`, e);
  }
  try {
    return require(file) as NativeShim;
  } catch (e) {
    throw missing(`${file} does not load (${(e as Error).message.split('\n')[0]})`, e);
  }
}

let failure: Error | null = null;

/**
 * Loads the addon now (once) and makes `native` the addon itself; throws the
 * reason when it cannot be loaded (every later use throws the same error).
 */
export function loadNative(): NativeShim {
  if (native !== placeholder) return native;
  if (failure) throw failure;
  try {
    native = load();
  } catch (e) {
    failure = e as Error;
    throw failure;
  }
  return native;
}

/**
 * The kernel's page size without the addon: AT_PAGESZ from /proc/self/auxv
 * (where sysconf(_SC_PAGESIZE) gets it too), so PAGE_SIZE stays true and the
 * modules that read it at import (memory.ts) still import when the addon is
 * missing. Null off Linux or when auxv is unreadable.
 */
function auxvPageSize(): number | null {
  if (process.platform !== 'linux') return null;
  let auxv: Buffer;
  try {
    auxv = readFileSync('/proc/self/auxv');
  } catch {
    return null;
  }
  const AT_PAGESZ = 6;
  // Pairs of native words (a_type, a_val), ended by AT_NULL.
  const word = ['x64', 'arm64', 'ppc64', 's390x', 'riscv64', 'loong64', 'mips64el'].includes(process.arch) ? 8 : 4;
  const le = endianness() === 'LE';
  for (let at = 0; at + 2 * word <= auxv.length; at += 2 * word) {
    const read = (o: number): number =>
      word === 8 ? Number(le ? auxv.readBigUInt64LE(o) : auxv.readBigUInt64BE(o)) : le ? auxv.readUInt32LE(o) : auxv.readUInt32BE(o);
    const type = read(at);
    if (type === 0) break;
    if (type === AT_PAGESZ) return read(at + word);
  }
  return null;
}

/**
 * Stands for the addon until it is first used: any property read loads it
 * (and re-points `native` at it, so later reads see the addon itself, with no
 * indirection on the hot path). If it cannot be loaded, every use throws the
 * reason, except PAGE_SIZE, which is read from the kernel directly.
 */
const placeholder: NativeShim = new Proxy({} as NativeShim, {
  get(_, key) {
    if (typeof key === 'symbol') return undefined;
    let shim: NativeShim;
    try {
      shim = loadNative();
    } catch (e) {
      if (key === 'PAGE_SIZE') {
        const size = auxvPageSize();
        if (size !== null) return size;
      }
      throw e;
    }
    const value = (shim as unknown as Record<string, unknown>)[key];
    return typeof value === 'function' ? value.bind(shim) : value;
  },
  set(_, key, value) {
    (loadNative() as unknown as Record<PropertyKey, unknown>)[key] = value;
    return true;
  },
  has(_, key) {
    return key in loadNative();
  },
});

/**
 * The native shim. An ES module live binding: the placeholder above until the
 * first use, then the addon's own exports object, so `native.enter(...)` on
 * the hot path is a plain property call.
 */
export let native: NativeShim = placeholder;
