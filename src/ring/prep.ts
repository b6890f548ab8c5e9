/**
 * Prep helpers: one per opcode, liburing's io_uring_prep_* in camelCase, with
 * the same argument order. Each fills every field of the first 64 bytes of
 * the SQE (so a reused slot carries nothing over) and leaves user_data to
 * the caller (`sqe.userData = n`).
 *
 * Memory arguments are typed arrays / Buffers (their address is taken) or
 * raw addresses as numbers. This layer does not keep them alive: the memory
 * must outlive the request — the driver layer does that bookkeeping.
 * A null address is 0.
 */
import {
  IORING_OP, IOSQE_BUFFER_SELECT, IOSQE_FIXED_FILE, IORING_FILE_INDEX_ALLOC,
  IORING_POLL_ADD_MULTI, IORING_TIMEOUT_UPDATE, IORING_ASYNC_CANCEL_FD, IORING_RECV_MULTISHOT,
  IORING_ACCEPT_MULTISHOT, IORING_RECVSEND_FIXED_BUF, IORING_RECVSEND_BUNDLE, IORING_MSG_SEND_FD,
  IORING_MSG_RING_FLAGS_PASS, LINUX,
} from '../abi/constants.js';
import { open_how } from '../abi/structs.js';
import { addressOf, writeU64 } from './memory.js';
import { SQE_WORD, type Sqe } from './sqe.js';

/** Memory the kernel reads or writes: a view (its address is taken) or a raw address. */
export type Memory = ArrayBufferView | number | null;

const W = SQE_WORD;
const { AT_FDCWD } = LINUX;

/** Address of a Memory argument. */
export function addr(mem: Memory): number {
  if (mem === null) return 0;
  if (typeof mem === 'number') return mem;
  return addressOf(mem);
}

/**
 * io_uring_prep_rw: the common layout (opcode, fd, off, addr, len), with
 * every other field of the 64-byte SQE cleared.
 */
export function prepRw(op: number, sqe: Sqe, fd: number, address: number, len: number, offset: number): void {
  const u = sqe.u32;
  const w = sqe.word;
  u[w] = op & 0xff;
  u[w + W.fd] = fd;
  writeU64(u, w + W.off, offset);
  writeU64(u, w + W.addr, address);
  u[w + W.len] = len;
  u[w + W.opFlags] = 0;
  u[w + W.userData] = 0;
  u[w + W.userData + 1] = 0;
  u[w + W.bufIndex] = 0;
  u[w + W.fileIndex] = 0;
  u[w + W.addr3] = 0;
  u[w + W.addr3 + 1] = 0;
  u[w + W.addr3 + 2] = 0;
  u[w + W.addr3 + 3] = 0;
}

/** Target slot of a direct (fixed-file) op: index + 1, with IORING_FILE_INDEX_ALLOC meaning "allocate". */
function setTargetFixedFile(sqe: Sqe, fileIndex: number): void {
  sqe.fileIndex = (fileIndex === IORING_FILE_INDEX_ALLOC ? fileIndex - 1 : fileIndex) + 1;
}

/** io_uring_prep_nop(3): a no-op request; completes with res 0. */
export function prepNop(sqe: Sqe): void {
  prepRw(IORING_OP.IORING_OP_NOP, sqe, -1, 0, 0, 0);
}

/** io_uring_prep_nop128: a no-op occupying a 128-byte SQE (SQE_MIXED rings). */
export function prepNop128(sqe: Sqe): void {
  prepRw(IORING_OP.IORING_OP_NOP128, sqe, -1, 0, 0, 0);
}

/** io_uring_prep_read(3): read(2)/pread(2) of `nbytes` into `buf` at `offset` (-1: file position). */
export function prepRead(sqe: Sqe, fd: number, buf: Memory, nbytes: number, offset: number): void {
  prepRw(IORING_OP.IORING_OP_READ, sqe, fd, addr(buf), nbytes, offset);
}

/** io_uring_prep_write(3): write(2)/pwrite(2) of `nbytes` from `buf` at `offset`. */
export function prepWrite(sqe: Sqe, fd: number, buf: Memory, nbytes: number, offset: number): void {
  prepRw(IORING_OP.IORING_OP_WRITE, sqe, fd, addr(buf), nbytes, offset);
}

/** io_uring_prep_readv(3): preadv(2) into an array of struct iovec. */
export function prepReadv(sqe: Sqe, fd: number, iovecs: Memory, nrVecs: number, offset: number): void {
  prepRw(IORING_OP.IORING_OP_READV, sqe, fd, addr(iovecs), nrVecs, offset);
}

