/**
 * uring — io_uring for TypeScript.
 *
 * Layers (each imports only those below it):
 *   uring/fs        node:fs/promises-shaped API (io_uring, or node:fs fallback)
 *   uring/driver    event-loop integration: promises, batching, cancellation
 *   uring/diagnose  why setup fails and how to fix it (`uring doctor`)
 *   uring/ring      liburing in TypeScript: setup, SQ/CQ, register, prep
 *   uring/abi       kernel constants and struct layouts as data
 * This root module stays importable on any platform: the native shim is
 * loaded only by uring/ring and what stands on it.
 */
export * as abi from './abi/index.js';
export * as fs from './fs/index.js';
export { backend, type BackendInfo } from './fs/backend.js';
