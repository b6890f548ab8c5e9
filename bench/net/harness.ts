/**
 * The pieces of the net benchmark that the runner (bench/net/run-net.ts) and
 * the smoke test (test/bench/net-contenders.test.ts) share: which net modules
 * exist, compiling the C programs, CPU pinning, and server processes that are
 * started, waited for (ready line) and always stopped.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Root of the package (dist/bench/net → ../../..). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const HERE = path.join(ROOT, 'dist', 'bench', 'net');

/** The compiled uring/net entry point the lead builds from src/net/index.ts. */
export const URING_NET_FILE = path.join(ROOT, 'dist', 'src', 'net', 'index.js');

export type NetModuleId = 'node' | 'uring';

/**
 * Whether the `uring/net` contender can run, and if not, why (said once, in
 * the runner's log and in the test's skip message).
 */
export function uringNetStatus(): { ok: true; specifier: string } | { ok: false; reason: string } {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  if (!fs.existsSync(URING_NET_FILE)) {
    return { ok: false, reason: `uring/net does not exist yet (no ${path.relative(ROOT, URING_NET_FILE)}; it is built from src/net/index.ts)` };
  }
  // Through the package's own exports when it declares ./net, as a user would import it.
  return { ok: true, specifier: pkg.exports?.['./net'] ? 'uring/net' : URING_NET_FILE };
}

/** The net module a server runs on: node:net, or uring/net (which must exist; see uringNetStatus). */
export async function loadNet(id: NetModuleId): Promise<typeof import('node:net')> {
  if (id === 'node') return import('node:net');
  const s = uringNetStatus();
  if (!s.ok) throw Object.assign(new Error(s.reason), { code: 'URING_NET_MISSING' });
  const spec = s.specifier.startsWith('/') ? new URL(`file://${s.specifier}`).href : s.specifier;
  return (await import(spec)) as typeof import('node:net');
}

/** Exit code of a server that cannot run its contender (uring/net missing): the runner reads it as "skip". */
export const EXIT_SKIP = 77;

export interface CBinaries { loadgen: string | null; echo: string | null; why: string[] }

/**
 * Compiles bench/c/loadgen.c (needs a C compiler) and bench/c/echo.c (needs
 * liburing-dev too) into the temp dir; a binary that cannot be built is null,
 * with the reason in `why`.
 */
export function buildC(outDir = os.tmpdir()): CBinaries {
  const why: string[] = [];
  const cc = (src: string, out: string, libs: string[]): string | null => {
    const r = spawnSync('cc', ['-O2', '-Wall', '-o', out, path.join(ROOT, 'bench', 'c', src), ...libs], { encoding: 'utf8' });
    if (r.error) {
      why.push(`${src}: no C compiler (cc): ${r.error.message}`);
      return null;
    }
    if (r.status !== 0) {
      why.push(`${src} did not compile:\n${r.stderr}`);
      return null;
    }
    return out;
  };
  const loadgen = cc('loadgen.c', path.join(outDir, 'uring-bench-loadgen'), ['-pthread']);
  let echo: string | null = null;
  if (!fs.existsSync('/usr/include/liburing.h')) {
    why.push("C echo server skipped: liburing-dev is not installed (`apt-get install liburing-dev`, or your distribution's liburing devel package).");
  } else {
    echo = cc('echo.c', path.join(outDir, 'uring-bench-echo'), ['-luring']);
  }
  return { loadgen, echo, why };
}

/** True when the machine has IPv6 loopback (::1 can be bound). */
export function hasIPv6Loopback(): boolean {
  const r = spawnSync(process.execPath, ['-e', "const s=require('net').createServer().listen(0,'::1',()=>s.close());s.on('error',()=>process.exit(1))"], { timeout: 5000 });
  return r.status === 0;
}

/**
 * CPU pinning: the server on one CPU, the load generator on all the others
 * (one thread each), when the process may use at least two CPUs and taskset
 * works; otherwise none (said in `note`).
 */
export function pinning(): { server: string[]; client: string[]; clientThreads: number; note: string } {
  const cpus = allowedCpus();
  if (cpus.length < 2) return { server: [], client: [], clientThreads: 1, note: `not pinned: only ${cpus.length} CPU allowed` };
  const server = cpus[cpus.length - 1];
  const client = cpus.slice(0, -1);
  const ok = spawnSync('taskset', ['-c', String(server), 'true']).status === 0 && spawnSync('taskset', ['-c', client.join(','), 'true']).status === 0;
  if (!ok) return { server: [], client: [], clientThreads: 1, note: 'not pinned: taskset is missing or refused' };
  return {
    server: ['taskset', '-c', String(server)],
    client: ['taskset', '-c', client.join(',')],
    clientThreads: client.length,
    note: `server on CPU ${server}, load generator on CPU ${client.join(',')} (taskset, ${client.length} thread${client.length > 1 ? 's' : ''})`,
  };
}

