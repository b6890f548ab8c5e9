/*
 * The load generator of the net benchmark: one program for every server, in
 * C on epoll so that it costs the same against each of them and as little
 * as we know how. Loopback only by convention of the harness; every loop is
 * bounded in time (and in count where a count is given).
 *
 *   loadgen echo --host H --port P --conns N --size S --duration SEC
 *                [--threads T] [--warmup SEC] [--max-rt COUNT] [--connect-timeout SEC]
 *     N connections (spread over T threads, each with its own epoll set; one
 *     thread per CPU the load generator may use), each in request/response: send S bytes, wait for all S
 *     bytes of the echo, compare them with what was sent (memcmp), send the
 *     next message (a different window of a random buffer, so a stale or
 *     misplaced echo does not compare equal). Round trips completed within
 *     the measured window count; latency (send of the first byte to receipt
 *     of the last) goes into a log-linear histogram (1/64 relative
 *     precision), never into an array of samples.
 *
 *   loadgen bulk --host H --port P --bytes N [--timeout SEC]
 *     the bulk protocol (bench/net/README.md) on one connection: N bytes up,
 *     the server's 8-byte count back, N bytes down, each downloaded byte
 *     checked against the pattern (byte i is i % 251), then EOF.
 *
 *   loadgen rusage [--timeout SEC] -- CMD ARGS...
 *     runs CMD (e.g. wrk) and prints its CPU time beside the wall time as a
 *     JSON line on stderr, so any load generator's busy fraction can be shown.
 *
 * Each of echo/bulk prints one JSON line on stdout; clientCpu is the busy
 * fraction of this process over the measured window (user + system time /
 * wall time, per thread): near 1.0 means the load generator, not the server,
 * may have been the limit.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PATTERN_PERIOD 251
#define BULK_CHUNK (256 * 1024)
#define SRC_SLACK 4096

static void die(const char *what, int err) {
  fprintf(stderr, "loadgen: %s: %s\n", what, strerror(err));
  exit(1);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* ---- histogram: values below 128 ns exact, above that 64 sub-buckets per power of two ---- */
#define SUB 64
#define NBUCKETS (2 * SUB + 58 * SUB)

static int bucket_of(uint64_t v) {
  if (v < 2 * SUB) return (int)v;
  int msb = 63 - __builtin_clzll(v);
  int shift = msb - 6; /* v >> shift lies in [64, 127] */
  int b = 2 * SUB + (shift - 1) * SUB + (int)((v >> shift) - SUB);
  return b < NBUCKETS ? b : NBUCKETS - 1;
}

/* The middle of a bucket's range, so a reported percentile is off by at most half a bucket (< 1%). */
static double bucket_value(int b) {
  if (b < 2 * SUB) return b;
  int shift = (b - 2 * SUB) / SUB + 1;
  uint64_t lo = (uint64_t)((b - 2 * SUB) % SUB + SUB) << shift;
  return (double)lo + (double)((uint64_t)1 << shift) / 2.0;
}

static double percentile(const uint64_t *hist, uint64_t count, uint64_t max, double p) {
  if (!count) return 0;
  uint64_t rank = (uint64_t)(p * (double)count + 0.5);
  if (rank < 1) rank = 1;
  uint64_t seen = 0;
  for (int b = 0; b < NBUCKETS; b++) {
    seen += hist[b];
    if (seen >= rank) return bucket_value(b);
  }
  return (double)max;
}

/* ---- sockets ---- */
static socklen_t resolve(const char *host, int port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    return sizeof *a4;
  }
  if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    return sizeof *a6;
  }
  fprintf(stderr, "loadgen: --host %s is not a numeric IPv4 or IPv6 address\n", host);
  exit(2);
}

static void raise_nofile(void) {
  struct rlimit rl;
  if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/* ---- echo ---- */
struct conn {
  int fd, id;
  int connected;
  int want_out; /* EPOLLOUT registered: a send was cut short */
  uint32_t seq;
  size_t off, sent, got;
  uint64_t t0;
  unsigned char *rbuf;
};

/* One thread of the load generator: its own connections, epoll set and histogram. */
struct worker {
  pthread_t th;
  struct conn *conns;
  int n, ep;
  uint64_t max_rt;
  uint64_t hist[NBUCKETS];
  uint64_t counted, max, mismatches, bytes_checked, stopped_at;
};

static unsigned char *src;
static size_t msg_size;
static struct sockaddr_storage peer;
static socklen_t peer_len;
static double connect_timeout_s;
static pthread_barrier_t connected_barrier, go_barrier;
/* Set by the main thread between the two barriers, read-only afterwards. */
static uint64_t t_start, t_measure, t_end;

static void next_message(struct conn *c) {
  c->seq++;
  c->off = ((uint64_t)c->id * 2654435761u + (uint64_t)c->seq * 40503u) % SRC_SLACK;
  c->sent = c->got = 0;
}

static void set_events(int ep, struct conn *c, int out) {
  struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
  if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev)) die("epoll_ctl", errno);
  c->want_out = out;
}

