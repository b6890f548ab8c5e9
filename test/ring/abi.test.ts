/**
 * abi/ against the kernel's own headers: a C program compiled with
 * <linux/io_uring.h> (and the headers of the Linux structs the ops use)
 * prints every constant's value and every struct field's offset and size
 * that the headers know; each must equal abi/. Names the installed headers
 * are too old to have are counted and reported, not compared.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import * as abi from '../../src/abi/index.js';
import { hasCommand, tempDir } from '../helpers.js';

const CC = process.env.CC ?? 'cc';
const haveCompiler = hasCommand(CC) && fs.existsSync('/usr/include/linux/io_uring.h');

const CONSTANT_GROUPS = [
  abi.IORING_SETUP, abi.IORING_FEAT, abi.IORING_OP, abi.IOSQE, abi.IOSQE_BIT, abi.IORING_ENTER,
  abi.IORING_REGISTER, abi.IORING_SQ, abi.IORING_CQ, abi.IORING_CQE_F, abi.IORING_OFF,
  abi.IORING_OP_FLAGS, abi.IORING_RESTRICTION, abi.LINUX,
];
const SINGLE_CONSTANTS: Record<string, number> = { IORING_CQE_BUFFER_SHIFT: abi.IORING_CQE_BUFFER_SHIFT };

type Check = { line: string; key: string; expected: string };

/** Fields whose name older headers use for a different, wider member: newer kernels split a
 * reserved area. Compared only with headers at least as new as the split. */
const SPLIT_SINCE: Record<string, number> = {
  'io_uring_buf_reg.resv': 612, // min_left carved out of resv
  'io_uring_sync_cancel_reg.pad': 606, // opcode carved out of pad (IORING_ASYNC_CANCEL_OP)
};

function buildChecks(): Check[] {
  const checks: Check[] = [];
  const constants = new Map<string, number>(Object.entries(SINGLE_CONSTANTS));
  for (const group of CONSTANT_GROUPS) for (const [name, value] of Object.entries(group)) constants.set(name, value);
  for (const [name, value] of constants) {
    checks.push({ line: `printf("const ${name} %lld\\n", (long long)(${name}));`, key: `const ${name}`, expected: String(value) });
  }
  for (const layout of [...abi.IO_URING_STRUCTS, ...abi.LINUX_STRUCTS]) {
    const type = layout.name === 'iovec' || layout.name === 'statx' || layout.name === 'open_how' || layout.name.startsWith('io_') || layout.name.startsWith('__') || layout.name === 'statx_timestamp'
      ? `struct ${layout.name}` : layout.name;
    checks.push({ line: `printf("size ${layout.name} %zu\\n", sizeof(${type}));`, key: `size ${layout.name}`, expected: String(layout.size) });
    for (const [field, { offset, size }] of Object.entries(layout.fields)) {
      checks.push({ line: `printf("off ${layout.name}.${field} %zu\\n", offsetof(${type}, ${field}));`, key: `off ${layout.name}.${field}`, expected: String(offset) });
      if (size > 0) {
        checks.push({ line: `printf("fsize ${layout.name}.${field} %zu\\n", sizeof(((${type} *)0)->${field}));`, key: `fsize ${layout.name}.${field}`, expected: String(size) });
      }
    }
  }
  return checks;
}

const PRELUDE = [
  '#define _GNU_SOURCE',
  '#include <stddef.h>',
  '#include <stdio.h>',
  '#include <fcntl.h>',
  '#include <poll.h>',
  '#include <time.h>',
  '#include <sys/uio.h>',
  '#include <sys/socket.h>',
  '#include <linux/futex.h>',
  '#include <linux/io_uring.h>',
  '#include <linux/openat2.h>',
  'int main(void) {',
];

