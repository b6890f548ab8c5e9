/**
 * Adaptive setup: what the vendor note advises, done for the caller. On
 * ENOMEM where rings are charged to RLIMIT_MEMLOCK, the largest ring that
 * fits is computed from the limit and what this user's processes hold, and
 * tried once; without such numbers (or if that try fails too) entries are
 * halved until the ring fits. On EINVAL the optional flags are dropped one
 * at a time, in the declared order, with the flags that depend on them.
 * The result says what was asked, what was granted, and why.
 */
import {
  IORING_SETUP, IORING_SETUP_COOP_TASKRUN, IORING_SETUP_CQE_MIXED, IORING_SETUP_DEFER_TASKRUN,
  IORING_SETUP_HYBRID_IOPOLL, IORING_SETUP_IOPOLL, IORING_SETUP_NO_SQARRAY, IORING_SETUP_SINGLE_ISSUER,
  IORING_SETUP_SQPOLL, IORING_SETUP_SQ_AFF, IORING_SETUP_SUBMIT_ALL, IORING_SETUP_TASKRUN_FLAG,
} from '../abi/constants.js';
import { flagNames } from '../abi/names.js';
import { PAGE_SIZE, resolveOptions, ringMemorySize, type Ring, type SetupOptions, UringError } from '../ring/index.js';
import { exemptFromMemlock, formatBytes, liveSource, readEnvironment } from './environment.js';
import { describeHolder } from './explain.js';
import { largestEntriesWithin, ringCharging, tryRing, userRingHolders } from './memlock.js';

/** Flags a program can live without, least important first. */
export const DEFAULT_OPTIONAL_FLAGS: readonly number[] = Object.freeze([
  IORING_SETUP_CQE_MIXED, IORING_SETUP_HYBRID_IOPOLL, IORING_SETUP_NO_SQARRAY, IORING_SETUP_DEFER_TASKRUN,
  IORING_SETUP_TASKRUN_FLAG, IORING_SETUP_COOP_TASKRUN, IORING_SETUP_SINGLE_ISSUER, IORING_SETUP_SUBMIT_ALL,
  IORING_SETUP_SQPOLL,
]);

/** Flags that make no sense once another is gone. */
function dropDependents(flags: number): number {
  if (!(flags & (IORING_SETUP_COOP_TASKRUN | IORING_SETUP_DEFER_TASKRUN))) flags &= ~IORING_SETUP_TASKRUN_FLAG;
  if (!(flags & IORING_SETUP_SINGLE_ISSUER)) flags &= ~IORING_SETUP_DEFER_TASKRUN;
  if (!(flags & IORING_SETUP_SQPOLL)) flags &= ~IORING_SETUP_SQ_AFF;
  if (!(flags & IORING_SETUP_IOPOLL)) flags &= ~IORING_SETUP_HYBRID_IOPOLL;
  return flags >>> 0;
}

export interface AdaptiveResult {
  ring: Ring;
  requested: { entries: number; flags: string[] };
  granted: { entries: number; flags: string[]; sqEntries: number; cqEntries: number };
  /** Each failed try, in order. */
  attempts: Array<{ entries: number; flags: string[]; error: string }>;
  /** What limited the ring: nothing, RLIMIT_MEMLOCK, memory (or the cause is unknown), or the kernel's flags. */
  limitedBy: 'nothing' | 'RLIMIT_MEMLOCK' | 'memory' | 'flags';
  /** Why the grant differs from the request, in numbers. */
  reason: string;
}

/** What the locked-memory numbers allow after an ENOMEM: the entries to try, and why; null where they say nothing. */
function memlockPlan(entries: number, flags: number, options: SetupOptions): { entries: number; why: string } | null {
  const env = readEnvironment(liveSource, PAGE_SIZE);
  if (exemptFromMemlock(env) || !Number.isFinite(env.memlock.soft)) return null;
  const charging = ringCharging({ env });
  if (charging.self.charged !== true) return null;
  // No probe here: what this user's processes hold, as /proc shows it, is the estimate; a wrong one costs one failed try.
  const { holders } = userRingHolders(env.uid);
  const held = holders.filter((h) => !h.exempt).reduce((n, h) => n + h.ringBytes + h.bufferBytes, 0);
  const free = Math.max(0, env.memlock.soft - held);
  const p = resolveOptions({ ...options, ...noNamedFlags, flags });
  const fit = largestEntriesWithin(free, p);
  const need = ringMemorySize(entries, p, PAGE_SIZE) ?? 0;
  const who = holders.length ? ` (${holders.map((h) => describeHolder(h, env.memlock.soft)).join('; ')})` : '';
  return {
    entries: fit,
    why: `limited by RLIMIT_MEMLOCK ${formatBytes(env.memlock.soft)}: this kernel charges ring memory to it (${charging.self.how}), ` +
      `a ring of ${entries} entries needs ${formatBytes(need)}, your user holds ${formatBytes(held)}${who}, ` +
      `${formatBytes(free)} is free and the largest ring that fits has ${fit} entries (${formatBytes(ringMemorySize(fit, p, PAGE_SIZE) ?? 0)})`,
  };
}

