/**
 * Locked memory and io_uring, asked of the kernel: does it charge ring
 * memory to RLIMIT_MEMLOCK, how much of the limit this user already has
 * charged, and which of the user's processes hold it.
 *
 * What the kernel's own sources say, used only where measuring is impossible
 * (MEMLOCK_HISTORY; docs/troubleshooting.md has the details):
 * - The charge goes to `user->locked_vm` of the ring creator's real uid —
 *   one counter per user, shared by all of that user's processes — and is
 *   checked against the creating process's soft RLIMIT_MEMLOCK
 *   (__io_account_mem: -ENOMEM when locked_vm + pages > limit).
 * - Exempt is only a creator holding CAP_IPC_LOCK in the initial user
 *   namespace (io_uring_create sets ctx->user only without it).
 * - Registered buffers are charged on every kernel since 5.1; ring memory
 *   (SQ/CQ rings and the SQE array) on 5.1–5.11 and again from 6.14, when the
 *   rings became "regions" (io_create_region → __io_account_mem).
 * - The charge of a closed ring is dropped later, by the ring's exit work on
 *   a workqueue, not by close(): rings created and closed in quick
 *   succession can fail with ENOMEM for a few milliseconds.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IORING_MAX_ENTRIES, IORING_SETUP_CLAMP, IORING_SETUP_CQSIZE } from '../abi/constants.js';
import {
  allocAlignedBuffer, PAGE_SIZE, queueInit, registerBuffers, ringMemorySize, type ResolvedParams,
  type Ring, type SetupOptions, UringError, unregisterBuffers,
} from '../ring/index.js';
import { type Environment, type EnvironmentSource, exemptFromMemlock, formatBytes, liveSource, readEnvironment } from './environment.js';

/** One line of the kernel's history of io_uring's locked-memory accounting (mainline releases). */
export interface MemlockEra {
  from: readonly [number, number];
  /** Last release of the era; null: still current. */
  to: readonly [number, number] | null;
  /** Ring memory (SQ/CQ rings, SQE array) is charged to RLIMIT_MEMLOCK. */
  rings: boolean;
  /** Registered buffers are charged to RLIMIT_MEMLOCK. */
  buffers: boolean;
  /** Where in the kernel's sources. */
  source: string;
}

/** The history from the kernel's sources; the fallback when no experiment is possible. */
export const MEMLOCK_HISTORY: readonly MemlockEra[] = Object.freeze([
  {
    from: [5, 1], to: [5, 11], rings: true, buffers: true,
    source: 'fs/io_uring.c io_uring_create(): io_account_mem(ctx, ring_pages(sq_entries, cq_entries), ACCT_LOCKED) unless capable(CAP_IPC_LOCK)',
  },
  {
    from: [5, 12], to: [6, 13], rings: false, buffers: true,
    source: 'commit 26bfa89e25f4 "io_uring: place ring SQ/CQ arrays under memcg memory limits": rings are allocated with __GFP_ACCOUNT (memory cgroup) and no longer charged to RLIMIT_MEMLOCK; IORING_FEAT_NATIVE_WORKERS appeared in the same release, which is why liburing\'s io_uring_mlock_size() keys on it',
  },
  {
    from: [6, 14], to: null, rings: true, buffers: true,
    source: 'commits 8078486e1d53 / 81a4058e0cd0 "io_uring: use region api for SQ / for CQ": rings are regions; io_create_region() calls __io_account_mem(ctx->user, nr_pages) before allocating (memory cgroup as well)',
  },
]);

/** What MEMLOCK_HISTORY says about rings on this kernel version; null before 5.1. */
export function historyChargesRings(major: number, minor: number): boolean | null {
  const v = major * 1000 + minor;
  for (const era of MEMLOCK_HISTORY) {
    const lo = era.from[0] * 1000 + era.from[1];
    const hi = era.to ? era.to[0] * 1000 + era.to[1] : Infinity;
    if (v >= lo && v <= hi) return era.rings;
  }
  return null;
}

/** An answer to "are rings charged to RLIMIT_MEMLOCK?", with how it was obtained. */
export interface ChargeAnswer {
  /** null: neither the kernel nor the history could tell. */
  charged: boolean | null;
  how: 'measured' | 'cached' | 'kernel-history';
  /** What was done and what the kernel answered, in words. */
  evidence: string;
}

