/**
 * Register mode (`node --import uring/register app`): real applications in child processes — an ESM
 * app, a CommonJS app, each with a dependency that requires fs/promises — must get uring/fs's
 * functions from every way of reaching node:fs/promises, really run them on the ring (counted by the
 * kernel: the CqTail of the process's io_uring fd in /proc/self/fdinfo), stream through our
 * FileHandle with fs.createReadStream/createWriteStream, and fall back to node:fs (URING_BACKEND=node,
 * a seccomp filter that denies io_uring) with the same results and without recursing into themselves.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { distUrl, hasCommand, ROOT, seccompHelper, tempDir } from '../helpers.js';

const REGISTER = distUrl('fs/register.js');
const FACADE = distUrl('fs/index.js');

/** Lines both apps share: ring completions as the kernel counts them, and the same workload. */
const COMMON = String.raw`
function ringCompletions() {
  // The kernel's own count of completions posted to this process's rings (fdinfo CqTail).
  let total = 0, rings = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let link; try { link = fs.readlinkSync('/proc/self/fd/' + fd); } catch { continue; }
    if (!link.includes('io_uring')) continue;
    const m = /CqTail:\s*(\d+)/.exec(fs.readFileSync('/proc/self/fdinfo/' + fd, 'utf8'));
    if (m) { total += Number(m[1]); rings++; }
  }
  return { total, rings };
}
async function workload(dir, api, dep, isOurs) {
  const out = {};
  const file = path.join(dir, 'data.bin');
  const payload = Buffer.alloc(300 * 1024);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + (i >> 9)) & 0xff;
  const before = ringCompletions().total;
  // The dependency reaches fs/promises on its own (require / import), 20 stats.
  out.depStats = await dep.statMany(path.join(dir), 20);
  out.depCompletions = ringCompletions().total - before;
  // Writing through fs.createWriteStream on our FileHandle, reading back through createReadStream.
  const wfh = await api.open(file, 'w');
  out.writeHandle = isOurs(wfh) ? 'uring' : 'node';
  const ws = fs.createWriteStream(null, { fd: wfh, highWaterMark: 16 * 1024 });
  for (let off = 0; off < payload.length; off += 10000) ws.write(payload.subarray(off, off + 10000));
  ws.end();
  await new Promise((resolve, reject) => { ws.on('close', resolve); ws.on('error', reject); });
  out.writeHandleFdAfterClose = wfh.fd;
  out.bytesWritten = ws.bytesWritten;
  const rfh = await api.open(file, 'r');
  const beforeRead = ringCompletions().total;
  const chunks = [];
  const rs = fs.createReadStream(null, { fd: rfh, highWaterMark: 32 * 1024 });
  for await (const c of rs) chunks.push(c);
  out.readCompletions = ringCompletions().total - beforeRead;
  out.sameBytes = Buffer.concat(chunks).equals(payload);
  out.readHandleFdAfterClose = rfh.fd;
  // start/end and autoClose: false on our handle.
  const pfh = await api.open(file, 'r');
  const part = [];
  for await (const c of fs.createReadStream(null, { fd: pfh, start: 1000, end: 1999, autoClose: false })) part.push(c);
  out.rangeOk = Buffer.concat(part).equals(payload.subarray(1000, 2000));
  out.openAfterNoAutoClose = pfh.fd >= 0;
  await pfh.close();
  // node's refusal of a FileHandle with custom fs operations holds for ours.
  const xfh = await api.open(file, 'r');
  try { fs.createReadStream(null, { fd: xfh, fs: {} }); out.withFs = 'no error'; } catch (e) { out.withFs = e.code; }
  await xfh.close();
  // Delegations to node:fs (recursive mkdir, bigint stat, a directory rm) must reach node, not ourselves.
  await api.mkdir(path.join(dir, 'a', 'b', 'c'), { recursive: true });
  out.bigint = typeof (await api.stat(file, { bigint: true })).size;
  await api.rm(path.join(dir, 'a'), { recursive: true });
  out.readText = await api.readFile(path.join(dir, 'dep.txt'), 'utf8');
  out.enoent = await api.readFile(path.join(dir, 'missing')).then(() => 'ok', (e) => e.code + ':' + e.syscall);
  return out;
}
`;

