#!/usr/bin/env node
// Runs Node's own fs/promises, FileHandle and FileHandle-stream tests (from a nodejs/node checkout)
// three ways: plain node:fs, under `--import uring/register` on the io_uring backend, and under the
// register with URING_BACKEND=node; prints a pass/fail table with the first error line of each failure.
// Nothing of Node's is copied into this project: the tests run where they are (a checkout), or from a
// temporary extraction of a git directory (--git-dir, --ref). See docs/node-fs-tests.md.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REGISTER = path.join(ROOT, 'dist', 'src', 'fs', 'register.js');
// The set of files: fs/promises (test-fs-promises*), other promise APIs (test-fs-*-promises*), FileHandle
// (test-fs-*file-handle*, test-fs-filehandle*, test-filehandle-*) — 37 files on the v20 line.
const DEFAULT_SET = /^test-(fs-promises|fs-.*-promises|fs-.*file-?handle|filehandle-).*\.m?js$/;
const MODES = {
  plain: { register: false, env: {} },
  io_uring: { register: true, env: { URING_BACKEND: undefined } },
  node: { register: true, env: { URING_BACKEND: 'node' } },
};

function usage(message) {
  if (message) console.error(message);
  console.error(`usage: node scripts/node-fs-tests.mjs <nodejs/node checkout> [options]
       node scripts/node-fs-tests.mjs --git-dir <git directory of nodejs/node> --ref <tag or commit> [options]
options:
  --modes plain,io_uring,node   which runs (default: all three)
  --only <regex>                test files to run (default: the fs/promises + FileHandle set)
  --jobs <n>                    files run at once (default 2)
  --timeout <seconds>           per file (default 60)
  --json <file>                 also write the results as JSON
  --verbose                     print the whole output of each failure`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { modes: Object.keys(MODES), only: DEFAULT_SET, jobs: 2, timeout: 60, json: null, verbose: false, checkout: null, gitDir: null, ref: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i] ?? usage(`${a} needs a value`);
    if (a === '--modes') o.modes = next().split(',');
    else if (a === '--only') o.only = new RegExp(next());
    else if (a === '--jobs') o.jobs = Math.max(1, parseInt(next(), 10));
    else if (a === '--timeout') o.timeout = Number(next());
    else if (a === '--json') o.json = next();
    else if (a === '--git-dir') o.gitDir = next();
    else if (a === '--ref') o.ref = next();
    else if (a === '--verbose') o.verbose = true;
    else if (a === '-h' || a === '--help') usage();
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else o.checkout = a;
  }
  for (const m of o.modes) if (!(m in MODES)) usage(`unknown mode ${m}`);
  if (!o.checkout && !o.gitDir) usage('give a checkout or --git-dir and --ref');
  if (o.gitDir && !o.ref) usage('--git-dir needs --ref');
  return o;
}

