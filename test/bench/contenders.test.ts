/**
 * Every benchmark contender does the work it claims (tiny op counts, no
 * timing): the right number of operations and bytes, on real files. Speed is
 * judged by `npm run bench`, never here.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT, tempDir } from '../helpers.js';

const worker = path.join(ROOT, 'dist', 'bench', 'worker.js');
const dir = tempDir('uring-bench-test-');
const big = path.join(dir, 'big');
fs.writeFileSync(big, Buffer.alloc(1 << 20, 5));
const files = path.join(dir, 'files');
fs.mkdirSync(files);
for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(files, `f${i}`), Buffer.alloc(4096, 1));

function run(contender: string, workload: string, target: string, ops: number, qd: number, block: number): { ops: number; bytes: number; seconds: number } {
  const r = spawnSync(process.execPath, [worker, contender, workload, target, String(ops), String(qd), String(block)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

for (const contender of ['raw', 'promise', 'facade', 'fs.read', 'FileHandle.read', 'readSync']) {
  for (const workload of ['randread', 'seqread', 'randwrite', 'randwrite-fsync']) {
    test(`${contender} runs ${workload}`, () => {
      const qd = contender === 'readSync' ? 1 : 8;
      const out = run(contender, workload, big, 200, qd, 4096);
      assert.equal(out.ops, 200);
      assert.equal(out.bytes, 200 * 4096);
      assert.ok(out.seconds > 0);
    });
  }
}

for (const contender of ['raw', 'promise', 'facade', 'fsp', 'fs.cb', 'sync']) {
  test(`${contender} runs readfile / stat / openclose over 50 files`, () => {
    assert.equal(run(contender, 'readfile', files, 50, 16, 4096).bytes, 50 * 4096);
    assert.equal(run(contender, 'stat', files, 50, 16, 0).ops, 50);
    assert.equal(run(contender, 'openclose', files, 50, 16, 0).ops, 50);
  });
}

const haveLiburing = fs.existsSync('/usr/include/liburing.h');
test('the C contender compiles against liburing and does the same work', { skip: !haveLiburing && 'liburing-dev is not installed (apt-get install liburing-dev): the C contender is not checked' }, () => {
  const bin = path.join(dir, 'bench-c');
  const cc = spawnSync('cc', ['-O2', '-o', bin, path.join(ROOT, 'bench', 'c', 'bench.c'), '-luring'], { encoding: 'utf8' });
  assert.equal(cc.status, 0, cc.stderr);
  for (const [workload, target, block] of [['randread', big, 4096], ['seqread', big, 4096], ['randwrite', big, 4096], ['randwrite-fsync', big, 4096], ['readfile', files, 4096], ['stat', files, 0], ['openclose', files, 0]] as const) {
    const r = spawnSync(bin, [workload, target, '50', '8', String(block)], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${workload}: ${r.stderr}`);
    const out = JSON.parse(r.stdout);
    assert.equal(out.ops, 50, workload);
    if (workload === 'readfile') assert.equal(out.bytes, 50 * 4096);
  }
});
