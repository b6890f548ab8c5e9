/**
 * The io_uring implementation of uring/net, loaded by index.ts only where it
 * can load (Linux; the ring layer's import reads the page size).
 */
export { Socket, normalizeArgs, kAdopt, sockName } from './socket.js';
export { Server } from './server.js';
export { runtime, existingRuntime, configure, currentTuning, REQUIRED_OPS, OPTIONAL_FEATURES, type NetTuning } from './runtime.js';
export { IORING_OP } from '../abi/constants.js';
import { native } from '../ring/native.js';

/** Whether the loaded addon has the socket entry points (sockName, ownFd) uring/net needs. */
export function nativeHasSockets(): boolean {
  return typeof native.sockName === 'function' && typeof native.ownFd === 'function';
}
