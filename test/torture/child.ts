/**
 * Runs one case of the adversarial suite: `node --expose-gc child.js NAME
 * [SECONDS]`. Prints one JSON line ({ case, ok, result | error }); exit
 * status 0 when the case held. Crashes and hangs are seen by the parent.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { cases } from './cases.js';
import { ROOT } from '../helpers.js';

const [name, secondsArg] = process.argv.slice(2);
const run = cases[name];
if (!run) {
  console.error(`unknown case '${name}'; cases: ${Object.keys(cases).join(', ')}`);
  process.exit(2);
}
const dir = fs.mkdtempSync(path.join(os.tmpdir(), `uring-torture-${name}-`));
fs.chmodSync(dir, 0o777);
// URING_TORTURE_DIST points the cases at another build (e.g. an older commit's dist/src) to see them fail against the bugs they guard.
const distRoot = process.env.URING_TORTURE_DIST ?? path.join(ROOT, 'dist', 'src');
const dist = (rel: string): string => pathToFileURL(path.join(distRoot, rel)).href;
try {
  const result = await run({ seconds: Number(secondsArg ?? 0), dir, dist, scale: Number(process.env.URING_TORTURE_SCALE ?? 1) });
  console.log(JSON.stringify({ case: name, ok: true, result }));
} catch (e) {
  console.error((e as Error)?.stack ?? e);
  console.log(JSON.stringify({ case: name, ok: false, error: String((e as Error)?.message ?? e) }));
  process.exitCode = 1;
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
