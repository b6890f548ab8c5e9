/**
 * Accessors of SQE and CQE slots in the shared rings.
 *
 * One `Sqe` object exists per SQ slot, made when the ring is set up, so that
 * getSqe() allocates nothing; `Cqe` objects are made per CQ slot on first
 * use. Both read and write the kernel-shared memory directly; a slot's
 * object stays valid for the ring's lifetime, its contents only until the
 * slot is reused (SQE: after submit; CQE: after cqeSeen/cqAdvance).
 */
import { io_uring_cqe, io_uring_sqe } from '../abi/structs.js';
import { readU64, readU64Big, writeU64, writeU64Big } from './memory.js';

const S = io_uring_sqe.off;
/** u32 word indexes of the SQE fields (offset / 4). */
export const SQE_WORD = Object.freeze({
  head: 0, // opcode | flags << 8 | ioprio << 16
  fd: S.fd >> 2,
  off: S.off >> 2,
  addr: S.addr >> 2,
  len: S.len >> 2,
  opFlags: S.rw_flags >> 2,
  userData: S.user_data >> 2,
  bufIndex: S.buf_index >> 2, // buf_index | personality << 16
  fileIndex: S.file_index >> 2,
  addr3: S.addr3 >> 2,
});

/**
 * One submission queue entry slot. Its pointer fields (addr, off/addr2,
 * addr3) are read-only here: prep helpers fill them from buffers whose
 * bounds they checked, and the `unsafe` module writes raw values.
 */
export class Sqe {
  /** @internal The whole SQE array as u32 words. */
  readonly u32: Uint32Array;
  /** @internal First u32 word of this slot. */
  readonly word: number;
  /** The slot index in the SQE array. */
  readonly index: number;
  /** Slot size in bytes: 64, or 128 with IORING_SETUP_SQE128. */
  readonly size: number;

  constructor(u32: Uint32Array, index: number, size: number) {
    this.u32 = u32;
    this.index = index;
    this.size = size;
    this.word = (index * size) >> 2;
  }

  /** Zeroes the slot (all of it, including the SQE128 command area). */
  clear(): this {
    this.u32.fill(0, this.word, this.word + (this.size >> 2));
    return this;
  }

  get opcode(): number { return this.u32[this.word] & 0xff; }
  set opcode(v: number) { const w = this.word; this.u32[w] = (this.u32[w] & ~0xff) | (v & 0xff); }
  /** IOSQE_* flags. */
  get flags(): number { return (this.u32[this.word] >>> 8) & 0xff; }
  set flags(v: number) { const w = this.word; this.u32[w] = (this.u32[w] & ~0xff00) | ((v & 0xff) << 8); }
  get ioprio(): number { return this.u32[this.word] >>> 16; }
  set ioprio(v: number) { const w = this.word; this.u32[w] = (this.u32[w] & 0xffff) | ((v & 0xffff) << 16); }
  get fd(): number { return this.u32[this.word + SQE_WORD.fd] | 0; }
  set fd(v: number) { this.u32[this.word + SQE_WORD.fd] = v; }
  /** off / addr2 (u64 as a number). */
  get off(): number { return readU64(this.u32, this.word + SQE_WORD.off); }
  get addr(): number { return readU64(this.u32, this.word + SQE_WORD.addr); }
  get len(): number { return this.u32[this.word + SQE_WORD.len]; }
  set len(v: number) { this.u32[this.word + SQE_WORD.len] = v; }
  /** The per-opcode flags word (rw_flags, timeout_flags, open_flags, …). */
  get opFlags(): number { return this.u32[this.word + SQE_WORD.opFlags]; }
  set opFlags(v: number) { this.u32[this.word + SQE_WORD.opFlags] = v; }
  /** user_data as a number (exact below 2^53). */
  get userData(): number { return readU64(this.u32, this.word + SQE_WORD.userData); }
  set userData(v: number) { writeU64(this.u32, this.word + SQE_WORD.userData, v); }
  /** user_data as a full 64-bit bigint. */
  get userData64(): bigint { return readU64Big(this.u32, this.word + SQE_WORD.userData); }
  set userData64(v: bigint) { writeU64Big(this.u32, this.word + SQE_WORD.userData, v); }
  /** buf_index / buf_group. */
  get bufIndex(): number { return this.u32[this.word + SQE_WORD.bufIndex] & 0xffff; }
  set bufIndex(v: number) { const w = this.word + SQE_WORD.bufIndex; this.u32[w] = (this.u32[w] & 0xffff0000) | (v & 0xffff); }
  get personality(): number { return this.u32[this.word + SQE_WORD.bufIndex] >>> 16; }
  set personality(v: number) { const w = this.word + SQE_WORD.bufIndex; this.u32[w] = (this.u32[w] & 0xffff) | ((v & 0xffff) << 16); }
  /** splice_fd_in / file_index / optlen. */
  get fileIndex(): number { return this.u32[this.word + SQE_WORD.fileIndex]; }
  set fileIndex(v: number) { this.u32[this.word + SQE_WORD.fileIndex] = v; }
  get addr3(): number { return readU64(this.u32, this.word + SQE_WORD.addr3); }

