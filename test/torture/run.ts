/** Runs cases of the adversarial suite, each in a child process, a few at a time. */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../helpers.js';

export interface CaseOutcome {
  name: string;
  /** 'ok', 'failed', 'crashed' (killed by a signal), or 'hung' (no exit before the timeout). */
  status: 'ok' | 'failed' | 'crashed' | 'hung';
  detail: string;
  result?: unknown;
  ms: number;
}

const CHILD = path.join(ROOT, 'dist', 'test', 'torture', 'child.js');

/** One case in a child; never rejects. */
export function runCase(name: string, seconds: number, timeoutMs: number): Promise<CaseOutcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', CHILD, name, String(seconds)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = Date.now() - started;
      const last = stdout.trim().split('\n').pop() ?? '';
      let parsed: { ok?: boolean; result?: unknown; error?: string } = {};
      try { parsed = JSON.parse(last); } catch { /* no JSON line */ }
      if (hung) resolve({ name, status: 'hung', detail: `no exit within ${timeoutMs} ms\n${stderr}`, ms });
      else if (signal) resolve({ name, status: 'crashed', detail: `killed by ${signal}\n${stderr}`, ms });
      else if (code === 0 && parsed.ok) resolve({ name, status: 'ok', detail: '', result: parsed.result, ms });
      else resolve({ name, status: 'failed', detail: `exit ${code}: ${parsed.error ?? ''}\n${stderr}`, ms });
    });
  });
}

/** Runs `names` with at most `parallel` children at once; outcomes in the order given. */
export async function runCases(names: string[], seconds: number, timeoutMs: number, parallel = Math.max(1, os.availableParallelism?.() ?? 2)): Promise<CaseOutcome[]> {
  const out: CaseOutcome[] = new Array(names.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(parallel, names.length) }, async () => {
    while (next < names.length) {
      const i = next++;
      out[i] = await runCase(names[i], seconds, timeoutMs);
    }
  }));
  return out;
}
