/**
 * struct statx (as IORING_OP_STATX fills it) → fs.Stats / fs.BigIntStats,
 * field for field as libuv fills uv_stat_t from statx(2) for node:fs: the
 * same classes, the same values, the same Date objects.
 */
import fs, { type BigIntStats, type Stats } from 'node:fs';
import { statx as SX } from '../abi/structs.js';

/** The statx mask libuv asks for: STATX_BASIC_STATS | STATX_BTIME. */
export const STATX_MASK = 0xfff;

const F = SX.off;
const W = {
  mode: F.stx_mode >> 2, // low half of the u32 at 28
  nlink: F.stx_nlink >> 2,
  uid: F.stx_uid >> 2,
  gid: F.stx_gid >> 2,
  blksize: F.stx_blksize >> 2,
  ino: F.stx_ino >> 2,
  size: F.stx_size >> 2,
  blocks: F.stx_blocks >> 2,
  atime: F.stx_atime >> 2,
  btime: F.stx_btime >> 2,
  ctime: F.stx_ctime >> 2,
  mtime: F.stx_mtime >> 2,
  rdevMajor: F.stx_rdev_major >> 2,
  rdevMinor: F.stx_rdev_minor >> 2,
  devMajor: F.stx_dev_major >> 2,
  devMinor: F.stx_dev_minor >> 2,
};
const TWO_32 = 0x1_0000_0000;

/** glibc's makedev(major, minor), as libuv reports st_dev / st_rdev. */
function makedev(major: number, minor: number): number {
  if (major < 0x1000 && minor < 0x100) return major * 256 + minor;
  return Number(((BigInt(major) & 0xfffff000n) << 32n) | ((BigInt(major) & 0xfffn) << 8n) | ((BigInt(minor) & 0xffffff00n) << 12n) | (BigInt(minor) & 0xffn));
}

function u64(u32: Uint32Array, word: number): number {
  return u32[word] + u32[word + 1] * TWO_32;
}

/** A statx_timestamp in milliseconds (sec is signed). */
function ms(u32: Uint32Array, i32: Int32Array, word: number): number {
  return (u32[word] + i32[word + 1] * TWO_32) * 1000 + u32[word + 2] / 1e6;
}

function ns(u32: Uint32Array, i32: Int32Array, word: number): bigint {
  return (BigInt(u32[word]) + (BigInt(i32[word + 1]) << 32n)) * 1_000_000_000n + BigInt(u32[word + 2]);
}

// fs.Stats's constructor is what node:fs builds its results with (getStatsFromBinding).
const StatsCtor = fs.Stats as unknown as new (...args: number[]) => Stats;
let BigIntStatsCtor: (new (...args: bigint[]) => BigIntStats) | undefined;

/** A statx buffer (at least 256 bytes, 4-byte aligned) as fs.Stats. */
export function toStats(buf: Uint8Array): Stats {
  const u32 = new Uint32Array(buf.buffer, buf.byteOffset, 64);
  const i32 = new Int32Array(buf.buffer, buf.byteOffset, 64);
  return new StatsCtor(
    makedev(u32[W.devMajor], u32[W.devMinor]), u32[W.mode] & 0xffff, u32[W.nlink], u32[W.uid], u32[W.gid],
    makedev(u32[W.rdevMajor], u32[W.rdevMinor]), u32[W.blksize], u64(u32, W.ino), u64(u32, W.size), u64(u32, W.blocks),
    ms(u32, i32, W.atime), ms(u32, i32, W.mtime), ms(u32, i32, W.ctime), ms(u32, i32, W.btime),
  );
}

/** A statx buffer as fs.BigIntStats (nanosecond times), the class node:fs returns for { bigint: true }. */
export function toBigIntStats(buf: Uint8Array): BigIntStats {
  BigIntStatsCtor ??= fs.statSync('/', { bigint: true }).constructor as new (...args: bigint[]) => BigIntStats;
  const u32 = new Uint32Array(buf.buffer, buf.byteOffset, 64);
  const i32 = new Int32Array(buf.buffer, buf.byteOffset, 64);
  const big = (word: number): bigint => BigInt(u32[word]) + (BigInt(u32[word + 1]) << 32n);
  return new BigIntStatsCtor(
    BigInt(makedev(u32[W.devMajor], u32[W.devMinor])), BigInt(u32[W.mode] & 0xffff), BigInt(u32[W.nlink]),
    BigInt(u32[W.uid]), BigInt(u32[W.gid]), BigInt(makedev(u32[W.rdevMajor], u32[W.rdevMinor])), BigInt(u32[W.blksize]),
    big(W.ino), big(W.size), big(W.blocks),
    ns(u32, i32, W.atime), ns(u32, i32, W.mtime), ns(u32, i32, W.ctime), ns(u32, i32, W.btime),
  );
}