  /** The command area (uring_cmd): 16 bytes from offset 48, or 80 with SQE128. */
  get cmd(): Uint8Array {
    return new Uint8Array(this.u32.buffer, this.u32.byteOffset + this.word * 4 + io_uring_sqe.off.cmd, this.size - io_uring_sqe.off.cmd);
  }
}

/**
 * @internal The common layout of io_uring_prep_rw (opcode, fd, off, addr,
 * len), every other field of the 64-byte SQE cleared. `address` is raw:
 * only prep.ts (after checking the buffer it came from) and unsafe.ts call it.
 */
export function fillSqe(op: number, sqe: Sqe, fd: number, address: number, len: number, offset: number): void {
  const u = sqe.u32;
  const w = sqe.word;
  u[w] = op & 0xff;
  u[w + SQE_WORD.fd] = fd;
  writeU64(u, w + SQE_WORD.off, offset);
  writeU64(u, w + SQE_WORD.addr, address);
  u[w + SQE_WORD.len] = len;
  u[w + SQE_WORD.opFlags] = 0;
  u[w + SQE_WORD.userData] = 0;
  u[w + SQE_WORD.userData + 1] = 0;
  u[w + SQE_WORD.bufIndex] = 0;
  u[w + SQE_WORD.fileIndex] = 0;
  u[w + SQE_WORD.addr3] = 0;
  u[w + SQE_WORD.addr3 + 1] = 0;
  u[w + SQE_WORD.addr3 + 2] = 0;
  u[w + SQE_WORD.addr3 + 3] = 0;
}

/** @internal Writes a u64 field of an SQE (off/addr2, addr, addr3): for prep helpers and `unsafe` only. */
export function setSqeU64(sqe: Sqe, word: number, value: number): void {
  writeU64(sqe.u32, sqe.word + word, value);
}

const C = io_uring_cqe.off;
/** u32 word indexes of the CQE fields. */
export const CQE_WORD = Object.freeze({ userData: C.user_data >> 2, res: C.res >> 2, flags: C.flags >> 2, big: C.big_cqe >> 2 });

/** One completion queue entry slot. */
export class Cqe {
  /** @internal */
  readonly i32: Int32Array;
  /** @internal */
  readonly u32: Uint32Array;
  /** @internal First u32 word of this slot. */
  readonly word: number;
  /** Slot size: 16, or 32 with IORING_SETUP_CQE32. */
  readonly size: number;

  constructor(u32: Uint32Array, i32: Int32Array, word: number, size: number) {
    this.u32 = u32;
    this.i32 = i32;
    this.word = word;
    this.size = size;
  }

  /** user_data as a number (exact below 2^53). */
  get userData(): number { return readU64(this.u32, this.word + CQE_WORD.userData); }
  /** user_data as a full 64-bit bigint. */
  get userData64(): bigint { return readU64Big(this.u32, this.word + CQE_WORD.userData); }
  /** The result: >= 0 on success, -errno on failure. */
  get res(): number { return this.i32[this.word + CQE_WORD.res]; }
  /** IORING_CQE_F_* flags (buffer id in the upper 16 bits with IORING_CQE_F_BUFFER). */
  get flags(): number { return this.u32[this.word + CQE_WORD.flags]; }
  /** big_cqe[0..1] of a 32-byte CQE (IORING_SETUP_CQE32), as bigints; empty otherwise. */
  get bigCqe(): bigint[] {
    if (this.size < 32) return [];
    const w = this.word + CQE_WORD.big;
    return [readU64Big(this.u32, w), readU64Big(this.u32, w + 2)];
  }
}
