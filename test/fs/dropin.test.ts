/**
 * uring/fs as a drop-in for node:fs/promises: each behaviour below runs
 * through both, and the results (values, error name, code, message,
 * events) must be identical. Then what only a running event loop shows:
 * fairness during long sequences of awaited ops, exceptions thrown after
 * a completion, and a FileHandle dropped without close().
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import util from 'node:util';
import { test } from 'node:test';
import * as ufs from '../../src/fs/index.js';
import { distUrl, runChild, tempDir } from '../helpers.js';

type Api = typeof fsp;
// node:fs's FileHandle as Node 20 has it (EventEmitter, getAsyncId, …: more than @types/node declares).
type AnyHandle = any;
const dir = tempDir();
const file = path.join(dir, 'f.txt');
fs.writeFileSync(file, 'hello world\nline2\n');
let n = 0;
const fresh = (): string => path.join(dir, `w${n++}`);

/** The outcome of a call, comparable across the two implementations. */
async function outcome(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    return { value: await fn() };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    // The class and the order of the own keys too: they decide how the error prints (util.inspect, a crash).
    return {
      name: err.name, code: err.code, message: err.message, errno: err.errno, syscall: err.syscall, stack0: String(err.stack).split('\n')[0],
      ctor: err.constructor?.name, keys: Object.keys(err),
      // System errors print as node's do (argument errors differ only in whether node hid their stack frames).
      inspected: err.syscall === undefined ? undefined : util.inspect(err).split('\n').filter((l) => !/^\s+at /.test(l)).join('\n'),
    };
  }
}