const PF_KTHREAD = 0x00200000;

/**
 * CPU ticks (user + system, own + reaped children) of every user-space
 * process except `exclude`, from /proc/<pid>/stat. Counting reaped children
 * keeps a process that started and ended between two readings (a test
 * file, a compiler) in the sum, through its parent. Kernel threads are left
 * out: ksoftirqd and kworkers also carry our own loopback traffic.
 */
function foreignTicks(exclude: Set<number>): number {
  let sum = 0;
  for (const name of fs.readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || exclude.has(pid)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    if (f[6] & PF_KTHREAD) continue;
    sum += f[11] + f[12] + f[13] + f[14]; // utime stime cutime cstime
  }
  return sum;
}

/**
 * Runs `fn` (a synchronous load generator run) and says how much CPU the
 * other user-space processes on the machine used meanwhile, in cores (this
 * process, its children — the load generator — and the server excluded).
 * On a shared machine this tells a noisy sample from a quiet one.
 */
export function withForeignLoad<T>(serverPid: number, fn: () => T): { result: T; otherCores: number } {
  const hz = 100; // USER_HZ, the unit of /proc/<pid>/stat
  const exclude = new Set([process.pid, serverPid]);
  const f0 = foreignTicks(exclude), t0 = process.hrtime.bigint();
  const result = fn();
  const f1 = foreignTicks(exclude), t1 = process.hrtime.bigint();
  const wall = Number(t1 - t0) / 1e9;
  return { result, otherCores: wall > 0 ? Math.max(0, f1 - f0) / hz / wall : 0 };
}

/** CPUs this process may run on (its affinity mask, from /proc). */
function allowedCpus(): number[] {
  const m = /Cpus_allowed_list:\s*(\S+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  if (!m) return os.cpus().map((_, i) => i);
  const out: number[] = [];
  for (const part of m[1].split(',')) {
    const [a, b] = part.split('-').map(Number);
    for (let i = a; i <= (b ?? a); i++) out.push(i);
  }
  return out;
}

export type ServerKind = 'echo' | 'http';
export interface ServerSpec {
  /** node | uring | c for echo/bulk; node | node-emit | uring for http */
  impl: string;
  kind: ServerKind;
  mode?: 'echo' | 'bulk';
  host?: string;
  /** extra arguments (e.g. --bufs 4 for the C server) */
  extra?: string[];
  /** prefix such as ['taskset', '-c', '1'] */
  pin?: string[];
  cEcho?: string | null;
}

export interface RunningServer {
  port: number;
  family: string;
  proc: ChildProcess;
  /** Ends the server (stdin EOF, then SIGKILL after 3 s); resolves with what it printed on stderr. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

const live = new Set<ChildProcess>();
let hooked = false;
/** No stray servers: whatever is still running when this process ends is killed. */
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const p of live) p.kill('SIGKILL');
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const p of live) p.kill('SIGKILL');
      process.exit(130);
    });
  }
}

export class SkipError extends Error {}

/** The command line of a server. */
export function serverCommand(spec: ServerSpec): string[] {
  const host = spec.host ?? '127.0.0.1';
  const lifetime = ['--lifetime', '900'];
  if (spec.kind === 'http') {
    return [process.execPath, path.join(HERE, 'http-server.js'), '--net', spec.impl, '--host', host, '--port', '0', ...lifetime, ...(spec.extra ?? [])];
  }
  if (spec.impl === 'c') {
    if (!spec.cEcho) throw new SkipError('C echo server not built');
    return [spec.cEcho, '--mode', spec.mode ?? 'echo', '--host', host, '--port', '0', ...lifetime, ...(spec.extra ?? [])];
  }
  return [process.execPath, path.join(HERE, 'echo-server.js'), '--net', spec.impl, '--mode', spec.mode ?? 'echo', '--host', host, '--port', '0', ...lifetime, ...(spec.extra ?? [])];
}

/**
 * Starts a server and resolves once it printed its ready line
 * ({"ready":true,"port":P}); rejects with SkipError when it exits with
 * EXIT_SKIP, with an Error (its stderr) when it dies or is not ready in 15 s.
 */
