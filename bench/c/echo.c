/*
 * The C contender of the net benchmark: a TCP server on liburing, the
 * reference `uring/net` is measured against. Nothing here is specific to the
 * benchmark's load generator beyond the two modes below.
 *
 *   echo   every byte received is sent back, in order (request/response or not)
 *   bulk   the bulk protocol of bench/net/README.md: a 16-byte header
 *          (u64 LE upload bytes U, u64 LE download bytes D), then U bytes
 *          from the client, acknowledged by an 8-byte u64 LE count, then D
 *          bytes of the pattern (byte i of the download is i % 251), then EOF
 *
 * What it uses of the kernel: one ring (SINGLE_ISSUER | DEFER_TASKRUN when
 * the kernel takes them), a multishot accept (IORING_ACCEPT_MULTISHOT) on the
 * listener, and per connection one multishot recv (IORING_RECV_MULTISHOT)
 * selecting buffers from one provided buffer ring (IORING_REGISTER_PBUF_RING).
 * Echo sends exactly the bytes of the received buffer, at most one send in
 * flight per connection (two sends in flight on one stream socket may
 * complete out of order), resubmitting the rest after a short send; the
 * buffer goes back to the ring only when its last byte has been sent.
 * -ENOBUFS (the ring ran dry; the data stays in the socket) parks the
 * connection until buffers come back, then the recv is re-armed; any CQE of
 * a multishot op without IORING_CQE_F_MORE re-arms it.
 *
 * usage: echo [--host 127.0.0.1|::1] [--port 0] [--mode echo|bulk]
 *             [--bufs 4096] [--buf-size 16384] [--lifetime 600]
 * Prints {"ready":true,"port":P,"family":"IPv4"|"IPv6"} when it accepts.
 * Stops when its stdin (if a pipe or socket) reaches EOF, printing its counters as one
 * JSON line on stderr; --lifetime bounds its life in any case (SIGALRM).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define RING_FLAGS (IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN)
#define BGID 0
#define PATTERN_PERIOD 251
#define BULK_CHUNK (PATTERN_PERIOD * 1024)

enum { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_STDIN };
enum { MODE_ECHO, MODE_BULK };

/* Where a received buffer waits until it has been sent back. */
struct piece {
  uint32_t off, len;
  int next; /* buffer id of the next piece in the connection's queue, -1 at the end */
};

struct conn {
  int open;
  uint32_t gen;        /* bumped at close: a stale CQE never reaches the next owner of the fd */
  int recv_armed;      /* a multishot recv is in the kernel */
  int send_inflight;   /* one send at a time per connection */
  int eof, dead;       /* peer closed its side / an error: close when nothing is in flight */
  int starved;         /* waiting for buffers after -ENOBUFS */
  int qhead, qtail;    /* FIFO of buffer ids to send back (echo) */
  /* bulk */
  unsigned char hdr[16];
  int hdr_got;
  uint64_t up_total, up_got, down_total, down_sent;
  int ack_sent, acked;
  unsigned char ack[8];
};

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static unsigned char *bufmem;
static struct piece *pieces;
static unsigned nbufs = 4096, buf_size = 16384, mask;
static unsigned held; /* buffers the kernel gave us that are not yet back in the ring */
static int pending_recycle;
static struct conn *conns;
static int maxfd;
static int *starved_fds, n_starved, cap_starved;
static int listen_fd, mode = MODE_ECHO;
static unsigned char *pattern;
static struct {
  unsigned long accepted, closed, enobufs, rearm_recv, rearm_accept, short_sends, recv_cqes, accept_errors;
  unsigned long long bytes_in, bytes_out;
} st;

static void die(const char *what, int err) {
  fprintf(stderr, "echo: %s: %s\n", what, strerror(err < 0 ? -err : err));
  exit(1);
}

