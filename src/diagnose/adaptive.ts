/**
 * Adaptive setup: what the vendor note advises, done for the caller. On
 * ENOMEM the entries are halved until the ring fits; on EINVAL the optional
 * flags are dropped one at a time, in the declared order, with the flags
 * that depend on them. The result says what was asked and what was granted.
 */
import {
  IORING_SETUP_COOP_TASKRUN, IORING_SETUP_CQE_MIXED, IORING_SETUP_DEFER_TASKRUN,
  IORING_SETUP_HYBRID_IOPOLL, IORING_SETUP_NO_SQARRAY, IORING_SETUP_SINGLE_ISSUER,
  IORING_SETUP_SQPOLL, IORING_SETUP_SQ_AFF, IORING_SETUP_SUBMIT_ALL, IORING_SETUP_TASKRUN_FLAG,
  IORING_SETUP_IOPOLL, IORING_SETUP,
} from '../abi/constants.js';
import { flagNames } from '../abi/names.js';
import { queueInit, resolveOptions, type Ring, type SetupOptions, UringError } from '../ring/index.js';

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
}

/**
 * queueInit that adapts: halves entries on ENOMEM (down to `minEntries`),
 * drops `optionalFlags` (in order) on EINVAL. Other errors, or running out
 * of room to adapt, throw the last UringError (with its explanation).
 */
export function queueInitAdaptive(entries: number, options: SetupOptions = {}, adapt: { optionalFlags?: readonly number[]; minEntries?: number } = {}): AdaptiveResult {
  const resolved = resolveOptions(options);
  const optional = [...(adapt.optionalFlags ?? DEFAULT_OPTIONAL_FLAGS)].filter((f) => resolved.flags & f);
  const minEntries = adapt.minEntries ?? 1;
  let tryEntries = entries;
  let flags = resolved.flags;
  const attempts: AdaptiveResult['attempts'] = [];
  for (;;) {
    try {
      const sqThreadCpu = flags & IORING_SETUP_SQPOLL ? options.sqThreadCpu : undefined;
      const ring = queueInit(tryEntries, { ...options, ...noNamedFlags, flags, sqThreadCpu });
      return {
        ring,
        requested: { entries, flags: flagNames(IORING_SETUP, resolved.flags) },
        granted: { entries: tryEntries, flags: flagNames(IORING_SETUP, ring.flags), sqEntries: ring.sqEntries, cqEntries: ring.cqEntries },
        attempts,
      };
    } catch (e) {
      const err = e as UringError;
      if (!(err instanceof UringError)) throw e;
      attempts.push({ entries: tryEntries, flags: flagNames(IORING_SETUP, flags), error: err.code });
      if (err.code === 'ENOMEM' && tryEntries > minEntries) {
        tryEntries = Math.max(minEntries, Math.floor(tryEntries / 2));
        continue;
      }
      const next = err.code === 'EINVAL' ? optional.shift() : undefined;
      if (next === undefined) throw err;
      flags = dropDependents(flags & ~next);
    }
  }
}

/** The named boolean options are folded into `flags` by resolveOptions; clear them so the adapted flags rule. */
const noNamedFlags: SetupOptions = Object.freeze(Object.fromEntries(
  ['iopoll', 'hybridIopoll', 'sqpoll', 'clamp', 'rDisabled', 'submitAll', 'coopTaskrun', 'taskrunFlag', 'sqe128', 'cqe32',
    'singleIssuer', 'deferTaskrun', 'noMmap', 'registeredFdOnly', 'noSqarray', 'cqeMixed', 'sqeMixed', 'sqRewind'].map((k) => [k, undefined]),
)) as SetupOptions;