/**
 * queueInit that adapts (io_uring_queue_init(3) plus the vendor note's
 * advice): on ENOMEM it tries the largest ring the RLIMIT_MEMLOCK numbers
 * allow (once), then halves entries down to `minEntries`; on EINVAL it drops
 * `optionalFlags` (in order). Other errors, or running out of room to adapt,
 * throw the last UringError.
 */
export function queueInitAdaptive(entries: number, options: SetupOptions = {}, adapt: { optionalFlags?: readonly number[]; minEntries?: number } = {}): AdaptiveResult {
  const resolved = resolveOptions(options);
  const optional = [...(adapt.optionalFlags ?? DEFAULT_OPTIONAL_FLAGS)].filter((f) => resolved.flags & f);
  const minEntries = adapt.minEntries ?? 1;
  let tryEntries = entries;
  let flags = resolved.flags;
  let planned = false;
  let expectFits = false;
  let limitedBy: AdaptiveResult['limitedBy'] = 'nothing';
  const reasons: string[] = [];
  const halved: number[] = [];
  const attempts: AdaptiveResult['attempts'] = [];
  for (;;) {
    const sqThreadCpu = flags & IORING_SETUP_SQPOLL ? options.sqThreadCpu : undefined;
    const r = tryRing(tryEntries, { ...options, ...noNamedFlags, flags, sqThreadCpu }, expectFits);
    if (r.ring) {
      const ring = r.ring;
      const granted = { entries: tryEntries, flags: flagNames(IORING_SETUP, ring.flags), sqEntries: ring.sqEntries, cqEntries: ring.cqEntries };
      if (halved.length) reasons.push(`ENOMEM at ${halved.join(', ')} entries: halved`);
      const asked = `asked ${entries}${flags !== resolved.flags ? ` (${flagNames(IORING_SETUP, resolved.flags).join('|')})` : ''}`;
      const got = `granted ${tryEntries}${flags !== resolved.flags ? ` (${granted.flags.join('|') || 'no flags'})` : ''}`;
      const reason = attempts.length === 0 ? `${asked}, ${got}` : `${asked}, ${got}: ${reasons.join('; ')}`;
      return { ring, requested: { entries, flags: flagNames(IORING_SETUP, resolved.flags) }, granted, attempts, limitedBy, reason };
    }
    const err: UringError = r.error;
    attempts.push({ entries: tryEntries, flags: flagNames(IORING_SETUP, flags), error: err.code });
    expectFits = false;
    if (err.code === 'ENOMEM' && tryEntries > minEntries) {
      const plan = planned ? null : memlockPlan(tryEntries, flags, options);
      planned = true;
      if (plan && plan.entries >= minEntries && plan.entries < tryEntries) {
        limitedBy = 'RLIMIT_MEMLOCK';
        reasons.push(plan.why);
        tryEntries = plan.entries;
        expectFits = true;
        continue;
      }
      if (limitedBy === 'nothing') limitedBy = 'memory';
      halved.push(tryEntries);
      tryEntries = Math.max(minEntries, Math.floor(tryEntries / 2));
      continue;
    }
    const next = err.code === 'EINVAL' ? optional.shift() : undefined;
    if (next === undefined) throw err;
    if (limitedBy === 'nothing') limitedBy = 'flags';
    reasons.push(`EINVAL with ${flagNames(IORING_SETUP, flags).join('|')}: dropped ${flagNames(IORING_SETUP, next).join('')}`);
    flags = dropDependents(flags & ~next);
  }
}

/** The named boolean options are folded into `flags` by resolveOptions; clear them so the adapted flags rule. */
const noNamedFlags: SetupOptions = Object.freeze(Object.fromEntries(
  ['iopoll', 'hybridIopoll', 'sqpoll', 'clamp', 'rDisabled', 'submitAll', 'coopTaskrun', 'taskrunFlag', 'sqe128', 'cqe32',
    'singleIssuer', 'deferTaskrun', 'noMmap', 'registeredFdOnly', 'noSqarray', 'cqeMixed', 'sqeMixed', 'sqRewind'].map((k) => [k, undefined]),
)) as SetupOptions;