/** io_uring_prep_readv2(3): preadv2(2) with RWF_* flags. */
export function prepReadv2(sqe: Sqe, fd: number, iovecs: Memory, nrVecs: number, offset: number, flags: number): void {
  prepReadv(sqe, fd, iovecs, nrVecs, offset);
  sqe.opFlags = flags;
}

/** io_uring_prep_writev(3): pwritev(2) from an array of struct iovec. */
export function prepWritev(sqe: Sqe, fd: number, iovecs: Memory, nrVecs: number, offset: number): void {
  prepRw(IORING_OP.IORING_OP_WRITEV, sqe, fd, addr(iovecs), nrVecs, offset);
}

/** io_uring_prep_writev2(3): pwritev2(2) with RWF_* flags. */
export function prepWritev2(sqe: Sqe, fd: number, iovecs: Memory, nrVecs: number, offset: number, flags: number): void {
  prepWritev(sqe, fd, iovecs, nrVecs, offset);
  sqe.opFlags = flags;
}

/** io_uring_prep_read_fixed(3): read into registered buffer `bufIndex` (buf lies inside it). */
export function prepReadFixed(sqe: Sqe, fd: number, buf: Memory, nbytes: number, offset: number, bufIndex: number): void {
  prepRw(IORING_OP.IORING_OP_READ_FIXED, sqe, fd, addr(buf), nbytes, offset);
  sqe.bufIndex = bufIndex;
}

/** io_uring_prep_write_fixed(3): write from registered buffer `bufIndex`. */
export function prepWriteFixed(sqe: Sqe, fd: number, buf: Memory, nbytes: number, offset: number, bufIndex: number): void {
  prepRw(IORING_OP.IORING_OP_WRITE_FIXED, sqe, fd, addr(buf), nbytes, offset);
  sqe.bufIndex = bufIndex;
}

/** io_uring_prep_readv_fixed(3): preadv2 whose iovecs lie in registered buffer `bufIndex`. */
export function prepReadvFixed(sqe: Sqe, fd: number, iovecs: Memory, nrVecs: number, offset: number, flags: number, bufIndex: number): void {
  prepReadv2(sqe, fd, iovecs, nrVecs, offset, flags);
  sqe.opcode = IORING_OP.IORING_OP_READV_FIXED;
  sqe.bufIndex = bufIndex;
}

/** io_uring_prep_writev_fixed(3). */
export function prepWritevFixed(sqe: Sqe, fd: number, iovecs: Memory, nrVecs: number, offset: number, flags: number, bufIndex: number): void {
  prepWritev2(sqe, fd, iovecs, nrVecs, offset, flags);
  sqe.opcode = IORING_OP.IORING_OP_WRITEV_FIXED;
  sqe.bufIndex = bufIndex;
}

/** io_uring_prep_read_multishot(3): repeated reads into buffers of group `bufGroup`. */
export function prepReadMultishot(sqe: Sqe, fd: number, nbytes: number, offset: number, bufGroup: number): void {
  prepRw(IORING_OP.IORING_OP_READ_MULTISHOT, sqe, fd, 0, nbytes, offset);
  sqe.bufIndex = bufGroup;
  sqe.flags = IOSQE_BUFFER_SELECT;
}

/** io_uring_prep_fsync(3): fsync(2); IORING_FSYNC_DATASYNC for fdatasync(2). */
export function prepFsync(sqe: Sqe, fd: number, fsyncFlags: number): void {
  prepRw(IORING_OP.IORING_OP_FSYNC, sqe, fd, 0, 0, 0);
  sqe.opFlags = fsyncFlags;
}

/** io_uring_prep_sync_file_range(3). */
export function prepSyncFileRange(sqe: Sqe, fd: number, len: number, offset: number, flags: number): void {
  prepRw(IORING_OP.IORING_OP_SYNC_FILE_RANGE, sqe, fd, 0, len, offset);
  sqe.opFlags = flags;
}

/** io_uring_prep_fallocate(3): fallocate(2) of `len` bytes at `offset`. */
export function prepFallocate(sqe: Sqe, fd: number, mode: number, offset: number, len: number): void {
  prepRw(IORING_OP.IORING_OP_FALLOCATE, sqe, fd, 0, mode, offset);
  sqe.addr = len;
}

/** io_uring_prep_ftruncate(3): ftruncate(2) to `len` (6.9+). */
export function prepFtruncate(sqe: Sqe, fd: number, len: number): void {
  prepRw(IORING_OP.IORING_OP_FTRUNCATE, sqe, fd, 0, 0, len);
}

/** io_uring_prep_fadvise(3): posix_fadvise(2). */
export function prepFadvise(sqe: Sqe, fd: number, offset: number, len: number, advice: number): void {
  prepRw(IORING_OP.IORING_OP_FADVISE, sqe, fd, 0, len, offset);
  sqe.opFlags = advice;
}

