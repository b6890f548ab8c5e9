/** Shared helpers of the test suite: temp dirs, tool detection, child processes. */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh directory under the OS temp dir, removed at process exit. */
export function tempDir(prefix = 'uring-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** True if `cmd` runs (e.g. a C compiler). */
export function hasCommand(cmd: string, args: string[] = ['--version']): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return r.status === 0;
}

/** The kernel's major.minor as a number (6.18 → 618). */
export function kernelVersion(): number {
  const [major, minor] = os.release().split('.').map((x) => parseInt(x, 10));
  return major * 100 + minor;
}

/** Root of the package (where package.json is). */
export const ROOT = path.resolve(new URL('.', import.meta.url).pathname, '..', '..');

/** Runs a node script (ESM source text) in a child, optionally as another user; returns its parsed JSON output. */
export function runChild(source: string, opts: { asUser?: number; prefix?: string[]; env?: NodeJS.ProcessEnv; timeout?: number } = {}): { status: number | null; stdout: string; stderr: string; json: any } {
  const file = path.join(tempDir('uring-child-'), 'child.mjs');
  fs.writeFileSync(file, source);
  fs.chmodSync(path.dirname(file), 0o755);
  fs.chmodSync(file, 0o644);
  const args = [...(opts.prefix ?? []), process.execPath, file];
  const spawnOpts: SpawnSyncOptions = { encoding: 'utf8', env: { ...process.env, ...opts.env }, timeout: opts.timeout ?? 60_000, cwd: ROOT };
  const r = spawnSync(args[0], args.slice(1), spawnOpts);
  const stdout = String(r.stdout ?? '');
  let json: any = null;
  const last = stdout.trim().split('\n').pop();
  try { json = last ? JSON.parse(last) : null; } catch { json = null; }
  return { status: r.status, stdout, stderr: String(r.stderr ?? ''), json };
}

/** URL of a built module of this package, for child scripts. */
export function distUrl(rel: string): string {
  return new URL(path.join(ROOT, 'dist', 'src', rel), 'file://').href;
}

/** A non-root uid that exists for dropping privileges (nobody). */
export const NOBODY = 65534;

let seccompBinary: string | null | undefined;
/** Builds (once) the seccomp helper that denies io_uring to a command; null without a C compiler. */
export function seccompHelper(): string | null {
  if (seccompBinary !== undefined) return seccompBinary;
  const src = path.join(ROOT, 'test', 'tools', 'seccomp-deny-io-uring.c');
  const out = path.join(tempDir('uring-seccomp-'), 'seccomp-deny-io-uring');
  const r = spawnSync('cc', ['-O1', '-o', out, src], { encoding: 'utf8' });
  seccompBinary = r.status === 0 ? out : null;
  if (seccompBinary === null) console.log(`# seccomp helper not built: ${r.stderr || r.error}`);
  return seccompBinary;
}

/** A pipe (through a FIFO) with both ends open: reads on `r` wait until `w` is written. */
export function fifo(): { r: number; w: number; close(): void } {
  const file = path.join(tempDir('uring-fifo-'), 'fifo');
  const made = spawnSync('mkfifo', [file]);
  if (made.status !== 0) throw new Error(`mkfifo failed: ${made.stderr}`);
  const r = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const w = fs.openSync(file, fs.constants.O_WRONLY);
  return { r, w, close: () => { fs.closeSync(r); fs.closeSync(w); } };
}
