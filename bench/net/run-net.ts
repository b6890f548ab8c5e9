/**
 * The `net` family of `npm run bench` (`npm run bench -- --only net`, or
 * `--only net-echo`, `net-bulk`, `net-http`): echo round trips, bulk
 * streaming and node:http, each on node:net, uring/net (when it exists) and
 * the C server on liburing, against one load generator (bench/c/loadgen.c) or
 * wrk; each run a fresh server process, pinned to its own core, contenders
 * alternated over the rounds. Writes bench/results/net.{json,md}
 * (net-quick.* with --quick). What the numbers mean: bench/net/README.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fmt } from '../chart.js';
import {
  buildC, hasWrk, pinning, runLoadgen, runWrk, SkipError, startServer, uringNetStatus, withForeignLoad,
  type BulkResult, type CBinaries, type EchoResult, type WrkResult,
} from './harness.js';

export interface NetOptions { quick: boolean; rounds: number; only?: string; resultsDir: string; log: (msg: string) => void }

type Family = 'echo' | 'bulk' | 'http';
interface Workload { id: string; family: Family; title: string; conns: number; size: number; bytes: number }
interface Contender { impl: string; label: string; ours: boolean; c: boolean; baseline: boolean }
/** One run; otherCores: CPU used meanwhile by everything else on the machine, in cores (see withForeignLoad). */
type Sample = (EchoResult | BulkResult | WrkResult) & { otherCores?: number };
interface Row { label: string; ours: boolean; c: boolean; baseline: boolean; samples: Sample[]; median?: Sample; best?: Sample; vsNode?: number; vsC?: number; vsNodeDown?: number }

/** A load generator this busy (CPU time / wall time) may have been the limit of the run, not the server. */
export const CLIENT_BOUND = 0.95;

const NET: Contender[] = [
  { impl: 'uring', label: 'uring/net', ours: true, c: false, baseline: false },
  { impl: 'node', label: 'node:net', ours: false, c: false, baseline: true },
  { impl: 'c', label: 'C on liburing', ours: false, c: true, baseline: false },
];
const HTTP: Contender[] = [
  { impl: 'uring', label: 'node:http over uring/net', ours: true, c: false, baseline: false },
  { impl: 'node', label: 'node:http over node:net', ours: false, c: false, baseline: true },
  { impl: 'node-emit', label: "node:http via emit('connection') over node:net", ours: false, c: false, baseline: false },
];

function workloads(quick: boolean, only?: string): Workload[] {
  const all: Workload[] = [];
  for (const size of [64, 16384]) {
    for (const conns of [1, 64, 1000]) {
      const s = size === 64 ? '64b' : '16k';
      all.push({ id: `net-echo-c${conns}-${s}`, family: 'echo', title: `echo, ${conns} connection${conns > 1 ? 's' : ''}, ${size === 64 ? '64 B' : '16 KiB'} messages`, conns, size, bytes: 0 });
    }
  }
  const bytes = quick ? 64 << 20 : 1 << 30;
  all.push({ id: 'net-bulk', family: 'bulk', title: `bulk, one connection, ${bytes >> 20} MiB each way`, conns: 1, size: 0, bytes });
  all.push({ id: 'net-http', family: 'http', title: 'node:http hello world, wrk, 100 keep-alive connections', conns: 100, size: 0, bytes: 0 });
  return all.filter((w) => !only || only === 'net' || w.id.startsWith(only));
}

const rate = (s: Sample): number => ('rtPerSec' in s ? s.rtPerSec : 'requestsPerSec' in s ? s.requestsPerSec : s.upMiBps);