const ESM_APP = String.raw`
import fs from 'node:fs';
import path from 'node:path';
import fspDefault from 'node:fs/promises';
import { readFile, stat, open } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import * as ufs from ${JSON.stringify(FACADE)};
import { registered } from ${JSON.stringify(REGISTER)};
import esmDep from 'esm-dep';
const require = createRequire(import.meta.url);
const dep = require('cjs-dep');
${COMMON}
const dir = process.argv[2];
const ns = await import('node:fs/promises');
const out = {
  backend: registered.backend.name,
  reason: registered.backend.reason ?? null,
  replaced: registered.replaced,
  same: {
    named: readFile === ufs.readFile && stat === ufs.stat && open === ufs.open,
    default: fspDefault.readFile === ufs.readFile,
    dynamicNamespace: ns.readFile === ufs.readFile,
    fsPromises: fs.promises.readFile === ufs.readFile,
    require: require('fs/promises').readFile === ufs.readFile && require('node:fs').promises.stat === ufs.stat,
    esmDep: esmDep.readFile === ufs.readFile,
    cjsDep: dep.readFile === ufs.readFile,
    streamWrapped: createReadStream === fs.createReadStream && createReadStream.name === 'createReadStream',
    everyReplaced: registered.replaced.every((name) => fspDefault[name] === ufs[name] && ns[name] === ufs[name]),
  },
  ...(await workload(dir, { open, readFile, stat, mkdir: fspDefault.mkdir, rm: fspDefault.rm }, dep, ufs.isUringFileHandle)),
};
out.total = ringCompletions();
console.log(JSON.stringify(out));
`;

const CJS_APP = String.raw`
const fs = require('node:fs');
const path = require('node:path');
const fsp = require('fs/promises');
const dep = require('cjs-dep');
${COMMON}
(async () => {
  const ufs = await import(${JSON.stringify(FACADE)});
  const { registered } = await import(${JSON.stringify(REGISTER)});
  const out = {
    backend: registered.backend.name,
    reason: registered.backend.reason ?? null,
    replaced: registered.replaced,
    same: {
      require: fsp.readFile === ufs.readFile && fsp.open === ufs.open,
      fsPromises: fs.promises.stat === ufs.stat,
      cjsDep: dep.readFile === ufs.readFile,
      esmImport: (await import('node:fs/promises')).readFile === ufs.readFile,
    },
    ...(await workload(process.argv[2], fsp, dep, ufs.isUringFileHandle)),
  };
  out.total = ringCompletions();
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
`;

/** A project directory: the app, a CommonJS and an ESM dependency in node_modules, uring linked as a package. */
function project(): string {
  const dir = tempDir('uring-register-');
  const mod = (name: string, type: string, main: string, source: string): void => {
    fs.mkdirSync(path.join(dir, 'node_modules', name), { recursive: true });
    fs.writeFileSync(path.join(dir, 'node_modules', name, 'package.json'), JSON.stringify({ name, type, main }));
    fs.writeFileSync(path.join(dir, 'node_modules', name, main), source);
  };
  mod('cjs-dep', 'commonjs', 'index.js', `
    const fsp = require('fs/promises');
    const { readFile } = require('fs').promises;
    exports.readFile = readFile;
    exports.statMany = async (p, n) => { let ok = 0; for (let i = 0; i < n; i++) if ((await fsp.stat(p)).isDirectory()) ok++; return ok; };
  `);
  mod('esm-dep', 'module', 'index.js', `import { readFile } from 'node:fs/promises'; export default { readFile };`);
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'uring'));
  fs.writeFileSync(path.join(dir, 'app.mjs'), ESM_APP);
  fs.writeFileSync(path.join(dir, 'app.cjs'), CJS_APP);
  fs.writeFileSync(path.join(dir, 'dep.txt'), 'from the dependency\n');
  return dir;
}