/** Compiles the checks, dropping each line the headers cannot compile (a name they lack); returns the program's output. */
function compileAndRun(checks: Check[]): { output: Map<string, string>; missing: Check[] } {
  const dir = tempDir('uring-abi-');
  const src = path.join(dir, 'abi.c');
  const bin = path.join(dir, 'abi');
  let kept = checks.slice();
  const missing: Check[] = [];
  for (let attempt = 0; attempt < 6; attempt++) {
    const lines = [...PRELUDE, ...kept.map((c) => `  ${c.line}`), '  return 0;', '}'];
    fs.writeFileSync(src, lines.join('\n'));
    const cc = spawnSync(CC, ['-fmax-errors=0', '-o', bin, src], { encoding: 'utf8' });
    if (cc.status === 0) {
      const run = spawnSync(bin, { encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      const output = new Map<string, string>();
      for (const l of run.stdout.trim().split('\n')) {
        const at = l.lastIndexOf(' ');
        output.set(l.slice(0, at), l.slice(at + 1));
      }
      return { output, missing };
    }
    const bad = new Set<number>();
    for (const m of cc.stderr.matchAll(/abi\.c:(\d+):\d+: error/g)) bad.add(Number(m[1]) - PRELUDE.length - 1);
    assert.ok(bad.size > 0 && [...bad].every((i) => i >= 0), `compile failed outside the checks:\n${cc.stderr.slice(0, 2000)}`);
    missing.push(...kept.filter((_, i) => bad.has(i)));
    kept = kept.filter((_, i) => !bad.has(i));
  }
  throw new Error('the ABI program did not compile');
}

test('abi/ matches <linux/io_uring.h>: every constant, struct size, field offset and field size it has', { skip: !haveCompiler && `no C compiler (${CC}) or no /usr/include/linux/io_uring.h: install gcc and linux-libc-dev to run the ABI check` }, () => {
  const checks = buildChecks();
  const { output, missing } = compileAndRun(checks);
  const headerVersion = Number(fs.readFileSync('/usr/include/linux/version.h', 'utf8').match(/LINUX_VERSION_CODE (\d+)/)?.[1] ?? 0);
  const headers = (headerVersion >> 16) * 100 + ((headerVersion >> 8) & 0xff);
  const mismatches: string[] = [];
  let compared = 0;
  let older = 0;
  for (const c of checks) {
    const got = output.get(c.key);
    if (got === undefined) continue;
    const field = c.key.split(' ')[1];
    if (headers < (SPLIT_SINCE[field] ?? 0)) {
      older++;
      continue;
    }
    compared++;
    // The headers print unsigned 32-bit values; abi/ keeps negatives where the kernel's type is signed.
    const expected = BigInt(c.expected);
    const actual = BigInt(got);
    if (actual !== expected && !(expected < 0n && actual === expected + (1n << 32n))) mismatches.push(`${c.key}: headers ${got}, abi/ ${c.expected}`);
  }
  const v = `${headerVersion >> 16}.${(headerVersion >> 8) & 0xff}`;
  console.log(`# ABI: ${compared} checks compared with the kernel headers (${v}); ${missing.length} names newer than those headers and ${older} fields laid out differently before a later kernel not compared`);
  assert.deepEqual(mismatches, []);
  assert.ok(compared > 400, `enough was compared (${compared})`);
  // The core of io_uring exists in every header that has io_uring at all.
  for (const key of ['size io_uring_sqe', 'size io_uring_cqe', 'size io_uring_params', 'off io_uring_sqe.user_data', 'const IORING_OP_READ', 'const IORING_SETUP_SQPOLL']) {
    assert.ok(output.has(key), `${key} was compared`);
  }
});

test('abi/errno: each errno is the negation of the running Node\'s os.constants.errno and of <asm-generic/errno*.h>', () => {
  const headerDir = '/usr/include/asm-generic';
  const header = ['errno-base.h', 'errno.h'].map((f) => path.join(headerDir, f)).filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f, 'utf8')).join('\n');
  const fromHeader = new Map([...header.matchAll(/^#define\s+(E[A-Z0-9]+)\s+(\d+)\b/gm)].map((m) => [m[1], Number(m[2])]));
  let againstHeader = 0;
  for (const [name, value] of Object.entries(abi.ERRNO)) {
    const node = (os.constants.errno as Record<string, number | undefined>)[name];
    if (node !== undefined) assert.equal(value, -node, `${name}: os.constants.errno says ${node}`);
    else assert.ok(fromHeader.has(name), `${name} is neither in os.constants.errno nor in the headers`);
    if (fromHeader.has(name)) {
      assert.equal(value, -fromHeader.get(name)!, `${name}: ${headerDir} says ${fromHeader.get(name)}`);
      againstHeader++;
    }
  }
  if (!header) console.log(`# no ${headerDir}/errno*.h (linux-libc-dev): errnos compared with os.constants.errno only`);
  else assert.equal(againstHeader, Object.keys(abi.ERRNO).length);
});
