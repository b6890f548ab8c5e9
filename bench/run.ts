/**
 * `npm run bench [-- --quick] [-- --rounds N] [-- --only randread]`
 *
 * Runs every workload with every contender (`--only files`: the file workloads, not the net family), alternated over several rounds,
 * each run in its own process; prints a table per workload (median and best
 * ops/s and MiB/s, ratio of ours to the best node:fs peer and to C on
 * liburing), writes bench/results/latest.json, latest.md and latest.svg.
 * Then the net family (bench/net/run-net.ts; alone with `--only net`, or one
 * of its workloads with `--only net-echo` / `net-bulk` / `net-http`), which
 * writes bench/results/net.json and net.md.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, svgChart } from './chart.js';
import { runNet } from './net/run-net.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const rounds = Number(flag('--rounds') ?? (quick ? 2 : 3));
const only = flag('--only');
const resultsDir = path.join(root, 'bench', 'results');
const dataDir = path.join(os.tmpdir(), `uring-bench-${quick ? 'quick' : 'full'}`);
const log = (msg: string): void => void process.stderr.write(`${msg}\n`);

interface Workload { id: string; title: string; kind: 'rw' | 'files'; name: string; ops: number; qd: number; block: number }
interface Contender { id: string; label: string; ours: boolean; c?: boolean; env?: Record<string, string>; worker?: string }

const big = quick ? 64 << 20 : 1 << 30;
const nFiles = quick ? 2000 : 10_000;
const scale = (n: number): number => (quick ? Math.max(1000, Math.floor(n / 10)) : n);
const WORKLOADS: Workload[] = [
  { id: 'randread-qd1', title: '4 KiB random reads, QD 1', kind: 'rw', name: 'randread', ops: scale(200_000), qd: 1, block: 4096 },
  { id: 'randread-qd32', title: '4 KiB random reads, QD 32', kind: 'rw', name: 'randread', ops: scale(400_000), qd: 32, block: 4096 },
  { id: 'randread-qd128', title: '4 KiB random reads, QD 128', kind: 'rw', name: 'randread', ops: scale(400_000), qd: 128, block: 4096 },
  { id: 'seqread', title: '128 KiB sequential reads, QD 8', kind: 'rw', name: 'seqread', ops: scale(40_000), qd: 8, block: 128 << 10 },
  { id: 'randwrite', title: '4 KiB random buffered writes, QD 32', kind: 'rw', name: 'randwrite', ops: scale(200_000), qd: 32, block: 4096 },
  { id: 'randwrite-fsync', title: '4 KiB random writes + fsync every 32, QD 32', kind: 'rw', name: 'randwrite-fsync', ops: scale(20_000), qd: 32, block: 4096 },
  { id: 'readfile', title: `readFile of ${nFiles} files of 4 KiB, 64 at a time`, kind: 'files', name: 'readfile', ops: nFiles, qd: 64, block: 4096 },
  { id: 'stat', title: `stat of ${nFiles} files, 64 at a time`, kind: 'files', name: 'stat', ops: nFiles, qd: 64, block: 0 },
  { id: 'openclose', title: `open+close of ${nFiles} files, 64 at a time`, kind: 'files', name: 'openclose', ops: nFiles, qd: 64, block: 0 },
].filter((w) => !only || only === 'files' || w.id.startsWith(only) || w.name === only) as Workload[];

const UV = { UV_USE_IO_URING: '1' };
const RW_CONTENDERS: Contender[] = [
  { id: 'raw', label: 'uring raw ring', ours: true },
  { id: 'callback', label: 'uring io (callback)', ours: true },
  { id: 'promise', label: 'uring io (promise)', ours: true },
  { id: 'facade', label: 'uring/fs FileHandle', ours: true },
  { id: 'fs.read', label: 'fs callback API', ours: false },
  { id: 'fs.read', label: 'fs callback API + UV_USE_IO_URING=1', ours: false, env: UV },
  { id: 'FileHandle.read', label: 'fs/promises FileHandle', ours: false },
  { id: 'FileHandle.read', label: 'fs/promises FileHandle + UV_USE_IO_URING=1', ours: false, env: UV },
  { id: 'readSync', label: 'fs *Sync', ours: false },
  { id: 'readSync', label: 'fs *Sync + UV_USE_IO_URING=1', ours: false, env: UV },
  { id: 'c', label: 'C on liburing', ours: false, c: true },
];
const FILE_CONTENDERS: Contender[] = [
  { id: 'raw', label: 'uring raw ring', ours: true },
  { id: 'promise', label: 'uring io (promise)', ours: true },
  { id: 'facade', label: 'uring/fs', ours: true },
  { id: 'fs.cb', label: 'fs callback API', ours: false },
  { id: 'fs.cb', label: 'fs callback API + UV_USE_IO_URING=1', ours: false, env: UV },
  { id: 'fsp', label: 'fs/promises', ours: false },
  { id: 'fsp', label: 'fs/promises + UV_USE_IO_URING=1', ours: false, env: UV },
  { id: 'sync', label: 'fs *Sync', ours: false },
  { id: 'c', label: 'C on liburing', ours: false, c: true },
];

/** Compiles the C contender if liburing-dev is installed; null (and a line saying why) otherwise. */
function buildC(): string | null {
  if (!fs.existsSync('/usr/include/liburing.h')) {
    log('C contender skipped: liburing-dev is not installed (`apt-get install liburing-dev`, or your distribution\'s liburing devel package).');
    return null;
  }
  const out = path.join(os.tmpdir(), 'uring-bench-c');
  const r = spawnSync('cc', ['-O2', '-o', out, path.join(root, 'bench', 'c', 'bench.c'), '-luring'], { encoding: 'utf8' });
  if (r.status !== 0) {
    log(`C contender skipped: it did not compile:\n${r.stderr || r.error}`);
    return null;
  }
  return out;
}

