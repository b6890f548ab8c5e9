/** Shared by the net tests. */
import { after } from 'node:test';

/**
 * Once the file's tests are done, a process still held open by something a
 * failed test left behind (a listening server, an op in flight) exits after
 * 5 s instead of hanging the suite; a clean run exits on its own before that
 * (the timer is unreferenced).
 */
export function exitWhenDone(): void {
  after(() => {
    setTimeout(() => {
      console.error('# net test: handles were left open by a failed test; exiting');
      process.exit(1);
    }, 5000).unref();
  });
}
