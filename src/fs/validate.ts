/**
 * Argument rules of node:fs/promises (Node 20's lib/internal/fs/utils.js and
 * lib/internal/validators.js, re-implemented): the same checks in the same
 * order, so that a bad call fails with the same error class, code and
 * message as with node:fs — and before anything reaches the kernel.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { invalidArgType, invalidArgValue, outOfRange, withCode } from '../ring/errors.js';

export type PathLike = string | Buffer | URL;

/** Sizes node:fs uses for readFile/writeFile (kReadFileBufferLength & co.). */
export const READ_CHUNK = 512 * 1024;
export const READ_UNKNOWN_CHUNK = 64 * 1024;
export const WRITE_CHUNK = 512 * 1024;
export const IO_MAX_LENGTH = 2 ** 31 - 1;
export const MAX_USER_ID = 2 ** 32 - 1;

const O = fs.constants;

/** Node's AbortError: name 'AbortError', code 'ABORT_ERR'. */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR';
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}

/** checkAborted: rejects with AbortError (cause: the signal's reason) once the signal is aborted. */
export function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
}

export function validateBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw invalidArgType(name, ['boolean'], value);
  return value;
}

/** validateInteger: a safe integer in [min, max]. */
export function validateInteger(value: unknown, name: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw invalidArgType(name, ['number'], value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value);
  return value;
}

export function validateInt32(value: unknown, name: string, min = -2147483648, max = 2147483647): number {
  return validateInteger(value, name, min, max);
}

export function validateUint32(value: unknown, name: string): number {
  if (typeof value !== 'number') throw invalidArgType(name, ['number'], value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < 0 || value > 4294967295) throw outOfRange(name, '>= 0 && <= 4294967295', value);
  return value;
}

/** validateObject, allowing null (kValidateObjectAllowNullable). */
export function validateObjectOrNull(value: unknown, name: string): void {
  if (value !== null && (typeof value !== 'object' || Array.isArray(value))) throw invalidArgType(name, ['Object'], value);
}

export function validateAbortSignal(signal: unknown, name = 'options.signal'): AbortSignal | undefined {
  if (signal !== undefined && (signal === null || typeof signal !== 'object' || !('aborted' in signal))) {
    throw invalidArgType(name, ['AbortSignal'], signal);
  }
  return signal as AbortSignal | undefined;
}

/** getValidatedPath: a string, Uint8Array or file: URL, without NUL bytes; URLs become paths. */
export function getValidatedPath(value: unknown, name = 'path'): string | Uint8Array {
  // A URL (or what Node's isURL takes for one) becomes a path; fileURLToPath throws Node's URL errors.
  const url = value as { href?: unknown; protocol?: unknown; auth?: unknown; path?: unknown } | null;
  const path = url?.href && url.protocol && url.auth === undefined && url.path === undefined ? fileURLToPath(value as URL) : value;
  if (typeof path === 'string') {
    if (path.includes('\u0000')) throw invalidArgValue(name, path, 'must be a string, Uint8Array, or URL without null bytes');
    return path;
  }
  if (path instanceof Uint8Array) {
    if (path.includes(0)) throw invalidArgValue(name, path, 'must be a string, Uint8Array, or URL without null bytes');
    return path;
  }
  throw invalidArgType(name, ['string', 'Buffer', 'URL'], value);
}

/** The path as text, for error messages (node reports the path it was given). */
export function pathText(path: string | Uint8Array): string {
  return typeof path === 'string' ? path : Buffer.from(path.buffer, path.byteOffset, path.byteLength).toString();
}

function assertEncoding(encoding: unknown): void {
  if (encoding && !Buffer.isEncoding(encoding as string)) throw invalidArgValue('encoding', encoding, 'is invalid encoding');
}

/** getOptions: a string is the encoding; null/undefined/a function give the defaults; anything else but an object throws. */
export function getOptions<T extends Record<string, unknown>>(options: unknown, defaults: T): T & Record<string, any> {
  if (options === null || options === undefined || typeof options === 'function') return defaults;
  let out: Record<string, unknown>;
  if (typeof options === 'string') out = { ...defaults, encoding: options };
  else if (typeof options !== 'object') throw invalidArgType('options', ['string', 'Object'], options);
  else out = options as Record<string, unknown>;
  if (out.encoding !== 'buffer') assertEncoding(out.encoding);
  if (out.signal !== undefined) validateAbortSignal(out.signal, 'options.signal');
  return out as T & Record<string, any>;
}