/** Whether rings are charged, for this kernel and for this process. */
export interface MemlockCharging {
  /** Rings created by a process without CAP_IPC_LOCK, on this kernel. */
  kernel: ChargeAnswer;
  /** Rings created by this process, with its credentials. */
  self: ChargeAnswer;
  /** This process holds CAP_IPC_LOCK in the initial user namespace. */
  exempt: boolean;
  /** Where the measurements are kept for this boot; null if nowhere writable. */
  cacheFile: string | null;
}

const RING_MODULE = new URL('../ring/index.js', import.meta.url).href;

/**
 * The experiment, run by `node` in a child: create a 1-entry ring (two
 * pages) and report the errno, with the child's own RLIMIT_MEMLOCK and
 * CAP_IPC_LOCK as the kernel sees them.
 */
const CHILD_SOURCE = `
import fs from 'node:fs';
let code = 'OK';
try { const { queueInit } = await import(${JSON.stringify(RING_MODULE)}); queueInit(1).queueExit(); }
catch (e) { code = (e && e.code) || String((e && e.message) || e); }
const status = fs.readFileSync('/proc/self/status', 'utf8');
const capEff = BigInt('0x' + ((status.match(/^CapEff:\\s*([0-9a-f]+)/m) || [])[1] || '0'));
const memlock = (fs.readFileSync('/proc/self/limits', 'utf8').match(/^Max locked memory\\s+(\\S+)/m) || [])[1];
process.stdout.write(JSON.stringify({ tag: process.argv[1], code, ipcLock: ((capEff >> 14n) & 1n) === 1n, capEff: capEff.toString(16), memlock, uid: process.getuid() }) + '\\n');
`;

/** Lower the limit to 0 for the children, then run the self-like child and, if asked, one without CAP_IPC_LOCK, in parallel. */
const SHELL = `ulimit -l 0 || exit 97
"$1" --input-type=module -e "$2" self &
if [ "$3" = setpriv ]; then setpriv --bounding-set=-ipc_lock --inh-caps=-ipc_lock "$1" --input-type=module -e "$2" kernel & fi
wait`;

interface ChildResult { tag: string; code: string; ipcLock: boolean; capEff: string; memlock: string; uid: number }

function hasSetpriv(): boolean {
  return ['/usr/bin/setpriv', '/bin/setpriv', '/usr/sbin/setpriv', '/sbin/setpriv'].some((p) => fs.existsSync(p));
}

function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return env;
}

function parseChildren(stdout: string): Map<string, ChildResult> {
  const out = new Map<string, ChildResult>();
  for (const line of stdout.split('\n')) {
    try {
      const r = JSON.parse(line) as ChildResult;
      if (r && typeof r.tag === 'string') out.set(r.tag, r);
    } catch {
      // not a result line
    }
  }
  return out;
}

function runChildren(withoutIpcLock: boolean): Map<string, ChildResult> {
  const mode = withoutIpcLock && hasSetpriv() ? 'setpriv' : 'none';
  const r = spawnSync('/bin/sh', ['-c', SHELL, 'sh', process.execPath, CHILD_SOURCE, mode], { encoding: 'utf8', timeout: 15_000, env: childEnv() });
  const results = parseChildren(String(r.stdout ?? ''));
  if (withoutIpcLock && !results.has('kernel') && process.geteuid?.() === 0) {
    // No setpriv: as root, a child switched to uid 65534 has no capabilities at all.
    const u = spawnSync('/bin/sh', ['-c', 'ulimit -l 0 || exit 97; exec "$@"', 'sh', process.execPath, '--input-type=module', '-e', CHILD_SOURCE, 'kernel'],
      { encoding: 'utf8', timeout: 15_000, env: childEnv(), uid: 65534, gid: 65534 });
    for (const [k, v] of parseChildren(String(u.stdout ?? ''))) results.set(k, v);
  }
  return results;
}

function fromChild(r: ChildResult | undefined, who: string): ChargeAnswer | null {
  if (!r || r.memlock !== '0') return null;
  if (r.code === 'ENOMEM') {
    return { charged: true, how: 'measured', evidence: `${who} (uid ${r.uid}, CAP_IPC_LOCK ${r.ipcLock ? 'yes' : 'no'}) under RLIMIT_MEMLOCK 0 got ENOMEM creating a 1-entry ring (${formatBytes(ringMemorySize(1, { flags: 0, cq_entries: 0 }, PAGE_SIZE)!)})` };
  }
  if (r.code === 'OK') {
    return { charged: false, how: 'measured', evidence: `${who} (uid ${r.uid}, CAP_IPC_LOCK ${r.ipcLock ? 'yes' : 'no'}) under RLIMIT_MEMLOCK 0 created a 1-entry ring` };
  }
  return null;
}

