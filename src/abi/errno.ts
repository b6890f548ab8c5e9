/**
 * The Linux errno numbers the layers above compare results with, negated as
 * io_uring reports them: in `cqe->res` of a failed op, and as the return of
 * io_uring_enter(2)/io_uring_register(2) through the shim. Values from
 * <asm-generic/errno-base.h> and <asm-generic/errno.h>, which x86-64 and
 * arm64 share; the ABI test checks each against the running Node's
 * `os.constants.errno` and the system headers.
 */
export const ERRNO = {
  EPERM: -1,
  ENXIO: -6,
  EBADF: -9,
  EINTR: -4,
  EAGAIN: -11,
  ENOMEM: -12,
  EBUSY: -16,
  EINVAL: -22,
  ENFILE: -23,
  EMFILE: -24,
  /** Completions dropped: the CQ overflowed and the kernel could not keep them (io_uring_enter(2)). */
  EBADR: -53,
  /** A TIMEOUT or a wait with a timeout expired. */
  ETIME: -62,
  /** The ring is disabled (IORING_SETUP_R_DISABLED) until IORING_REGISTER_ENABLE_RINGS. */
  EBADFD: -77,
  EOPNOTSUPP: -95,
  EADDRINUSE: -98,
  ECONNABORTED: -103,
  ENOBUFS: -105,
  ENOTCONN: -107,
  ETIMEDOUT: -110,
  ECANCELED: -125,
} as const;
