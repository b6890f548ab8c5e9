/**
 * The raw-address entry points of the ring layer, for code that builds
 * kernel structs by hand (and for benchmarks that want no checks at all).
 *
 * Unsafe: nothing here checks that an address points at memory you own, that
 * a length fits the buffer behind it, or that the memory outlives the
 * request. A wrong value lets the kernel read or write anywhere in the
 * process. Take addresses only with `addressOf` from buffers you keep alive
 * until the request's last CQE. Everything else in `uring/ring` takes
 * Buffers, typed arrays or DataViews and checks their bounds.
 */
import { fillSqe, SQE_WORD, setSqeU64, type Sqe } from './sqe.js';

export { addressOf, addressOfBuffer } from './memory.js';

/** io_uring_prep_rw: opcode, fd, raw address, len, offset; every other field of the 64-byte SQE cleared. */
export function prepRw(op: number, sqe: Sqe, fd: number, address: number, len: number, offset: number): void {
  fillSqe(op, sqe, fd, address, len, offset);
}

/** Sets sqe->addr to a raw value. */
export function setSqeAddr(sqe: Sqe, value: number): void {
  setSqeU64(sqe, SQE_WORD.addr, value);
}

/** Sets sqe->off / addr2 to a raw value. */
export function setSqeOff(sqe: Sqe, value: number): void {
  setSqeU64(sqe, SQE_WORD.off, value);
}

/** Sets sqe->addr3 to a raw value. */
export function setSqeAddr3(sqe: Sqe, value: number): void {
  setSqeU64(sqe, SQE_WORD.addr3, value);
}