function fromHistory(env: Environment, why: string): ChargeAnswer {
  const charged = historyChargesRings(env.kernel.major, env.kernel.minor);
  return {
    charged,
    how: 'kernel-history',
    evidence: `${why}; by the kernel's history, Linux ${env.kernel.major}.${env.kernel.minor} ${charged === null ? 'has no io_uring' : charged ? 'charges ring memory to RLIMIT_MEMLOCK' : 'charges ring memory to the memory cgroup, not RLIMIT_MEMLOCK'}`,
  };
}

/** Where the per-boot answers live: $XDG_CACHE_HOME/uring, ~/.cache/uring, or a private directory under the temp dir. */
function cacheDir(): string | null {
  const candidates: string[] = [];
  if (process.env.XDG_CACHE_HOME) candidates.push(path.join(process.env.XDG_CACHE_HOME, 'uring'));
  const home = process.env.HOME;
  if (home) candidates.push(path.join(home, '.cache', 'uring'));
  candidates.push(path.join(os.tmpdir(), `uring-${process.geteuid?.() ?? 'x'}`));
  for (const dir of candidates) {
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const st = fs.lstatSync(dir);
      // A directory someone else owns (or a symlink) could feed us answers: not ours to trust.
      if (!st.isDirectory() || st.uid !== process.geteuid?.()) continue;
      fs.accessSync(dir, fs.constants.W_OK);
      return dir;
    } catch {
      // try the next place
    }
  }
  return null;
}

interface CacheFile { bootId: string; release: string; answers: Record<string, { charged: boolean; evidence: string; at: string }> }

function readCache(file: string, env: Environment): CacheFile['answers'] {
  try {
    const st = fs.lstatSync(file);
    if (!st.isFile() || st.uid !== process.geteuid?.()) return {};
    const data = JSON.parse(fs.readFileSync(file, 'utf8')) as CacheFile;
    return data.bootId === env.bootId && data.release === env.kernel.release ? data.answers ?? {} : {};
  } catch {
    return {};
  }
}

function writeCache(file: string, env: Environment, answers: CacheFile['answers']): void {
  try {
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ bootId: env.bootId, release: env.kernel.release, answers }, null, 1), { mode: 0o600 });
    fs.renameSync(tmp, file);
  } catch {
    // a cache is a convenience
  }
}

/**
 * Does this kernel charge ring memory to RLIMIT_MEMLOCK, and does it charge
 * this process? Decided by experiment: a child with this process's
 * credentials under RLIMIT_MEMLOCK 0 creates a 1-entry ring (ENOMEM:
 * charged), and, when this process is exempt (CAP_IPC_LOCK), a second child
 * without CAP_IPC_LOCK (setpriv, or uid 65534 when root) answers for
 * everyone else. Both run in parallel, cost about 0.1 s, and are cached for
 * this boot (keyed by /proc/sys/kernel/random/boot_id). The kernel's history
 * answers only where no child could tell.
 */
export function ringCharging(options: { env?: Environment; fresh?: boolean } = {}): MemlockCharging {
  const env = options.env ?? readEnvironment(liveSource, PAGE_SIZE);
  const exempt = exemptFromMemlock(env);
  const selfKey = `self:${env.uid}:${env.capabilities.effective.toString(16)}:${env.userNamespace}`;
  const dir = env.bootId ? cacheDir() : null;
  const file = dir ? path.join(dir, 'memlock.json') : null;
  const stored = file ? readCache(file, env) : {};
  const cached = options.fresh ? {} : stored;
  const asCached = (k: string): ChargeAnswer | null => {
    const c = cached[k];
    return c ? { charged: c.charged, how: 'cached', evidence: `${c.evidence} (measured ${c.at}, cached for this boot in ${file})` } : null;
  };
  let self = asCached(selfKey);
  let kernel = exempt ? asCached('kernel') : self;
  if (!self || !kernel) {
    const results = runChildren(exempt);
    const selfChild = results.get('self');
    self = fromChild(selfChild, 'a child with this process\'s credentials');
    // Only a child without CAP_IPC_LOCK, or one charged in spite of it (a user namespace), speaks for everyone else.
    const speaksForKernel = (r: ChildResult | undefined): boolean => r !== undefined && (!r.ipcLock || r.code === 'ENOMEM');
    const kernelChild = [results.get('kernel'), selfChild].find(speaksForKernel);
    kernel = kernelChild ? fromChild(kernelChild, kernelChild === selfChild ? 'a child with this process\'s credentials' : 'a child without CAP_IPC_LOCK') : null;
    const answers = { ...stored };
    const at = new Date().toISOString();
    // Stored under the credentials the child reported, so an answer is only ever found again for the same ones.
    if (self?.how === 'measured' && selfChild) answers[`self:${selfChild.uid}:${selfChild.capEff}:${env.userNamespace}`] = { charged: self.charged as boolean, evidence: self.evidence, at };
    if (kernel?.how === 'measured') answers.kernel = { charged: kernel.charged as boolean, evidence: kernel.evidence, at };
    if (file && (self || kernel)) writeCache(file, env, answers);
  }
  kernel ??= fromHistory(env, 'no child could run the experiment');
  self ??= kernel.charged === null ? kernel : {
    charged: kernel.charged && !exempt,
    how: kernel.how,
    evidence: `${kernel.evidence}; this process ${exempt ? 'holds CAP_IPC_LOCK in the initial user namespace, which the kernel exempts' : 'lacks CAP_IPC_LOCK'}`,
  };
  return { kernel, self, exempt, cacheFile: file };
}