function prepareData(): { bigFile: string; filesDir: string } {
  fs.mkdirSync(dataDir, { recursive: true });
  const bigFile = path.join(dataDir, 'big.bin');
  if (!fs.existsSync(bigFile) || fs.statSync(bigFile).size !== big) {
    log(`creating ${big >> 20} MiB test file…`);
    const fd = fs.openSync(bigFile, 'w');
    const chunk = Buffer.alloc(1 << 20);
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 131) & 0xff;
    for (let off = 0; off < big; off += chunk.length) fs.writeSync(fd, chunk, 0, chunk.length, off);
    fs.closeSync(fd);
  }
  // Into the page cache: every workload runs on cached data.
  const fd = fs.openSync(bigFile, 'r');
  const chunk = Buffer.alloc(1 << 20);
  for (let off = 0; off < big; off += chunk.length) fs.readSync(fd, chunk, 0, chunk.length, off);
  fs.closeSync(fd);
  const filesDir = path.join(dataDir, 'files');
  if (!fs.existsSync(path.join(filesDir, `f${nFiles - 1}`))) {
    log(`creating ${nFiles} files of 4 KiB…`);
    fs.mkdirSync(filesDir, { recursive: true });
    const data = Buffer.alloc(4096, 7);
    for (let i = 0; i < nFiles; i++) fs.writeFileSync(path.join(filesDir, `f${i}`), data);
  }
  for (let i = 0; i < nFiles; i++) fs.statSync(path.join(filesDir, `f${i}`));
  return { bigFile, filesDir };
}

interface Sample { opsPerSec: number; mibPerSec: number }
interface Row { label: string; ours: boolean; c: boolean; samples: Sample[]; median?: Sample; best?: Sample; vsPeer?: number; vsC?: number }

function runOne(w: Workload, c: Contender, target: string, cBinary: string | null): Sample | null {
  const argv = [w.name, target, String(w.ops), String(w.qd), String(w.block)];
  let out: string;
  if (c.c) {
    if (!cBinary) return null;
    out = execFileSync(cBinary, argv, { encoding: 'utf8' });
  } else {
    if (c.id === 'readSync' && w.qd > 1) return null; // synchronous: one at a time by nature
    const r = spawnSync(process.execPath, [path.join(here, 'worker.js'), c.id, ...argv], { encoding: 'utf8', env: { ...process.env, UV_USE_IO_URING: '0', ...c.env }, maxBuffer: 1 << 20 });
    if (r.status !== 0) throw new Error(`${c.label} on ${w.id} failed:\n${r.stderr}`);
    out = r.stdout;
  }
  const { ops, bytes, seconds } = JSON.parse(out.trim().split('\n').pop()!);
  return { opsPerSec: ops / seconds, mibPerSec: bytes / seconds / 1048576 };
}

