#!/usr/bin/env node
// The package's install step: node-gyp-build's install mode (nothing to do
// when a shipped prebuild loads; otherwise `node-gyp rebuild`), made unable to
// fail the user's `npm install`. io_uring is an accelerator, not a
// requirement: when no prebuild fits and compiling is impossible (no python3,
// make or C compiler: slim images, most CI images) the package still
// installs, this prints one line, and at run time the fs API uses node:fs,
// with backend().reason saying why (ERR_URING_NATIVE_MISSING).
// The build's output goes to uring-install.log in the package, kept only when
// the build failed, so the line can point at the details.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const log = path.join(root, 'uring-install.log');
const FIX = 'install python3, make and a C compiler, then run `npm rebuild uring`';

function line(msg) {
  console.error(`uring: ${msg}`);
}

if (process.platform !== 'linux') {
  line(`io_uring exists only on Linux; no native addon on ${process.platform}: the fs API uses node:fs.`);
  process.exit(0);
}

let bin;
try {
  bin = createRequire(import.meta.url).resolve('node-gyp-build/bin.js');
} catch (e) {
  line(`node-gyp-build is missing (${e.code ?? e.message}); no native addon: the fs API uses node:fs. Reinstall uring to fix.`);
  process.exit(0);
}

// A checkout of the sources (npm ci in a clone, a git dependency) always
// compiles, in the open and failing loudly: a build/ or prebuilds/ left from
// before would otherwise be kept although native/uring_shim.c changed.
if (fs.existsSync(path.join(root, 'src', 'ring', 'native.ts'))) {
  const r = spawnSync(process.execPath, [bin], { cwd: root, stdio: 'inherit', env: { ...process.env, npm_config_build_from_source: 'true' } });
  if (r.status !== 0) line(`building the native addon failed; a development checkout needs python3, make and a C compiler.`);
  process.exit(r.status ?? 1);
}

fs.rmSync(log, { force: true });
const fd = fs.openSync(log, 'w');
const r = spawnSync(process.execPath, [bin], { cwd: root, stdio: ['ignore', fd, fd] });
fs.closeSync(fd);
if (r.status === 0) {
  fs.rmSync(log, { force: true });
  process.exit(0);
}

// The last gyp/compiler error line is usually the cause (e.g. "gyp ERR! find Python").
const text = fs.readFileSync(log, 'utf8');
const cause = text.split('\n').filter((l) => /ERR!|error:|not found/i.test(l) && !/ERR! (cwd|node -v|node-gyp -v|command|System|not ok)/.test(l))[0]?.trim();
const target = `${process.platform}-${process.arch}${fs.existsSync('/etc/alpine-release') ? '-musl' : ''}`;
line(
  `no prebuilt native addon fits ${target} and building it failed${cause ? ` (${cause.replace(/\s+/g, ' ').slice(0, 160)})` : r.error ? ` (${r.error.message})` : ''}; ` +
    `installed without io_uring: the fs API uses node:fs. To enable io_uring, ${FIX} (details: ${log}).`,
);
process.exit(0);
