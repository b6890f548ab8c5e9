/**
 * Identity changes of this process.
 *
 * A ring acts with the credentials of the task that created it (io_uring
 * workers inherit them; see IORING_FEAT_CUR_PERSONALITY in io_uring_setup(2)).
 * After process.setuid() & co., a ring created before would keep acting as
 * the old identity — the hole that made Node disable libuv's io_uring by
 * default. Every identity-changing function of `process` is wrapped once to
 * advance an epoch; a ring compares its creation epoch before submitting.
 */

interface IdentityState {
  epoch: number;
}

// One state per process, even if two copies of this package are loaded.
const KEY = Symbol.for('uring.credentials');
const holder = globalThis as unknown as { [KEY]?: IdentityState };
const state: IdentityState = holder[KEY] ?? install();

function install(): IdentityState {
  const created: IdentityState = { epoch: 0 };
  holder[KEY] = created;
  const proc = process as unknown as Record<string, unknown>;
  for (const name of ['setuid', 'setgid', 'seteuid', 'setegid', 'setgroups', 'initgroups']) {
    const original = proc[name];
    if (typeof original !== 'function') continue; // not on this platform, or in a worker
    const wrapped = function (this: unknown, ...args: unknown[]): unknown {
      try {
        return (original as (...a: unknown[]) => unknown).apply(this, args);
      } finally {
        created.epoch++; // even a failed call may have changed part of the identity
      }
    };
    Object.defineProperty(wrapped, 'name', { value: name });
    proc[name] = wrapped;
  }
  return created;
}

/** The current identity epoch; it advances on every identity-changing call. */
export function credentialEpoch(): number {
  return state.epoch;
}

/** The process's ids now, for messages. */
export function currentIds(): { uid: number; gid: number; euid: number; egid: number } {
  return { uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1, euid: process.geteuid?.() ?? -1, egid: process.getegid?.() ?? -1 };
}