const median = (xs: Sample[]): Sample => {
  const s = [...xs].sort((a, b) => a.opsPerSec - b.opsPerSec);
  return s[Math.floor((s.length - 1) / 2)];
};
const best = (xs: Sample[]): Sample => xs.reduce((a, b) => (b.opsPerSec > a.opsPerSec ? b : a));

function heapCheck(): { ops: number; samples: number[]; growthBytes: number } {
  const n = quick ? 1_000_000 : 10_000_000;
  log(`heap check: ${n} NOPs through the raw path…`);
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(here, 'heap.js'), String(n)], { encoding: 'utf8' });
  const result = JSON.parse(r.stdout.trim());
  const s: number[] = result.samples;
  return { ops: n, samples: s, growthBytes: s[s.length - 1] - s[1] };
}

async function main(): Promise<void> {
  const cBinary = buildC();
  const { bigFile, filesDir } = prepareData();
  const results: Array<{ workload: Workload; rows: Row[] }> = [];
  let step = 0;
  for (const w of WORKLOADS) {
    step++;
    const contenders = w.kind === 'rw' ? RW_CONTENDERS : FILE_CONTENDERS;
    const rows: Row[] = contenders.map((c) => ({ label: c.label, ours: c.ours, c: !!c.c, samples: [] }));
    const target = w.kind === 'rw' ? bigFile : filesDir;
    for (let round = 0; round < rounds; round++) {
      // Alternate the order each round so no contender always runs first.
      const order = contenders.map((_, i) => i);
      if (round % 2 === 1) order.reverse();
      for (const i of order) {
        const sample = runOne(w, contenders[i], target, cBinary);
        if (sample) {
          rows[i].samples.push(sample);
          log(`[${step}/${WORKLOADS.length}] ${w.id} round ${round + 1}/${rounds}: ${contenders[i].label} ${fmt(sample.opsPerSec)} ops/s`);
        }
      }
    }
    const measured = rows.filter((r) => r.samples.length > 0);
    for (const r of measured) {
      r.median = median(r.samples);
      r.best = best(r.samples);
    }
    const peer = Math.max(...measured.filter((r) => !r.ours && !r.c).map((r) => r.median!.opsPerSec));
    const cRow = measured.find((r) => r.c);
    for (const r of measured) {
      if (!r.ours) continue;
      r.vsPeer = r.median!.opsPerSec / peer;
      if (cRow) r.vsC = r.median!.opsPerSec / cRow.median!.opsPerSec;
    }
    results.push({ workload: w, rows: measured });
    printTable(w, measured);
  }
  const heap = heapCheck();
  log(`heap: ${heap.samples.map((b) => (b / 1048576).toFixed(2)).join(' ')} MiB (growth ${(heap.growthBytes / 1024).toFixed(1)} KiB after warm-up)`);
  const targets = computeTargets(results);
  const machine = {
    cpu: os.cpus()[0]?.model, cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), kernel: os.release(),
    node: process.version, date: new Date().toISOString(), quick, rounds, cContender: cBinary !== null,
  };
  fs.mkdirSync(resultsDir, { recursive: true });
  const stem = quick ? 'quick' : 'latest';
  fs.writeFileSync(path.join(resultsDir, `${stem}.json`), JSON.stringify({ machine, targets, heap, results }, null, 2));
  fs.writeFileSync(path.join(resultsDir, `${stem}.md`), markdown(results, machine, targets, heap));
  fs.writeFileSync(path.join(resultsDir, `${stem}.svg`), svgChart(results.map((r) => ({ title: r.workload.title, bars: r.rows.map((row) => ({ label: row.label, value: row.median!.opsPerSec, ours: row.ours, c: row.c })) }))));
  console.log(`\ntargets:\n${targets.map((t) => `  ${t.met ? 'MET ' : 'SHORT'} ${t.name}: ${t.value.toFixed(2)}x (target ${t.target}x)`).join('\n')}`);
  console.log(`\nwrote bench/results/${stem}.json, ${stem}.md, ${stem}.svg`);
}

