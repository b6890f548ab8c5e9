/**
 * Differential fuzzing: a seeded random sequence of fs operations (open,
 * write at offsets, read, truncate, rename, unlink, close, fsync, stat,
 * mkdir) runs through uring/fs and through node:fs/promises on twin
 * directories; every result and error code, and the final trees, must be
 * identical.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import * as ufs from '../../src/fs/index.js';

/** mulberry32: a small seeded PRNG, so a failure can be replayed by its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Api = typeof fsp;
type Handle = Awaited<ReturnType<Api['open']>>;

const NAMES = ['a', 'b', 'c', 'd/e', 'd/f', 'd'];
const FLAGS = ['r', 'r+', 'w', 'w+', 'a', 'a+', 'wx'];

async function outcome(fn: () => Promise<unknown>): Promise<string> {
  try {
    const v = await fn();
    if (v === undefined) return 'ok';
    if (typeof v === 'object' && v !== null && 'bytesRead' in v) { const rv = v as unknown as { bytesRead: number; buffer: Buffer }; return `read ${rv.bytesRead}:${rv.buffer.subarray(0, rv.bytesRead).toString("hex")}`; }
    if (typeof v === 'object' && v !== null && 'bytesWritten' in v) return `wrote ${(v as { bytesWritten: number }).bytesWritten}`;
    if (v instanceof fs.Stats) return `stat ${v.size} ${v.mode.toString(8)} ${v.isDirectory()}`;
    if (Buffer.isBuffer(v)) return `data ${v.toString('hex')}`;
    return `value ${String(v)}`;
  } catch (e) {
    return `error ${(e as NodeJS.ErrnoException).code} ${(e as NodeJS.ErrnoException).syscall ?? ''}`;
  }
}

/** One run of `steps` operations from `seed`; returns the first divergence, or null. */
export async function fuzzOnce(seed: number, steps: number, rootA: string, rootB: string): Promise<string | null> {
  const apis: [Api, string][] = [[fsp, rootA], [ufs as unknown as Api, rootB]];
  const handles: (Handle | null)[][] = [[], []];
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  for (let step = 0; step < steps; step++) {
    const kind = Math.floor(rand() * 12);
    const name = pick(NAMES);
    const other = pick(NAMES);
    const flag = pick(FLAGS);
    const offset = Math.floor(rand() * 64);
    const len = Math.floor(rand() * 48);
    const byte = Math.floor(rand() * 256);
    const slot = Math.floor(rand() * 4);
    const writeFlag = rand() < 0.5 ? 'w' : 'a';
    const results: string[] = [];
    for (let i = 0; i < 2; i++) {
      const [api, root] = apis[i];
      const p = path.join(root, name);
      const h = handles[i];
      let r: string;
      switch (kind) {
        case 0: r = await outcome(async () => { const fh = await api.open(p, flag, 0o644); await h[slot]?.close().catch(() => {}); h[slot] = fh; }); break;
        case 1: r = await outcome(async () => h[slot] ? h[slot]!.write(Buffer.alloc(len, byte), 0, len, offset) : 'no handle'); break;
        case 2: r = await outcome(async () => h[slot] ? h[slot]!.read(Buffer.alloc(len), 0, len, offset) : 'no handle'); break;
        case 3: r = await outcome(async () => h[slot] ? h[slot]!.truncate(offset) : 'no handle'); break;
        case 4: r = await outcome(() => api.rename(p, path.join(root, other))); break;
        case 5: r = await outcome(() => api.unlink(p)); break;
        case 6: r = await outcome(async () => { const fh = h[slot]; h[slot] = null; return fh?.close(); }); break;
        case 7: r = await outcome(async () => h[slot] ? h[slot]!.sync() : 'no handle'); break;
        case 8: r = await outcome(() => api.stat(p)); break;
        case 9: r = await outcome(() => api.mkdir(p)); break;
        case 10: r = await outcome(() => api.readFile(p)); break;
        default: r = await outcome(() => api.writeFile(p, Buffer.alloc(len, byte), { flag: writeFlag })); break;
      }
      results.push(r);
    }
    if (process.env.FUZZ_TRACE) console.log(step, kind, name, slot, flag, offset, len, results.join(" | "));
    if (results[0] !== results[1]) return `seed ${seed} step ${step} (op ${kind} on ${name}): node:fs ${results[0]} / uring ${results[1]}`;
  }
  for (const hs of handles) for (const h of hs) await h?.close().catch(() => {});
  const treeA = snapshot(rootA);
  const treeB = snapshot(rootB);
  if (treeA !== treeB) return `seed ${seed}: final trees differ\nnode:fs ${treeA}\nuring   ${treeB}`;
  return null;
}

/** The tree under root as text: names, kinds and contents. */
export function snapshot(root: string): string {
  const out: string[] = [];
  (function walk(dir: string, rel: string) {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((x, y) => x.name.localeCompare(y.name))) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) {
        out.push(`${rel}${e.name}/`);
        walk(full, `${rel}${e.name}/`);
      } else out.push(`${rel}${e.name}=${fs.readFileSync(full).toString('hex')}`);
    }
  })(root, '');
  return out.join(' ');
}

/** Runs seeds for up to `seconds`; returns the iterations run and the first failure. */
export async function fuzzFor(seconds: number, makeDir: () => string, firstSeed = 1, steps = 60): Promise<{ iterations: number; operations: number; failure: string | null }> {
  const deadline = Date.now() + seconds * 1000;
  let iterations = 0;
  for (let seed = firstSeed; Date.now() < deadline; seed++) {
    const failure = await fuzzOnce(seed, steps, makeDir(), makeDir());
    iterations++;
    if (failure) return { iterations, operations: iterations * steps, failure };
  }
  return { iterations, operations: iterations * steps, failure: null };
}