/** io_uring_prep_madvise(3): madvise(2). */
export function prepMadvise(sqe: Sqe, address: Memory, length: number, advice: number): void {
  prepRw(IORING_OP.IORING_OP_MADVISE, sqe, -1, addr(address), length, 0);
  sqe.opFlags = advice;
}

/** io_uring_prep_openat(3): openat(2) of a NUL-terminated path. */
export function prepOpenat(sqe: Sqe, dfd: number, path: Memory, flags: number, mode: number): void {
  prepRw(IORING_OP.IORING_OP_OPENAT, sqe, dfd, addr(path), mode, 0);
  sqe.opFlags = flags;
}

/** io_uring_prep_open(3): openat(2) relative to the current directory. */
export function prepOpen(sqe: Sqe, path: Memory, flags: number, mode: number): void {
  prepOpenat(sqe, AT_FDCWD, path, flags, mode);
}

/** io_uring_prep_openat_direct(3): openat into fixed-file slot `fileIndex` (IORING_FILE_INDEX_ALLOC: any free slot). */
export function prepOpenatDirect(sqe: Sqe, dfd: number, path: Memory, flags: number, mode: number, fileIndex: number): void {
  prepOpenat(sqe, dfd, path, flags, mode);
  setTargetFixedFile(sqe, fileIndex);
}

/** io_uring_prep_openat2(3): openat2(2) with a struct open_how. */
export function prepOpenat2(sqe: Sqe, dfd: number, path: Memory, how: Memory): void {
  prepRw(IORING_OP.IORING_OP_OPENAT2, sqe, dfd, addr(path), open_how.size, addr(how));
}

/** io_uring_prep_openat2_direct(3). */
export function prepOpenat2Direct(sqe: Sqe, dfd: number, path: Memory, how: Memory, fileIndex: number): void {
  prepOpenat2(sqe, dfd, path, how);
  setTargetFixedFile(sqe, fileIndex);
}

/** io_uring_prep_close(3): close(2). */
export function prepClose(sqe: Sqe, fd: number): void {
  prepRw(IORING_OP.IORING_OP_CLOSE, sqe, fd, 0, 0, 0);
}

/** io_uring_prep_close_direct(3): releases fixed-file slot `fileIndex`. */
export function prepCloseDirect(sqe: Sqe, fileIndex: number): void {
  prepClose(sqe, 0);
  setTargetFixedFile(sqe, fileIndex);
}

/** io_uring_prep_files_update(3): updates registered files from `offset` with an int32 array of fds. */
export function prepFilesUpdate(sqe: Sqe, fds: Memory, nrFds: number, offset: number): void {
  prepRw(IORING_OP.IORING_OP_FILES_UPDATE, sqe, -1, addr(fds), nrFds, offset);
}

/** io_uring_prep_fixed_fd_install(3): installs fixed file `fd` as a normal fd. */
export function prepFixedFdInstall(sqe: Sqe, fd: number, flags: number): void {
  prepRw(IORING_OP.IORING_OP_FIXED_FD_INSTALL, sqe, fd, 0, 0, 0);
  sqe.flags = IOSQE_FIXED_FILE;
  sqe.opFlags = flags;
}

/** io_uring_prep_statx(3): statx(2) into a 256-byte struct statx. */
export function prepStatx(sqe: Sqe, dfd: number, path: Memory, flags: number, mask: number, statxbuf: Memory): void {
  prepRw(IORING_OP.IORING_OP_STATX, sqe, dfd, addr(path), mask, addr(statxbuf));
  sqe.opFlags = flags;
}

/** io_uring_prep_renameat(3): renameat2(2). */
export function prepRenameat(sqe: Sqe, olddfd: number, oldpath: Memory, newdfd: number, newpath: Memory, flags: number): void {
  prepRw(IORING_OP.IORING_OP_RENAMEAT, sqe, olddfd, addr(oldpath), newdfd, addr(newpath));
  sqe.opFlags = flags;
}

/** io_uring_prep_rename(3). */
export function prepRename(sqe: Sqe, oldpath: Memory, newpath: Memory): void {
  prepRenameat(sqe, AT_FDCWD, oldpath, AT_FDCWD, newpath, 0);
}

/** io_uring_prep_unlinkat(3): unlinkat(2); AT_REMOVEDIR for rmdir. */
export function prepUnlinkat(sqe: Sqe, dfd: number, path: Memory, flags: number): void {
  prepRw(IORING_OP.IORING_OP_UNLINKAT, sqe, dfd, addr(path), 0, 0);
  sqe.opFlags = flags;
}