export async function runNet(o: NetOptions): Promise<void> {
  const { log } = o;
  const ws = workloads(o.quick, o.only);
  if (ws.length === 0) {
    log(`net: no workload matches --only ${o.only}`);
    return;
  }
  const bins: CBinaries = buildC();
  for (const why of bins.why) log(why);
  if (!bins.loadgen) {
    log('net benchmark skipped: the load generator (bench/c/loadgen.c) could not be built.');
    return;
  }
  const uring = uringNetStatus();
  if (!uring.ok) log(`uring/net contender skipped: ${uring.reason}.`);
  const wrk = hasWrk();
  if (!wrk && ws.some((w) => w.family === 'http')) log('HTTP workload skipped: wrk is not installed (`apt-get install wrk`).');
  const pin = pinning();
  log(`net: ${pin.note}`);

  const echoSeconds = o.quick ? 1 : 5;
  const echoWarmup = o.quick ? 0.3 : 1;
  const httpSeconds = o.quick ? 1 : 5;
  const skipped = new Set<string>();
  const available = (c: Contender): boolean => (c.impl !== 'uring' || uring.ok) && (c.impl !== 'c' || !!bins.echo) && !skipped.has(c.label);

  const runOne = async (w: Workload, c: Contender): Promise<Sample> => {
    const srv = await startServer({ impl: c.impl, kind: w.family === 'http' ? 'http' : 'echo', mode: w.family === 'bulk' ? 'bulk' : 'echo', pin: pin.server, cEcho: bins.echo });
    const measured = <T extends Sample>(fn: () => T): T => {
      const { result, otherCores } = withForeignLoad(srv.proc.pid!, fn);
      return { ...result, otherCores };
    };
    try {
      if (w.family === 'echo') {
        const threads = String(Math.min(pin.clientThreads, w.conns));
        const r = measured(() => runLoadgen<EchoResult>(bins.loadgen!, ['echo', '--port', String(srv.port), '--conns', String(w.conns), '--threads', threads, '--size', String(w.size), '--duration', String(echoSeconds), '--warmup', String(echoWarmup), '--max-rt', '200000000'], pin.client));
        if (r.mismatches > 0) throw new Error(`${c.label} on ${w.id}: ${r.mismatches} echoes differed from what was sent`);
        if (r.roundTrips === 0) throw new Error(`${c.label} on ${w.id}: no round trip completed`);
        return r;
      }
      if (w.family === 'bulk') {
        return measured(() => runLoadgen<BulkResult>(bins.loadgen!, ['bulk', '--port', String(srv.port), '--bytes', String(w.bytes), '--timeout', '60'], pin.client));
      }
      const url = `http://127.0.0.1:${srv.port}/`;
      runWrk(url, { connections: w.conns, seconds: 1, threads: pin.clientThreads, pin: pin.client }); // warm-up: JIT and connection set-up out of the measurement
      return measured(() => runWrk(url, { connections: w.conns, seconds: httpSeconds, threads: pin.clientThreads, pin: pin.client, loadgen: bins.loadgen }));
    } finally {
      const st = await srv.stop();
      if (st.code !== 0 && st.signal === null) log(`  note: ${c.label} server exited with ${st.code}: ${st.stderr.trim()}`);
    }
  };

  const results: Array<{ workload: Workload; rows: Row[] }> = [];
  let step = 0;
  for (const w of ws) {
    step++;
    if (w.family === 'http' && !wrk) continue;
    const contenders = (w.family === 'http' ? HTTP : NET).filter(available);
    const rows: Row[] = contenders.map((c) => ({ label: c.label, ours: c.ours, c: c.c, baseline: c.baseline, samples: [] }));
    for (let round = 0; round < o.rounds; round++) {
      const order = contenders.map((_, i) => i);
      if (round % 2 === 1) order.reverse(); // no contender always runs first
      for (const i of order) {
        try {
          const s = await runOne(w, contenders[i]);
          rows[i].samples.push(s);
          log(`[${step}/${ws.length}] ${w.id} round ${round + 1}/${o.rounds}: ${contenders[i].label} ${describe(s)}`);
        } catch (e) {
          if (!(e instanceof SkipError)) throw e;
          log(`${contenders[i].label} skipped: ${e.message}`);
          skipped.add(contenders[i].label);
        }
      }
    }
    const measured = rows.filter((r) => r.samples.length > 0);
    for (const r of measured) {
      const sorted = [...r.samples].sort((a, b) => rate(a) - rate(b));
      r.median = sorted[Math.floor((sorted.length - 1) / 2)];
      r.best = sorted[sorted.length - 1];
    }
    const base = measured.find((r) => r.baseline)?.median;
    const cMed = measured.find((r) => r.c)?.median;
    for (const r of measured) {
      if (r.baseline) continue;
      if (base) r.vsNode = rate(r.median!) / rate(base);
      if (base && w.family === 'bulk') r.vsNodeDown = (r.median as BulkResult).downMiBps / (base as BulkResult).downMiBps;
      if (r.ours && cMed) r.vsC = rate(r.median!) / rate(cMed);
    }
    results.push({ workload: w, rows: measured });
    console.log(`\n## ${w.title}\n${table(w, measured)}`);
  }

  const targets = computeTargets(results, uring.ok);
  const ceiling = loadgenCeiling(results);
  const machine = {
    cpu: os.cpus()[0]?.model, cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), kernel: os.release(),
    node: process.version, date: new Date().toISOString(), quick: o.quick, rounds: o.rounds, pinning: pin.note,
    cContender: !!bins.echo, uringNet: uring.ok ? uring.specifier : `absent: ${uring.reason}`, wrk,
    echoSeconds, echoWarmup, httpSeconds,
  };
  fs.mkdirSync(o.resultsDir, { recursive: true });
  const stem = o.quick ? 'net-quick' : 'net';
  fs.writeFileSync(path.join(o.resultsDir, `${stem}.json`), JSON.stringify({ machine, targets, ceiling, results }, null, 2));
  fs.writeFileSync(path.join(o.resultsDir, `${stem}.md`), markdown(results, machine, targets, ceiling));
  console.log(`\nnet targets:\n${targets.map((t) => `  ${t.value === null ? 'N/A  ' : t.met ? 'MET  ' : 'SHORT'} ${t.name}: ${t.value === null ? t.note : `${t.value.toFixed(2)}x (target ${t.target}x)`}`).join('\n')}`);
  console.log(`\n${ceilingText(ceiling)}`);
  console.log(`\nwrote bench/results/${stem}.json, ${stem}.md`);
}