/** How much RLIMIT_MEMLOCK this process could still have charged, measured. */
export interface Headroom {
  /** Bytes free: the soft limit minus what this user (all its processes) already has charged. */
  freeBytes: number;
  /** False when only a lower bound is known (limits beyond the probe's range, or not even the probe ring fits). */
  exact: boolean;
  evidence: string;
}

/** Registered-buffer slots per registration (IORING_MAX_REG_BUFFERS). */
const MAX_REG_BUFFERS = 1 << 14;
/** Limits above this are not probed to the page: no ring comes near them. */
const PROBE_CAP = 1 << 30;

/**
 * Measures the free part of RLIMIT_MEMLOCK by asking the kernel: registered
 * buffers are charged to the same per-user counter as rings (on every
 * kernel), page by page and synchronously, so registering k pages succeeds
 * exactly while k pages are free. One page of memory, registered k times,
 * is searched (binary, starting from `guessUsedBytes`) on a 1-entry ring.
 * Returns null when this process is not charged or the limit is unlimited.
 *
 * At the boundary the user's limit is full for the length of one
 * io_uring_register(2) call, so another process of the same user creating a
 * ring at that instant could see ENOMEM; the doctor accepts that, adaptive
 * setup does not measure.
 */
export function measureHeadroom(env: Environment, ringsCharged: boolean, guessUsedBytes = 0): Headroom | null {
  if (exemptFromMemlock(env) || !Number.isFinite(env.memlock.soft)) return null;
  const soft = Math.min(env.memlock.soft, PROBE_CAP);
  const probeBytes = ringMemorySize(1, { flags: 0, cq_entries: 0 }, PAGE_SIZE)!;
  let ring: Ring;
  try {
    ring = queueInit(1);
  } catch (e) {
    if (e instanceof UringError && e.code === 'ENOMEM' && ringsCharged) {
      return { freeBytes: 0, exact: false, evidence: `not even a 1-entry ring (${formatBytes(probeBytes)}) fits: less than ${formatBytes(probeBytes)} of RLIMIT_MEMLOCK is free` };
    }
    return null;
  }
  try {
    const maxPages = Math.floor(soft / PAGE_SIZE);
    const unitPages = Math.max(1, Math.ceil(maxPages / MAX_REG_BUFFERS));
    const unitBytes = unitPages * PAGE_SIZE;
    const unit = allocAlignedBuffer(unitBytes);
    const maxUnits = Math.floor(maxPages / unitPages);
    const fits = (k: number): boolean => {
      if (k <= 0) return true;
      try {
        registerBuffers(ring, new Array(k).fill(unit));
      } catch (e) {
        if (e instanceof UringError && e.code === 'ENOMEM') return false;
        throw e;
      }
      unregisterBuffers(ring);
      return true;
    };
    // The usual case costs two registrations: what is left after the guess fits, one unit more does not.
    const guess = Math.max(0, Math.min(maxUnits, Math.floor((soft - guessUsedBytes - (ringsCharged ? probeBytes : 0)) / unitBytes)));
    let lo: number;
    let hi: number;
    if (fits(guess)) {
      if (!fits(guess + 1)) {
        lo = guess;
        hi = guess + 1;
      } else {
        lo = guess + 1;
        hi = maxUnits + 1;
      }
    } else {
      lo = 0;
      hi = guess;
    }
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (fits(mid)) lo = mid;
      else hi = mid;
    }
    if (lo === maxUnits && fits(maxUnits)) {
      return { freeBytes: lo * unitBytes, exact: false, evidence: `registered ${formatBytes(lo * unitBytes)} of buffers without reaching the limit` };
    }
    const free = lo * unitBytes + (ringsCharged ? probeBytes : 0);
    return {
      freeBytes: free,
      exact: unitPages === 1 && soft === env.memlock.soft,
      evidence: `measured: ${lo * unitPages} page(s) of registered buffers fit beside a 1-entry ring${ringsCharged ? ` (${formatBytes(probeBytes)}, also charged)` : ''}, one more did not`,
    };
  } catch {
    return null;
  } finally {
    releaseRing(ring);
  }
}