/** test/common, test/fixtures and test/parallel of `ref`, written once into a temp dir (blobs the git dir lacks are skipped). */
function extract(gitDir, ref) {
  const git = (args, input) => {
    const r = spawnSync('git', ['--git-dir', gitDir, ...args], { input, maxBuffer: 1 << 30 });
    if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const commit = git(['rev-parse', '--verify', `${ref}^{commit}`]).toString().trim();
  const dir = path.join(os.tmpdir(), `uring-node-tests-${commit.slice(0, 12)}`);
  if (fs.existsSync(path.join(dir, '.complete'))) return { dir, commit };
  fs.rmSync(dir, { recursive: true, force: true });
  const entries = git(['ls-tree', '-r', '-z', commit, '--', 'test/common', 'test/fixtures', 'test/parallel']).toString().split('\0').filter(Boolean)
    .map((line) => { const [meta, file] = line.split('\t'); const [mode, type, sha] = meta.split(' '); return { mode, type, sha, file }; })
    .filter((e) => e.type === 'blob');
  const batch = git(['cat-file', '--batch'], entries.map((e) => e.sha).join('\n') + '\n');
  let at = 0;
  let missing = 0;
  for (const e of entries) {
    const eol = batch.indexOf(10, at);
    const header = batch.subarray(at, eol).toString();
    at = eol + 1;
    if (header.endsWith(' missing')) { missing++; continue; }
    const size = Number(header.split(' ')[2]);
    const body = batch.subarray(at, at + size);
    at += size + 1;
    const out = path.join(dir, e.file);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    if (e.mode === '120000') fs.symlinkSync(body.toString(), out);
    else fs.writeFileSync(out, body, { mode: e.mode === '100755' ? 0o755 : 0o644 });
  }
  fs.writeFileSync(path.join(dir, '.complete'), `${commit}\n${missing} blobs absent from the git directory\n`);
  return { dir, commit };
}

/** Node's test runner takes the flags of a test from its first `// Flags:` line. */
function flagsOf(file) {
  const m = /\/\/\s+Flags:(.*)/.exec(fs.readFileSync(file, 'utf8'));
  return m ? m[1].trim().split(/\s+/).filter(Boolean) : [];
}

// Loaded after the register in every test process: at exit it appends the backend and the kernel's count of
// completions on this process's rings (fdinfo CqTail), so the table can show the ring really did the work.
function probeSource() {
  // fs functions are taken now: some tests replace fs.openSync/writeSync or mock node's internal bindings.
  return `import fs from 'node:fs';
import { registered } from ${JSON.stringify(pathToFileURL(REGISTER).href)};
const { openSync, writeSync, closeSync, readdirSync, readlinkSync, readSync } = fs;
const out = process.env.URING_NODE_TESTS_PROBE;
function read(file) {
  const fd = openSync(file, 'r'); const buf = Buffer.alloc(4096);
  try { return buf.toString('utf8', 0, readSync(fd, buf, 0, buf.length, 0)); } finally { closeSync(fd); }
}
process.on('exit', () => {
  let cqes = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    let link; try { link = readlinkSync('/proc/self/fd/' + fd); } catch { continue; }
    if (!link.includes('io_uring')) continue;
    const m = /CqTail:\\s*(\\d+)/.exec(read('/proc/self/fdinfo/' + fd));
    if (m) cqes += Number(m[1]);
  }
  if (!out) return;
  const fd = openSync(out, 'a');
  try { writeSync(fd, JSON.stringify({ backend: registered.backend.name, cqes }) + '\\n'); } finally { closeSync(fd); }
});`;
}

/** The line that says what failed: the first error or assertion message, and where in the test file it was thrown. */
function firstError(output, file) {
  const lines = output.split('\n');
  const msg = lines.find((l) => /^\s*(Uncaught )?(\w*Error|AssertionError)( \[\w+\])?:|^\s*(Error|TypeError|RangeError)\b|Mismatched .* function calls|^\s*code: '/.test(l))
    ?? lines.find((l) => l.trim() && !/^\(node:\d+\)|Use `node --trace-warnings/.test(l)) ?? '';
  const base = path.basename(file);
  const where = lines.find((l) => l.includes(`${base}:`));
  const loc = where ? /([^/\s(]+:\d+:\d+)\)?\s*$/.exec(where)?.[1] : undefined;
  return `${msg.trim().slice(0, 200)}${loc ? `  @ ${loc}` : ''}`;
}

function runOne(testsRoot, file, mode, o, probeFile) {
  const m = MODES[mode];
  const args = [...flagsOf(file)];
  if (m.register) {
    args.push('--import', pathToFileURL(REGISTER).href);
    args.push('--import', `data:text/javascript,${encodeURIComponent(probeSource())}`);
  }
  args.push(file);
  const env = { ...process.env, NODE_TEST_DIR: o.testDir, TEST_THREAD_ID: String(o.nextId++), URING_NODE_TESTS_PROBE: probeFile };
  for (const [k, v] of Object.entries(m.env)) { if (v === undefined) delete env[k]; else env[k] = v; }
  delete env.NODE_OPTIONS;
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, args, { cwd: testsRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, o.timeout * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let probes = [];
      try { probes = fs.readFileSync(probeFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)); } catch { /* none written */ }
      fs.rmSync(probeFile, { force: true });
      const status = timedOut ? 'TIMEOUT' : code === 0 ? 'pass' : 'FAIL';
      resolve({ status, code, signal, ms: Date.now() - started, error: status === 'pass' ? '' : (timedOut ? `no exit within ${o.timeout} s; ` : '') + firstError(out, file), output: status === 'pass' ? '' : out, probes });
    });
  });
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.modes.some((m) => MODES[m].register) && !fs.existsSync(REGISTER)) {
    console.error(`${REGISTER} is missing: build the project first (npm ci, or npx tsc -p .)`);
    process.exit(2);
  }
  let root = o.checkout && path.resolve(o.checkout);
  let source = root;
  if (o.gitDir) {
    const { dir, commit } = extract(o.gitDir, o.ref);
    root = dir;
    source = `${o.gitDir} ${o.ref} (${commit.slice(0, 12)}), extracted to ${dir}`;
  }
  const parallel = path.join(root, 'test', 'parallel');
  if (!fs.existsSync(path.join(root, 'test', 'common', 'index.js'))) usage(`${root} has no test/common/index.js: not a nodejs/node checkout`);
  const files = fs.readdirSync(parallel).filter((f) => o.only.test(f)).sort();
  o.testDir = fs.mkdtempSync(path.join(os.tmpdir(), 'uring-node-tests-run-'));
  o.nextId = 1;
  console.log(`Node ${process.version}; tests from ${source}; ${files.length} files; modes ${o.modes.join(', ')}`);

  const results = Object.fromEntries(files.map((f) => [f, {}]));
  const jobs = files.flatMap((f) => o.modes.map((m) => [f, m]));
  let next = 0;
  await Promise.all(Array.from({ length: o.jobs }, async () => {
    while (next < jobs.length) {
      const [f, m] = jobs[next++];
      const probe = path.join(o.testDir, `probe-${o.nextId}-${m}-${f}.jsonl`);
      results[f][m] = await runOne(root, path.join(parallel, f), m, o, probe);
    }
  }));
  fs.rmSync(o.testDir, { recursive: true, force: true });

  // A registered run shows the ring completions its processes counted: a pass with only a handful
  // (the loader reading the test file) means the file hardly touched fs/promises.
  const cell = (r, m) => (MODES[m].register && r.probes.length ? `${r.status} (${r.probes.reduce((n, p) => n + p.cqes, 0)})` : r.status).padEnd(14);
  const width = Math.max(...files.map((f) => f.length));
  console.log(`\n${'file'.padEnd(width)}  ${o.modes.map((m) => m.padEnd(14)).join('  ')}`);
  for (const f of files) console.log(`${f.padEnd(width)}  ${o.modes.map((m) => cell(results[f][m], m)).join('  ')}`);
  if (o.modes.some((m) => MODES[m].register)) console.log('(n): completions the kernel posted on the test process\'s io_uring rings (fdinfo CqTail)');
  console.log('');
  for (const m of o.modes) {
    const failed = files.filter((f) => results[f][m].status !== 'pass');
    if (failed.length === 0) continue;
    console.log(`failures, ${m}:`);
    for (const f of failed) {
      console.log(`  ${f}: ${results[f][m].error}`);
      if (o.verbose) console.log(results[f][m].output.replace(/^/gm, '      '));
    }
  }
  for (const m of o.modes) {
    const passed = files.filter((f) => results[f][m].status === 'pass').length;
    let extra = '';
    if (MODES[m].register) {
      const probes = files.flatMap((f) => results[f][m].probes);
      const onRing = probes.filter((p) => p.backend === 'io_uring');
      extra = `; ${probes.length} processes registered, ${onRing.length} on io_uring, ${onRing.reduce((n, p) => n + p.cqes, 0)} ring completions`;
    }
    console.log(`${m}: ${passed} passed, ${files.length - passed} failed${extra}`);
  }
  if (o.json) fs.writeFileSync(o.json, JSON.stringify({ node: process.version, source, files: results }, null, 2));
  // Exit non-zero when a registered run fails a file that node:fs passes (or, without a plain run, any failure).
  const regressions = files.filter((f) => o.modes.some((m) => MODES[m].register && results[f][m].status !== 'pass' && (results[f].plain?.status ?? 'pass') === 'pass'));
  process.exitCode = regressions.length ? 1 : 0;
}

main().catch((e) => { console.error(e); process.exit(2); });