const behaviours: Record<string, (m: Api) => Promise<unknown>> = {
  'FileHandle methods called on another object reject as node\'s do': async (m) => {
    const fh: AnyHandle = await m.open(file);
    const out: unknown[] = [];
    for (const name of ['stat', 'read', 'readv', 'write', 'writev', 'readFile', 'writeFile', 'sync', 'datasync', 'truncate']) {
      out.push(await outcome(() => (fh as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[name].call({})));
    }
    await fh.close();
    return out;
  },
  'a system error is a plain Error with code, errno, syscall, path': (m) => m.readFile(path.join(dir, 'missing')),
  'FileHandle is an EventEmitter that emits close': async (m) => {
    const fh: AnyHandle = await m.open(file);
    let closes = 0;
    fh.on('close', () => closes++);
    await fh.close();
    await fh.close();
    return [closes, fh.fd];
  },
  'createReadStream and readLines': async (m) => {
    const fh = await m.open(file);
    let text = '';
    for await (const c of fh.createReadStream({ encoding: 'utf8', start: 6 })) text += c;
    const fh2 = await m.open(file);
    const lines: string[] = [];
    for await (const l of fh2.readLines()) lines.push(l);
    return [text, lines];
  },
  'fs.createReadStream / createWriteStream accept the FileHandle': async (m) => {
    const fh = await m.open(file);
    let text = '';
    for await (const c of fs.createReadStream('', { fd: fh, encoding: 'utf8' })) text += c;
    const out = fresh();
    const wh = await m.open(out, 'w');
    await new Promise<void>((resolve, reject) => fs.createWriteStream('', { fd: wh }).on('error', reject).on('close', resolve).end('streamed'));
    return [text, fs.readFileSync(out, 'utf8')];
  },
  'readableWebStream': async (m) => {
    const fh = await m.open(file);
    const parts: string[] = [];
    for await (const c of fh.readableWebStream({ type: 'bytes' }) as unknown as AsyncIterable<Uint8Array>) parts.push(Buffer.from(c).toString());
    await fh.close();
    return parts.join('');
  },
  'getAsyncId, Symbol.asyncDispose, chmod, chown, utimes': async (m) => {
    const f = fresh();
    fs.writeFileSync(f, 'x');
    const fh: AnyHandle = await m.open(f, 'r+');
    await fh.chmod(0o640);
    await fh.chown(process.getuid!(), process.getgid!());
    await fh.utimes(1000, 2000);
    const id = fh.getAsyncId();
    await fh[Symbol.asyncDispose]();
    const st = fs.statSync(f);
    return [typeof id, id > 0, st.mode & 0o777, st.mtimeMs, fh.fd];
  },
  'writeFile takes streams and iterables, fh.writeFile too': async (m) => {
    const a = fresh();
    await m.writeFile(a, Readable.from(['a', 'b', Buffer.from('c')]));
    const b = fresh();
    const fh: AnyHandle = await m.open(b, 'w');
    await fh.writeFile(['x', 'y']);
    await fh.writeFile((async function* () { yield 'z'; })());
    await fh.close();
    return [fs.readFileSync(a, 'utf8'), fs.readFileSync(b, 'utf8')];
  },
  'read(buffer, options), read(options), write(buffer, options), write(string, position, encoding)': async (m) => {
    const fh = await m.open(file);
    const b = Buffer.alloc(5);
    const r1 = await fh.read(b, { position: 6 });
    const r2 = await fh.read({ buffer: Buffer.alloc(4), position: 0 });
    await fh.close();
    const out = fresh();
    const wh: AnyHandle = await m.open(out, 'w+');
    const w1 = await wh.write(Buffer.from('abcdef'), { offset: 2, length: 3, position: 0 });
    const w2 = await wh.write('ff', 3, 'hex');
    await wh.close();
    return [r1.bytesRead, b.toString(), r2.buffer.toString(), w1.bytesWritten, w2.bytesWritten, fs.readFileSync(out, 'latin1')];
  },
  'flush is validated and honoured': async (m) => {
    const bad = await outcome(() => m.writeFile(fresh(), 'x', { flush: 'yes' as never }));
    const f = fresh();
    await m.writeFile(f, 'flushed', { flush: true });
    return [bad, fs.readFileSync(f, 'utf8')];
  },
  "mkdir({ recursive: '' | null | 0 }) is a type error": async (m) => [
    await outcome(() => m.mkdir(fresh(), { recursive: '' as never })),
    await outcome(() => m.mkdir(fresh(), { recursive: null as never })),
    await outcome(() => m.mkdir(fresh(), { recursive: 0 as never })),
  ],
  "write('abc', 0, 'hex') is ERR_INVALID_ARG_VALUE": async (m) => {
    const fh = await m.open(fresh(), 'w');
    try {
      return await outcome(() => fh.write('abc', 0, 'hex'));
    } finally {
      await fh.close();
    }
  },
  "read(0), read('abc'), read into an empty buffer": async (m) => {
    const fh = await m.open(file);
    try {
      return [
        await outcome(() => fh.read(0 as never)),
        await outcome(() => fh.read('abc' as never)),
        await outcome(() => fh.read(Buffer.alloc(0), 0, 1, 0)),
        await outcome(() => fh.read(Buffer.alloc(4), -1 as never)),
      ];
    } finally {
      await fh.close();
    }
  },
  'lchmod is exported and not implemented on Linux': (m) => m.lchmod(file, 0o644),
  'an op on a closed FileHandle': async (m) => {
    const fh = await m.open(file);
    await fh.close();
    return [await outcome(() => fh.read()), await outcome(() => fh.stat()), await outcome(() => fh.writeFile('x'))];
  },
  'bad paths, flags, modes, encodings, symlink types': async (m) => [
    await outcome(() => m.open(42 as never)),
    await outcome(() => m.open('a\0b')),
    await outcome(() => m.open(file, 'bogus')),
    await outcome(() => m.open(file, 'r', 'z')),
    await outcome(() => m.open(file, 'r', -1)),
    await outcome(() => m.readFile(file, { encoding: 'bogus' as never })),
    await outcome(() => m.readFile(file, 5 as never)),
    await outcome(() => m.writeFile(fresh(), 42 as never)),
    await outcome(() => m.symlink(file, fresh(), 'weird')),
    await outcome(() => m.stat(new URL('http://x/y'))),
  ],
  'stat and stat({ bigint: true })': async (m) => {
    const s = await m.stat(file);
    const b = await m.stat(file, { bigint: true });
    const want = fs.statSync(file);
    const wantBig = fs.statSync(file, { bigint: true });
    return [s.constructor.name, s.size, s.mtimeMs === want.mtimeMs, s.ino === want.ino, s.dev === want.dev, s.atime.getTime() === want.atime.getTime(),
      b.constructor.name, b.mtimeNs === wantBig.mtimeNs, b.ino === wantBig.ino, b.isFile()];
  },
  'truncate, appendFile, readFile with encodings': async (m) => {
    const f = fresh();
    fs.writeFileSync(f, '123456');
    await m.truncate(f, 2);
    await m.appendFile(f, 'ab');
    await m.appendFile(f, Buffer.from('cd'));
    return [await m.readFile(f, 'utf8'), (await m.readFile(f)).toString('hex'), await m.readFile(f, { encoding: 'base64' })];
  },
};

for (const [name, behaviour] of Object.entries(behaviours)) {
  test(`same as node:fs: ${name}`, async () => {
    const expected = await outcome(() => behaviour(fsp));
    const actual = await outcome(() => behaviour(ufs as unknown as Api));
    assert.deepEqual(actual, expected);
  });
}

test('the io_uring backend was the one under test', async () => {
  assert.equal((await ufs.backend()).name, 'io_uring');
});

test('abort on the next tick is honoured as by node:fs: 20 of 20 (6 MiB fh.writeFile)', async () => {
  const data = Buffer.alloc(6 << 20, 0x61);
  let aborted = 0;
  for (let i = 0; i < 20; i++) {
    const fh = await ufs.open(fresh(), 'w');
    const ac = new AbortController();
    const p = fh.writeFile(data, { signal: ac.signal });
    process.nextTick(() => ac.abort());
    await p.then(() => {}, (e: Error) => { if (e.name === 'AbortError') aborted++; });
    await fh.close();
  }
  assert.equal(aborted, 20);
});

test('fairness: timers, setImmediate and network I/O keep running through 2,048 awaited reads', async () => {
  const big = path.join(dir, 'big');
  fs.writeFileSync(big, Buffer.alloc(8 << 20, 1));
  const server = net.createServer((s) => s.on('data', (d) => s.write(d))).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((r) => client.once('connect', r));
  client.setNoDelay(true);
  const measure = async (m: Api): Promise<{ ms: number; immediates: number; intervals: number; roundTrips: number }> => {
    const fh = await m.open(big, 'r');
    const buf = Buffer.alloc(4096);
    let immediates = 0;
    let intervals = 0;
    let roundTrips = 0;
    let stop = false;
    const imm = (): void => { immediates++; if (!stop) setImmediate(imm); };
    setImmediate(imm);
    const iv = setInterval(() => intervals++, 1);
    const onData = (): void => { roundTrips++; if (!stop) client.write('x'); };
    client.on('data', onData);
    client.write('x');
    const t0 = performance.now();
    for (let i = 0; i < 2048; i++) await fh.read(buf, 0, 4096, i * 4096);
    const ms = performance.now() - t0;
    stop = true;
    clearInterval(iv);
    client.off('data', onData);
    await fh.close();
    await new Promise((r) => setTimeout(r, 10));
    return { ms, immediates, intervals, roundTrips };
  };
  const node = await measure(fsp);
  const uring = await measure(ufs as unknown as Api);
  client.destroy();
  server.close();
  // Rates per millisecond, for the record (times are not asserted: the machine is shared).
  const rate = (x: number, ms: number): number => Math.round((x / ms) * 100) / 100;
  console.log(`# fairness per ms: node:fs immediates ${rate(node.immediates, node.ms)}, intervals ${rate(node.intervals, node.ms)}, round trips ${rate(node.roundTrips, node.ms)}; ` +
    `uring/fs immediates ${rate(uring.immediates, uring.ms)}, intervals ${rate(uring.intervals, uring.ms)}, round trips ${rate(uring.roundTrips, uring.ms)}`);
  // Each awaited read is one turn of the event loop: the check phase runs after every completion,
  // a network round trip (two turns) completes every two reads, and a 1 ms timer keeps firing.
  assert.ok(uring.immediates >= 2048, `setImmediate ran ${uring.immediates} times during 2,048 reads`);
  assert.ok(uring.roundTrips >= 1000, `${uring.roundTrips} network round trips during 2,048 reads`);
  assert.ok(uring.intervals >= Math.floor(uring.ms / 4), `a 1 ms interval fired ${uring.intervals} times in ${uring.ms.toFixed(1)} ms`);
});

test('an exception thrown after a completion reaches uncaughtException, and I/O goes on', () => {
  const r = runChild(`
    import * as ufs from ${JSON.stringify(distUrl('fs/index.js'))};
    const seen = [];
    process.on('uncaughtException', (e) => seen.push(e.message));
    const file = ${JSON.stringify(file)};
    await ufs.readFile(file).then(() => process.nextTick(() => { throw new Error('tick'); }));
    await new Promise((r) => setTimeout(r, 5));
    const fh = await ufs.open(file);
    const after = [];
    for (let i = 0; i < 50; i++) after.push((await fh.read(Buffer.alloc(5), 0, 5, 0)).bytesRead);
    await fh.close();
    console.log(JSON.stringify({ seen, reads: after.length, bytes: after.reduce((a, b) => a + b, 0) }));
  `);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.json, { seen: ['tick'], reads: 50, bytes: 250 });
  // Without a handler the process dies of it, as with node:fs (exit code 1, the error on stderr).
  const crash = runChild(`
    import * as ufs from ${JSON.stringify(distUrl('fs/index.js'))};
    await ufs.readFile(${JSON.stringify(file)}).then(() => process.nextTick(() => { throw new Error('unhandled tick'); }));
    setTimeout(() => console.log('still alive'), 200);
  `);
  assert.equal(crash.status, 1);
  assert.match(crash.stderr, /unhandled tick/);
  assert.doesNotMatch(crash.stdout, /still alive/);
});