/** A process of this user holding io_uring instances, from /proc/<pid>/fd and fdinfo. */
export interface RingHolder {
  pid: number;
  comm: string;
  rings: number;
  /** Ring memory of its rings, from SqMask/CqMask in fdinfo (assuming 64-byte SQEs and 16-byte CQEs). */
  ringBytes: number;
  /** Registered buffers of its rings (UserBufs in fdinfo), rounded to pages. */
  bufferBytes: number;
  /** It holds CAP_IPC_LOCK now (its rings were probably not charged). */
  exempt: boolean;
  /** This process. */
  self: boolean;
}

function parseFdinfoRing(text: string): { sq: number; cq: number; bufferBytes: number } | null {
  const sq = text.match(/^SqMask:\s*0x([0-9a-f]+)/m);
  const cq = text.match(/^CqMask:\s*0x([0-9a-f]+)/m);
  if (!sq || !cq) return null;
  let bufferBytes = 0;
  // UserBufs lines: "    0: 0x7f1c2a000000/4096"
  for (const m of text.matchAll(/^\s*\d+:\s*0x[0-9a-f]+\/(\d+)\s*$/gm)) bufferBytes += Math.ceil(Number(m[1]) / PAGE_SIZE) * PAGE_SIZE;
  return { sq: parseInt(sq[1], 16) + 1, cq: parseInt(cq[1], 16) + 1, bufferBytes };
}

/**
 * Every io_uring instance held by processes whose real uid is `uid`, as far
 * as /proc lets this process look (other users' fds need root). A ring
 * shared by several processes is counted once, for the first.
 */
export function userRingHolders(uid: number, source: EnvironmentSource = liveSource): { holders: RingHolder[]; unreadable: number } {
  const holders: RingHolder[] = [];
  const seen = new Set<string>();
  let unreadable = 0;
  for (const name of source.readDir('/proc') ?? []) {
    if (!/^\d+$/.test(name)) continue;
    const status = source.readFile(`/proc/${name}/status`);
    const realUid = status?.match(/^Uid:\s*(\d+)/m);
    if (!status || !realUid || Number(realUid[1]) !== uid) continue;
    const fds = source.readDir(`/proc/${name}/fd`);
    if (fds === null) {
      unreadable++;
      continue;
    }
    let rings = 0;
    let ringBytes = 0;
    let bufferBytes = 0;
    for (const fd of fds) {
      if (source.readLink?.(`/proc/${name}/fd/${fd}`) !== 'anon_inode:[io_uring]') continue;
      const info = source.readFile(`/proc/${name}/fdinfo/${fd}`);
      const ino = info?.match(/^ino:\s*(\d+)/m)?.[1];
      const ring = info ? parseFdinfoRing(info) : null;
      if (!ring) continue;
      if (ino) {
        if (seen.has(ino)) continue;
        seen.add(ino);
      }
      rings++;
      ringBytes += ringMemorySize(ring.sq, { flags: IORING_SETUP_CQSIZE, cq_entries: ring.cq }, PAGE_SIZE) ?? 0;
      bufferBytes += ring.bufferBytes;
    }
    if (rings === 0) continue;
    const capEff = BigInt(`0x${status.match(/^CapEff:\s*([0-9a-f]+)/m)?.[1] ?? '0'}`);
    holders.push({
      pid: Number(name),
      comm: status.match(/^Name:\s*(.*)$/m)?.[1]?.trim() ?? '?',
      rings,
      ringBytes,
      bufferBytes,
      exempt: ((capEff >> 14n) & 1n) === 1n,
      self: Number(name) === process.pid,
    });
  }
  return { holders, unreadable };
}

