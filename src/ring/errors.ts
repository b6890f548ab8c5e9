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

/** Node's wording of a system error, "CODE: description, syscall 'path' -> 'dest'", and an explanation on a line of its own. */
function systemMessage(code: string, errno: number, syscall: string, details: { path?: string; dest?: string; explanation?: string }): string {
  let message = `${code}: ${errnoMessage(errno)}, ${syscall}`;
  if (details.path !== undefined) message += ` '${details.path}'`;
  if (details.dest !== undefined) message += ` -> '${details.dest}'`;
  if (details.explanation) message += `\n${details.explanation}`;
  return message;
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
    super(systemMessage(code, errno, syscall, details));
    // Node's system errors are plain `Error`s by name (stacks read "Error: ENOENT: …"); instanceof UringError still holds.
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

/**
 * A failed operation as Node reports one (its uvException): a plain `Error`
 * (stacks read "Error: ENOENT: …") whose message is "CODE: description,
 * syscall 'path' -> 'dest'", with `errno`, `code`, `syscall`, `path`, `dest`
 * in Node's order, so it prints and compares like node:fs's. An
 * `explanation` (what this library knows and Node would not say) follows on
 * a second line of the message and is kept as a non-enumerable property.
 */
export function systemError(errno: number, syscall: string, details: { path?: string; dest?: string; explanation?: string } = {}): NodeJS.ErrnoException {
  const code = errnoName(errno);
  const err = new Error(systemMessage(code, errno, syscall, details)) as NodeJS.ErrnoException & { dest?: string; explanation?: string };
  Error.captureStackTrace(err, systemError);
  err.errno = -Math.abs(errno);
  err.code = code;
  err.syscall = syscall;
  if (details.path !== undefined) err.path = details.path;
  if (details.dest !== undefined) err.dest = details.dest;
  if (details.explanation) Object.defineProperty(err, 'explanation', { value: details.explanation, writable: true, configurable: true });
  return err;
}

type NodeCode =
  | 'ERR_INVALID_ARG_TYPE' | 'ERR_OUT_OF_RANGE' | 'ERR_INVALID_ARG_VALUE' | 'ERR_INVALID_STATE' | 'ERR_METHOD_NOT_IMPLEMENTED'
  | 'ERR_FS_FILE_TOO_LARGE' | 'ERR_FS_INVALID_SYMLINK_TYPE'
  | 'ERR_URING_RING_CLOSED' | 'ERR_URING_CREDENTIALS_CHANGED' | 'ERR_URING_INFLIGHT_LIMIT';

/** Adds Node's `code` and makes the stack read "TypeError [CODE]: …" while `name` stays "TypeError", as Node's errors do. */
export function withCode<E extends Error>(err: E, code: NodeCode | string): E & { code: string } {
  Object.defineProperty(err, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  err.name = `${err.name} [${code}]`;
  err.stack; // materialise the stack with the decorated name
  delete (err as { name?: string }).name;
  return err as E & { code: string };
}

/** Node's wording of a received value (determineSpecificType). */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  switch (typeof value) {
    case 'bigint': return `type bigint (${value}n)`;
    case 'number':
      if (Object.is(value, -0)) return 'type number (-0)';
      return `type number (${value})`;
    case 'boolean': return `type boolean (${value})`;
    case 'symbol': return `type symbol (${String(value)})`;
    case 'function': return `function ${value.name}`;
    case 'object': {
      const ctor = (value as object).constructor;
      if (ctor && 'name' in ctor) return `an instance of ${ctor.name}`;
      return util.inspect(value, { depth: -1 });
    }
    case 'string': {
      const shown = value.length > 28 ? `${value.slice(0, 25)}...` : value;
      return shown.includes("'") ? `type string (${JSON.stringify(shown)})` : `type string ('${shown}')`;
    }
    default: return `type ${typeof value} (${String(value)})`;
  }
}

/** Node's kTypes: named as types ('of type object'), not as classes. */
const PRIMITIVE_TYPES = ['string', 'function', 'number', 'object', 'Function', 'Object', 'boolean', 'bigint', 'symbol'];
const CLASS_NAME = /^([A-Z][a-z0-9]*)+$/;

function formatList(items: string[], last: string): string {
  if (items.length <= 2) return items.join(` ${last} `);
  return `${items.slice(0, -1).join(', ')}, ${last} ${items[items.length - 1]}`;
}

/** What a value must be, worded as Node words a list of expected types (['string', 'Buffer', 'URL']). */
function expectedTypes(expected: readonly string[]): string {
  const types: string[] = [];
  const instances: string[] = [];
  const other: string[] = [];
  for (const value of expected) {
    if (PRIMITIVE_TYPES.includes(value)) types.push(value.toLowerCase());
    else if (CLASS_NAME.test(value)) instances.push(value);
    else other.push(value);
  }
  if (instances.length > 0) {
    const at = types.indexOf('object');
    if (at !== -1) {
      types.splice(at, 1);
      instances.push('Object');
    }
  }
  let msg = '';
  if (types.length > 0) {
    msg += `${types.length > 1 ? 'one of type' : 'of type'} ${formatList(types, 'or')}`;
    if (instances.length > 0 || other.length > 0) msg += ' or ';
  }
  if (instances.length > 0) {
    msg += `an instance of ${formatList(instances, 'or')}`;
    if (other.length > 0) msg += ' or ';
  }
  if (other.length > 1) msg += `one of ${formatList(other, 'or')}`;
  else if (other.length === 1) msg += `${other[0].toLowerCase() !== other[0] ? 'an ' : ''}${other[0]}`;
  return msg;
}

/** "argument" for a name, "property" for a dotted path, as Node says. */
function kind(name: string): string {
  return name.includes('.') ? 'property' : 'argument';
}

/**
 * TypeError [ERR_INVALID_ARG_TYPE], worded like Node's. `expected` is either
 * a list of types as Node takes it (['string', 'Buffer', 'URL']) or a
 * ready phrase ('of type number').
 */
export function invalidArgType(name: string, expected: string | readonly string[], actual: unknown): TypeError {
  const must = typeof expected === 'string' ? expected : expectedTypes(expected);
  const subject = name.endsWith(' argument') ? `The ${name}` : `The "${name}" ${kind(name)}`;
  return withCode(new TypeError(`${subject} must be ${must}. Received ${describe(actual)}`), 'ERR_INVALID_ARG_TYPE');
}

/** 4294967296 → 4_294_967_296, as Node prints large numbers in range errors. */
function numericalSeparator(text: string): string {
  let out = '';
  let i = text.length;
  const start = text[0] === '-' ? 1 : 0;
  for (; i >= start + 4; i -= 3) out = `_${text.slice(i - 3, i)}${out}`;
  return `${text.slice(0, i)}${out}`;
}

/** RangeError [ERR_OUT_OF_RANGE], worded like Node's. */
export function outOfRange(name: string, range: string, actual: unknown): RangeError {
  let received: string;
  if (Number.isInteger(actual) && Math.abs(actual as number) > 2 ** 32) received = numericalSeparator(String(actual));
  else if (typeof actual === 'bigint') {
    received = String(actual);
    if (actual > 2n ** 32n || actual < -(2n ** 32n)) received = numericalSeparator(received);
    received += 'n';
  } else received = util.inspect(actual);
  return withCode(new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${received}`), 'ERR_OUT_OF_RANGE');
}

/** TypeError [ERR_INVALID_ARG_VALUE], worded like Node's. */
export function invalidArgValue(name: string, actual: unknown, reason = 'is invalid'): TypeError {
  let inspected = util.inspect(actual);
  if (inspected.length > 128) inspected = `${inspected.slice(0, 128)}...`;
  return withCode(new TypeError(`The ${kind(name)} '${name}' ${reason}. Received ${inspected}`), 'ERR_INVALID_ARG_VALUE');
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