function describe(s: Sample): string {
  const o = ` other load ${other(s)} cores`;
  if ('rtPerSec' in s) return `${fmt(s.rtPerSec)} rt/s p99 ${s.p99us.toFixed(0)} µs (client CPU ${(s.clientCpu * 100).toFixed(0)}%,${o})`;
  if ('upMiBps' in s) return `up ${s.upMiBps.toFixed(0)} MiB/s, down ${s.downMiBps.toFixed(0)} MiB/s (${o.trim()})`;
  return `${fmt(s.requestsPerSec)} req/s p99 ${s.p99ms.toFixed(2)} ms (wrk CPU ${pct(s.clientCpu)},${o})`;
}

const x = (v?: number): string => (v ? `${v.toFixed(2)}x` : '');
const pct = (v: number | null): string => (v === null ? '–' : `${(v * 100).toFixed(0)}%${v >= CLIENT_BOUND ? ' ⚠' : ''}`);
const other = (s: Sample): string => (s.otherCores === undefined ? '–' : s.otherCores.toFixed(2));

function table(w: Workload, rows: Row[]): string {
  const name = (r: Row): string => (r.ours ? `**${r.label}**` : r.label);
  if (w.family === 'echo') {
    const lines = ['| contender | median round trips/s | best round trips/s | p50 µs | p99 µs | load generator CPU | other load (cores) | vs node:net | vs C |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|'];
    for (const r of rows) {
      const m = r.median as EchoResult;
      lines.push(`| ${name(r)} | ${fmt(m.rtPerSec)} | ${fmt((r.best as EchoResult).rtPerSec)} | ${m.p50us.toFixed(0)} | ${m.p99us.toFixed(0)} | ${pct(m.clientCpu)} | ${other(r.median!)} | ${x(r.vsNode)} | ${x(r.vsC)} |`);
    }
    return lines.join('\n');
  }
  if (w.family === 'bulk') {
    const lines = ['| contender | median MiB/s up (client→server) | median MiB/s down (server→client) | load generator CPU up / down | other load (cores) | vs node:net up | vs node:net down |', '|---|---:|---:|---:|---:|---:|---:|'];
    for (const r of rows) {
      const m = r.median as BulkResult;
      lines.push(`| ${name(r)} | ${m.upMiBps.toFixed(0)} | ${m.downMiBps.toFixed(0)} | ${pct(m.clientCpuUp)} / ${pct(m.clientCpuDown)} | ${other(r.median!)} | ${x(r.vsNode)} | ${x(r.vsNodeDown)} |`);
    }
    return lines.join('\n');
  }
  const lines = ['| contender | median requests/s | best requests/s | p50 ms | p99 ms | wrk CPU | other load (cores) | vs node:http over node:net |', '|---|---:|---:|---:|---:|---:|---:|---:|'];
  for (const r of rows) {
    const m = r.median as WrkResult;
    lines.push(`| ${name(r)} | ${fmt(m.requestsPerSec)} | ${fmt((r.best as WrkResult).requestsPerSec)} | ${m.p50ms.toFixed(2)} | ${m.p99ms.toFixed(2)} | ${pct(m.clientCpu)} | ${other(r.median!)} | ${x(r.vsNode)} |`);
  }
  return lines.join('\n');
}

interface Target { name: string; value: number | null; target: number; met: boolean; note?: string }

