/**
 * Errors shaped like node:net's, field for field, so code written against
 * node:net cannot tell them apart: system errors carry a negative `errno`
 * (libuv's convention, -ECONNREFUSED = -111), `code`, `syscall` and, for
 * addresses, `address`/`port`, with node's messages ("connect ECONNREFUSED
 * 127.0.0.1:1", "listen EADDRINUSE: address already in use :::8080");
 * usage errors carry node's ERR_* codes.
 */
import util from 'node:util';

const errorMap = util.getSystemErrorMap();

function codeOf(errno: number): string {
  return errorMap.get(errno)?.[0] ?? `Unknown system error ${errno}`;
}

/** node's ErrnoException: "<syscall> <CODE>[ <original>]". */
export function errnoException(errno: number, syscall: string, original?: string): NodeJS.ErrnoException {
  const code = codeOf(errno);
  const err = new Error(original ? `${syscall} ${code} ${original}` : `${syscall} ${code}`) as NodeJS.ErrnoException;
  err.errno = errno;
  err.code = code;
  err.syscall = syscall;
  return err;
}

function details(address: string | undefined, port: number | undefined): string {
  if (port && port > 0) return ` ${address}:${port}`;
  return address ? ` ${address}` : '';
}

export interface HostPortError extends NodeJS.ErrnoException {
  address?: string;
  port?: number;
  localAddress?: string;
  localPort?: number;
}

/** node's ExceptionWithHostPort: "<syscall> <CODE> <address>:<port>[ - Local (<additional>)]". */
export function exceptionWithHostPort(errno: number, syscall: string, address: string | undefined, port: number | undefined, additional?: string): HostPortError {
  const code = codeOf(errno);
  const err = new Error(`${syscall} ${code}${details(address, port)}${additional ? ` - Local (${additional})` : ''}`) as HostPortError;
  err.errno = errno;
  err.code = code;
  err.syscall = syscall;
  err.address = address;
  if (port) err.port = port;
  return err;
}

/** node's UVExceptionWithHostPort (listen errors): "<syscall> <CODE>: <description> <address>:<port>". */
export function uvExceptionWithHostPort(errno: number, syscall: string, address: string | undefined, port: number | undefined): HostPortError {
  const [code, text] = errorMap.get(errno) ?? [`Unknown system error ${errno}`, `Unknown system error ${errno}`];
  const err = new Error(`${syscall} ${code}: ${text}${details(address, port)}`) as HostPortError;
  err.code = code;
  err.errno = errno;
  err.syscall = syscall;
  err.address = address;
  if (port) err.port = port;
  return err;
}

type Ctor = ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor;

function nodeError(Base: Ctor, code: string, message: string): NodeJS.ErrnoException {
  const err = new Base(message) as NodeJS.ErrnoException;
  err.code = code;
  return err;
}

/** node's determineSpecificType: how ERR_* messages describe a received value. */
export function specificType(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  switch (typeof value) {
    case 'bigint':
      return `type bigint (${value}n)`;
    case 'number':
      if (value === 0) return Object.is(value, -0) ? 'type number (-0)' : 'type number (0)';
      return `type number (${value})`;
    case 'boolean':
      return `type boolean (${value})`;
    case 'symbol':
      return `type symbol (${String(value)})`;
    case 'function':
      return `function ${(value as { name: string }).name}`;
    case 'object': {
      const ctor = (value as object).constructor;
      if (ctor && 'name' in ctor) return `an instance of ${ctor.name}`;
      return util.inspect(value, { depth: -1 });
    }
    case 'string': {
      let v = value as string;
      if (v.length > 28) v = `${v.slice(0, 25)}...`;
      return v.indexOf("'") === -1 ? `type string ('${v}')` : `type string (${JSON.stringify(v)})`;
    }
    default:
      return `type ${typeof value}`;
  }
}

export const errors = {
  ERR_SOCKET_BAD_PORT(name: string, port: unknown, allowZero = true): NodeJS.ErrnoException {
    const op = allowZero ? '>=' : '>';
    return nodeError(RangeError, 'ERR_SOCKET_BAD_PORT', `${name} should be ${op} 0 and < 65536. Received ${specificType(port)}.`);
  },
  ERR_SERVER_ALREADY_LISTEN(): NodeJS.ErrnoException {
    return nodeError(Error, 'ERR_SERVER_ALREADY_LISTEN', 'Listen method has been called more than once without closing.');
  },
  ERR_SERVER_NOT_RUNNING(): NodeJS.ErrnoException {
    return nodeError(Error, 'ERR_SERVER_NOT_RUNNING', 'Server is not running.');
  },
  ERR_SOCKET_CLOSED(): NodeJS.ErrnoException {
    return nodeError(Error, 'ERR_SOCKET_CLOSED', 'Socket is closed');
  },
  ERR_SOCKET_CLOSED_BEFORE_CONNECTION(): NodeJS.ErrnoException {
    return nodeError(Error, 'ERR_SOCKET_CLOSED_BEFORE_CONNECTION', 'Socket closed before the connection was established');
  },
  ERR_MISSING_ARGS(...names: string[]): NodeJS.ErrnoException {
    // node's form for one group of alternatives: "The "a" or "b" or "c" argument must be specified".
    const text = names.map((n) => `"${n}"`).join(' or ');
    return nodeError(TypeError, 'ERR_MISSING_ARGS', `The ${text} argument must be specified`);
  },
  ERR_INVALID_ARG_TYPE(name: string, expected: string, actual: unknown): NodeJS.ErrnoException {
    const kind = name.includes('.') ? 'property' : 'argument';
    return nodeError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" ${kind} must be ${expected}. Received ${specificType(actual)}`);
  },
  ERR_INVALID_ARG_VALUE(name: string, value: unknown, reason = 'is invalid'): NodeJS.ErrnoException {
    let shown = util.inspect(value);
    if (shown.length > 128) shown = `${shown.slice(0, 128)}...`;
    const kind = name.includes('.') ? 'property' : 'argument';
    return nodeError(TypeError, 'ERR_INVALID_ARG_VALUE', `The ${kind} '${name}' ${reason}. Received ${shown}`);
  },
  ERR_OUT_OF_RANGE(name: string, range: string, value: unknown): NodeJS.ErrnoException {
    return nodeError(RangeError, 'ERR_OUT_OF_RANGE', `The value of "${name}" is out of range. It must be ${range}. Received ${util.inspect(value)}`);
  },
  ERR_INVALID_IP_ADDRESS(ip: unknown): NodeJS.ErrnoException {
    return nodeError(TypeError, 'ERR_INVALID_IP_ADDRESS', `Invalid IP address: ${ip}`);
  },
  ERR_STREAM_WRITE_AFTER_END(): NodeJS.ErrnoException {
    return nodeError(Error, 'ERR_STREAM_WRITE_AFTER_END', 'write after end');
  },
  ERR_SOCKET_CONNECTION_TIMEOUT(): NodeJS.ErrnoException {
    return nodeError(Error, 'ERR_SOCKET_CONNECTION_TIMEOUT', 'Socket connection timeout');
  },
};

/** node's `genericNodeError('This socket has been ended by the other party', { code: 'EPIPE' })`. */
export function endedByPeer(): NodeJS.ErrnoException {
  const err = new Error('This socket has been ended by the other party') as NodeJS.ErrnoException;
  err.code = 'EPIPE';
  return err;
}