static uint64_t ud(int op, int fd) {
  return ((uint64_t)op << 56) | ((uint64_t)conns[fd].gen << 24) | (uint64_t)fd;
}

/* An SQE, flushing the SQ to the kernel first when it is full. */
static struct io_uring_sqe *sqe_get(void) {
  struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
  if (!sqe) {
    int ret = io_uring_submit(&ring);
    if (ret < 0) die("submit", ret);
    sqe = io_uring_get_sqe(&ring);
    if (!sqe) die("get_sqe", -EBUSY);
  }
  return sqe;
}

static void arm_accept(void) {
  struct io_uring_sqe *sqe = sqe_get();
  io_uring_prep_multishot_accept(sqe, listen_fd, NULL, NULL, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, (uint64_t)OP_ACCEPT << 56);
}

static void arm_recv(int fd) {
  struct io_uring_sqe *sqe = sqe_get();
  io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = BGID;
  io_uring_sqe_set_data64(sqe, ud(OP_RECV, fd));
  conns[fd].recv_armed = 1;
}

/* A poll, not a read: readiness is all we need, and a poll never occupies an io-wq worker. */
static void arm_stdin(void) {
  struct io_uring_sqe *sqe = sqe_get();
  io_uring_prep_poll_add(sqe, 0, POLLIN | POLLHUP);
  io_uring_sqe_set_data64(sqe, (uint64_t)OP_STDIN << 56);
}

/* Back into the ring; published (one tail store) at the end of the CQE batch. */
static void recycle(int bid) {
  io_uring_buf_ring_add(br, bufmem + (size_t)bid * buf_size, buf_size, (unsigned short)bid, (int)mask, pending_recycle++);
  held--;
}

static void publish_recycled(void) {
  if (pending_recycle) {
    io_uring_buf_ring_advance(br, pending_recycle);
    pending_recycle = 0;
  }
}

static void send_bytes(int fd, const void *p, size_t len) {
  struct io_uring_sqe *sqe = sqe_get();
  io_uring_prep_send(sqe, fd, p, len, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, ud(OP_SEND, fd));
  conns[fd].send_inflight = 1;
}

static void send_head(int fd) {
  struct conn *c = &conns[fd];
  int bid = c->qhead;
  send_bytes(fd, bufmem + (size_t)bid * buf_size + pieces[bid].off, pieces[bid].len);
}

/* The next bulk send: the ack, then the download from the pattern at the stream's phase. */
static void bulk_send_next(int fd) {
  struct conn *c = &conns[fd];
  if (!c->acked) {
    send_bytes(fd, c->ack + c->ack_sent, (size_t)(8 - c->ack_sent));
    return;
  }
  uint64_t left = c->down_total - c->down_sent;
  size_t n = left < BULK_CHUNK ? (size_t)left : BULK_CHUNK;
  send_bytes(fd, pattern + c->down_sent % PATTERN_PERIOD, n);
}

static void maybe_close(int fd) {
  struct conn *c = &conns[fd];
  if (!c->open || c->recv_armed || c->send_inflight) return;
  int done = c->dead || (c->eof && c->qhead < 0);
  if (mode == MODE_BULK && c->acked && c->down_sent == c->down_total) done = 1;
  if (!done) return;
  while (c->qhead >= 0) {
    int bid = c->qhead;
    c->qhead = pieces[bid].next;
    recycle(bid);
  }
  close(fd);
  c->open = 0;
  c->gen++;
  st.closed++;
}

/* Ends a connection that failed: the armed recv is made to complete (shutdown), then it closes. */
static void kill_conn(int fd) {
  struct conn *c = &conns[fd];
  if (!c->dead) {
    c->dead = 1;
    shutdown(fd, SHUT_RDWR);
  }
  maybe_close(fd);
}

