/**
 * The backend of the fs API, chosen once per thread: io_uring when a ring
 * can be created, otherwise node:fs with the reason recorded. The choice can
 * be forced with URING_BACKEND=node (or =io_uring to fail loudly).
 */
import type { IO } from '../driver/io.js';

export interface BackendInfo {
  name: 'io_uring' | 'node:fs';
  /** Why the fallback is in use: the error of the failed ring setup, or the environment switch. */
  reason?: string;
  /** The error behind the fallback, if any (a UringError with its explanation). */
  error?: Error;
}

let chosen: { info: BackendInfo; io: (() => IO) | null } | null = null;
let loading: Promise<{ info: BackendInfo; io: (() => IO) | null }> | null = null;

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
export function resolveBackend(): Promise<{ info: BackendInfo; io: (() => IO) | null }> {
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
      chosen = { info: { name: 'io_uring' }, io: () => driver.io() };
    } catch (e) {
      if (forced === 'io_uring') throw e;
      const err = e as NodeJS.ErrnoException;
      const message = err.message.split('\n').join(' ');
      const plain = typeof err.code === 'string' && !message.includes(err.code) ? `${err.code}: ${message}` : message;
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
  return (await resolveBackend()).info;
}
