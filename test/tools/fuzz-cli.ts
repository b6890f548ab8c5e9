/** `npm run fuzz -- --seconds N [--seed S]`: the differential fuzzer for longer. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fuzzFor } from './fuzz.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const seconds = arg('--seconds', 30);
const seed = arg('--seed', Date.now() % 1_000_000);
const base = fs.mkdtempSync(path.join(os.tmpdir(), 'uring-fuzz-'));
let n = 0;
const result = await fuzzFor(seconds, () => fs.mkdirSync(path.join(base, String(n++)), { recursive: true }) ?? path.join(base, String(n - 1)), seed);
fs.rmSync(base, { recursive: true, force: true });
console.log(`fuzz: ${result.iterations} sequences (${result.operations} operations on each API) from seed ${seed} in ${seconds}s: ${result.failure ? 'DIVERGED' : 'identical'}`);
if (result.failure) {
  console.log(result.failure);
  process.exitCode = 1;
}