static void on_accept(struct io_uring_cqe *cqe) {
  if (!(cqe->flags & IORING_CQE_F_MORE)) {
    st.rearm_accept++;
    arm_accept();
  }
  if (cqe->res < 0) {
    /* EMFILE and friends: the next connection may fare better; a listener that only fails is a bug. */
    if (++st.accept_errors > 100000) die("accept", cqe->res);
    return;
  }
  int fd = cqe->res;
  if (fd >= maxfd) {
    close(fd);
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct conn *c = &conns[fd];
  uint32_t gen = c->gen;
  memset(c, 0, sizeof *c);
  c->gen = gen;
  c->open = 1;
  c->qhead = c->qtail = -1;
  st.accepted++;
  arm_recv(fd);
}

/* Echo: the received buffer joins the connection's send queue. */
static void echo_data(int fd, int bid, uint32_t len) {
  struct conn *c = &conns[fd];
  if (c->dead) {
    recycle(bid);
    return;
  }
  pieces[bid] = (struct piece){0, len, -1};
  if (c->qtail >= 0) pieces[c->qtail].next = bid;
  else c->qhead = bid;
  c->qtail = bid;
  if (!c->send_inflight) send_head(fd);
}

/* Bulk: header, then count the upload; the buffer is not needed after counting. */
static void bulk_data(int fd, int bid, uint32_t len) {
  struct conn *c = &conns[fd];
  const unsigned char *p = bufmem + (size_t)bid * buf_size;
  uint32_t used = 0;
  if (c->hdr_got < 16) {
    while (c->hdr_got < 16 && used < len) c->hdr[c->hdr_got++] = p[used++];
    if (c->hdr_got == 16) {
      memcpy(&c->up_total, c->hdr, 8);
      memcpy(&c->down_total, c->hdr + 8, 8);
    }
  }
  if (c->hdr_got == 16) c->up_got += len - used;
  recycle(bid);
  if (c->hdr_got == 16 && c->up_got > c->up_total) {
    kill_conn(fd); /* more than announced: not our protocol */
    return;
  }
  if (c->hdr_got == 16 && c->up_got == c->up_total && !c->send_inflight && !c->acked && !c->dead) {
    memcpy(c->ack, &c->up_got, 8);
    bulk_send_next(fd);
  }
}

static void on_recv(int fd, struct io_uring_cqe *cqe) {
  struct conn *c = &conns[fd];
  st.recv_cqes++;
  int more = cqe->flags & IORING_CQE_F_MORE;
  if (!more) c->recv_armed = 0;
  if (cqe->res > 0) {
    if (!(cqe->flags & IORING_CQE_F_BUFFER)) die("recv without a buffer", -EINVAL);
    int bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
    held++;
    st.bytes_in += (unsigned)cqe->res;
    if (mode == MODE_ECHO) echo_data(fd, bid, (uint32_t)cqe->res);
    else bulk_data(fd, bid, (uint32_t)cqe->res);
    if (!more && !c->dead && c->open) {
      st.rearm_recv++;
      arm_recv(fd);
    }
  } else if (cqe->res == -ENOBUFS) {
    st.enobufs++;
    if (!c->dead) {
      c->starved = 1; /* re-armed by rearm_starved() once buffers are back */
      if (n_starved == cap_starved) {
        cap_starved = cap_starved ? cap_starved * 2 : 1024;
        starved_fds = realloc(starved_fds, sizeof *starved_fds * (size_t)cap_starved);
        if (!starved_fds) die("realloc", ENOMEM);
      }
      starved_fds[n_starved++] = fd;
    }
  } else if (cqe->res == 0) {
    c->eof = 1;
  } else {
    kill_conn(fd);
  }
  maybe_close(fd);
}

static void on_send(int fd, struct io_uring_cqe *cqe) {
  struct conn *c = &conns[fd];
  c->send_inflight = 0;
  if (cqe->res < 0) {
    kill_conn(fd);
    return;
  }
  uint32_t n = (uint32_t)cqe->res;
  st.bytes_out += n;
  if (mode == MODE_ECHO) {
    int bid = c->qhead;
    if (c->dead) {
      maybe_close(fd);
      return;
    }
    if (n < pieces[bid].len) {
      st.short_sends++;
      pieces[bid].off += n;
      pieces[bid].len -= n;
      send_head(fd);
      return;
    }
    c->qhead = pieces[bid].next;
    if (c->qhead < 0) c->qtail = -1;
    recycle(bid);
    if (c->qhead >= 0) send_head(fd);
  } else {
    if (c->dead) {
      maybe_close(fd);
      return;
    }
    if (!c->acked) {
      c->ack_sent += (int)n;
      if (c->ack_sent < 8) st.short_sends++;
      else c->acked = 1;
    } else {
      if (n < BULK_CHUNK && c->down_sent + n < c->down_total) st.short_sends++;
      c->down_sent += n;
    }
    if (c->down_sent < c->down_total) bulk_send_next(fd);
    else shutdown(fd, SHUT_RDWR); /* FIN after the data; the armed recv completes with 0 */
  }
  maybe_close(fd);
}

/* Connections parked on -ENOBUFS get their recv back as soon as the ring holds any buffer. */
static void rearm_starved(void) {
  if (held >= nbufs) return;
  int n = n_starved;
  n_starved = 0;
  for (int i = 0; i < n; i++) {
    int fd = starved_fds[i];
    struct conn *c = &conns[fd];
    /* An entry left by an earlier owner of the fd finds starved == 0 and is dropped. */
    if (c->open && c->starved && !c->recv_armed && !c->dead) {
      c->starved = 0;
      st.rearm_recv++;
      arm_recv(fd);
    }
  }
}

static int listen_on(const char *host, int port, const char **family) {
  struct sockaddr_storage ss;
  socklen_t len;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    len = sizeof *a4;
    *family = "IPv4";
  } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    len = sizeof *a6;
    *family = "IPv6";
  } else {
    fprintf(stderr, "echo: --host %s is not a numeric IPv4 or IPv6 address\n", host);
    exit(2);
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket", errno);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&ss, len)) die("bind", errno);
  if (listen(fd, SOMAXCONN)) die("listen", errno);
  return fd;
}