/** stringToFlags: open(2) flags from 'r', 'w+', 'ax', … or an int32. */
export function stringToFlags(flags: unknown, name = 'flags'): number {
  if (typeof flags === 'number') return validateInt32(flags, name);
  if (flags === null || flags === undefined) return O.O_RDONLY;
  switch (flags) {
    case 'r': return O.O_RDONLY;
    case 'rs': case 'sr': return O.O_RDONLY | O.O_SYNC;
    case 'r+': return O.O_RDWR;
    case 'rs+': case 'sr+': return O.O_RDWR | O.O_SYNC;
    case 'w': return O.O_TRUNC | O.O_CREAT | O.O_WRONLY;
    case 'wx': case 'xw': return O.O_TRUNC | O.O_CREAT | O.O_WRONLY | O.O_EXCL;
    case 'w+': return O.O_TRUNC | O.O_CREAT | O.O_RDWR;
    case 'wx+': case 'xw+': return O.O_TRUNC | O.O_CREAT | O.O_RDWR | O.O_EXCL;
    case 'a': return O.O_APPEND | O.O_CREAT | O.O_WRONLY;
    case 'ax': case 'xa': return O.O_APPEND | O.O_CREAT | O.O_WRONLY | O.O_EXCL;
    case 'as': case 'sa': return O.O_APPEND | O.O_CREAT | O.O_WRONLY | O.O_SYNC;
    case 'a+': return O.O_APPEND | O.O_CREAT | O.O_RDWR;
    case 'ax+': case 'xa+': return O.O_APPEND | O.O_CREAT | O.O_RDWR | O.O_EXCL;
    case 'as+': case 'sa+': return O.O_APPEND | O.O_CREAT | O.O_RDWR | O.O_SYNC;
  }
  throw invalidArgValue('flags', flags);
}

/** parseFileMode: a uint32, or an octal string. */
export function parseFileMode(value: unknown, name: string, fallback?: number): number {
  value ??= fallback;
  if (typeof value === 'string') {
    if (!/^[0-7]+$/.test(value)) throw invalidArgValue(name, value, 'must be a 32-bit unsigned integer or an octal string');
    value = parseInt(value, 8);
  }
  return validateUint32(value, name);
}

export function validateOffsetLengthRead(offset: number, length: number, bufferLength: number): void {
  if (offset < 0) throw outOfRange('offset', '>= 0', offset);
  if (length < 0) throw outOfRange('length', '>= 0', length);
  if (offset + length > bufferLength) throw outOfRange('length', `<= ${bufferLength - offset}`, length);
}

export function validateOffsetLengthWrite(offset: number, length: number, byteLength: number): void {
  if (offset > byteLength) throw outOfRange('offset', `<= ${byteLength}`, offset);
  if (length > byteLength - offset) throw outOfRange('length', `<= ${byteLength - offset}`, length);
  if (length < 0) throw outOfRange('length', '>= 0', length);
  validateInt32(length, 'length', 0);
}

export function validateBufferArray(buffers: unknown, name = 'buffers'): ArrayBufferView[] {
  if (!Array.isArray(buffers)) throw invalidArgType(name, 'an instance of ArrayBufferView[]', buffers);
  for (const b of buffers) if (!ArrayBuffer.isView(b)) throw invalidArgType(name, 'an instance of ArrayBufferView[]', buffers);
  return buffers;
}

export function validateStringAfterArrayBufferView(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string') throw invalidArgType(name, ['string', 'Buffer', 'TypedArray', 'DataView'], value);
}

/** validateEncoding: hex data must have an even length. */
export function validateEncoding(data: string, encoding: unknown): void {
  const normalized = typeof encoding === 'string' ? encoding.toLowerCase() : encoding;
  if (normalized === 'hex' && data.length % 2 !== 0) throw invalidArgValue('encoding', encoding, `is invalid for data of length ${data.length}`);
}

/** An iterable or async iterable (a stream, a generator, an array) that is not a buffer or a string. */
export function isCustomIterable(value: unknown): value is Iterable<unknown> | AsyncIterable<unknown> {
  if (value === null || value === undefined || typeof value === 'string' || ArrayBuffer.isView(value)) return false;
  const v = value as Record<symbol, unknown>;
  return typeof v[Symbol.iterator] === 'function' || typeof v[Symbol.asyncIterator] === 'function';
}

/** Node's ERR_FS_FILE_TOO_LARGE. */
export function fileTooLarge(size: number): RangeError {
  return withCode(new RangeError(`File size (${size}) is greater than 2 GiB`), 'ERR_FS_FILE_TOO_LARGE');
}

/** Node's ERR_METHOD_NOT_IMPLEMENTED. */
export function notImplemented(method: string): Error {
  return withCode(new Error(`The ${method} method is not implemented`), 'ERR_METHOD_NOT_IMPLEMENTED');
}

/** Node's ERR_INVALID_STATE (a plain Error, 'Invalid state: …'). */
export function invalidStateError(message: string): Error {
  return withCode(new Error(`Invalid state: ${message}`), 'ERR_INVALID_STATE');
}

/** stringToSymlinkType: 'dir', 'junction', 'file' (no effect on Linux); another string is ERR_FS_INVALID_SYMLINK_TYPE. */
export function validateSymlinkType(type: unknown): void {
  if (typeof type === 'string' && type !== 'dir' && type !== 'junction' && type !== 'file') {
    throw withCode(new Error(`Symlink type must be one of "dir", "file", or "junction". Received "${type}"`), 'ERR_FS_INVALID_SYMLINK_TYPE');
  }
}
