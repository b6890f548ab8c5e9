#!/usr/bin/env node
// Builds the prebuilt binaries that the package ships (npm runs this as
// `prepack`, so `npm pack` and `npm publish` always put in the tarball
// binaries compiled from the very native/uring_shim.c being packed; none are
// committed). One Node-API binary per platform/arch/libc serves every Node
// version >= 20, named the way prebuildify names them and node-gyp-build
// finds them: prebuilds/linux-x64/uring.glibc.node and so on.
//
// Targets: the host's own arch on glibc (required), the other 64-bit arch on
// glibc with Debian's cross compiler (gcc-aarch64-linux-gnu or
// gcc-x86-64-linux-gnu), and the host arch on musl with musl-gcc (musl-tools).
// A target whose toolchain is absent is skipped with a line saying so; under
// `npm publish`, or with URING_PREBUILD_STRICT=1, a skipped target is an error,
// so a published package never silently lacks one.
//
// Each target builds in its own scratch copy of binding.gyp + native/, so the
// developer's build/ (which node-gyp-build prefers at run time) is never
// replaced by a foreign-arch binary, and the targets can build in parallel.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const require = createRequire(import.meta.url);
const strict = process.env.URING_PREBUILD_STRICT === '1' || process.env.npm_command === 'publish';

if (process.platform !== 'linux') {
  console.error(`prebuild: the shim is Linux-only; nothing to build on ${process.platform}.`);
  process.exit(strict ? 1 : 0);
}

/** Debian's names of the cross toolchains, by Node's arch name. */
const TRIPLE = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };
const host = os.arch();

function onPath(cmd) {
  return spawnSync('sh', ['-c', `command -v "${cmd}"`], { stdio: 'ignore' }).status === 0;
}

function targets() {
  const out = [];
  for (const arch of Object.keys(TRIPLE)) {
    if (arch === host) out.push({ arch, libc: 'glibc', cc: process.env.CC || 'cc', strip: 'strip', apt: 'gcc' });
    else out.push({ arch, libc: 'glibc', cc: `${TRIPLE[arch]}-gcc`, strip: `${TRIPLE[arch]}-strip`, apt: `gcc-${TRIPLE[arch].replace(/_/g, '-')}` });
  }
  // Debian's musl-gcc targets the host arch only.
  if (TRIPLE[host]) out.push({ arch: host, libc: 'musl', cc: 'musl-gcc', strip: 'strip', apt: 'musl-tools' });
  return out;
}

/** npm's own node-gyp (npm exports its path to scripts; otherwise it sits beside npm). */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  for (const c of candidates) if (c && fs.existsSync(c)) return c;
  return 'node-gyp';
}

/**
 * The headers of the running Node (N-API is ABI-stable, so building against
 * them serves every later version); found beside the binary, which avoids
 * node-gyp downloading headers.
 */
function nodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const dir = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(dir, 'include', 'node', 'node_api.h')) ? dir : undefined;
}

function build(t, scratch) {
  const dir = path.join(scratch, `${t.arch}-${t.libc}`);
  fs.mkdirSync(path.join(dir, 'native'), { recursive: true });
  fs.copyFileSync(path.join(root, 'binding.gyp'), path.join(dir, 'binding.gyp'));
  fs.cpSync(path.join(root, 'native'), path.join(dir, 'native'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'uring' }));
  const env = { ...process.env, CC: t.cc, CXX: t.cc, LINK: t.cc };
  const nd = nodeDir();
  if (nd) env.npm_config_nodedir = nd;
  const args = [
    require.resolve('prebuildify/bin.js'), '--napi', '--target', process.versions.node,
    '--arch', t.arch, '--libc', t.libc, '--tag-libc', '--strip', '--strip-bin', t.strip,
    '--node-gyp', nodeGyp(), '--cwd', dir,
  ];
  const log = path.join(scratch, `${t.arch}-${t.libc}.log`);
  const fd = fs.openSync(log, 'w');
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', fd, fd] });
    child.on('close', (code) => {
      fs.closeSync(fd);
      const file = path.join(dir, 'prebuilds', `linux-${t.arch}`, `uring.${t.libc}.node`);
      resolve({ ...t, ok: code === 0 && fs.existsSync(file), file, log, ms: Date.now() - started });
    });
  });
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'uring-prebuild-'));
const all = targets();
const runnable = all.filter((t) => onPath(t.cc) && onPath(t.strip));
const skipped = all.filter((t) => !runnable.includes(t));
const results = await Promise.all(runnable.map((t) => build(t, scratch)));

// Replace prebuilds/ as a whole: a target not rebuilt now must not ship a stale binary.
const out = path.join(root, 'prebuilds');
fs.rmSync(out, { recursive: true, force: true });
let failed = false;
for (const r of results) {
  const name = `linux-${r.arch}/uring.${r.libc}.node`;
  if (!r.ok) {
    failed = true;
    console.error(`prebuild: ${name} FAILED (${r.cc}); log:\n${fs.readFileSync(r.log, 'utf8').split('\n').slice(-25).join('\n')}`);
    continue;
  }
  fs.mkdirSync(path.join(out, `linux-${r.arch}`), { recursive: true });
  fs.copyFileSync(r.file, path.join(out, name));
  console.error(`prebuild: ${name} (${r.cc}, ${fs.statSync(r.file).size} bytes, ${r.ms} ms)`);
}
for (const t of skipped) {
  console.error(`prebuild: linux-${t.arch}/uring.${t.libc}.node SKIPPED: ${t.cc} not found (apt-get install ${t.apt})`);
}
fs.rmSync(scratch, { recursive: true, force: true });
const hostOk = results.some((r) => r.ok && r.arch === host && r.libc === 'glibc');
if (failed || !hostOk || (strict && skipped.length)) process.exit(1);
