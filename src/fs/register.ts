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
 * `fs.createReadStream` / `fs.createWriteStream` need nothing: uring/fs's FileHandle is an instance of
 * node's own FileHandle class, which node's stream constructors accept with `{ fd: handle }` (and then
 * read, write and close through the handle's methods, on the ring).
 *
 * The backend is chosen when this module loads, before anything is replaced: choosing it imports the
 * driver (and, on failure, the diagnosis), and Node 20's ESM loader reads every module's source through
 * fs/promises' readFile, so a replaced readFile asked to load the driver while the backend is being
 * chosen would wait for itself. When no ring can be created the same fallback as uring/fs applies: the
 * replaced functions run node's originals (uring/fs copies them before they are replaced).
 *
 * On Node 20 `--import` runs in the main thread only: worker threads keep node's fs/promises.
 */
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import * as facade from './index.js';
import { backend } from './backend.js';
import type { BackendInfo } from './backend.js';

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
  // ESM named imports of node:fs/promises and node:fs are copies of the exports: refresh them.
  syncBuiltinESMExports();
  return { backend: info, replaced };
}