/** io_uring_prep_unlink(3). */
export function prepUnlink(sqe: Sqe, path: Memory, flags: number): void {
  prepUnlinkat(sqe, AT_FDCWD, path, flags);
}

/** io_uring_prep_mkdirat(3): mkdirat(2). */
export function prepMkdirat(sqe: Sqe, dfd: number, path: Memory, mode: number): void {
  prepRw(IORING_OP.IORING_OP_MKDIRAT, sqe, dfd, addr(path), mode, 0);
}

/** io_uring_prep_mkdir(3). */
export function prepMkdir(sqe: Sqe, path: Memory, mode: number): void {
  prepMkdirat(sqe, AT_FDCWD, path, mode);
}

/** io_uring_prep_symlinkat(3): symlinkat(2). */
export function prepSymlinkat(sqe: Sqe, target: Memory, newdirfd: number, linkpath: Memory): void {
  prepRw(IORING_OP.IORING_OP_SYMLINKAT, sqe, newdirfd, addr(target), 0, addr(linkpath));
}

/** io_uring_prep_symlink(3). */
export function prepSymlink(sqe: Sqe, target: Memory, linkpath: Memory): void {
  prepSymlinkat(sqe, target, AT_FDCWD, linkpath);
}

/** io_uring_prep_linkat(3): linkat(2). */
export function prepLinkat(sqe: Sqe, olddfd: number, oldpath: Memory, newdfd: number, newpath: Memory, flags: number): void {
  prepRw(IORING_OP.IORING_OP_LINKAT, sqe, olddfd, addr(oldpath), newdfd, addr(newpath));
  sqe.opFlags = flags;
}

/** io_uring_prep_link(3). */
export function prepLink(sqe: Sqe, oldpath: Memory, newpath: Memory, flags: number): void {
  prepLinkat(sqe, AT_FDCWD, oldpath, AT_FDCWD, newpath, flags);
}

/** io_uring_prep_splice(3): splice(2) from fd_in at off_in to fd_out at off_out (-1: no offset). */
export function prepSplice(sqe: Sqe, fdIn: number, offIn: number, fdOut: number, offOut: number, nbytes: number, spliceFlags: number): void {
  prepRw(IORING_OP.IORING_OP_SPLICE, sqe, fdOut, 0, nbytes, offOut);
  sqe.addr = offIn; // splice_off_in
  sqe.fileIndex = fdIn; // splice_fd_in
  sqe.opFlags = spliceFlags;
}

/** io_uring_prep_tee(3): tee(2). */
export function prepTee(sqe: Sqe, fdIn: number, fdOut: number, nbytes: number, spliceFlags: number): void {
  prepRw(IORING_OP.IORING_OP_TEE, sqe, fdOut, 0, nbytes, 0);
  sqe.fileIndex = fdIn;
  sqe.opFlags = spliceFlags;
}

/** io_uring_prep_timeout(3): completes after `ts` (struct __kernel_timespec) or after `count` other completions. */
export function prepTimeout(sqe: Sqe, ts: Memory, count: number, flags: number): void {
  prepRw(IORING_OP.IORING_OP_TIMEOUT, sqe, -1, addr(ts), 1, count);
  sqe.opFlags = flags;
}

/** io_uring_prep_timeout_remove(3): cancels the timeout with this user_data. */
export function prepTimeoutRemove(sqe: Sqe, userData: number, flags: number): void {
  prepRw(IORING_OP.IORING_OP_TIMEOUT_REMOVE, sqe, -1, 0, 0, 0);
  sqe.addr = userData;
  sqe.opFlags = flags;
}

/** io_uring_prep_timeout_update(3): re-arms the timeout with this user_data. */
export function prepTimeoutUpdate(sqe: Sqe, ts: Memory, userData: number, flags: number): void {
  prepRw(IORING_OP.IORING_OP_TIMEOUT_REMOVE, sqe, -1, 0, 0, addr(ts));
  sqe.addr = userData;
  sqe.opFlags = flags | IORING_TIMEOUT_UPDATE;
}

/** io_uring_prep_link_timeout(3): a timeout for the previous SQE of a link chain. */
export function prepLinkTimeout(sqe: Sqe, ts: Memory, flags: number): void {
  prepRw(IORING_OP.IORING_OP_LINK_TIMEOUT, sqe, -1, addr(ts), 1, 0);
  sqe.opFlags = flags;
}

/** io_uring_prep_cancel64(3): cancels the request with this user_data (IORING_ASYNC_CANCEL_* flags). */
export function prepCancel64(sqe: Sqe, userData: number, flags: number): void {
  prepRw(IORING_OP.IORING_OP_ASYNC_CANCEL, sqe, -1, 0, 0, 0);
  sqe.addr = userData;
  sqe.opFlags = flags;
}

