/*
 * The C contender of `npm run bench`: the same workloads as bench/worker.ts,
 * written directly on liburing, with the same ring flags as the TypeScript
 * raw contender (SINGLE_ISSUER | DEFER_TASKRUN), registered file and
 * buffers where the workload allows. Prints one JSON line:
 * {"ops":N,"bytes":B,"seconds":S}.
 *
 * usage: bench WORKLOAD FILE_OR_DIR OPS QD [BLOCK]
 *   randread | seqread | randwrite | randwrite-fsync | readfile | stat | openclose
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RING_FLAGS ((1U << 12) | (1U << 13)) /* SINGLE_ISSUER | DEFER_TASKRUN */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint32_t rng_state = 2463534242u;
/* xorshift32: the same sequence as bench/worker.ts. */
static uint32_t next_rand(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

static void die(const char *what, int err) {
  fprintf(stderr, "%s: %s\n", what, strerror(-err));
  exit(1);
}

/* Random or sequential reads/writes of BLOCK bytes on a registered file
 * with registered buffers, keeping QD in flight. */
static void rw(struct io_uring *ring, const char *path, long ops, int qd, int block, int write, int seq, int fsync_every) {
  int fd = open(path, write ? O_RDWR : O_RDONLY);
  if (fd < 0) die("open", -1);
  struct stat st;
  fstat(fd, &st);
  long blocks = st.st_size / block;
  int ret = io_uring_register_files(ring, &fd, 1);
  if (ret) die("register_files", ret);
  char *mem;
  if (posix_memalign((void **)&mem, 4096, (size_t)qd * block)) die("memalign", -12);
  memset(mem, 1, (size_t)qd * block);
  struct iovec *iov = calloc(qd, sizeof *iov);
  for (int i = 0; i < qd; i++) iov[i] = (struct iovec){mem + (size_t)i * block, block};
  ret = io_uring_register_buffers(ring, iov, qd);
  if (ret) die("register_buffers", ret);
  long submitted = 0, completed = 0, seqpos = 0, writes = 0;
  int *free_slots = malloc(sizeof(int) * qd), nfree = qd;
  for (int i = 0; i < qd; i++) free_slots[i] = i;
  double t0 = now();
  while (completed < ops) {
    while (nfree > 0 && submitted < ops) {
      struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
      if (!sqe) break;
      int slot = free_slots[--nfree];
      long blk = seq ? (seqpos++ % blocks) : (long)(next_rand() % blocks);
      if (fsync_every && write && writes > 0 && writes % fsync_every == 0) {
        io_uring_prep_fsync(sqe, 0, 0);
        sqe->flags |= IOSQE_FIXED_FILE;
        writes++;
      } else if (write) {
        io_uring_prep_write_fixed(sqe, 0, iov[slot].iov_base, block, blk * block, slot);
        sqe->flags |= IOSQE_FIXED_FILE;
        writes++;
      } else {
        io_uring_prep_read_fixed(sqe, 0, iov[slot].iov_base, block, blk * block, slot);
        sqe->flags |= IOSQE_FIXED_FILE;
      }
      io_uring_sqe_set_data64(sqe, slot);
      submitted++;
    }
    ret = io_uring_submit_and_wait(ring, 1);
    if (ret < 0) die("submit", ret);
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;
    io_uring_for_each_cqe(ring, head, cqe) {
      if (cqe->res < 0) die("cqe", cqe->res);
      free_slots[nfree++] = (int)cqe->user_data;
      n++;
    }
    io_uring_cq_advance(ring, n);
    completed += n;
  }
  double t = now() - t0;
  printf("{\"ops\":%ld,\"bytes\":%ld,\"seconds\":%.6f}\n", ops, ops * (long)block, t);
  close(fd);
}

/* Many small files: readfile (open+read+close), stat, openclose; QD at a time. */
static void files(struct io_uring *ring, const char *dir, long count, int qd, const char *what) {
  char **paths = malloc(sizeof(char *) * count);
  for (long i = 0; i < count; i++) {
    if (asprintf(&paths[i], "%s/f%ld", dir, i) < 0) die("asprintf", -12);
  }
  char *buf = malloc((size_t)qd * 4096);
  struct statx *stx = malloc(sizeof(struct statx) * qd);
  int *fds = malloc(sizeof(int) * qd);
  long bytes = 0;
  double t0 = now();
  for (long base = 0; base < count; base += qd) {
    int n = (int)(count - base < qd ? count - base : qd);
    struct io_uring_cqe *cqe;
    for (int i = 0; i < n; i++) {
      struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
      if (!strcmp(what, "stat"))
        io_uring_prep_statx(sqe, AT_FDCWD, paths[base + i], 0, STATX_BASIC_STATS, &stx[i]);
      else
        io_uring_prep_openat(sqe, AT_FDCWD, paths[base + i], O_RDONLY | O_CLOEXEC, 0);
      io_uring_sqe_set_data64(sqe, i);
    }
    io_uring_submit_and_wait(ring, n);
    for (int i = 0; i < n; i++) {
      io_uring_wait_cqe(ring, &cqe);
      if (cqe->res < 0) die(what, cqe->res);
      fds[cqe->user_data] = cqe->res;
      io_uring_cqe_seen(ring, cqe);
    }
    if (!strcmp(what, "stat")) continue;
    if (!strcmp(what, "readfile")) {
      for (int i = 0; i < n; i++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
        io_uring_prep_read(sqe, fds[i], buf + (size_t)i * 4096, 4096, 0);
      }
      io_uring_submit_and_wait(ring, n);
      for (int i = 0; i < n; i++) {
        io_uring_wait_cqe(ring, &cqe);
        bytes += cqe->res;
        io_uring_cqe_seen(ring, cqe);
      }
    }
    for (int i = 0; i < n; i++) io_uring_prep_close(io_uring_get_sqe(ring), fds[i]);
    io_uring_submit_and_wait(ring, n);
    for (int i = 0; i < n; i++) {
      io_uring_wait_cqe(ring, &cqe);
      io_uring_cqe_seen(ring, cqe);
    }
  }
  double t = now() - t0;
  printf("{\"ops\":%ld,\"bytes\":%ld,\"seconds\":%.6f}\n", count, bytes, t);
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s WORKLOAD PATH OPS QD [BLOCK]\n", argv[0]);
    return 2;
  }
  const char *w = argv[1];
  long ops = atol(argv[3]);
  int qd = atoi(argv[4]);
  int block = argc > 5 ? atoi(argv[5]) : 4096;
  struct io_uring ring;
  struct io_uring_params p = {.flags = RING_FLAGS};
  int ret = io_uring_queue_init_params(qd < 8 ? 8 : qd * 2, &ring, &p);
  if (ret) die("queue_init", ret);
  if (!strcmp(w, "randread")) rw(&ring, argv[2], ops, qd, block, 0, 0, 0);
  else if (!strcmp(w, "seqread")) rw(&ring, argv[2], ops, qd, block, 0, 1, 0);
  else if (!strcmp(w, "randwrite")) rw(&ring, argv[2], ops, qd, block, 1, 0, 0);
  else if (!strcmp(w, "randwrite-fsync")) rw(&ring, argv[2], ops, qd, block, 1, 0, 32);
  else if (!strcmp(w, "readfile") || !strcmp(w, "stat") || !strcmp(w, "openclose")) files(&ring, argv[2], ops, qd, w);
  else {
    fprintf(stderr, "unknown workload %s\n", w);
    return 2;
  }
  io_uring_queue_exit(&ring);
  return 0;
}
