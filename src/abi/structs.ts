/**
 * Kernel struct layouts, as data: byte offset and size of every field, and
 * the struct's total size, as in include/uapi/linux/io_uring.h (x86_64 and
 * every other 64-bit little-endian architecture Node supports).
 *
 * Union members share an offset; each is listed under its own name so that
 * code reads like the C it mirrors (`sqe.rw_flags`, `sqe.timeout_flags`).
 */

export interface Field {
  readonly offset: number;
  readonly size: number;
}
export interface Layout<F extends string = string> {
  /** The C struct's name (without `struct`). */
  readonly name: string;
  /** sizeof(struct). */
  readonly size: number;
  readonly fields: { readonly [K in F]: Field };
  /** offsetof(struct, field), for hot paths. */
  readonly off: { readonly [K in F]: number };
}

function layout<F extends string>(
  name: string,
  size: number,
  fields: { [K in F]: readonly [offset: number, size: number] },
): Layout<F> {
  const f = {} as { [K in F]: Field };
  const off = {} as { [K in F]: number };
  for (const key of Object.keys(fields) as F[]) {
    const [offset, fieldSize] = fields[key];
    f[key] = Object.freeze({ offset, size: fieldSize });
    off[key] = offset;
  }
  return Object.freeze({ name, size, fields: Object.freeze(f), off: Object.freeze(off) });
}

export const io_sqring_offsets = layout('io_sqring_offsets', 40, {
  head: [0, 4], tail: [4, 4], ring_mask: [8, 4], ring_entries: [12, 4], flags: [16, 4],
  dropped: [20, 4], array: [24, 4], resv1: [28, 4], user_addr: [32, 8],
});

export const io_cqring_offsets = layout('io_cqring_offsets', 40, {
  head: [0, 4], tail: [4, 4], ring_mask: [8, 4], ring_entries: [12, 4], overflow: [16, 4],
  cqes: [20, 4], flags: [24, 4], resv1: [28, 4], user_addr: [32, 8],
});

export const io_uring_params = layout('io_uring_params', 120, {
  sq_entries: [0, 4], cq_entries: [4, 4], flags: [8, 4], sq_thread_cpu: [12, 4],
  sq_thread_idle: [16, 4], features: [20, 4], wq_fd: [24, 4], resv: [28, 12],
  sq_off: [40, 40], cq_off: [80, 40],
});

/** struct io_uring_sqe: 64 bytes; with IORING_SETUP_SQE128 each slot is 128
 * and the second half is the command area (`cmd`, 80 bytes from 48). */
export const io_uring_sqe = layout('io_uring_sqe', 64, {
  opcode: [0, 1], flags: [1, 1], ioprio: [2, 2], fd: [4, 4],
  off: [8, 8], addr2: [8, 8], cmd_op: [8, 4], __pad1: [12, 4],
  addr: [16, 8], splice_off_in: [16, 8], level: [16, 4], optname: [20, 4],
  len: [24, 4],
  rw_flags: [28, 4], fsync_flags: [28, 4], poll_events: [28, 2], poll32_events: [28, 4],
  sync_range_flags: [28, 4], msg_flags: [28, 4], timeout_flags: [28, 4], accept_flags: [28, 4],
  cancel_flags: [28, 4], open_flags: [28, 4], statx_flags: [28, 4], fadvise_advice: [28, 4],
  splice_flags: [28, 4], rename_flags: [28, 4], unlink_flags: [28, 4], hardlink_flags: [28, 4],
  xattr_flags: [28, 4], msg_ring_flags: [28, 4], uring_cmd_flags: [28, 4], waitid_flags: [28, 4],
  futex_flags: [28, 4], install_fd_flags: [28, 4], nop_flags: [28, 4], pipe_flags: [28, 4],
  user_data: [32, 8],
  buf_index: [40, 2], buf_group: [40, 2], personality: [42, 2],
  splice_fd_in: [44, 4], file_index: [44, 4], zcrx_ifq_idx: [44, 4], optlen: [44, 4],
  addr_len: [44, 2], __pad3: [46, 2],
  addr3: [48, 8], __pad2: [56, 8], attr_ptr: [48, 8], attr_type_mask: [56, 8], optval: [48, 8],
  cmd: [48, 0],
});
/** Size of one SQE slot with IORING_SETUP_SQE128. */
export const SQE128_SIZE = 128;

/** struct io_uring_cqe: 16 bytes; with IORING_SETUP_CQE32, `big_cqe` holds two more u64. */
export const io_uring_cqe = layout('io_uring_cqe', 16, {
  user_data: [0, 8], res: [8, 4], flags: [12, 4], big_cqe: [16, 0],
});
/** Size of one CQE slot with IORING_SETUP_CQE32. */
export const CQE32_SIZE = 32;

export const io_uring_probe = layout('io_uring_probe', 16, {
  last_op: [0, 1], ops_len: [1, 1], resv: [2, 2], resv2: [4, 12], ops: [16, 0],
});
export const io_uring_probe_op = layout('io_uring_probe_op', 8, {
  op: [0, 1], resv: [1, 1], flags: [2, 2], resv2: [4, 4],
});

export const io_uring_files_update = layout('io_uring_files_update', 16, {
  offset: [0, 4], resv: [4, 4], fds: [8, 8],
});
export const io_uring_rsrc_register = layout('io_uring_rsrc_register', 32, {
  nr: [0, 4], flags: [4, 4], resv2: [8, 8], data: [16, 8], tags: [24, 8],
});
export const io_uring_rsrc_update = layout('io_uring_rsrc_update', 16, {
  offset: [0, 4], resv: [4, 4], data: [8, 8],
});
export const io_uring_rsrc_update2 = layout('io_uring_rsrc_update2', 32, {
  offset: [0, 4], resv: [4, 4], data: [8, 8], tags: [16, 8], nr: [24, 4], resv2: [28, 4],
});