/** io_uring_prep_cancel(3): same as prepCancel64 (user_data given as a number). */
export function prepCancel(sqe: Sqe, userData: number, flags: number): void {
  prepCancel64(sqe, userData, flags);
}

/** io_uring_prep_cancel_fd(3): cancels requests on `fd`. */
export function prepCancelFd(sqe: Sqe, fd: number, flags: number): void {
  prepRw(IORING_OP.IORING_OP_ASYNC_CANCEL, sqe, fd, 0, 0, 0);
  sqe.opFlags = flags | IORING_ASYNC_CANCEL_FD;
}

/** io_uring_prep_poll_add(3): one-shot poll for `pollMask` events. */
export function prepPollAdd(sqe: Sqe, fd: number, pollMask: number): void {
  prepRw(IORING_OP.IORING_OP_POLL_ADD, sqe, fd, 0, 0, 0);
  sqe.opFlags = pollMask;
}

/** io_uring_prep_poll_multishot(3): a CQE per readiness event until cancelled. */
export function prepPollMultishot(sqe: Sqe, fd: number, pollMask: number): void {
  prepPollAdd(sqe, fd, pollMask);
  sqe.len = IORING_POLL_ADD_MULTI;
}

/** io_uring_prep_poll_remove(3): removes the poll with this user_data. */
export function prepPollRemove(sqe: Sqe, userData: number): void {
  prepRw(IORING_OP.IORING_OP_POLL_REMOVE, sqe, -1, 0, 0, 0);
  sqe.addr = userData;
}

/** io_uring_prep_poll_update(3). */
export function prepPollUpdate(sqe: Sqe, oldUserData: number, newUserData: number, pollMask: number, flags: number): void {
  prepRw(IORING_OP.IORING_OP_POLL_REMOVE, sqe, -1, 0, flags, newUserData);
  sqe.addr = oldUserData;
  sqe.opFlags = pollMask;
}

/** io_uring_prep_epoll_ctl(3): epoll_ctl(2). */
export function prepEpollCtl(sqe: Sqe, epfd: number, fd: number, op: number, ev: Memory): void {
  prepRw(IORING_OP.IORING_OP_EPOLL_CTL, sqe, epfd, addr(ev), op, fd);
}

/** io_uring_prep_epoll_wait(3): epoll_wait(2) (6.15+). */
export function prepEpollWait(sqe: Sqe, fd: number, events: Memory, maxevents: number, flags: number): void {
  prepRw(IORING_OP.IORING_OP_EPOLL_WAIT, sqe, fd, addr(events), maxevents, 0);
  sqe.opFlags = flags;
}

/** io_uring_prep_sendmsg(3): sendmsg(2). */
export function prepSendmsg(sqe: Sqe, fd: number, msg: Memory, flags: number): void {
  prepRw(IORING_OP.IORING_OP_SENDMSG, sqe, fd, addr(msg), 1, 0);
  sqe.opFlags = flags;
}

/** io_uring_prep_sendmsg_zc(3): zero-copy sendmsg. */
export function prepSendmsgZc(sqe: Sqe, fd: number, msg: Memory, flags: number): void {
  prepSendmsg(sqe, fd, msg, flags);
  sqe.opcode = IORING_OP.IORING_OP_SENDMSG_ZC;
}

/** io_uring_prep_recvmsg(3): recvmsg(2). */
export function prepRecvmsg(sqe: Sqe, fd: number, msg: Memory, flags: number): void {
  prepRw(IORING_OP.IORING_OP_RECVMSG, sqe, fd, addr(msg), 1, 0);
  sqe.opFlags = flags;
}

/** io_uring_prep_recvmsg_multishot(3). */
export function prepRecvmsgMultishot(sqe: Sqe, fd: number, msg: Memory, flags: number): void {
  prepRecvmsg(sqe, fd, msg, flags);
  sqe.ioprio |= IORING_RECV_MULTISHOT;
}

/** io_uring_prep_send(3): send(2). */
export function prepSend(sqe: Sqe, sockfd: number, buf: Memory, len: number, flags: number): void {
  prepRw(IORING_OP.IORING_OP_SEND, sqe, sockfd, addr(buf), len, 0);
  sqe.opFlags = flags;
}

/** io_uring_prep_send_bundle(3): send from a provided-buffer bundle. */
export function prepSendBundle(sqe: Sqe, sockfd: number, len: number, flags: number): void {
  prepSend(sqe, sockfd, 0, len, flags);
  sqe.ioprio |= IORING_RECVSEND_BUNDLE;
}