export function startServer(spec: ServerSpec): Promise<RunningServer> {
  hookExit();
  const argv = [...(spec.pin ?? []), ...serverCommand(spec)];
  const proc = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, UV_USE_IO_URING: '0' } });
  live.add(proc);
  let stderr = '';
  let stdout = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 1 << 16) stderr += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('exit', (code, signal) => {
      live.delete(proc);
      resolve({ code, signal });
    });
  });
  proc.stdin!.on('error', () => {}); // EPIPE when the server is already gone
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${argv.join(' ')} was not ready within 15 s:\n${stderr}`));
    }, 15_000);
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      const line = stdout.split('\n').find((l) => l.startsWith('{"ready"'));
      if (!line) return;
      clearTimeout(timer);
      const ready = JSON.parse(line);
      resolve({
        port: ready.port,
        family: ready.family,
        proc,
        async stop() {
          if (proc.exitCode === null && proc.signalCode === null) {
            proc.stdin!.end();
            const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
            const r = await exited;
            clearTimeout(t);
            return { ...r, stderr };
          }
          return { ...(await exited), stderr };
        },
      });
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      if (code === EXIT_SKIP) reject(new SkipError(stderr.trim()));
      else reject(new Error(`${argv.join(' ')} exited (${code ?? signal}) before it was ready:\n${stderr}`));
    });
  });
}

export interface EchoResult {
  mode: 'echo'; conns: number; size: number; seconds: number; roundTrips: number; rtPerSec: number;
  p50us: number; p90us: number; p99us: number; p999us: number; maxUs: number; mismatches: number; bytesChecked: number; clientCpu: number;
}
export interface BulkResult {
  mode: 'bulk'; upBytes: number; upSeconds: number; upMiBps: number; downBytes: number; downSeconds: number; downMiBps: number;
  mismatches: number; clientCpuUp: number; clientCpuDown: number;
}

/** Runs the load generator to completion (bounded by its own alarm and a spawn timeout); throws with its stderr on failure. */
export function runLoadgen<T>(loadgen: string, args: string[], pin: string[] = [], timeoutMs = 120_000): T {
  const argv = [...pin, loadgen, ...args];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' });
  const line = r.stdout?.trim().split('\n').pop();
  if (r.status !== 0 || !line) {
    throw new Error(`loadgen ${args.join(' ')} failed (${r.status ?? r.signal ?? r.error}):\n${r.stderr}\n${r.stdout}`);
  }
  return JSON.parse(line) as T;
}

export interface WrkResult { requestsPerSec: number; requests: number; seconds: number; p50ms: number; p99ms: number; clientCpu: number | null }

/** wrk's latency figures ("812.00us", "1.23ms", "2.00s") in milliseconds. */
export function wrkTime(s: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(s.trim());
  if (!m) throw new Error(`unreadable wrk time ${s}`);
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 'ms' ? v : m[2] === 's' ? v * 1000 : v * 60_000;
}

/** True when wrk runs here. */
export function hasWrk(): boolean {
  const r = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  return !r.error && /wrk/.test(`${r.stdout}${r.stderr}`);
}

/**
 * One wrk run (keep-alive is wrk's default), through `loadgen rusage` when
 * available so that wrk's own CPU share is known. Any socket error or
 * non-2xx response fails the run: a fast wrong server is not a result.
 */
export function runWrk(url: string, opts: { connections: number; seconds: number; threads?: number; pin?: string[]; loadgen?: string | null }): WrkResult {
  const wrk = ['wrk', `-t${opts.threads ?? 1}`, `-c${opts.connections}`, `-d${opts.seconds}s`, '--latency', url];
  const argv = [...(opts.pin ?? []), ...(opts.loadgen ? [opts.loadgen, 'rusage', '--timeout', String(opts.seconds + 30), '--'] : []), ...wrk];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: (opts.seconds + 40) * 1000, killSignal: 'SIGKILL' });
  const out = r.stdout ?? '';
  if (r.status !== 0) throw new Error(`wrk failed (${r.status ?? r.signal}):\n${out}\n${r.stderr}`);
  if (/Non-2xx or 3xx responses/.test(out) || /Socket errors/.test(out)) throw new Error(`wrk saw errors:\n${out}`);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(out);
  const p50 = /^\s+50%\s+(\S+)/m.exec(out);
  const p99 = /^\s+99%\s+(\S+)/m.exec(out);
  if (!rps || !total || !p50 || !p99) throw new Error(`unreadable wrk output:\n${out}`);
  const ru = /\{"rusage":.*\}/.exec(r.stderr ?? '');
  return {
    requestsPerSec: Number(rps[1]),
    requests: Number(total[1]),
    seconds: wrkTime(`${total[2]}${total[3]}`) / 1000,
    p50ms: wrkTime(p50[1]),
    p99ms: wrkTime(p99[1]),
    clientCpu: ru ? JSON.parse(ru[0]).rusage.cpu : null,
  };
}
