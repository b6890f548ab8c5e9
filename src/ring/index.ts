/**
 * ring/ — liburing in TypeScript. Read top-down:
 *   setup.ts     queueInit, queueInitParams (io_uring_setup(2) + mmap)
 *   params.ts    io_uring_params in/out and the sizing rules
 *   ring.ts      the Ring: SQ (getSqe, submit…) and CQ (peekCqe, waitCqe…)
 *   sqe.ts       SQE/CQE slot accessors
 *   prep.ts      one prep helper per opcode
 *   register.ts  io_uring_register(2): files, buffers, probe, ring fd, …
 *   errors.ts    UringError and Node-style argument errors
 * Importing this module loads the native shim (Linux only).
 */
export * from './errors.js';
export * from './params.js';
export * from './setup.js';
export * from './ring.js';
export * from './sqe.js';
export * from './prep.js';
export * from './register.js';
export {
  einvalCause, explainSetupFailure, invalidCombination, SETUP_FLAG_SINCE, type EinvalCause, type EinvalKnowledge,
} from './setup-errors.js';
export { addressOf, allocAlignedBuffer, PAGE_SIZE } from './memory.js';
export { credentialEpoch } from './credentials.js';
export { native } from './native.js';