/* A send the server refused means it went away: an error for an echo benchmark. */
static void try_send(int ep, struct conn *c) {
  while (c->sent < msg_size) {
    ssize_t n = send(c->fd, src + c->off + c->sent, msg_size - c->sent, MSG_NOSIGNAL);
    if (n > 0) {
      c->sent += (size_t)n;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!c->want_out) set_events(ep, c, 1);
      return;
    }
    if (n < 0 && errno == EINTR) continue;
    fprintf(stderr, "loadgen: the server closed connection %d while it was sending (%s)\n", c->id, n < 0 ? strerror(errno) : "EOF");
    exit(1);
  }
  if (c->want_out) set_events(ep, c, 0);
}

/* Connects this worker's share, at most 128 in flight, so a listen backlog never drops a SYN (a dropped SYN costs a 1 s retry). */
static void connect_all(struct worker *w, struct epoll_event *evs, int max_events) {
  uint64_t deadline = now_ns() + (uint64_t)(connect_timeout_s * 1e9);
  int started = 0, connected = 0, inflight = 0;
  while (connected < w->n) {
    while (started < w->n && inflight < 128) {
      struct conn *c = &w->conns[started];
      c->fd = socket(peer.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (c->fd < 0) die("socket", errno);
      int one = 1;
      setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
      if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev)) die("epoll_ctl", errno);
      if (connect(c->fd, (struct sockaddr *)&peer, peer_len) && errno != EINPROGRESS) die("connect", errno);
      started++;
      inflight++;
    }
    uint64_t t = now_ns();
    if (t >= deadline) {
      fprintf(stderr, "loadgen: only %d of %d connections of a thread were established within %.1f s\n", connected, w->n, connect_timeout_s);
      exit(1);
    }
    int n = epoll_wait(w->ep, evs, max_events, (int)((deadline - t) / 1000000) + 1);
    if (n < 0 && errno != EINTR) die("epoll_wait", errno);
    for (int i = 0; i < n; i++) {
      struct conn *c = evs[i].data.ptr;
      if (c->connected) continue;
      int err = 0;
      socklen_t el = sizeof err;
      getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
      if (err) die("connect", err);
      c->connected = 1;
      connected++;
      inflight--;
      set_events(w->ep, c, 0);
    }
  }
}