/** io_uring_prep_send_set_addr(3): sets the destination of a send. */
export function prepSendSetAddr(sqe: Sqe, destAddr: Memory, addrLen: number): void {
  sqe.off = addr(destAddr);
  sqe.fileIndex = addrLen & 0xffff;
}

/** io_uring_prep_sendto(3): sendto(2). */
export function prepSendto(sqe: Sqe, sockfd: number, buf: Memory, len: number, flags: number, destAddr: Memory, addrLen: number): void {
  prepSend(sqe, sockfd, buf, len, flags);
  prepSendSetAddr(sqe, destAddr, addrLen);
}

/** io_uring_prep_send_zc(3): zero-copy send; a second CQE (IORING_CQE_F_NOTIF) says when `buf` is free. */
export function prepSendZc(sqe: Sqe, sockfd: number, buf: Memory, len: number, flags: number, zcFlags: number): void {
  prepRw(IORING_OP.IORING_OP_SEND_ZC, sqe, sockfd, addr(buf), len, 0);
  sqe.opFlags = flags;
  sqe.ioprio = zcFlags;
}

/** io_uring_prep_send_zc_fixed(3): zero-copy send from registered buffer `bufIndex`. */
export function prepSendZcFixed(sqe: Sqe, sockfd: number, buf: Memory, len: number, flags: number, zcFlags: number, bufIndex: number): void {
  prepSendZc(sqe, sockfd, buf, len, flags, zcFlags);
  sqe.ioprio |= IORING_RECVSEND_FIXED_BUF;
  sqe.bufIndex = bufIndex;
}

/** io_uring_prep_recv(3): recv(2). */
export function prepRecv(sqe: Sqe, sockfd: number, buf: Memory, len: number, flags: number): void {
  prepRw(IORING_OP.IORING_OP_RECV, sqe, sockfd, addr(buf), len, 0);
  sqe.opFlags = flags;
}

/** io_uring_prep_recv_multishot(3): a CQE per receive, into provided buffers (IOSQE_BUFFER_SELECT). */
export function prepRecvMultishot(sqe: Sqe, sockfd: number, buf: Memory, len: number, flags: number): void {
  prepRecv(sqe, sockfd, buf, len, flags);
  sqe.ioprio |= IORING_RECV_MULTISHOT;
}

/** io_uring_prep_accept(3): accept4(2); `addrlen` points at a socklen_t. */
export function prepAccept(sqe: Sqe, fd: number, sockaddr: Memory, addrlen: Memory, flags: number): void {
  prepRw(IORING_OP.IORING_OP_ACCEPT, sqe, fd, addr(sockaddr), 0, addr(addrlen));
  sqe.opFlags = flags;
}

/** io_uring_prep_accept_direct(3): accept into fixed-file slot `fileIndex`. */
export function prepAcceptDirect(sqe: Sqe, fd: number, sockaddr: Memory, addrlen: Memory, flags: number, fileIndex: number): void {
  prepAccept(sqe, fd, sockaddr, addrlen, flags);
  setTargetFixedFile(sqe, fileIndex);
}

/** io_uring_prep_multishot_accept(3): a CQE per accepted connection. */
export function prepMultishotAccept(sqe: Sqe, fd: number, sockaddr: Memory, addrlen: Memory, flags: number): void {
  prepAccept(sqe, fd, sockaddr, addrlen, flags);
  sqe.ioprio |= IORING_ACCEPT_MULTISHOT;
}

/** io_uring_prep_multishot_accept_direct(3). */
export function prepMultishotAcceptDirect(sqe: Sqe, fd: number, sockaddr: Memory, addrlen: Memory, flags: number): void {
  prepMultishotAccept(sqe, fd, sockaddr, addrlen, flags);
  setTargetFixedFile(sqe, IORING_FILE_INDEX_ALLOC);
}

/** io_uring_prep_connect(3): connect(2). */
export function prepConnect(sqe: Sqe, fd: number, sockaddr: Memory, addrlen: number): void {
  prepRw(IORING_OP.IORING_OP_CONNECT, sqe, fd, addr(sockaddr), 0, addrlen);
}

/** io_uring_prep_bind(3): bind(2) (6.11+). */
export function prepBind(sqe: Sqe, fd: number, sockaddr: Memory, addrlen: number): void {
  prepRw(IORING_OP.IORING_OP_BIND, sqe, fd, addr(sockaddr), 0, addrlen);
}

/** io_uring_prep_listen(3): listen(2) (6.11+). */
export function prepListen(sqe: Sqe, fd: number, backlog: number): void {
  prepRw(IORING_OP.IORING_OP_LISTEN, sqe, fd, 0, backlog, 0);
}

