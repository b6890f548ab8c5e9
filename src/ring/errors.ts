/**
 * Errors of the ring layer.
 *
 * Kernel failures become a `UringError` shaped like Node's system errors
 * (`code`, `errno` as a negative number, `syscall`), with a message in the
 * words of the man page's ERRORS section. Bad arguments become Node's own
 * `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE` / `ERR_INVALID_ARG_VALUE`
 * errors, thrown before anything reaches the kernel.
 */
import util from 'node:util';
import type { ResolvedParams } from './params.js';

const systemErrors = util.getSystemErrorMap();

/** Linux errnos io_uring returns that libuv has no name for. */
const LINUX_ONLY_ERRNOS: Record<number, [string, string]> = {
  53: ['EBADR', 'invalid request descriptor (completions were dropped)'],
  62: ['ETIME', 'timer expired'],
  77: ['EBADFD', 'file descriptor in bad state'],
  121: ['EREMOTEIO', 'remote I/O error'],
  512: ['ERESTARTSYS', 'interrupted system call, to be restarted'],
};

function lookup(errno: number): [string, string] | undefined {
  return systemErrors.get(-Math.abs(errno)) ?? LINUX_ONLY_ERRNOS[Math.abs(errno)];
}

/** 'ENOENT' for -2 or 2. */
export function errnoName(errno: number): string {
  return lookup(errno)?.[0] ?? `E${Math.abs(errno)}`;
}
/** 'no such file or directory' for -2 or 2. */
export function errnoMessage(errno: number): string {
  return lookup(errno)?.[1] ?? 'unknown error';
}

export interface UringErrorDetails {
  /** Extra explanation: the cause in context and what to do. */
  explanation?: string;
  path?: string;
  dest?: string;
  /** Structured facts for programs (e.g. the diagnosis). */
  info?: Record<string, unknown>;
  /** For io_uring_setup(2) failures: what was asked, so the failure can be explained later (uring/diagnose's explain()). */
  setup?: SetupRequest;
}

/** The arguments of a failed io_uring_setup(2): entries and the in-fields of io_uring_params. */
export interface SetupRequest {
  entries: number;
  params: ResolvedParams;
}

/** A failed io_uring syscall or operation, shaped like Node's system errors. */
export class UringError extends Error {
  /** 'ENOMEM', 'EINVAL', … */
  readonly code: string;
  /** Negative errno, as in Node (`-12` for ENOMEM). */
  readonly errno: number;
  /** The syscall or operation that failed ('io_uring_setup', 'read', …). */
  readonly syscall: string;
  declare readonly path?: string;
  declare readonly dest?: string;
  /** The cause and the fix, when known. */
  declare readonly explanation?: string;
  declare readonly info?: Record<string, unknown>;
  /** For io_uring_setup(2): the entries and params that were asked (with `errno`, all an explanation needs). */
  declare readonly setup?: SetupRequest;

  constructor(errno: number, syscall: string, details: UringErrorDetails = {}) {
    const code = errnoName(errno);
    let message = `${code}: ${errnoMessage(errno)}, ${syscall}`;
    if (details.path !== undefined) message += ` '${details.path}'`;
    if (details.dest !== undefined) message += ` -> '${details.dest}'`;
    if (details.explanation) message += `\n${details.explanation}`;
    super(message);
    this.name = 'UringError';
    this.code = code;
    this.errno = -Math.abs(errno);
    this.syscall = syscall;
    if (details.path !== undefined) this.path = details.path;
    if (details.dest !== undefined) this.dest = details.dest;
    if (details.explanation) this.explanation = details.explanation;
    if (details.info) this.info = details.info;
    if (details.setup) this.setup = details.setup;
  }
}

type NodeCode = 'ERR_INVALID_ARG_TYPE' | 'ERR_OUT_OF_RANGE' | 'ERR_INVALID_ARG_VALUE' | 'ERR_INVALID_STATE' | 'ERR_URING_RING_CLOSED' | 'ERR_URING_CREDENTIALS_CHANGED' | 'ERR_URING_INFLIGHT_LIMIT';

function withCode<E extends Error>(err: E, code: NodeCode): E & { code: NodeCode } {
  Object.defineProperty(err, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  err.name = `${err.name} [${code}]`;
  // Node's errors print as "TypeError [CODE]: ..." but keep name 'TypeError'.
  err.stack; // materialise the stack with the decorated name
  err.name = Object.getPrototypeOf(err).name;
  return err as E & { code: NodeCode };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const ctor = (value as object).constructor?.name;
    return ctor ? `an instance of ${ctor}` : util.inspect(value, { depth: -1 });
  }
  let shown = util.inspect(value);
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return `type ${typeof value} (${shown})`;
}

/** TypeError [ERR_INVALID_ARG_TYPE], worded like Node's. */
export function invalidArgType(name: string, expected: string, actual: unknown): TypeError {
  return withCode(
    new TypeError(`The "${name}" argument must be ${expected}. Received ${describe(actual)}`),
    'ERR_INVALID_ARG_TYPE',
  );
}

/** RangeError [ERR_OUT_OF_RANGE], worded like Node's. */
export function outOfRange(name: string, range: string, actual: unknown): RangeError {
  return withCode(
    new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${util.inspect(actual)}`),
    'ERR_OUT_OF_RANGE',
  );
}

/** TypeError [ERR_INVALID_ARG_VALUE], worded like Node's. */
export function invalidArgValue(name: string, actual: unknown, reason: string): TypeError {
  return withCode(
    new TypeError(`The argument '${name}' ${reason}. Received ${util.inspect(actual, { depth: 0 })}`),
    'ERR_INVALID_ARG_VALUE',
  );
}

/** Error [ERR_INVALID_STATE] and the uring-specific state errors. */
export function invalidState(message: string, code: NodeCode = 'ERR_INVALID_STATE'): Error {
  return withCode(new Error(message), code);
}

export const MAX_U32 = 0xffffffff;

/** Validates an integer in [min, max]; Node's messages. */
export function validateInteger(value: unknown, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value);
  return value;
}

/** Validates a 32-bit unsigned integer. */
export function validateU32(value: unknown, name: string): number {
  return validateInteger(value, name, 0, MAX_U32);
}

/** Validates a file descriptor (a non-negative int32). */
export function validateFd(value: unknown, name = 'fd'): number {
  return validateInteger(value, name, 0, 0x7fffffff);
}

/** Validates an ArrayBufferView (Buffer, typed array, DataView), not detached. */
export function validateBuffer(value: unknown, name = 'buffer'): ArrayBufferView {
  if (!ArrayBuffer.isView(value)) {
    throw invalidArgType(name, 'an instance of Buffer, TypedArray, or DataView', value);
  }
  if (value.byteLength === 0 && isDetached(value.buffer)) {
    throw invalidArgValue(name, value, 'must not be backed by a detached ArrayBuffer');
  }
  return value;
}

/** True if the ArrayBuffer was detached (transferred, or a ring region that
 * was unmapped). Only empty buffers can be detached, so the costly check runs
 * only for those. */
export function isDetached(buffer: ArrayBufferLike): boolean {
  if (buffer.byteLength !== 0) return false;
  try {
    new Uint8Array(buffer);
    return false;
  } catch {
    return true;
  }
}