test('a FileHandle dropped without close() is closed when collected, with node\'s warnings', () => {
  const r = runChild(`
    import fs from 'node:fs';
    import * as ufs from ${JSON.stringify(distUrl('fs/index.js'))};
    const warnings = [];
    process.on('warning', (w) => warnings.push(w.code ?? w.message.split(' ').slice(0, 3).join(' ')));
    const count = () => fs.readdirSync('/proc/self/fd').length;
    await ufs.open(${JSON.stringify(file)}); // warm up
    const before = count();
    for (let i = 0; i < 101; i++) await ufs.open(${JSON.stringify(file)});
    const held = count() - before;
    for (let i = 0; i < 10; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
    console.log(JSON.stringify({ held, leaked: count() - before, warned: warnings.filter((w) => w === 'Closing file descriptor').length, dep: warnings.filter((w) => w === 'DEP0137').length }));
  `, { prefix: [] , env: { NODE_OPTIONS: '--expose-gc' } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.json.held, 101, 'the handles were open');
  assert.ok(r.json.leaked <= 1, `${r.json.leaked} fds leaked`);
  assert.ok(r.json.warned >= 100, `${r.json.warned} warnings`);
  assert.ok(r.json.dep >= 1, 'and the DEP0137 deprecation');
});

test('an AbortSignal whose addEventListener throws: the op is refused before it is queued, and never runs', async () => {
  const { io } = await import('../../src/driver/index.js');
  const target = fresh();
  fs.writeFileSync(target, 'unchanged');
  const fd = fs.openSync(target, 'r+');
  const ac = new AbortController();
  const boom = new Error('listener refused');
  ac.signal.addEventListener = () => { throw boom; };
  await assert.rejects(io().write(fd, Buffer.from('CHANGED!!'), 0, { signal: ac.signal }), (e) => e === boom);
  assert.equal(io().driver.pending, 0, 'nothing was queued');
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(fs.readFileSync(target, 'utf8'), 'unchanged');
  fs.closeSync(fd);
});

test('FileHandles a worker leaves open are closed when it exits or is terminated, as node:fs/promises\' are; a closed one\'s fd number is not', async () => {
  const file = path.join(dir, 'worker-fh');
  fs.writeFileSync(file, 'x');
  const fdCount = (): number => fs.readdirSync('/proc/self/fd').length;
  const run = async (mod: string): Promise<number> => {
    const src = `
      import * as f from ${JSON.stringify(mod)};
      import { parentPort, workerData } from 'node:worker_threads';
      globalThis.keep = [];
      for (let i = 0; i < 5; i++) globalThis.keep.push(await f.open(${JSON.stringify(file)}, 'r'));
      // One closed before the exit: its number is free again for the main thread, and must stay its.
      const closed = await f.open(${JSON.stringify(file)}, 'r');
      const closedFd = closed.fd;
      await closed.close();
      parentPort.postMessage(closedFd);
      await new Promise((r) => parentPort.once('message', r));
      if (workerData.exit) process.exit(0); // else: terminate()d with the handles open
      setInterval(() => {}, 1000);
    `;
    const before = fdCount();
    const { Worker } = await import('node:worker_threads');
    for (let n = 0; n < 6; n++) {
      const w = new Worker(src, { eval: true, workerData: { exit: n % 2 === 0 } });
      const exited = new Promise((r) => w.once('exit', r));
      const closedFd = await new Promise<number>((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
      // Take that number in this thread (lowest free fd: the one the worker just closed, or a lower one).
      const mine = fs.openSync(file, 'r');
      assert.ok(mine <= closedFd, `this thread's fd ${mine} reuses a number at or below ${closedFd}`);
      w.postMessage('go');
      if (n % 2) await w.terminate();
      await exited;
      assert.doesNotThrow(() => fs.fstatSync(mine), `fd ${mine} of this thread survived the worker's teardown`);
      fs.closeSync(mine);
    }
    await new Promise((r) => setTimeout(r, 100));
    return fdCount() - before;
  };
  assert.equal(await run('node:fs/promises'), 0);
  assert.equal(await run(distUrl('fs/index.js')), 0, 'extra fds after 6 workers left 5 uring/fs FileHandles open each');
});

test('positions node ignores (negative, fractional, bigint) mean the current position, as in node:fs/promises; file URLs are checked as node checks them', async () => {
  const run = async (m: typeof fsp): Promise<unknown[]> => {
    const file = path.join(dir, `positions-${m === fsp ? 'node' : 'uring'}`);
    fs.writeFileSync(file, 'abcdefghij');
    const fh = await m.open(file, 'r+');
    const out = async (f: () => Promise<{ bytesRead?: number; bytesWritten?: number }>): Promise<unknown> => {
      try {
        const r = await f();
        return r.bytesRead ?? r.bytesWritten;
      } catch (e) {
        return (e as NodeJS.ErrnoException).code;
      }
    };
    const b = Buffer.alloc(4);
    const seen: unknown[] = [];
    for (const pos of [-7, 2n, 1.5, 3] as unknown as number[]) seen.push(await out(() => fh.read(b, 0, 4, pos)), b.toString());
    for (const pos of [-3, 2.5, 2n, 1] as unknown as number[]) seen.push(await out(() => fh.write(Buffer.from('XY'), 0, 2, pos)));
    for (const pos of [-5, 1.5, 2n, 0] as unknown as number[]) seen.push(await out(() => fh.write('st', pos)));
    seen.push(await out(() => fh.readv([Buffer.alloc(2)], -2)), await out(() => fh.writev([Buffer.from('W')], -2)), await out(() => fh.writev([Buffer.from('V')], 1.5)));
    await fh.close();
    seen.push(fs.readFileSync(file, 'utf8'));
    for (const u of [new URL('http://x/y'), new URL('file://host/x')]) seen.push(await m.readFile(u).then(() => 'read', (e: NodeJS.ErrnoException) => e.code));
    return seen;
  };
  assert.deepEqual(await run(ufs as unknown as typeof fsp), await run(fsp));
});

test('opens in flight when a worker exits or is terminated leave no fd behind (the teardown closes what the kernel opened for nobody)', async () => {
  const fdList = (): string[] => fs.readdirSync('/proc/self/fd').map((n) => { try { return `${n}:${fs.readlinkSync(`/proc/self/fd/${n}`)}`; } catch { return `${n}:?`; } });
  const { Worker } = await import('node:worker_threads');
  const beforeList = fdList();
  const before = beforeList.length;
  for (const how of ['exit-now', 'exit-next-turn', 'terminate']) {
    const src = `
      import * as f from ${JSON.stringify(distUrl('fs/index.js'))};
      import { parentPort } from 'node:worker_threads';
      // One open first: it also makes uring/fs learn node's FileHandle class (a node:fs open of its own, once per thread).
      await (await f.open('/etc/hostname')).close();
      for (let i = 0; i < 100; i++) f.open('/etc/hostname').catch(() => {});
      ${how === 'exit-now' ? 'process.exit(0);' : how === 'exit-next-turn' ? 'setImmediate(() => process.exit(0));' : "parentPort.postMessage('opened'); setInterval(() => {}, 1000);"}
    `;
    for (let i = 0; i < 4; i++) {
      await new Promise((resolve, reject) => {
        const w = new Worker(src, { eval: true });
        w.on('message', () => void w.terminate());
        w.on('error', reject);
        w.on('exit', resolve);
      });
    }
  }
  await new Promise((r) => setTimeout(r, 100));
  // (node:fs/promises leaks most of these 1,200 fds in the same scenario: its opens finish in the thread pool for nobody.)
  const afterList = fdList();
  assert.equal(afterList.length - before, 0, `fds left after 12 workers exited with 100 opens each in flight: new ${afterList.filter((x) => !beforeList.includes(x))}, gone ${beforeList.filter((x) => !afterList.includes(x))}`);
});