static void *echo_worker(void *arg) {
  struct worker *w = arg;
  int max_events = w->n < 1024 ? w->n : 1024;
  struct epoll_event *evs = calloc((size_t)max_events, sizeof *evs);
  if (!evs) die("calloc", ENOMEM);
  w->ep = epoll_create1(EPOLL_CLOEXEC);
  if (w->ep < 0) die("epoll_create1", errno);
  connect_all(w, evs, max_events);
  pthread_barrier_wait(&connected_barrier);
  pthread_barrier_wait(&go_barrier);
  /* Every connection sends its first message at once; from here on, each waits for its echo. */
  for (int i = 0; i < w->n; i++) {
    next_message(&w->conns[i]);
    w->conns[i].t0 = now_ns();
    try_send(w->ep, &w->conns[i]);
  }
  uint64_t t = now_ns();
  while (t < t_end && w->counted < w->max_rt) {
    int n = epoll_wait(w->ep, evs, max_events, (int)((t_end - t) / 1000000) + 1);
    if (n < 0 && errno != EINTR) die("epoll_wait", errno);
    for (int i = 0; i < n; i++) {
      struct conn *c = evs[i].data.ptr;
      if (evs[i].events & EPOLLOUT && c->sent < msg_size) try_send(w->ep, c);
      if (!(evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
      ssize_t r = recv(c->fd, c->rbuf + c->got, msg_size - c->got, 0);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        fprintf(stderr, "loadgen: the server closed connection %d (%s)\n", c->id, r == 0 ? "EOF" : strerror(errno));
        exit(1);
      }
      if (r < 0) continue;
      c->got += (size_t)r;
      if (c->got < msg_size) continue;
      uint64_t done = now_ns();
      if (memcmp(c->rbuf, src + c->off, msg_size)) w->mismatches++;
      w->bytes_checked += msg_size;
      /* Only round trips that start and end inside the window: none carries warm-up time. */
      if (c->t0 >= t_measure && done < t_end && w->counted < w->max_rt) {
        uint64_t v = done - c->t0;
        w->hist[bucket_of(v)]++;
        if (v > w->max) w->max = v;
        w->counted++;
      }
      next_message(c);
      c->t0 = now_ns();
      try_send(w->ep, c);
    }
    t = now_ns();
  }
  w->stopped_at = t < t_end ? t : t_end;
  for (int i = 0; i < w->n; i++) close(w->conns[i].fd);
  close(w->ep);
  free(evs);
  return NULL;
}

static int cmd_echo(const char *host, int port, int nconns, int nthreads, size_t size, double duration, double warmup, uint64_t max_rt, double connect_timeout) {
  raise_nofile();
  msg_size = size;
  connect_timeout_s = connect_timeout;
  peer_len = resolve(host, port, &peer);
  if (nthreads > nconns) nthreads = nconns;
  src = malloc(size + SRC_SLACK);
  struct conn *conns = calloc((size_t)nconns, sizeof *conns);
  unsigned char *rmem = malloc((size_t)nconns * size);
  struct worker *ws = calloc((size_t)nthreads, sizeof *ws);
  if (!src || !conns || !rmem || !ws) die("malloc", ENOMEM);
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < size + SRC_SLACK; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    src[i] = (unsigned char)x;
  }
  for (int i = 0; i < nconns; i++) {
    conns[i].id = i;
    conns[i].rbuf = rmem + (size_t)i * size;
  }
  pthread_barrier_init(&connected_barrier, NULL, (unsigned)nthreads + 1);
  pthread_barrier_init(&go_barrier, NULL, (unsigned)nthreads + 1);
  for (int t = 0, first = 0; t < nthreads; t++) {
    int n = nconns / nthreads + (t < nconns % nthreads);
    ws[t].conns = conns + first;
    ws[t].n = n;
    ws[t].max_rt = max_rt == UINT64_MAX ? UINT64_MAX : max_rt / (uint64_t)nthreads + ((uint64_t)t < max_rt % (uint64_t)nthreads);
    first += n;
    if (pthread_create(&ws[t].th, NULL, echo_worker, &ws[t])) die("pthread_create", errno);
  }
  pthread_barrier_wait(&connected_barrier);
  t_start = now_ns();
  t_measure = t_start + (uint64_t)(warmup * 1e9);
  t_end = t_measure + (uint64_t)(duration * 1e9);
  pthread_barrier_wait(&go_barrier);
  /* The busy fraction is taken over the measured window only: sleep through the warm-up. */
  uint64_t t = now_ns();
  if (t < t_measure) {
    struct timespec ts = {.tv_sec = (time_t)((t_measure - t) / 1000000000u), .tv_nsec = (long)((t_measure - t) % 1000000000u)};
    while (nanosleep(&ts, &ts) && errno == EINTR) {}
  }
  double cpu0 = cpu_seconds();
  uint64_t wall0 = now_ns();
  for (int i = 0; i < nthreads; i++) pthread_join(ws[i].th, NULL);
  double cpu = cpu_seconds() - cpu0;
  double wall = (double)(now_ns() - wall0) / 1e9;
  static uint64_t hist[NBUCKETS];
  uint64_t counted = 0, max = 0, mismatches = 0, bytes_checked = 0, stop = t_measure;
  for (int i = 0; i < nthreads; i++) {
    for (int b = 0; b < NBUCKETS; b++) hist[b] += ws[i].hist[b];
    counted += ws[i].counted;
    mismatches += ws[i].mismatches;
    bytes_checked += ws[i].bytes_checked;
    if (ws[i].max > max) max = ws[i].max;
    if (ws[i].stopped_at > stop) stop = ws[i].stopped_at;
  }
  double secs = (double)(stop - t_measure) / 1e9;
  printf("{\"mode\":\"echo\",\"conns\":%d,\"threads\":%d,\"size\":%zu,\"seconds\":%.6f,\"roundTrips\":%llu,\"rtPerSec\":%.1f,"
         "\"p50us\":%.2f,\"p90us\":%.2f,\"p99us\":%.2f,\"p999us\":%.2f,\"maxUs\":%.2f,"
         "\"mismatches\":%llu,\"bytesChecked\":%llu,\"clientCpu\":%.3f}\n",
         nconns, nthreads, size, secs, (unsigned long long)counted, secs > 0 ? (double)counted / secs : 0.0,
         percentile(hist, counted, max, 0.50) / 1e3, percentile(hist, counted, max, 0.90) / 1e3,
         percentile(hist, counted, max, 0.99) / 1e3, percentile(hist, counted, max, 0.999) / 1e3, (double)max / 1e3,
         (unsigned long long)mismatches, (unsigned long long)bytes_checked, wall > 0 ? cpu / wall / nthreads : 0.0);
  return mismatches ? 3 : 0;
}

