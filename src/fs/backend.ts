/**
 * The backend of the fs API, chosen once per thread: io_uring when a ring
 * can be created, otherwise node:fs with the reason recorded. The choice can
 * be forced with URING_BACKEND=node (or =io_uring to fail loudly).
 *
 * The driver makes a new ring when the old one cannot serve any more (after
 * process.setuid() & co., or closeIo()). If the kernel refuses that one (the
 * new identity has no RLIMIT_MEMLOCK room, io_uring_group excludes it, …),
 * the backend moves to node:fs for good, with that reason; FileHandles that
 * are open go on with node's code on their fds.
 */
import type { IO } from '../driver/io.js';

export interface BackendInfo {
  name: 'io_uring' | 'node:fs';
  /** Why the fallback is in use: the error of the failed ring setup, or the environment switch. */
  reason?: string;
  /** The error behind the fallback, if any (a UringError with its explanation). */
  error?: Error;
}

type Chosen = { info: BackendInfo; io: (() => IO | null) | null };
let chosen: Chosen | null = null;
let loading: Promise<Chosen> | null = null;

/** This thread's IO, or null on the node:fs backend. */
export async function currentIo(): Promise<IO | null> {
  const b = chosen ?? (await resolveBackend());
  return b.io ? b.io() : null;
}

/** This thread's IO when the backend is known (null on node:fs); undefined until the first resolveBackend() settles. */
export function readyIo(): IO | null | undefined {
  if (chosen === null) return undefined;
  return chosen.io ? chosen.io() : null;
}

/** Resolves the backend (once). */
export function resolveBackend(): Promise<Chosen> {
  if (chosen) return Promise.resolve(chosen);
  loading ??= (async () => {
    const forced = process.env.URING_BACKEND;
    if (forced === 'node' || forced === 'node:fs') {
      chosen = { info: { name: 'node:fs', reason: 'URING_BACKEND=node forces the node:fs backend' }, io: null };
      return chosen;
    }
    try {
      const driver = await import('../driver/index.js');
      driver.io(); // create the ring now, so a failure selects the fallback
      const ringOrFallback = (): IO | null => {
        try {
          return driver.io();
        } catch (e) {
          if (forced === 'io_uring') throw e;
          const err = e as NodeJS.ErrnoException;
          const reason = `a new ring (process.getuid() ${process.getuid?.()}, after an identity change or closeIo()) could not be created: ${plainMessage(err)}`;
          chosen = { info: { name: 'node:fs', reason, error: err }, io: null };
          return null;
        }
      };
      chosen = { info: { name: 'io_uring' }, io: ringOrFallback };
    } catch (e) {
      if (forced === 'io_uring') throw e;
      const err = e as NodeJS.ErrnoException;
      const plain = plainMessage(err);
      // No addon for this system, or not Linux: that message is the story. A ring the kernel
      // refused: the full diagnosis, measured now that it is needed (uring/diagnose changes nothing on import).
      const reason = err.code === 'ERR_URING_NATIVE_MISSING' || err.code === 'ERR_URING_UNSUPPORTED_PLATFORM'
        ? plain
        : await import('../diagnose/index.js').then((d) => d.explain(err).summary).catch(() => plain);
      chosen = { info: { name: 'node:fs', reason, error: err }, io: null };
    }
    return chosen;
  })();
  return loading;
}

/** The active backend and, for the fallback, why. */
export async function backend(): Promise<BackendInfo> {
  const b = await resolveBackend();
  b.io?.(); // a ring that must be remade (identity change) is remade now, so the answer is the current one
  return (chosen ?? b).info;
}

/** An error as one line, led by its code. */
function plainMessage(err: NodeJS.ErrnoException): string {
  const message = err.message.split('\n').join(' ');
  return typeof err.code === 'string' && !message.includes(err.code) ? `${err.code}: ${message}` : message;
}
