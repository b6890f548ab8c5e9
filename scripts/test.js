#!/usr/bin/env node
// Runs the whole suite with Node's test runner on the compiled tests
// (npm ci compiles them through `prepare`). Extra arguments are passed on,
// e.g. `npm test -- --test-name-pattern=sizing`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const testDir = path.join(root, 'dist', 'test');
if (!fs.existsSync(testDir)) {
  console.error('dist/test is missing: run `npm ci` (or `npx tsc -p .`) first.');
  process.exit(1);
}
const files = [];
(function walk(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full);
    else if (entry.name.endsWith('.test.js')) files.push(full);
  }
})(testDir);
files.sort();
const args = ['--expose-gc', '--test', ...process.argv.slice(2), ...files];
const result = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root });
process.exit(result.status ?? 1);
