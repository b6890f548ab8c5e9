/**
 * npm run torture [-- --seconds N] [--only NAME[,NAME]]: the adversarial
 * suite, each case in a child process, looping cases repeated for N seconds.
 * Prints one line per case and exits 1 if any case failed, crashed or hung.
 */
import { cases } from '../torture/cases.js';
import { runCases } from '../torture/run.js';

const args = process.argv.slice(2);
const value = (flag: string): string | undefined => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
};
const seconds = Number(value('--seconds') ?? 10);
const only = value('--only')?.split(',');
const names = Object.keys(cases).filter((n) => !only || only.includes(n));
if (!Number.isFinite(seconds) || seconds < 0 || names.length === 0) {
  console.error('usage: npm run torture -- [--seconds N] [--only NAME[,NAME]]');
  process.exit(2);
}
const started = Date.now();
const outcomes = await runCases(names, seconds, Math.max(120_000, seconds * 4000), 2);
for (const o of outcomes) {
  console.log(`${o.status.padEnd(8)} ${o.name.padEnd(28)} ${(o.ms / 1000).toFixed(1)} s  ${o.status === 'ok' ? JSON.stringify(o.result) : o.detail.split('\n').slice(0, 8).join('\n         ')}`);
}
const bad = outcomes.filter((o) => o.status !== 'ok');
console.log(`${outcomes.length - bad.length}/${outcomes.length} cases held, ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(bad.length ? 1 : 0);