static int bound_port(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  getsockname(fd, (struct sockaddr *)&ss, &len);
  return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* Buffer ring by hand: io_uring_setup_buf_ring() does the same but is missing from liburing < 2.4 (Debian 12 has 2.3). */
static void setup_buffers(void) {
  if (nbufs == 0 || nbufs > 32768 || (nbufs & (nbufs - 1))) {
    fprintf(stderr, "echo: --bufs must be a power of two in 1..32768\n");
    exit(2);
  }
  mask = (unsigned)io_uring_buf_ring_mask(nbufs);
  size_t ring_bytes = nbufs * sizeof(struct io_uring_buf);
  void *mem = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) die("mmap buffer ring", errno);
  br = mem;
  struct io_uring_buf_reg reg = {.ring_addr = (uintptr_t)mem, .ring_entries = nbufs, .bgid = BGID};
  int ret = io_uring_register_buf_ring(&ring, &reg, 0);
  if (ret) die("register_buf_ring", ret);
  io_uring_buf_ring_init(br);
  bufmem = malloc((size_t)nbufs * buf_size);
  pieces = calloc(nbufs, sizeof *pieces);
  if (!bufmem || !pieces) die("malloc buffers", ENOMEM);
  held = nbufs;
  for (unsigned i = 0; i < nbufs; i++) recycle((int)i);
  publish_recycled();
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  int port = 0;
  unsigned lifetime = 600;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) {
      fprintf(stderr, "echo: %s needs a value\n", a);
      return 2;
    }
    if (!strcmp(a, "--host")) host = v;
    else if (!strcmp(a, "--port")) port = atoi(v);
    else if (!strcmp(a, "--mode")) {
      if (!strcmp(v, "echo")) mode = MODE_ECHO;
      else if (!strcmp(v, "bulk")) mode = MODE_BULK;
      else {
        fprintf(stderr, "echo: --mode is echo or bulk\n");
        return 2;
      }
    } else if (!strcmp(a, "--bufs")) nbufs = (unsigned)atoi(v);
    else if (!strcmp(a, "--buf-size")) buf_size = (unsigned)atoi(v);
    else if (!strcmp(a, "--lifetime")) lifetime = (unsigned)atoi(v);
    else {
      fprintf(stderr, "echo: unknown option %s\n", a);
      return 2;
    }
    i++;
  }
  alarm(lifetime);
  /* 1,000 connections need more descriptors than a default soft limit of 1,024 leaves. */
  struct rlimit rl;
  if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  getrlimit(RLIMIT_NOFILE, &rl);
  maxfd = rl.rlim_cur > 1 << 20 ? 1 << 20 : (int)rl.rlim_cur;
  conns = calloc((size_t)maxfd, sizeof *conns);
  pattern = malloc(BULK_CHUNK + PATTERN_PERIOD);
  if (!conns || !pattern) die("malloc", ENOMEM);
  for (int i = 0; i < BULK_CHUNK + PATTERN_PERIOD; i++) pattern[i] = (unsigned char)(i % PATTERN_PERIOD);

  struct io_uring_params p = {.flags = RING_FLAGS | IORING_SETUP_CQSIZE, .cq_entries = 16384};
  int ret = io_uring_queue_init_params(4096, &ring, &p);
  if (ret == -EINVAL) {
    /* A kernel without SINGLE_ISSUER/DEFER_TASKRUN: the plain ring still does everything. */
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_CQSIZE;
    p.cq_entries = 16384;
    ret = io_uring_queue_init_params(4096, &ring, &p);
  }
  if (ret) die("queue_init", ret);
  setup_buffers();

  const char *family;
  listen_fd = listen_on(host, port, &family);
  arm_accept();
  struct stat sst;
  int watch_stdin = !fstat(0, &sst) && (S_ISFIFO(sst.st_mode) || S_ISSOCK(sst.st_mode)); /* node spawns with a socketpair */
  if (watch_stdin) arm_stdin();
  printf("{\"ready\":true,\"port\":%d,\"family\":\"%s\"}\n", bound_port(listen_fd), family);
  fflush(stdout);

  for (;;) {
    ret = io_uring_submit_and_wait(&ring, 1);
    if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) die("submit_and_wait", ret);
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;
    int stop = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      n++;
      uint64_t u = cqe->user_data;
      int op = (int)(u >> 56);
      int fd = (int)(u & 0xffffff);
      uint32_t gen = (uint32_t)((u >> 24) & 0xffffffff);
      if (op == OP_ACCEPT) on_accept(cqe);
      else if (op == OP_STDIN) stop = 1;
      else if (fd < maxfd && conns[fd].open && conns[fd].gen == gen) {
        if (op == OP_RECV) on_recv(fd, cqe);
        else if (op == OP_SEND) on_send(fd, cqe);
      }
    }
    io_uring_cq_advance(&ring, n);
    publish_recycled();
    rearm_starved();
    if (stop) break;
  }
  fprintf(stderr,
          "{\"accepted\":%lu,\"closed\":%lu,\"recvCqes\":%lu,\"enobufs\":%lu,\"rearmRecv\":%lu,\"rearmAccept\":%lu,"
          "\"shortSends\":%lu,\"acceptErrors\":%lu,\"bytesIn\":%llu,\"bytesOut\":%llu}\n",
          st.accepted, st.closed, st.recv_cqes, st.enobufs, st.rearm_recv, st.rearm_accept, st.short_sends,
          st.accept_errors, st.bytes_in, st.bytes_out);
  io_uring_queue_exit(&ring);
  return 0;
}
