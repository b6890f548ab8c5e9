/** Helpers of the diagnose tests: children run in parallel, as other users, under other limits. */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../helpers.js';

export const CLI = path.join(ROOT, 'bin', 'uring.js');

export interface Run { status: number | null; stdout: string; stderr: string; ms: number; json: any }

/** Runs a command (async, so tests can run several at once); parses the last stdout line as JSON when it is. */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeout?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeout ?? 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      let json: any = null;
      try {
        json = JSON.parse(stdout);
      } catch {
        const last = stdout.trim().split('\n').pop();
        try { json = last ? JSON.parse(last) : null; } catch { json = null; }
      }
      resolve({ status, stdout, stderr, ms: performance.now() - t, json });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** `prlimit --memlock=N:N setpriv <creds>` as a command prefix. */
export function as(creds: { uid?: number; dropIpcLock?: boolean }, memlock?: number): string[] {
  const prefix: string[] = [];
  if (memlock !== undefined) prefix.push('prlimit', `--memlock=${memlock}:${memlock}`);
  const sp: string[] = [];
  if (creds.uid !== undefined) sp.push(`--reuid=${creds.uid}`, `--regid=${creds.uid}`, '--clear-groups');
  if (creds.dropIpcLock) sp.push('--bounding-set=-ipc_lock', '--inh-caps=-ipc_lock');
  if (sp.length) prefix.push('setpriv', ...sp);
  return prefix;
}

/** A cache directory of its own for one child (so it measures instead of reading another run's answer), owned by `uid`. */
export function cacheHome(uid = 0): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uring-cache-'));
  fs.chownSync(dir, uid, uid);
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Why the privileged tests cannot run here, or null. */
export function privilegeSkip(): string | null {
  if (process.getuid?.() !== 0) return 'needs root to run children as other users and without CAP_IPC_LOCK';
  for (const tool of ['prlimit', 'setpriv']) {
    if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).status !== 0) return `${tool} (util-linux) is missing`;
  }
  return null;
}

/** A node script (ESM) as arguments for `node --input-type=module -e`. */
export function script(source: string): string[] {
  return ['--input-type=module', '-e', source];
}

export const dist = (rel: string): string => JSON.stringify(new URL(path.join(ROOT, 'dist', 'src', rel), 'file://').href);
