/**
 * struct sockaddr_in / sockaddr_in6 / sockaddr_un to and from the
 * `{ address, family, port }` objects and path strings of node:net. Textual
 * IPv6 follows RFC 5952 as libuv's inet_ntop prints it (longest run of zero
 * groups as "::", lowercase, IPv4-mapped and -compatible addresses in dotted
 * form), so remoteAddress and address() read exactly as with node:net.
 */
import { isIPv4, isIPv6 } from 'node:net';
import {
  AF_INET, AF_INET6, AF_UNIX, SOCKADDR_IN6_SIZE, SOCKADDR_IN_SIZE, UNIX_PATH_MAX,
} from './abi.js';

export interface InetAddress {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
}

/** Four bytes of a dotted IPv4 address (already validated by isIPv4). */
function ipv4Bytes(text: string, out: Uint8Array, at: number): void {
  const parts = text.split('.');
  for (let i = 0; i < 4; i++) out[at + i] = Number(parts[i]);
}

/** Sixteen bytes of an IPv6 address (already validated by isIPv6); a numeric %zone suffix is the scope id. */
function ipv6Bytes(text: string, out: Uint8Array, at: number): number {
  let scope = 0;
  const pct = text.indexOf('%');
  if (pct >= 0) {
    const zone = text.slice(pct + 1);
    scope = /^\d+$/.test(zone) ? Number(zone) : 0;
    text = text.slice(0, pct);
  }
  let tail4: string | null = null;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) >= 0) {
    tail4 = text.slice(lastColon + 1);
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const want = tail4 !== null ? 6 : 8;
  const halves = text.split('::');
  const words = (part: string): number[] => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  const head = words(halves[0]);
  const all = halves.length > 1 ? [...head, ...new Array<number>(want - head.length - words(halves[1]).length).fill(0), ...words(halves[1])] : head;
  for (let i = 0; i < want; i++) {
    out[at + i * 2] = all[i] >> 8;
    out[at + i * 2 + 1] = all[i] & 0xff;
  }
  if (tail4 !== null) ipv4Bytes(tail4, out, at + 12);
  return scope;
}

/** A sockaddr_in or sockaddr_in6 for an IP literal and port. */
export function inetSockaddr(address: string, port: number): Uint8Array {
  if (isIPv4(address)) {
    const b = new Uint8Array(SOCKADDR_IN_SIZE);
    const v = new DataView(b.buffer);
    v.setUint16(0, AF_INET, true);
    v.setUint16(2, port, false);
    ipv4Bytes(address, b, 4);
    return b;
  }
  if (!isIPv6(address)) throw new TypeError(`not an IP address: ${address}`);
  const b = new Uint8Array(SOCKADDR_IN6_SIZE);
  const v = new DataView(b.buffer);
  v.setUint16(0, AF_INET6, true);
  v.setUint16(2, port, false);
  const scope = ipv6Bytes(address, b, 8);
  v.setUint32(24, scope, true);
  return b;
}

/**
 * A sockaddr_un for a path (a leading NUL: Linux's abstract namespace) and
 * its length. A name longer than sun_path is cut to its 108 bytes, as
 * libuv's uv_pipe_bind2/uv_pipe_connect2 do for node:net (a 108-byte path
 * needs no NUL: the kernel terminates sun_path itself).
 */
export function unixSockaddr(path: string): { addr: Uint8Array; len: number } {
  let bytes = Buffer.from(path, 'utf8');
  if (bytes.length > UNIX_PATH_MAX) bytes = bytes.subarray(0, UNIX_PATH_MAX);
  const abstract = bytes.length > 0 && bytes[0] === 0;
  const addr = new Uint8Array(2 + UNIX_PATH_MAX);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  addr.set(bytes, 2);
  return { addr, len: abstract ? 2 + bytes.length : addr.length };
}

function hex(w: number): string {
  return w.toString(16);
}

/** IPv6 text the way libuv's inet_ntop6 writes it. */
export function formatIPv6(b: Uint8Array, at = 0): string {
  const words = new Array<number>(8);
  for (let i = 0; i < 8; i++) words[i] = (b[at + i * 2] << 8) | b[at + i * 2 + 1];
  let bestBase = -1;
  let bestLen = 0;
  let curBase = -1;
  let curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (words[i] === 0) {
      if (curBase < 0) {
        curBase = i;
        curLen = 1;
      } else curLen++;
    } else if (curBase >= 0) {
      if (bestBase < 0 || curLen > bestLen) {
        bestBase = curBase;
        bestLen = curLen;
      }
      curBase = -1;
    }
  }
  if (curBase >= 0 && (bestBase < 0 || curLen > bestLen)) {
    bestBase = curBase;
    bestLen = curLen;
  }
  if (bestBase >= 0 && bestLen < 2) bestBase = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase >= 0 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    // IPv4-compatible (::a.b.c.d) and IPv4-mapped (::ffff:a.b.c.d) in dotted form.
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
      out += `${b[at + 12]}.${b[at + 13]}.${b[at + 14]}.${b[at + 15]}`;
      break;
    }
    out += hex(words[i]);
  }
  if (bestBase >= 0 && bestBase + bestLen === 8) out += ':';
  return out;
}

/**
 * The address in a sockaddr the kernel filled (`len` bytes): an inet
 * address object, a Unix path (possibly '' for an unnamed socket), or null
 * for an unknown family.
 */
export function decodeSockaddr(b: Uint8Array, len: number): InetAddress | string | null {
  if (len < 2) return len === 0 ? '' : null;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const family = v.getUint16(0, true);
  if (family === AF_INET && len >= SOCKADDR_IN_SIZE) {
    return { address: `${b[4]}.${b[5]}.${b[6]}.${b[7]}`, family: 'IPv4', port: v.getUint16(2, false) };
  }
  if (family === AF_INET6 && len >= 24) {
    return { address: formatIPv6(b, 8), family: 'IPv6', port: v.getUint16(2, false) };
  }
  if (family === AF_UNIX) {
    const path = b.subarray(2, len);
    const end = path.length > 0 && path[0] !== 0 ? path.indexOf(0) : -1;
    return Buffer.from(path.buffer, path.byteOffset, end >= 0 ? end : path.length).toString('utf8');
  }
  return null;
}