function run(dir: string, app: string, opts: { importSpec?: string; env?: NodeJS.ProcessEnv; prefix?: string[] } = {}): any {
  const work = fs.mkdtempSync(path.join(dir, 'work-'));
  fs.writeFileSync(path.join(work, 'dep.txt'), 'from the dependency\n');
  const args = [...(opts.prefix ?? []), process.execPath, '--import', opts.importSpec ?? REGISTER, path.join(dir, app), work];
  const r = spawnSync(args[0], args.slice(1), { cwd: dir, encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...opts.env } });
  assert.equal(r.status, 0, `exit ${r.status} ${r.signal ?? ''}\n${r.stderr}\n${r.stdout}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  console.log(`${app}: backend ${out.backend}, ring completions: dependency ${out.depCompletions}, stream read ${out.readCompletions}, process ${out.total.total} on ${out.total.rings} ring(s)`);
  return out;
}

const REPLACED = ['appendFile', 'link', 'lstat', 'mkdir', 'open', 'readFile', 'rename', 'rmdir', 'stat', 'symlink', 'truncate', 'unlink', 'writeFile'];

function assertWorkload(out: any, ring: boolean): void {
  assert.equal(out.depStats, 20);
  assert.equal(out.writeHandle, ring ? 'uring' : 'node');
  assert.equal(out.bytesWritten, 300 * 1024);
  assert.equal(out.sameBytes, true);
  assert.equal(out.writeHandleFdAfterClose, -1, 'closing the stream closes the FileHandle');
  assert.equal(out.readHandleFdAfterClose, -1);
  assert.equal(out.rangeOk, true);
  assert.equal(out.openAfterNoAutoClose, true);
  assert.equal(out.withFs, 'ERR_METHOD_NOT_IMPLEMENTED');
  assert.equal(out.bigint, 'bigint');
  assert.equal(out.readText, 'from the dependency\n');
  assert.equal(out.enoent, 'ENOENT:open');
  if (ring) {
    // The kernel posted a completion for each of the dependency's 20 stats and for each read the stream made
    // (300 KiB in 32 KiB chunks: 10 reads and the one that finds EOF).
    assert.equal(out.total.rings, 1);
    assert.ok(out.depCompletions >= 20, `dependency's stats on the ring: ${out.depCompletions}`);
    assert.ok(out.readCompletions >= 11, `stream reads on the ring: ${out.readCompletions}`);
  } else {
    assert.equal(out.total.rings, 0, 'no ring on the fallback');
  }
}

test('register, ESM app: every import style gets uring/fs, dependencies included, and the work runs on the ring', () => {
  const out = run(project(), 'app.mjs');
  assert.equal(out.backend, 'io_uring');
  // At least the functions uring/fs implements today; more as it grows (each one then uring/fs's own).
  for (const name of REPLACED) assert.ok(out.replaced.includes(name), `${name} replaced`);
  assert.equal(out.same.everyReplaced, true);
  assert.deepEqual(out.same, { named: true, default: true, dynamicNamespace: true, fsPromises: true, require: true, esmDep: true, cjsDep: true, streamWrapped: true, everyReplaced: true });
  assertWorkload(out, true);
});

test('register, CommonJS app: require(fs/promises), fs.promises and a dependency get uring/fs', () => {
  const out = run(project(), 'app.cjs');
  assert.equal(out.backend, 'io_uring');
  assert.deepEqual(out.same, { require: true, fsPromises: true, cjsDep: true, esmImport: true });
  assertWorkload(out, true);
});

test('register through the package export: node --import uring/register', () => {
  const out = run(project(), 'app.mjs', { importSpec: 'uring/register' });
  assert.equal(out.backend, 'io_uring');
  assert.equal(out.same.named, true);
});

test('register, fallback forced by URING_BACKEND=node: node:fs underneath, same results, no recursion', () => {
  for (const app of ['app.mjs', 'app.cjs']) {
    const out = run(project(), app, { env: { URING_BACKEND: 'node' } });
    assert.equal(out.backend, 'node:fs');
    assert.match(out.reason, /URING_BACKEND=node/);
    assertWorkload(out, false);
  }
});

test('register, fallback where a seccomp filter denies io_uring: node:fs underneath, same results', { skip: !hasCommand('cc') && 'no C compiler to build the seccomp helper (install gcc)' }, () => {
  const helper = seccompHelper();
  if (!helper) return;
  for (const app of ['app.mjs', 'app.cjs']) {
    const out = run(project(), app, { prefix: [helper], env: { URING_BACKEND: '' } });
    assert.equal(out.backend, 'node:fs');
    assert.match(out.reason, /EPERM|ENOSYS|seccomp/i);
    assertWorkload(out, false);
  }
});