/* ---- bulk ---- */
static void set_timeouts(int fd, double seconds) {
  struct timeval tv = {.tv_sec = (time_t)seconds, .tv_usec = (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6)};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

static void send_all(int fd, const unsigned char *p, size_t len) {
  while (len) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? "send (timed out)" : "send", n < 0 ? errno : EPIPE);
    p += n;
    len -= (size_t)n;
  }
}

static int cmd_bulk(const char *host, int port, uint64_t bytes, double timeout) {
  struct sockaddr_storage ss;
  socklen_t sl = resolve(host, port, &ss);
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket", errno);
  set_timeouts(fd, timeout);
  if (connect(fd, (struct sockaddr *)&ss, sl)) die("connect", errno);
  unsigned char *pattern = malloc(BULK_CHUNK + PATTERN_PERIOD);
  unsigned char *buf = malloc(BULK_CHUNK);
  if (!pattern || !buf) die("malloc", ENOMEM);
  for (int i = 0; i < BULK_CHUNK + PATTERN_PERIOD; i++) pattern[i] = (unsigned char)(i % PATTERN_PERIOD);
  unsigned char hdr[16];
  memcpy(hdr, &bytes, 8); /* little-endian hosts only, like the servers */
  memcpy(hdr + 8, &bytes, 8);

  double c0 = cpu_seconds();
  uint64_t t0 = now_ns();
  send_all(fd, hdr, sizeof hdr);
  for (uint64_t left = bytes; left;) {
    size_t n = left < BULK_CHUNK ? (size_t)left : BULK_CHUNK;
    send_all(fd, pattern, n);
    left -= n;
  }
  unsigned char ack[8];
  size_t got = 0;
  while (got < 8) {
    ssize_t n = recv(fd, ack + got, 8 - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die(n == 0 ? "recv ack (EOF)" : "recv ack", n == 0 ? EPIPE : errno);
    got += (size_t)n;
  }
  uint64_t t1 = now_ns();
  double c1 = cpu_seconds();
  uint64_t acked;
  memcpy(&acked, ack, 8);
  if (acked != bytes) {
    fprintf(stderr, "loadgen: the server counted %llu bytes of the %llu sent\n", (unsigned long long)acked, (unsigned long long)bytes);
    return 3;
  }
  uint64_t down = 0, mismatches = 0;
  while (down < bytes) {
    size_t want = bytes - down < BULK_CHUNK ? (size_t)(bytes - down) : BULK_CHUNK;
    ssize_t n = recv(fd, buf, want, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) break;
    if (n < 0) die("recv", errno);
    if (memcmp(buf, pattern + down % PATTERN_PERIOD, (size_t)n)) mismatches++;
    down += (uint64_t)n;
  }
  uint64_t t2 = now_ns();
  double c2 = cpu_seconds();
  /* The server ends the stream after the last byte: anything more is a protocol error. */
  ssize_t extra = down == bytes ? recv(fd, buf, 1, 0) : 0;
  close(fd);
  double up_s = (double)(t1 - t0) / 1e9, down_s = (double)(t2 - t1) / 1e9;
  printf("{\"mode\":\"bulk\",\"upBytes\":%llu,\"upSeconds\":%.6f,\"upMiBps\":%.1f,\"downBytes\":%llu,\"downSeconds\":%.6f,"
         "\"downMiBps\":%.1f,\"mismatches\":%llu,\"clientCpuUp\":%.3f,\"clientCpuDown\":%.3f}\n",
         (unsigned long long)bytes, up_s, (double)bytes / up_s / 1048576.0, (unsigned long long)down, down_s,
         (double)down / down_s / 1048576.0, (unsigned long long)mismatches, (c1 - c0) / up_s, (c2 - c1) / down_s);
  if (down != bytes) {
    fprintf(stderr, "loadgen: the download ended after %llu of %llu bytes\n", (unsigned long long)down, (unsigned long long)bytes);
    return 3;
  }
  if (extra != 0) {
    fprintf(stderr, "loadgen: the server sent more than %llu bytes or did not close\n", (unsigned long long)bytes);
    return 3;
  }
  return mismatches ? 3 : 0;
}

/* ---- rusage ---- */
static pid_t child;
static void on_alarm(int sig) {
  (void)sig;
  if (child > 0) kill(child, SIGKILL);
}

static int cmd_rusage(double timeout, char **cmd) {
  uint64_t t0 = now_ns();
  child = fork();
  if (child < 0) die("fork", errno);
  if (child == 0) {
    execvp(cmd[0], cmd);
    fprintf(stderr, "loadgen: exec %s: %s\n", cmd[0], strerror(errno));
    _exit(127);
  }
  signal(SIGALRM, on_alarm);
  alarm((unsigned)(timeout + 0.999));
  int status;
  struct rusage ru;
  while (wait4(child, &status, 0, &ru) < 0) {
    if (errno != EINTR) die("wait4", errno);
  }
  double wall = (double)(now_ns() - t0) / 1e9;
  double user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6, sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  fprintf(stderr, "{\"rusage\":{\"userSeconds\":%.3f,\"systemSeconds\":%.3f,\"wallSeconds\":%.3f,\"cpu\":%.3f,\"status\":%d,\"killed\":%s}}\n",
          user, sys, wall, (user + sys) / wall, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
          WIFSIGNALED(status) ? "true" : "false");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static void usage(void) {
  fprintf(stderr,
          "usage: loadgen echo --port P [--host 127.0.0.1] [--conns 64] [--threads 1] [--size 64] [--duration 5] [--warmup 1] [--max-rt N] [--connect-timeout 10]\n"
          "       loadgen bulk --port P [--host 127.0.0.1] [--bytes N] [--timeout 60]\n"
          "       loadgen rusage [--timeout 60] -- CMD ARGS...\n");
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 2) usage();
  const char *mode = argv[1], *host = "127.0.0.1";
  int port = -1, conns = 64, threads = 1;
  size_t size = 64;
  double duration = 5, warmup = 1, connect_timeout = 10, timeout = 60;
  uint64_t max_rt = UINT64_MAX, bytes = 1ull << 30;
  int i = 2;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--")) {
      i++;
      break;
    }
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (!strcmp(a, "--host")) host = v;
    else if (!strcmp(a, "--port")) port = atoi(v);
    else if (!strcmp(a, "--conns")) conns = atoi(v);
    else if (!strcmp(a, "--threads")) threads = atoi(v);
    else if (!strcmp(a, "--size")) size = (size_t)strtoull(v, NULL, 10);
    else if (!strcmp(a, "--duration")) duration = atof(v);
    else if (!strcmp(a, "--warmup")) warmup = atof(v);
    else if (!strcmp(a, "--max-rt")) max_rt = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--connect-timeout")) connect_timeout = atof(v);
    else if (!strcmp(a, "--timeout")) timeout = atof(v);
    else if (!strcmp(a, "--bytes")) bytes = strtoull(v, NULL, 10);
    else usage();
  }
  /* Every run ends: a hung server cannot keep the load generator alive past its own bounds. */
  if (!strcmp(mode, "echo")) {
    if (port <= 0 || conns < 1 || threads < 1 || size < 1 || duration <= 0 || warmup < 0) usage();
    alarm((unsigned)(connect_timeout + warmup + duration + 30));
    return cmd_echo(host, port, conns, threads, size, duration, warmup, max_rt, connect_timeout);
  }
  if (!strcmp(mode, "bulk")) {
    if (port <= 0 || timeout <= 0) usage();
    alarm((unsigned)(timeout * 3 + 5));
    return cmd_bulk(host, port, bytes, timeout);
  }
  if (!strcmp(mode, "rusage")) {
    if (i >= argc) usage();
    return cmd_rusage(timeout, argv + i);
  }
  usage();
  return 2;
}
