/**
 * driver/ — io_uring on Node's event loop. One driver (ring) per thread,
 * created lazily on first use with the best flags this kernel offers.
 */
import { Driver, type DriverOptions } from './driver.js';
import { IO } from './io.js';

export { Driver, type DriverOptions, type Completion, MAX_TIMEOUT_MS } from './driver.js';
export { IO, type OpOptions, toPathBuffer } from './io.js';
export { allocAlignedBuffer } from '../ring/memory.js';

let current: IO | null = null;

/**
 * This thread's IO (and its driver), created on first call. Throws a
 * UringError if no ring can be made. After the process changes its identity
 * (setuid & co.) the old ring refuses work and a new one, acting as the new
 * identity, takes its place; the old one is cancelled and drained.
 */
export function io(options?: DriverOptions): IO {
  if (current !== null && (current.driver.identityChanged || current.driver.closed)) {
    void current.driver.close();
    current = null;
  }
  if (current === null) current = new IO(new Driver(options));
  return current;
}

/** Closes this thread's driver: cancels and drains what is in flight. */
export async function closeIo(): Promise<void> {
  const c = current;
  current = null;
  if (c) await c.driver.close();
}