/** The ratios issue 13 asks for, from this run's medians; not measured (value null) without a uring/net contender. */
function computeTargets(results: Array<{ workload: Workload; rows: Row[] }>, haveUring: boolean): Target[] {
  const get = (id: string, label: string): Row | undefined => results.find((r) => r.workload.id === id)?.rows.find((r) => r.label === label);
  const out: Target[] = [];
  const add = (name: string, target: number, value: number | undefined, missing: string): void => {
    if (value === undefined || Number.isNaN(value)) out.push({ name, value: null, target, met: false, note: missing });
    else out.push({ name, value, target, met: value >= target });
  };
  const why = (id: string, needs: string[]): string => {
    if (!haveUring) return 'not measured: uring/net does not exist yet';
    if (!results.some((r) => r.workload.id === id)) return `not measured: ${id} was not run`;
    return `not measured: no ${needs.join(' / ')} result`;
  };
  for (const s of ['64b', '16k']) {
    const id = `net-echo-c64-${s}`;
    const u = get(id, 'uring/net');
    const c = get(id, 'C on liburing');
    const size = s === '64b' ? '64 B' : '16 KiB';
    const uCapped = u && (u.median as EchoResult).clientCpu >= CLIENT_BOUND;
    add(`echo, 64 connections, ${size}: uring/net vs node:net${uCapped ? ' (uring/net was load-generator-bound: the ratio understates it)' : ''}`, 2, u?.vsNode, why(id, ['uring/net', 'node:net']));
    const vsC = u && c ? (u.median as EchoResult).rtPerSec / (c.median as EchoResult).rtPerSec : undefined;
    const capped = c && (c.median as EchoResult).clientCpu >= CLIENT_BOUND;
    add(`echo, 64 connections, ${size}: uring/net vs C on liburing${capped ? ' (C was load-generator-bound: the ratio flatters uring/net)' : ''}`, 0.6, vsC, why(id, ['uring/net', 'C']));
  }
  const bu = get('net-bulk', 'uring/net');
  add('bulk up (client→server): uring/net vs node:net', 1, bu?.vsNode, why('net-bulk', ['uring/net', 'node:net']));
  add('bulk down (server→client): uring/net vs node:net', 1, bu?.vsNodeDown, why('net-bulk', ['uring/net', 'node:net']));
  const h = get('net-http', 'node:http over uring/net');
  add('node:http over uring/net vs over node:net', 1.2, h?.vsNode, why('net-http', ['node:http over uring/net', 'node:http over node:net']));
  return out;
}

interface Ceiling { shape: string; rtPerSec: number; clientCpu: number; bound: boolean }

/**
 * The load generator's ceiling, read off the runs against the C server (the
 * cheapest server we have): its round trips/s and how busy the load
 * generator was. Below CLIENT_BOUND the server was the limit and the load
 * generator could do more; at or above it, that rate is the ceiling itself.
 */
function loadgenCeiling(results: Array<{ workload: Workload; rows: Row[] }>): Ceiling[] {
  const out: Ceiling[] = [];
  for (const { workload, rows } of results) {
    if (workload.family !== 'echo') continue;
    const c = rows.find((r) => r.c);
    if (!c) continue;
    const best = c.best as EchoResult;
    out.push({ shape: workload.title, rtPerSec: best.rtPerSec, clientCpu: best.clientCpu, bound: best.clientCpu >= CLIENT_BOUND });
  }
  return out;
}

function ceilingText(ceiling: Ceiling[]): string {
  if (ceiling.length === 0) return 'Load generator ceiling: not measured (no C echo server in this run).';
  return ['Load generator ceiling (its best run against C on liburing; ⚠ = the load generator was busy ≥ 95%, so this rate is its ceiling, otherwise its ceiling is above it):',
    ...ceiling.map((c) => `- ${c.shape}: ${fmt(c.rtPerSec)} round trips/s at ${(c.clientCpu * 100).toFixed(0)}% load generator CPU${c.bound ? ' ⚠' : ''}`)].join('\n');
}

function markdown(results: Array<{ workload: Workload; rows: Row[] }>, machine: Record<string, unknown>, targets: Target[], ceiling: Ceiling[]): string {
  const parts = [
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Linux ${machine.kernel}, Node ${machine.node}; ${machine.rounds} rounds${machine.quick ? ' (quick)' : ''}; loopback; ${machine.pinning}.`,
    `Echo: ${machine.echoSeconds} s measured after ${machine.echoWarmup} s warm-up per run; HTTP: wrk, ${machine.httpSeconds} s after a 1 s warm-up. ⚠ marks a load generator at ≥ ${CLIENT_BOUND * 100}% CPU (it may have been the limit). "Other load" is the CPU other user-space processes used during the median run, in cores: on a shared machine, a run with other load is noisy.`,
    '',
  ];
  for (const { workload, rows } of results) parts.push(`### ${workload.title}`, '', table(workload, rows), '');
  parts.push('### Targets', '', ...targets.map((t) => (t.value === null ? `- n/a: ${t.name}: ${t.note} (target ${t.target}x)` : `- ${t.met ? 'met' : 'short'}: ${t.name}: **${t.value.toFixed(2)}x** (target ${t.target}x)`)), '');
  parts.push('### Load generator ceiling', '', ceilingText(ceiling), '');
  return parts.join('\n');
}
