/**
 * npm run memcheck: every case of the adversarial suite under valgrind's
 * memcheck (counts scaled down: valgrind runs node 20-50x slower), each in its
 * own process; a case fails when it fails, crashes, hangs, or valgrind reports
 * an error (--error-exitcode). The native part is what is checked: V8's JIT
 * code is opaque to memcheck; V8's conservative stack scan is suppressed
 * (test/tools/valgrind.supp). `--only NAME[,NAME]`.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { cases } from '../torture/cases.js';
import { ROOT } from '../helpers.js';

const args = process.argv.slice(2);
const i = args.indexOf('--only');
const names = Object.keys(cases).filter((n) => i < 0 || args[i + 1].split(',').includes(n));
const child = path.join(ROOT, 'dist', 'test', 'torture', 'child.js');

function one(name: string): Promise<{ name: string; ok: boolean; detail: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const p = spawn('valgrind', ['--error-exitcode=9', '-q', '--vgdb=no', `--suppressions=${path.join(ROOT, 'test', 'tools', 'valgrind.supp')}`, process.execPath, '--expose-gc', child, name, '0'], {
      cwd: ROOT, env: { ...process.env, URING_TORTURE_SCALE: '0.1' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 20 * 60_000);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      const reported = err.split('\n').filter((l) => /^==\d+==/.test(l));
      const ok = code === 0 && reported.length === 0 && /"ok":true/.test(out);
      resolve({ name, ok, detail: ok ? '' : `exit ${code ?? signal}\n${reported.slice(0, 30).join('\n')}\n${err.slice(-1500)}`, ms: Date.now() - t0 });
    });
  });
}

const started = Date.now();
const results: Array<Awaited<ReturnType<typeof one>>> = [];
let next = 0;
await Promise.all([0, 1].map(async () => {
  while (next < names.length) results.push(await one(names[next++]));
}));
for (const r of results) console.log(`${r.ok ? 'clean ' : 'FAILED'} ${r.name.padEnd(28)} ${(r.ms / 1000).toFixed(0)} s${r.ok ? '' : `\n${r.detail}`}`);
const bad = results.filter((r) => !r.ok).length;
console.log(`${results.length - bad}/${results.length} cases clean under memcheck, ${((Date.now() - started) / 1000).toFixed(0)} s`);
process.exit(bad ? 1 : 0);