function ratio(results: Array<{ workload: Workload; rows: Row[] }>, id: string, a: string, b: string): number {
  const rows = results.find((r) => r.workload.id === id)?.rows;
  const x = rows?.find((r) => r.label === a)?.median?.opsPerSec;
  const y = rows?.find((r) => r.label === b)?.median?.opsPerSec;
  return x && y ? x / y : NaN;
}

function computeTargets(results: Array<{ workload: Workload; rows: Row[] }>): Array<{ name: string; value: number; target: number; met: boolean }> {
  const t = [
    { name: 'QD32 random reads: raw ring vs C on liburing', value: ratio(results, 'randread-qd32', 'uring raw ring', 'C on liburing'), target: 0.95 },
    { name: 'QD1 random reads: raw ring vs C on liburing', value: ratio(results, 'randread-qd1', 'uring raw ring', 'C on liburing'), target: 0.8 },
    { name: 'QD32 random reads: io.read (promise) vs C on liburing', value: ratio(results, 'randread-qd32', 'uring io (promise)', 'C on liburing'), target: 0.7 },
    { name: 'QD32 random reads: io.readInto (callback) vs raw ring', value: ratio(results, 'randread-qd32', 'uring io (callback)', 'uring raw ring'), target: 0.9 },
    { name: 'readFile of many files: uring/fs vs readFileSync', value: ratio(results, 'readfile', 'uring/fs', 'fs *Sync'), target: 1.2 },
    { name: 'stat of many files: uring/fs vs statSync', value: ratio(results, 'stat', 'uring/fs', 'fs *Sync'), target: 1.0 },
    { name: 'QD32 random reads: io.read vs FileHandle.read + UV_USE_IO_URING=1', value: ratio(results, 'randread-qd32', 'uring io (promise)', 'fs/promises FileHandle + UV_USE_IO_URING=1'), target: 2 },
    { name: 'QD32 random reads: io.read vs FileHandle.read', value: ratio(results, 'randread-qd32', 'uring io (promise)', 'fs/promises FileHandle'), target: 5 },
    { name: 'readFile of many files: uring/fs vs fs/promises', value: ratio(results, 'readfile', 'uring/fs', 'fs/promises'), target: 3 },
  ];
  return t.filter((x) => !Number.isNaN(x.value)).map((x) => ({ ...x, met: x.value >= x.target }));
}

function printTable(w: Workload, rows: Row[]): void {
  console.log(`\n## ${w.title}`);
  console.log(table(rows));
}

function table(rows: Row[]): string {
  const lines = ['| contender | median ops/s | best ops/s | median MiB/s | vs best node:fs | vs C |', '|---|---:|---:|---:|---:|---:|'];
  for (const r of rows) {
    lines.push(`| ${r.ours ? `**${r.label}**` : r.label} | ${fmt(r.median!.opsPerSec)} | ${fmt(r.best!.opsPerSec)} | ${r.median!.mibPerSec ? r.median!.mibPerSec.toFixed(0) : '–'} | ${r.vsPeer ? `${r.vsPeer.toFixed(2)}x` : ''} | ${r.vsC ? `${r.vsC.toFixed(2)}x` : ''} |`);
  }
  return lines.join('\n');
}

function markdown(results: Array<{ workload: Workload; rows: Row[] }>, machine: Record<string, unknown>, targets: ReturnType<typeof computeTargets>, heap: ReturnType<typeof heapCheck>): string {
  const parts = [`Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Linux ${machine.kernel}, Node ${machine.node}; ${machine.rounds} rounds${machine.quick ? ' (quick)' : ''}; files in page cache.`, ''];
  for (const { workload, rows } of results) parts.push(`### ${workload.title}`, '', table(rows), '');
  parts.push('### Targets', '', ...targets.map((t) => `- ${t.met ? 'met' : 'short'}: ${t.name}: **${t.value.toFixed(2)}x** (target ${t.target}x)`), '');
  parts.push(`Heap of the raw path over ${heap.ops.toLocaleString('en')} ops (after GC, every tenth): ${heap.samples.map((b) => (b / 1048576).toFixed(2)).join(', ')} MiB.`, '');
  return parts.join('\n');
}

// The net family is selected with --only net…; any other --only (or none) runs the file workloads as before.
const netOnly = only?.startsWith('net') ?? false;
if (!netOnly) await main();
if (!only || netOnly) await runNet({ quick, rounds, only, resultsDir, log });
