/**
 * The socket ABI the net layer speaks to the kernel: address families,
 * socket types, option levels and names, shutdown modes, send flags, the
 * SOCKET_URING_OP_* commands of IORING_OP_URING_CMD, and the layouts of the
 * sockaddr structs. These are Linux's values (identical on every
 * architecture Node runs Linux on); test/net/abi.test.ts checks each one
 * against <sys/socket.h>, <netinet/in.h>, <netinet/tcp.h>, <sys/un.h> and
 * <linux/io_uring.h> with the C compiler when there is one.
 */
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;

export const SOCK_STREAM = 1;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;

export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_ERROR = 4;
export const SO_KEEPALIVE = 9;
export const SO_LINGER = 13;
export const SO_REUSEPORT = 15;
export const SO_RCVBUF = 8;
export const SO_SNDBUF = 7;

export const IPPROTO_TCP = 6;
export const TCP_NODELAY = 1;
export const TCP_KEEPIDLE = 4;
export const TCP_KEEPINTVL = 5;
export const TCP_KEEPCNT = 6;

export const IPPROTO_IPV6 = 41;
export const IPV6_V6ONLY = 26;

export const SHUT_WR = 1;
export const SHUT_RDWR = 2;

/** send(2) flag: no SIGPIPE for a peer that went away (EPIPE is returned instead). */
export const MSG_NOSIGNAL = 0x4000;

/** IORING_OP_URING_CMD on a socket (io_uring/cmd_net.c). */
export const SOCKET_URING_OP_SIOCINQ = 0;
export const SOCKET_URING_OP_SIOCOUTQ = 1;
export const SOCKET_URING_OP_GETSOCKOPT = 2;
export const SOCKET_URING_OP_SETSOCKOPT = 3;
export const SOCKET_URING_OP_TX_TIMESTAMP = 4;
export const SOCKET_URING_OP_GETSOCKNAME = 5;

/** sizeof(struct sockaddr_in), sizeof(struct sockaddr_in6), sizeof(struct sockaddr_un). */
export const SOCKADDR_IN_SIZE = 16;
export const SOCKADDR_IN6_SIZE = 28;
export const SOCKADDR_UN_SIZE = 110;
/** sizeof(((struct sockaddr_un *)0)->sun_path). */
export const UNIX_PATH_MAX = 108;
/** sizeof(struct sockaddr_storage): room for any address. */
export const SOCKADDR_STORAGE_SIZE = 128;
/** sizeof(struct linger). */
export const LINGER_SIZE = 8;