export const io_uring_restriction = layout('io_uring_restriction', 16, {
  opcode: [0, 2], register_op: [2, 1], sqe_op: [2, 1], sqe_flags: [2, 1], resv: [3, 1],
  resv2: [4, 12],
});

export const io_uring_buf = layout('io_uring_buf', 16, {
  addr: [0, 8], len: [8, 4], bid: [12, 2], resv: [14, 2],
});
/** struct io_uring_buf_ring: the header overlays bufs[0]; `tail` is at 14. */
export const io_uring_buf_ring = layout('io_uring_buf_ring', 16, {
  resv1: [0, 8], resv2: [8, 4], resv3: [12, 2], tail: [14, 2], bufs: [0, 0],
});
export const io_uring_buf_reg = layout('io_uring_buf_reg', 40, {
  ring_addr: [0, 8], ring_entries: [8, 4], bgid: [12, 2], flags: [14, 2], min_left: [16, 4],
  resv: [20, 20],
});
export const io_uring_buf_status = layout('io_uring_buf_status', 40, {
  buf_group: [0, 4], head: [4, 4], resv: [8, 32],
});

/** struct io_uring_getevents_arg (IORING_ENTER_EXT_ARG); `min_wait_usec`
 * was `pad` before 6.12. */
export const io_uring_getevents_arg = layout('io_uring_getevents_arg', 24, {
  sigmask: [0, 8], sigmask_sz: [8, 4], min_wait_usec: [12, 4], ts: [16, 8],
});

export const io_uring_sync_cancel_reg = layout('io_uring_sync_cancel_reg', 64, {
  addr: [0, 8], fd: [8, 4], flags: [12, 4], timeout: [16, 16], opcode: [32, 1], pad: [33, 7],
  pad2: [40, 24],
});
export const io_uring_file_index_range = layout('io_uring_file_index_range', 16, {
  off: [0, 4], len: [4, 4], resv: [8, 8],
});
export const io_uring_recvmsg_out = layout('io_uring_recvmsg_out', 16, {
  namelen: [0, 4], controllen: [4, 4], payloadlen: [8, 4], flags: [12, 4],
});
export const io_uring_napi = layout('io_uring_napi', 16, {
  busy_poll_to: [0, 4], prefer_busy_poll: [4, 1], pad: [5, 3], resv: [8, 8],
});

/** struct __kernel_timespec. */
export const __kernel_timespec = layout('__kernel_timespec', 16, {
  tv_sec: [0, 8], tv_nsec: [8, 8],
});
/** struct iovec. */
export const iovec = layout('iovec', 16, { iov_base: [0, 8], iov_len: [8, 8] });
/** struct open_how (openat2). */
export const open_how = layout('open_how', 24, {
  flags: [0, 8], mode: [8, 8], resolve: [16, 8],
});
/** struct statx (the fields IORING_OP_STATX fills). */
export const statx = layout('statx', 256, {
  stx_mask: [0, 4], stx_blksize: [4, 4], stx_attributes: [8, 8], stx_nlink: [16, 4],
  stx_uid: [20, 4], stx_gid: [24, 4], stx_mode: [28, 2], stx_ino: [32, 8], stx_size: [40, 8],
  stx_blocks: [48, 8], stx_attributes_mask: [56, 8],
  stx_atime: [64, 16], stx_btime: [80, 16], stx_ctime: [96, 16], stx_mtime: [112, 16],
  stx_rdev_major: [128, 4], stx_rdev_minor: [132, 4], stx_dev_major: [136, 4],
  stx_dev_minor: [140, 4],
});
/** struct statx_timestamp. */
export const statx_timestamp = layout('statx_timestamp', 16, {
  tv_sec: [0, 8], tv_nsec: [8, 4], __reserved: [12, 4],
});

/** struct msghdr (sendmsg/recvmsg), LP64. */
export const msghdr = layout('msghdr', 56, {
  msg_name: [0, 8], msg_namelen: [8, 4], msg_iov: [16, 8], msg_iovlen: [24, 8],
  msg_control: [32, 8], msg_controllen: [40, 8], msg_flags: [48, 4],
});
/** struct futex_waitv (futex_waitv(2), IORING_OP_FUTEX_WAITV). */
export const futex_waitv = layout('futex_waitv', 24, {
  val: [0, 8], uaddr: [8, 8], flags: [16, 4], __reserved: [20, 4],
});
/** struct epoll_event: packed to 12 bytes on x86-64, 16 elsewhere. */
export const EPOLL_EVENT_SIZE: number = process.arch === 'x64' ? 12 : 16;
/** siginfo_t, as waitid(2) fills it. */
export const SIGINFO_SIZE = 128;

/** Every io_uring struct above, for iteration (the ABI test walks this). */
export const IO_URING_STRUCTS: readonly Layout[] = Object.freeze([
  io_sqring_offsets, io_cqring_offsets, io_uring_params, io_uring_sqe, io_uring_cqe,
  io_uring_probe, io_uring_probe_op, io_uring_files_update, io_uring_rsrc_register,
  io_uring_rsrc_update, io_uring_rsrc_update2, io_uring_restriction, io_uring_buf,
  io_uring_buf_ring, io_uring_buf_reg, io_uring_buf_status, io_uring_getevents_arg,
  io_uring_sync_cancel_reg, io_uring_file_index_range, io_uring_recvmsg_out, io_uring_napi,
]);
/** Linux structs io_uring ops point at, checked against their own headers. */
export const LINUX_STRUCTS: readonly Layout[] = Object.freeze([
  __kernel_timespec, iovec, open_how, statx, statx_timestamp, msghdr, futex_waitv,
]);
