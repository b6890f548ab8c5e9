/**
 * ring/ — liburing in TypeScript. Read top-down:
 *   setup.ts     queueInit, queueInitParams (io_uring_setup(2) + mmap)
 *   params.ts    io_uring_params in/out and the sizing rules
 *   ring.ts      the Ring: SQ (getSqe, reserve/commit, submit…) and CQ (peekCqe, drainCq, waitCqe…)
 *   sqe.ts       SQE/CQE slot accessors
 *   prep.ts      one prep helper per opcode (buffers in, bounds checked)
 *   register.ts  io_uring_register(2): files, buffers, probe, ring fd, …
 *   memory.ts    addresses of buffers, aligned buffers, the memory contract
 *   errors.ts    UringError and Node-style argument errors
 *   unsafe.ts    raw-address entry points, named as such
 * Importing this module loads the native shim (Linux only).
 */
export * from './errors.js';
export * from './params.js';
export * from './setup.js';
export { Ring, type RingInit, type Timeout, type CqeHandler } from './ring.js';
export { Sqe, Cqe, SQE_WORD, CQE_WORD } from './sqe.js';
export * from './prep.js';
export * from './register.js';
export {
  einvalCause, explainSetupFailure, invalidCombination, SETUP_FLAG_SINCE, type EinvalCause, type EinvalKnowledge,
} from './setup-errors.js';
export { allocAlignedBuffer, PAGE_SIZE } from './memory.js';
export { credentialEpoch } from './credentials.js';
export * as unsafe from './unsafe.js';
