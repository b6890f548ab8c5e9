/**
 * 10,000 idle connections (or fewer when RLIMIT_NOFILE is lower: each side
 * needs an fd per connection, in its own process). The server — uring/net,
 * then node:net for comparison, each in a child — holds them all with one
 * multishot receive per connection and no receive buffer of its own (the
 * shared ring is untouched while nobody sends); every connection still
 * answers; what it costs per connection (RSS and JS heap after GC) is
 * printed and bounded, and nothing is left once the clients go.
 * URING_NET_IDLE=N changes the count.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import nodeNet from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { native } from '../../src/ring/native.js';
import { backend } from '../../src/net/index.js';
import { exitWhenDone } from './util.js';

exitWhenDone();

const info = await backend();
const here = path.dirname(fileURLToPath(import.meta.url));
const limits = native.getrlimit(native.RLIMIT_NOFILE);
const nofile = Array.isArray(limits) ? (limits[0] < 0 ? 1 << 20 : limits[0]) : 1024;
const wanted = Number(process.env.URING_NET_IDLE ?? 10_000);
const N = Math.min(wanted, nofile - 200);

interface Sample { rss: number; heapUsed: number; external: number; connections: number; fds: number; ops: number; port?: number }

class Child {
  readonly proc: ChildProcess;
  readonly #lines: AsyncIterator<string>;
  constructor(which: string) {
    this.proc = spawn(process.execPath, ['--expose-gc', path.join(here, 'idle-server.js'), which], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.#lines = readline.createInterface({ input: this.proc.stdout! })[Symbol.asyncIterator]();
  }
  async next(): Promise<Sample> {
    const r = await this.#lines.next();
    if (r.done) throw new Error('the server child ended');
    return JSON.parse(r.value);
  }
  async measure(): Promise<Sample> {
    this.proc.stdin!.write('measure\n');
    return this.next();
  }
}

async function connectAll(port: number, n: number): Promise<nodeNet.Socket[]> {
  const out: nodeNet.Socket[] = [];
  for (let i = 0; i < n; i += 500) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(500, n - i) }, () =>
        new Promise<nodeNet.Socket>((resolve, reject) => {
          const c = nodeNet.connect(port, '127.0.0.1', () => resolve(c));
          c.on('error', reject);
        }),
      ),
    );
    out.push(...batch);
  }
  return out;
}

async function untilSample(child: Child, cond: (s: Sample) => boolean, ms: number, what: string): Promise<Sample> {
  const end = Date.now() + ms;
  for (;;) {
    const s = await child.measure();
    if (cond(s)) return s;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Holds N idle connections on a `which` server; returns bytes per connection (RSS, heap). */
async function idle(which: 'uring' | 'node'): Promise<{ rss: number; heap: number; base: Sample; full: Sample }> {
  const child = new Child(which);
  try {
    const start = await child.next();
    const base = await child.measure();
    const clients = await connectAll(start.port!, N);
    const full = await untilSample(child, (s) => s.connections === N, 20_000, `${N} connections`);
    // Idle but alive: a sample of them echoes.
    await Promise.all(
      clients.filter((_, i) => i % 100 === 0).map(async (c) => {
        const back = once(c, 'data');
        c.write('?');
        assert.equal(String((await back)[0]), '?');
      }),
    );
    if (which === 'uring') assert.equal(full.ops, N + 1, 'one receive per connection and the accept in flight');
    for (const c of clients) c.destroy();
    const after = await untilSample(child, (s) => s.connections === 0, 20_000, 'the connections to close');
    assert.ok(after.fds <= base.fds + 2, `fds: ${after.fds} after, ${base.fds} before`);
    if (which === 'uring') assert.equal(after.ops, base.ops, 'ops in flight back to the accept alone');
    return { rss: (full.rss - base.rss) / N, heap: (full.heapUsed - base.heapUsed) / N, base, full };
  } finally {
    child.proc.stdin!.end();
    await once(child.proc, 'exit');
  }
}

test(`${N} idle connections: each costs a few KiB and no receive buffer`, { skip: info.name !== 'io_uring' && `uring/net is node:net here: ${info.reason}`, timeout: 60_000 }, async () => {
  assert.ok(N >= 1000, `RLIMIT_NOFILE (${nofile}) leaves room for only ${N} connections`);
  const u = await idle('uring');
  const n = await idle('node');
  const kib = (b: number): string => (b / 1024).toFixed(2);
  console.log(`# ${N} idle connections, per connection after GC: uring/net RSS ${kib(u.rss)} KiB, JS heap ${kib(u.heap)} KiB; node:net RSS ${kib(n.rss)} KiB, JS heap ${kib(n.heap)} KiB`);
  // A receive buffer per connection (64 KiB) would be far above this; the shared ring is not touched by idle sockets.
  assert.ok(u.rss < 16 * 1024, `uring/net: ${u.rss} bytes of RSS per idle connection`);
});