/** io_uring_prep_shutdown(3): shutdown(2). */
export function prepShutdown(sqe: Sqe, fd: number, how: number): void {
  prepRw(IORING_OP.IORING_OP_SHUTDOWN, sqe, fd, 0, how, 0);
}

/** io_uring_prep_socket(3): socket(2). */
export function prepSocket(sqe: Sqe, domain: number, type: number, protocol: number, flags: number): void {
  prepRw(IORING_OP.IORING_OP_SOCKET, sqe, domain, 0, protocol, type);
  sqe.opFlags = flags;
}

/** io_uring_prep_socket_direct(3): socket into fixed-file slot `fileIndex`. */
export function prepSocketDirect(sqe: Sqe, domain: number, type: number, protocol: number, fileIndex: number, flags: number): void {
  prepSocket(sqe, domain, type, protocol, flags);
  setTargetFixedFile(sqe, fileIndex);
}

/** io_uring_prep_socket_direct_alloc(3). */
export function prepSocketDirectAlloc(sqe: Sqe, domain: number, type: number, protocol: number, flags: number): void {
  prepSocketDirect(sqe, domain, type, protocol, IORING_FILE_INDEX_ALLOC, flags);
}

/** io_uring_prep_provide_buffers(3): hands `nr` buffers of `len` bytes from `address` to group `bgid`, ids from `bid`. */
export function prepProvideBuffers(sqe: Sqe, address: Memory, len: number, nr: number, bgid: number, bid: number): void {
  prepRw(IORING_OP.IORING_OP_PROVIDE_BUFFERS, sqe, nr, addr(address), len, bid);
  sqe.bufIndex = bgid;
}

/** io_uring_prep_remove_buffers(3). */
export function prepRemoveBuffers(sqe: Sqe, nr: number, bgid: number): void {
  prepRw(IORING_OP.IORING_OP_REMOVE_BUFFERS, sqe, nr, 0, 0, 0);
  sqe.bufIndex = bgid;
}

/** io_uring_prep_msg_ring(3): posts a CQE (res = len, user_data = data) on the ring `fd`. */
export function prepMsgRing(sqe: Sqe, fd: number, len: number, data: number, flags: number): void {
  prepRw(IORING_OP.IORING_OP_MSG_RING, sqe, fd, 0, len, data);
  sqe.opFlags = flags;
}

/** io_uring_prep_msg_ring_cqe_flags(3): same, with the target CQE's flags. */
export function prepMsgRingCqeFlags(sqe: Sqe, fd: number, len: number, data: number, flags: number, cqeFlags: number): void {
  prepRw(IORING_OP.IORING_OP_MSG_RING, sqe, fd, 0, len, data);
  sqe.opFlags = IORING_MSG_RING_FLAGS_PASS | flags;
  sqe.fileIndex = cqeFlags;
}

/** io_uring_prep_msg_ring_fd(3): sends fixed file `sourceFd` to slot `targetFd` of ring `fd`. */
export function prepMsgRingFd(sqe: Sqe, fd: number, sourceFd: number, targetFd: number, data: number, flags: number): void {
  prepRw(IORING_OP.IORING_OP_MSG_RING, sqe, fd, IORING_MSG_SEND_FD, 0, data);
  sqe.addr3 = sourceFd;
  setTargetFixedFile(sqe, targetFd >>> 0);
  sqe.opFlags = flags;
}

/** io_uring_prep_msg_ring_fd_alloc(3). */
export function prepMsgRingFdAlloc(sqe: Sqe, fd: number, sourceFd: number, data: number, flags: number): void {
  prepMsgRingFd(sqe, fd, sourceFd, IORING_FILE_INDEX_ALLOC, data, flags);
}

/** io_uring_prep_getxattr(3). */
export function prepGetxattr(sqe: Sqe, name: Memory, value: Memory, path: Memory, len: number): void {
  prepRw(IORING_OP.IORING_OP_GETXATTR, sqe, 0, addr(name), len, addr(value));
  sqe.addr3 = addr(path);
}

/** io_uring_prep_setxattr(3). */
export function prepSetxattr(sqe: Sqe, name: Memory, value: Memory, path: Memory, flags: number, len: number): void {
  prepRw(IORING_OP.IORING_OP_SETXATTR, sqe, 0, addr(name), len, addr(value));
  sqe.addr3 = addr(path);
  sqe.opFlags = flags;
}

/** io_uring_prep_fgetxattr(3). */
export function prepFgetxattr(sqe: Sqe, fd: number, name: Memory, value: Memory, len: number): void {
  prepRw(IORING_OP.IORING_OP_FGETXATTR, sqe, fd, addr(name), len, addr(value));
}

