/**
 * diagnose/ — why io_uring setup fails here and how to fix it.
 * Importing this module installs the environment-aware explanation into
 * every UringError thrown by queueInit / queueInitParams.
 */
import { PAGE_SIZE, setSetupExplainer } from '../ring/index.js';
import { readEnvironment } from './environment.js';
import { diagnoseSetupFailure, renderDiagnosis } from './explain.js';
import { ringsChargeMemlock } from './probe.js';

export * from './environment.js';
export * from './explain.js';
export * from './probe.js';
export * from './adaptive.js';
export * from './report.js';

setSetupExplainer((errno, entries, params) => {
  const env = readEnvironment(undefined, PAGE_SIZE);
  const diagnosis = diagnoseSetupFailure(errno, entries, params, { env, chargesMemlock: ringsChargeMemlock(env.kernel.major, env.kernel.minor) });
  return { explanation: renderDiagnosis(diagnosis), info: { cause: diagnosis.cause, fixes: diagnosis.fixes, facts: diagnosis.facts } };
});