/** The locked-memory facts behind an ENOMEM: the seed's case, in numbers. */
export interface MemlockFacts {
  /** RLIMIT_MEMLOCK of this process (Infinity: unlimited). */
  soft: number;
  hard: number;
  charging: MemlockCharging;
  /** Measured free part of the limit (null: not charged, unlimited, or not measured). */
  headroom: Headroom | null;
  /** What this user already has charged: soft − free (null when not measured). */
  usedBytes: number | null;
  /** This user's processes that hold rings (this one included). */
  holders: RingHolder[];
  /** Bytes those holders account for (exempt holders left out). */
  heldBytes: number;
  /** Processes of this user whose descriptors /proc would not show. */
  unreadable: number;
}

/** Charging, headroom and holders for this process (`measure: false` skips the headroom probe). */
export function memlockFacts(options: { env?: Environment; fresh?: boolean; measure?: boolean; source?: EnvironmentSource } = {}): MemlockFacts {
  const env = options.env ?? readEnvironment(options.source ?? liveSource, PAGE_SIZE);
  const charging = ringCharging({ env, fresh: options.fresh });
  const charged = charging.self.charged === true;
  const limited = !charging.exempt && Number.isFinite(env.memlock.soft);
  const { holders, unreadable } = limited ? userRingHolders(env.uid, options.source ?? liveSource) : { holders: [], unreadable: 0 };
  const heldBytes = holders.filter((h) => !h.exempt).reduce((n, h) => n + (charged ? h.ringBytes : 0) + h.bufferBytes, 0);
  const headroom = limited && options.measure !== false ? measureHeadroom(env, charged, heldBytes) : null;
  return {
    soft: env.memlock.soft,
    hard: env.memlock.hard,
    charging,
    headroom,
    usedBytes: headroom && headroom.exact ? Math.max(0, env.memlock.soft - headroom.freeBytes) : null,
    holders,
    heldBytes,
    unreadable,
  };
}

/** The free part of the limit, measured if possible, else the limit minus what /proc shows held. */
export function freeMemlock(facts: MemlockFacts): number {
  if (facts.headroom) return facts.headroom.freeBytes;
  return Math.max(0, facts.soft - facts.heldBytes);
}

/**
 * The largest entries (a power of two, as the kernel rounds) whose ring of
 * this shape needs at most `budget` bytes; 0 if none. With CQSIZE the CQ
 * stays as asked (and must hold at least the SQ).
 */
export function largestEntriesWithin(budget: number, p: Pick<ResolvedParams, 'flags' | 'cq_entries'>): number {
  let best = 0;
  for (let e = 1; e <= IORING_MAX_ENTRIES; e *= 2) {
    const size = ringMemorySize(e, { flags: p.flags & ~IORING_SETUP_CLAMP, cq_entries: p.cq_entries }, PAGE_SIZE);
    if (size !== null && size <= budget) best = e;
  }
  return best;
}

let lastRelease = 0;
/** How long a closed ring's charge may linger (measured here: up to ~25 ms; margin for a loaded machine). */
export const RELEASE_WAIT_MS = 250;

/** queueExit, remembering when: the kernel drops the ring's charge a little later, on a workqueue. */
export function releaseRing(ring: Ring): void {
  ring.queueExit();
  lastRelease = performance.now();
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** The measured RLIMIT_MEMLOCK budget says a ring of `bytes` fits (false where nothing was measured: Infinity). */
export function fitsBudget(bytes: number | null, budget: number): boolean {
  return bytes !== null && Number.isFinite(budget) && bytes <= budget;
}

/**
 * queueInit for the probes and adaptive setup: when it fails with ENOMEM
 * although the numbers say the ring fits (`expectFits`), the charge of rings
 * closed moments ago — by this process or another of the same user — is
 * probably still being released, so wait and retry, up to RELEASE_WAIT_MS
 * after the later of the last close here and the first failure.
 */
export function tryRing(entries: number, options: SetupOptions, expectFits: boolean): { ring: Ring; error?: undefined } | { ring?: undefined; error: UringError } {
  let deadline = 0;
  for (;;) {
    try {
      return { ring: queueInit(entries, options) };
    } catch (e) {
      if (!(e instanceof UringError)) throw e;
      if (e.code !== 'ENOMEM' || !expectFits) return { error: e };
      deadline ||= Math.max(lastRelease, performance.now()) + RELEASE_WAIT_MS;
      if (performance.now() > deadline) return { error: e };
      sleepSync(2);
    }
  }
}