/** io_uring_prep_fsetxattr(3). */
export function prepFsetxattr(sqe: Sqe, fd: number, name: Memory, value: Memory, flags: number, len: number): void {
  prepRw(IORING_OP.IORING_OP_FSETXATTR, sqe, fd, addr(name), len, addr(value));
  sqe.opFlags = flags;
}

/** io_uring_prep_uring_cmd(3): a driver-specific command; fill `sqe.cmd` after. */
export function prepUringCmd(sqe: Sqe, cmdOp: number, fd: number): void {
  prepRw(IORING_OP.IORING_OP_URING_CMD, sqe, fd, 0, 0, 0);
  sqe.u32[sqe.word + SQE_WORD.off] = cmdOp;
  if (sqe.size > 64) sqe.u32.fill(0, sqe.word + 16, sqe.word + (sqe.size >> 2));
}

/** io_uring_prep_uring_cmd128: a uring_cmd in a 128-byte SQE (SQE_MIXED rings). */
export function prepUringCmd128(sqe: Sqe, cmdOp: number, fd: number): void {
  prepUringCmd(sqe, cmdOp, fd);
  sqe.opcode = IORING_OP.IORING_OP_URING_CMD128;
}

/** io_uring_prep_cmd_sock(3): a socket command (SOCKET_URING_OP_*), e.g. getsockopt. */
export function prepCmdSock(sqe: Sqe, cmdOp: number, fd: number, level: number, optname: number, optval: Memory, optlen: number): void {
  prepUringCmd(sqe, cmdOp, fd);
  sqe.addr3 = addr(optval); // optval
  sqe.u32[sqe.word + (SQE_WORD.addr)] = level;
  sqe.u32[sqe.word + (SQE_WORD.addr) + 1] = optname;
  sqe.fileIndex = optlen;
}

/** io_uring_prep_waitid(3): waitid(2); `infop` receives a siginfo_t. */
export function prepWaitid(sqe: Sqe, idtype: number, id: number, infop: Memory, options: number, flags: number): void {
  prepRw(IORING_OP.IORING_OP_WAITID, sqe, id, 0, idtype, 0);
  sqe.opFlags = flags;
  sqe.fileIndex = options;
  sqe.off = addr(infop);
}

/** io_uring_prep_futex_wait(3). */
export function prepFutexWait(sqe: Sqe, futex: Memory, val: number, mask: number, futexFlags: number, flags: number): void {
  prepRw(IORING_OP.IORING_OP_FUTEX_WAIT, sqe, futexFlags, addr(futex), 0, val);
  sqe.opFlags = flags;
  sqe.addr3 = mask;
}

/** io_uring_prep_futex_wake(3). */
export function prepFutexWake(sqe: Sqe, futex: Memory, val: number, mask: number, futexFlags: number, flags: number): void {
  prepRw(IORING_OP.IORING_OP_FUTEX_WAKE, sqe, futexFlags, addr(futex), 0, val);
  sqe.opFlags = flags;
  sqe.addr3 = mask;
}

/** io_uring_prep_futex_waitv(3). */
export function prepFutexWaitv(sqe: Sqe, futexv: Memory, nrFutex: number, flags: number): void {
  prepRw(IORING_OP.IORING_OP_FUTEX_WAITV, sqe, 0, addr(futexv), nrFutex, 0);
  sqe.opFlags = flags;
}

/** io_uring_prep_pipe(3): pipe2(2) into an int32[2] (6.16+). */
export function prepPipe(sqe: Sqe, fds: Memory, pipeFlags: number): void {
  prepRw(IORING_OP.IORING_OP_PIPE, sqe, 0, addr(fds), 0, 0);
  sqe.opFlags = pipeFlags;
}

/** io_uring_prep_pipe_direct(3): pipe into fixed-file slots. */
export function prepPipeDirect(sqe: Sqe, fds: Memory, pipeFlags: number, fileIndex: number): void {
  prepPipe(sqe, fds, pipeFlags);
  setTargetFixedFile(sqe, fileIndex);
}

/** io_uring_sqe_set_flags(3): sets IOSQE_* flags (FIXED_FILE, IO_DRAIN, IO_LINK, IO_HARDLINK, ASYNC, BUFFER_SELECT, CQE_SKIP_SUCCESS). */
export function sqeSetFlags(sqe: Sqe, flags: number): void {
  sqe.flags = flags;
}

/** io_uring_sqe_set_data64(3). */
export function sqeSetData(sqe: Sqe, userData: number): void {
  sqe.userData = userData;
}

/** io_uring_sqe_set_buf_group(3). */
export function sqeSetBufGroup(sqe: Sqe, bgid: number): void {
  sqe.bufIndex = bgid;
}
