/*
 * uring native shim: the syscall boundary of the uring package, nothing more.
 *
 * Exposes io_uring_setup, io_uring_enter (plain and extended-argument form),
 * io_uring_register, mmap/munmap of ring regions as ArrayBuffers (detached
 * before unmapping so stale views read length 0), madvise on such regions,
 * the address of a buffer's memory, eventfd creation, close, getrlimit,
 * getsockname/getpeername (no io_uring opcode before SOCKET_URING_OP_GETSOCKNAME,
 * Linux 6.19; the net layer needs the answer synchronously anyway), and
 * readiness of a file descriptor delivered to a JavaScript callback through
 * libuv. Every error is returned as -errno. TypeScript reads and writes the
 * shared rings itself; no ring logic lives here, with one exception that only
 * C can do: tearing a thread's rings down when its environment exits (below).
 *
 * Per-thread lifetime. A worker thread that exits (or is terminated) takes its
 * JavaScript heap with it, while the kernel may still be writing into buffers
 * of that heap. The driver therefore "guards" each of its rings here: it
 * hands over the ring fd and a counter of requests in flight. When the
 * environment is torn down, a cleanup hook that runs before any memory of the
 * environment is released (it is re-registered after every allocation of
 * ours so that it is the newest hook, and Node runs the newest first):
 *   1. stops every readiness watcher (no more calls into JavaScript),
 *   2. for each guarded ring: submits what was published, cancels everything
 *      (IORING_REGISTER_SYNC_CANCEL), and waits until the counter of
 *      requests in flight reaches zero, counting final CQEs itself,
 *   3. closes the guarded rings' fds and eventfds and unmaps every mapping,
 *   4. closes the file descriptors JavaScript marked as owned by this
 *      environment (the net layer's sockets: fds are process-wide, so a
 *      terminated worker would otherwise leak them).
 * An async cleanup hook then closes the libuv handles and keeps the addon
 * loaded until libuv has called their close callbacks.
 *
 * The contract with the driver for step 2: a CQE ends a request of the
 * driver's when its user_data is below 2^52 and it lacks IORING_CQE_F_MORE;
 * the driver adds to the counter before it publishes SQEs and subtracts
 * after it has advanced the CQ head past the CQEs it consumed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif
#ifndef __NR_io_uring_enter
#define __NR_io_uring_enter 426
#endif
#ifndef __NR_io_uring_register
#define __NR_io_uring_register 427
#endif

/* The few kernel constants the teardown needs (the rest live in src/abi). */
#define URING_OFF_SQ_RING 0ULL
#define URING_OFF_CQ_RING 0x8000000ULL
#define URING_ENTER_GETEVENTS (1U << 0)
#define URING_ENTER_EXT_ARG (1U << 3)
#define URING_REGISTER_SYNC_CANCEL 24
#define URING_ASYNC_CANCEL_ALL (1U << 0)
#define URING_ASYNC_CANCEL_ANY (1U << 2)
#define URING_CQE_F_MORE (1U << 1)
#define URING_CQE_F_NOTIF (1U << 3)
#define DRIVER_USER_DATA_LIMIT (1ULL << 52)
/* Set in the user_data of driver ops whose result is a new file descriptor
 * (open, socket, accept; src/driver/driver.ts FD_RESULT): such a CQE reaped
 * here was never seen by JavaScript, so nobody else can close its fd. */
#define DRIVER_FD_RESULT (1ULL << 51)
/* How long a teardown waits for the kernel to give back a thread's memory. */
#define TEARDOWN_DEADLINE_NS (10LL * 1000 * 1000 * 1000)

#define CHECK(call)                                                            \
  do {                                                                         \
    if ((call) != napi_ok) return NULL;                                        \
  } while (0)

/* ------------------------------------------------------------ per-env state */

typedef struct env_state env_state_t;

/* A mapping handed to JavaScript as an ArrayBuffer. */
typedef struct mapping {
  void *addr;
  size_t len;
  int unmapped;
  env_state_t *st;
  struct mapping *prev, *next;
} mapping_t;

/* A libuv poll watcher calling a JavaScript function on readiness. */
typedef struct watcher {
  uv_poll_t *poll; /* allocated with uv_handle_size(UV_POLL), freed by libuv's close callback */
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  int closed;
  env_state_t *st;
  struct watcher *prev, *next;
} watcher_t;

/* A ring of the driver, torn down here if JavaScript cannot do it. */
typedef struct guard {
  int ring_fd, event_fd;
  void *sq_map, *cq_map; /* our own mappings of the ring regions (the same pages JavaScript maps) */
  size_t sq_len, cq_len;
  uint32_t sq_head, sq_tail, cq_head, cq_tail, cq_mask, cqes, cqe_size;
  int32_t *outstanding;  /* [0]: driver ops until their last CQE; [1] (if present): of those, zero-copy sends waiting only for their notification */
  int has_notif_count;
  napi_ref outstanding_ref;
  int released;
  env_state_t *st;
  struct guard *prev, *next;
} guard_t;

struct env_state {
  napi_env env;
  uint8_t *owned_fds; /* owned_fds[fd] != 0: close fd at teardown */
  size_t owned_cap;
  mapping_t *mappings;
  watcher_t *watchers;
  guard_t *guards;
  int open_handles;
  int torn_down;
  napi_async_cleanup_hook_handle async_hook;
};

#define LIST_PUSH(head, node)                                                  \
  do {                                                                         \
    (node)->prev = NULL;                                                       \
    (node)->next = (head);                                                     \
    if (head) (head)->prev = (node);                                           \
    (head) = (node);                                                           \
  } while (0)
#define LIST_UNLINK(head, node)                                                \
  do {                                                                         \
    if ((node)->prev) (node)->prev->next = (node)->next;                       \
    else if ((head) == (node)) (head) = (node)->next;                          \
    if ((node)->next) (node)->next->prev = (node)->prev;                       \
    (node)->prev = (node)->next = NULL;                                        \
  } while (0)

static env_state_t *state_of(napi_env env) {
  void *data = NULL;
  napi_get_instance_data(env, &data);
  return data;
}

static void teardown_hook(void *arg);

/* Node runs the newest cleanup hook first: re-registering the teardown after
 * each allocation of ours makes it run before the hooks that would free that
 * memory (napi external buffers register one each). */
static void teardown_hook_to_front(env_state_t *st) {
  napi_remove_env_cleanup_hook(st->env, teardown_hook, st);
  napi_add_env_cleanup_hook(st->env, teardown_hook, st);
}

/* ----------------------------------------------------------------- helpers */

static napi_value make_int(napi_env env, int64_t v) {
  napi_value out;
  if (napi_create_int64(env, v, &out) != napi_ok) return NULL;
  return out;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return -1;
  if (argc < want) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "uring shim: missing arguments");
    return -1;
  }
  return 0;
}

static int get_i64(napi_env env, napi_value v, int64_t *out) {
  if (napi_get_value_int64(env, v, out) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "uring shim: expected a number");
    return -1;
  }
  return 0;
}

/* Addresses cross the boundary as doubles: user-space addresses on the
 * supported 64-bit architectures fit in 53 bits. */
static int get_addr(napi_env env, napi_value v, uintptr_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "uring shim: expected an address");
    return -1;
  }
  *out = (uintptr_t)d;
  return 0;
}

/* The memory of an ArrayBuffer, a typed array or a DataView: its first byte
 * and its length. Typed arrays and DataViews over a SharedArrayBuffer work
 * too (their data pointer comes from the view, not from the buffer). */
static int get_bytes(napi_env env, napi_value v, void **data, size_t *len) {
  bool is = false;
  napi_is_arraybuffer(env, v, &is);
  if (is) return napi_get_arraybuffer_info(env, v, data, len) == napi_ok ? 0 : -1;
  napi_is_typedarray(env, v, &is);
  if (is) {
    napi_typedarray_type type;
    size_t length;
    if (napi_get_typedarray_info(env, v, &type, &length, data, NULL, NULL) != napi_ok) return -1;
    static const size_t element_size[] = {1, 1, 1, 2, 2, 4, 4, 4, 8, 8, 8};
    *len = length * (type < sizeof element_size / sizeof element_size[0] ? element_size[type] : 1);
    return 0;
  }
  napi_is_dataview(env, v, &is);
  if (is) return napi_get_dataview_info(env, v, len, data, NULL, NULL) == napi_ok ? 0 : -1;
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                        "uring shim: expected an ArrayBuffer, a typed array or a DataView");
  return -1;
}

/* ----------------------------------------------------------------- syscalls */

/* io_uring_setup(entries, params: Uint8Array(120)) -> fd | -errno */
static napi_value js_setup(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t entries;
  void *params;
  size_t len;
  if (get_args(env, info, 2, argv) || get_i64(env, argv[0], &entries) ||
      get_bytes(env, argv[1], &params, &len))
    return NULL;
  if (len < 120) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "uring shim: params needs 120 bytes");
    return NULL;
  }
  long ret = syscall(__NR_io_uring_setup, (unsigned)entries, params);
  return make_int(env, ret < 0 ? -errno : ret);
}

/* io_uring_enter(fd, to_submit, min_complete, flags, argAddr, argSize)
 * -> count | -errno. argAddr is 0 or the address of a sigset_t or of a
 * struct io_uring_getevents_arg (IORING_ENTER_EXT_ARG). */
static napi_value js_enter(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  size_t argc = 6;
  int64_t fd, submit, wait, flags, size = 0;
  uintptr_t arg = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "uring shim: missing arguments");
    return NULL;
  }
  if (get_i64(env, argv[0], &fd) || get_i64(env, argv[1], &submit) ||
      get_i64(env, argv[2], &wait) || get_i64(env, argv[3], &flags))
    return NULL;
  if (argc >= 6 && (get_addr(env, argv[4], &arg) || get_i64(env, argv[5], &size)))
    return NULL;
  long ret = syscall(__NR_io_uring_enter, (int)fd, (unsigned)submit, (unsigned)wait,
                     (unsigned)flags, (void *)arg, (size_t)size);
  return make_int(env, ret < 0 ? -errno : ret);
}

/* io_uring_register(fd, opcode, argAddr, nr_args) -> result | -errno */
static napi_value js_register(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int64_t fd, opcode, nr;
  uintptr_t arg;
  if (get_args(env, info, 4, argv) || get_i64(env, argv[0], &fd) ||
      get_i64(env, argv[1], &opcode) || get_addr(env, argv[2], &arg) ||
      get_i64(env, argv[3], &nr))
    return NULL;
  long ret = syscall(__NR_io_uring_register, (int)fd, (unsigned)opcode, (void *)arg,
                     (unsigned)nr);
  return make_int(env, ret < 0 ? -errno : ret);
}

/* ----------------------------------------------------------------- mappings */

/* The ArrayBuffer's finalizer unmaps the region unless JavaScript (munmap)
 * or the environment teardown already did. */
static void mapping_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  mapping_t *m = data;
  if (!m->unmapped) munmap(m->addr, m->len);
  if (m->st) LIST_UNLINK(m->st->mappings, m);
  free(m);
}

static napi_value wrap_mapping(napi_env env, void *addr, size_t len) {
  env_state_t *st = state_of(env);
  mapping_t *m = calloc(1, sizeof(*m));
  if (!m || !st) {
    munmap(addr, len);
    free(m);
    return make_int(env, -ENOMEM);
  }
  m->addr = addr;
  m->len = len;
  m->st = st;
  napi_value ab;
  /* No finalizer on the buffer itself: Node would run it from an early
   * cleanup hook at environment exit; the wrap's finalizer runs after ours. */
  if (napi_create_external_arraybuffer(env, addr, len, NULL, NULL, &ab) != napi_ok) {
    munmap(addr, len);
    free(m);
    return NULL;
  }
  if (napi_wrap(env, ab, m, mapping_finalize, NULL, NULL) != napi_ok) {
    munmap(addr, len);
    free(m);
    return NULL;
  }
  LIST_PUSH(st->mappings, m);
  teardown_hook_to_front(st);
  return ab;
}

/* mmap(fd, offset, length, hugetlb) -> ArrayBuffer | -errno.
 * fd < 0 maps anonymous shared memory (for IORING_SETUP_NO_MMAP, buffer
 * rings and aligned I/O buffers); hugetlb asks for 2 MiB pages. */
static napi_value js_mmap(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  size_t argc = 4;
  int64_t fd, len;
  double offset;
  bool huge = false;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "uring shim: missing arguments");
    return NULL;
  }
  if (get_i64(env, argv[0], &fd) || get_i64(env, argv[2], &len)) return NULL;
  CHECK(napi_get_value_double(env, argv[1], &offset));
  if (argc > 3) napi_get_value_bool(env, argv[3], &huge);
  if (len <= 0) return make_int(env, -EINVAL);
  int flags = MAP_SHARED | MAP_POPULATE;
  if (fd < 0) flags |= MAP_ANONYMOUS;
  if (huge) flags |= MAP_HUGETLB | (21 << MAP_HUGE_SHIFT);
  void *p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, flags, fd < 0 ? -1 : (int)fd,
                 (off_t)offset);
  if (p == MAP_FAILED) return make_int(env, -errno);
  return wrap_mapping(env, p, (size_t)len);
}

/* The live mapping behind an ArrayBuffer from mmap(), or NULL. */
static mapping_t *mapping_of(napi_env env, napi_value ab) {
  void *m = NULL;
  bool detached = false;
  if (napi_is_detached_arraybuffer(env, ab, &detached) != napi_ok || detached) return NULL;
  if (napi_unwrap(env, ab, &m) != napi_ok) return NULL;
  return m;
}

/* munmap(ArrayBuffer) -> 0 | -errno. Detaches first, so every view of the
 * region reads length 0 instead of touching unmapped memory. Idempotent. */
static napi_value js_munmap(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv)) return NULL;
  bool detached = false;
  CHECK(napi_is_detached_arraybuffer(env, argv[0], &detached));
  if (detached) return make_int(env, 0);
  mapping_t *m = mapping_of(env, argv[0]);
  if (!m || m->unmapped) return make_int(env, -EINVAL);
  m->unmapped = 1;
  CHECK(napi_detach_arraybuffer(env, argv[0]));
  /* The record stays wrapped: its finalizer frees it when the buffer dies. */
  return make_int(env, munmap(m->addr, m->len) < 0 ? -errno : 0);
}

/* madvise(ArrayBuffer, advice) -> 0 | -errno (MADV_DONTFORK for rings). */
static napi_value js_madvise(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t advice;
  if (get_args(env, info, 2, argv) || get_i64(env, argv[1], &advice)) return NULL;
  mapping_t *m = mapping_of(env, argv[0]);
  if (!m || m->unmapped) return make_int(env, -EINVAL);
  return make_int(env, madvise(m->addr, m->len, (int)advice) < 0 ? -errno : 0);
}

/* addressOf(ArrayBuffer | typed array | DataView) -> address of its first
 * byte as a number. The memory of an ArrayBuffer never moves (a resizable
 * one reserves its maximum), so callers cache this per buffer. */
static napi_value js_address_of(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  void *data;
  size_t len;
  if (get_args(env, info, 1, argv) || get_bytes(env, argv[0], &data, &len)) return NULL;
  napi_value out;
  CHECK(napi_create_double(env, (double)(uintptr_t)data, &out));
  return out;
}

/* eventfd() -> fd | -errno, non-blocking and close-on-exec. */
static napi_value js_eventfd(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  return make_int(env, fd < 0 ? -errno : fd);
}

/* readEventfd(fd) -> counter | -errno, to drain an eventfd. */
static napi_value js_read_eventfd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int64_t fd;
  uint64_t value;
  if (get_args(env, info, 1, argv) || get_i64(env, argv[0], &fd)) return NULL;
  ssize_t n = read((int)fd, &value, sizeof value);
  return make_int(env, n < 0 ? -errno : (int64_t)value);
}

/* close(fd) -> 0 | -errno */
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int64_t fd;
  if (get_args(env, info, 1, argv) || get_i64(env, argv[0], &fd)) return NULL;
  return make_int(env, close((int)fd) < 0 ? -errno : 0);
}

/* getrlimit(resource) -> [soft, hard] (-1 for unlimited) | -errno. Needs no
 * file descriptor, so it answers even when the process has none left. */
static napi_value js_getrlimit(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int64_t resource;
  if (get_args(env, info, 1, argv) || get_i64(env, argv[0], &resource)) return NULL;
  struct rlimit rl;
  if (getrlimit((int)resource, &rl) < 0) return make_int(env, -errno);
  napi_value out, soft, hard;
  CHECK(napi_create_array_with_length(env, 2, &out));
  CHECK(napi_create_double(env, rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur, &soft));
  CHECK(napi_create_double(env, rl.rlim_max == RLIM_INFINITY ? -1 : (double)rl.rlim_max, &hard));
  CHECK(napi_set_element(env, out, 0, soft));
  CHECK(napi_set_element(env, out, 1, hard));
  return out;
}

/* ------------------------------------------------------------------ sockets */

/* sockName(fd, peer, buf) -> address length | -errno: getsockname(2), or
 * getpeername(2) when peer is true, into buf (128 bytes hold any sockaddr). */
static napi_value js_sock_name(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int64_t fd;
  bool peer = false;
  void *data;
  size_t len;
  if (get_args(env, info, 3, argv) || get_i64(env, argv[0], &fd) || get_bytes(env, argv[2], &data, &len)) return NULL;
  if (napi_get_value_bool(env, argv[1], &peer) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "uring shim: expected a boolean");
    return NULL;
  }
  socklen_t alen = (socklen_t)(len > 0x7fffffff ? 0x7fffffff : len);
  int ret = peer ? getpeername((int)fd, (struct sockaddr *)data, &alen) : getsockname((int)fd, (struct sockaddr *)data, &alen);
  return make_int(env, ret < 0 ? -errno : (int64_t)alen);
}

/* ownFd(fd, owned) -> 0 | -errno: while owned, the environment's teardown
 * closes fd. JavaScript disowns an fd before it submits its close, so the
 * teardown never closes a number that may already belong to someone else. */
static napi_value js_own_fd(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t fd;
  bool owned = false;
  if (get_args(env, info, 2, argv) || get_i64(env, argv[0], &fd)) return NULL;
  if (napi_get_value_bool(env, argv[1], &owned) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "uring shim: expected a boolean");
    return NULL;
  }
  env_state_t *st = state_of(env);
  if (!st || st->torn_down) return make_int(env, -ESHUTDOWN);
  if (fd < 0 || fd > 0x7fffffff) return make_int(env, -EBADF);
  if ((size_t)fd >= st->owned_cap) {
    if (!owned) return make_int(env, 0);
    size_t cap = st->owned_cap ? st->owned_cap : 1024;
    while (cap <= (size_t)fd) cap *= 2;
    uint8_t *grown = realloc(st->owned_fds, cap);
    if (!grown) return make_int(env, -ENOMEM);
    memset(grown + st->owned_cap, 0, cap - st->owned_cap);
    st->owned_fds = grown;
    st->owned_cap = cap;
  }
  st->owned_fds[fd] = owned ? 1 : 0;
  return make_int(env, 0);
}

/* ---------------------------------------------------------------- readiness */

/* Calls the watcher's function through napi_make_callback, so promise
 * reactions and process.nextTick callbacks run right after it. An exception
 * thrown there (by the callback or by what it scheduled) is handed to
 * Node's 'uncaughtException' machinery, as for any I/O callback; left
 * pending, it would make every later N-API call of this environment fail. */
static void watcher_on_event(uv_poll_t *handle, int status, int events) {
  watcher_t *w = handle->data;
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, recv, argv[1], result;
  if (napi_get_reference_value(env, w->callback, &fn) == napi_ok && fn &&
      napi_get_global(env, &recv) == napi_ok &&
      napi_create_int32(env, status < 0 ? status : events, &argv[0]) == napi_ok) {
    if (napi_make_callback(env, w->async, recv, fn, 1, argv, &result) == napi_pending_exception) {
      napi_value error;
      if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void poll_closed(uv_handle_t *handle) {
  env_state_t *st = handle->data;
  free(handle);
  if (!st) return;
  if (--st->open_handles == 0 && st->torn_down && st->async_hook) {
    napi_async_cleanup_hook_handle hook = st->async_hook;
    st->async_hook = NULL;
    napi_remove_async_cleanup_hook(hook);
  }
}

/* Stops the watcher and closes its handle; the handle's memory is freed by
 * libuv's close callback, which needs only the environment state. */
static void watcher_close_handle(watcher_t *w) {
  if (w->closed) return;
  w->closed = 1;
  uv_poll_stop(w->poll);
  w->poll->data = w->st;
  uv_close((uv_handle_t *)w->poll, poll_closed);
}

static void watcher_release(watcher_t *w) {
  if (w->closed) return;
  napi_delete_reference(w->env, w->callback);
  napi_async_destroy(w->env, w->async);
  watcher_close_handle(w);
}

static void watcher_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  watcher_t *w = data;
  if (w->st && !w->st->torn_down) watcher_release(w);
  if (w->st) LIST_UNLINK(w->st->watchers, w);
  free(w);
}

static watcher_t *watcher_of(napi_env env, napi_value v) {
  void *w = NULL;
  if (napi_get_value_external(env, v, &w) != napi_ok || !w) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "uring shim: expected a watcher");
    return NULL;
  }
  return w;
}

/* watch(fd, callback) -> watcher (started, unreferenced) | -errno */
static napi_value js_watch(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t fd;
  if (get_args(env, info, 2, argv) || get_i64(env, argv[0], &fd)) return NULL;
  env_state_t *st = state_of(env);
  if (!st || st->torn_down) return make_int(env, -ESHUTDOWN);
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  watcher_t *w = calloc(1, sizeof(*w));
  if (!w) return make_int(env, -ENOMEM);
  w->poll = calloc(1, uv_handle_size(UV_POLL));
  if (!w->poll) {
    free(w);
    return make_int(env, -ENOMEM);
  }
  int rc = uv_poll_init(loop, w->poll, (int)fd);
  if (rc < 0) {
    free(w->poll);
    free(w);
    return make_int(env, rc);
  }
  st->open_handles++;
  w->poll->data = w;
  w->env = env;
  w->st = st;
  napi_value name, ext;
  napi_create_string_utf8(env, "uring:completion", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, argv[1], 1, &w->callback) != napi_ok ||
      napi_async_init(env, NULL, name, &w->async) != napi_ok) {
    w->closed = 1;
    w->poll->data = st;
    uv_close((uv_handle_t *)w->poll, poll_closed);
    free(w);
    return NULL;
  }
  uv_unref((uv_handle_t *)w->poll);
  rc = uv_poll_start(w->poll, UV_READABLE, watcher_on_event);
  if (rc < 0 || napi_create_external(env, w, watcher_finalize, NULL, &ext) != napi_ok) {
    watcher_release(w);
    free(w);
    return rc < 0 ? make_int(env, rc) : NULL;
  }
  LIST_PUSH(st->watchers, w);
  return ext;
}

/* watchRef(watcher, keepAlive) */
static napi_value js_watch_ref(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  bool on;
  if (get_args(env, info, 2, argv)) return NULL;
  watcher_t *w = watcher_of(env, argv[0]);
  if (!w) return NULL;
  CHECK(napi_get_value_bool(env, argv[1], &on));
  if (!w->closed) {
    if (on) uv_ref((uv_handle_t *)w->poll);
    else uv_unref((uv_handle_t *)w->poll);
  }
  return NULL;
}

/* unwatch(watcher): stops and closes the handle. Idempotent. */
static napi_value js_unwatch(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv)) return NULL;
  watcher_t *w = watcher_of(env, argv[0]);
  if (!w) return NULL;
  watcher_release(w);
  return NULL;
}

/* ------------------------------------------------------------------- guards */

static void guard_unmap(guard_t *g) {
  if (g->cq_map && g->cq_map != g->sq_map) munmap(g->cq_map, g->cq_len);
  if (g->sq_map) munmap(g->sq_map, g->sq_len);
  g->sq_map = g->cq_map = NULL;
}

static void guard_release(napi_env env, guard_t *g) {
  if (g->released) return;
  g->released = 1;
  guard_unmap(g);
  if (env && g->outstanding_ref) napi_delete_reference(env, g->outstanding_ref);
  g->outstanding_ref = NULL;
  g->outstanding = NULL;
}

static void guard_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  guard_t *g = data;
  if (g->st && !g->st->torn_down) guard_release(env, g);
  else guard_unmap(g);
  if (g->st) LIST_UNLINK(g->st->guards, g);
  free(g);
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Gives the kernel's hold on the guarded ring's memory back: submits what
 * JavaScript published, cancels everything, and waits for the final CQE of
 * every request in flight (see the contract at the top of this file). */
/* Requests the teardown must wait for. A zero-copy send that waits only for
 * its notification is not among them: the kernel holds references to the
 * pages it sends from, and the driver makes such sends only on the main
 * thread, whose teardown is the process's exit (no memory is reused after
 * it). Its notification can wait for a peer that never reads. */
static int32_t drain_left(guard_t *g) {
  int32_t n = __atomic_load_n(g->outstanding, __ATOMIC_ACQUIRE);
  if (g->has_notif_count) n -= __atomic_load_n(g->outstanding + 1, __ATOMIC_ACQUIRE);
  return n;
}

static void guard_drain(guard_t *g) {
  if (g->released || !g->outstanding) return;
  volatile uint32_t *sq_head = (uint32_t *)((char *)g->sq_map + g->sq_head);
  volatile uint32_t *sq_tail = (uint32_t *)((char *)g->sq_map + g->sq_tail);
  uint32_t *cq_head = (uint32_t *)((char *)g->cq_map + g->cq_head);
  uint32_t *cq_tail = (uint32_t *)((char *)g->cq_map + g->cq_tail);
  uint32_t mask = *(uint32_t *)((char *)g->cq_map + g->cq_mask);
  char *cqes = (char *)g->cq_map + g->cqes;
  uint32_t unconsumed = __atomic_load_n(sq_tail, __ATOMIC_ACQUIRE) - __atomic_load_n(sq_head, __ATOMIC_ACQUIRE);
  if (unconsumed) syscall(__NR_io_uring_enter, g->ring_fd, unconsumed, 0, 0, NULL, 0);
  if (drain_left(g) <= 0) return;
  /* struct io_uring_sync_cancel_reg: addr, fd, flags, timeout {sec, nsec}, opcode, pad. */
  struct {
    uint64_t addr;
    int32_t fd;
    uint32_t flags;
    int64_t tv_sec, tv_nsec;
    uint8_t opcode, pad[7];
    uint64_t pad2[3];
  } cancel = {0, -1, URING_ASYNC_CANCEL_ALL | URING_ASYNC_CANCEL_ANY, -1, -1, 0, {0}, {0}};
  syscall(__NR_io_uring_register, g->ring_fd, URING_REGISTER_SYNC_CANCEL, &cancel, 1);
  /* struct io_uring_getevents_arg with a 50 ms timeout per wait. */
  struct { int64_t tv_sec, tv_nsec; } ts = {0, 50 * 1000 * 1000};
  struct { uint64_t sigmask; uint32_t sigmask_sz, min_wait_usec; uint64_t ts; } arg = {0, 0, 0, (uint64_t)(uintptr_t)&ts};
  int64_t deadline = now_ns() + TEARDOWN_DEADLINE_NS;
  while (drain_left(g) > 0) {
    uint32_t head = __atomic_load_n(cq_head, __ATOMIC_RELAXED);
    uint32_t tail = __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE);
    for (; head != tail; head++) {
      char *cqe = cqes + (size_t)(head & mask) * g->cqe_size;
      uint64_t user_data;
      uint32_t flags;
      int32_t res;
      memcpy(&user_data, cqe, 8);
      memcpy(&res, cqe + 8, 4);
      memcpy(&flags, cqe + 12, 4);
      if (user_data < DRIVER_USER_DATA_LIMIT && (user_data & DRIVER_FD_RESULT) && res >= 0) close(res);
      if (user_data < DRIVER_USER_DATA_LIMIT && !(flags & URING_CQE_F_MORE)) {
        __atomic_sub_fetch(g->outstanding, 1, __ATOMIC_RELEASE);
        if ((flags & URING_CQE_F_NOTIF) && g->has_notif_count) __atomic_sub_fetch(g->outstanding + 1, 1, __ATOMIC_RELEASE);
      }
    }
    __atomic_store_n(cq_head, head, __ATOMIC_RELEASE);
    if (drain_left(g) <= 0) break;
    if (now_ns() > deadline) {
      fprintf(stderr, "uring: %d io_uring request(s) of an exiting thread did not complete within 10 s; "
                      "their memory may still be written by the kernel\n", (int)drain_left(g));
      break;
    }
    long ret = syscall(__NR_io_uring_enter, g->ring_fd, 0, 1, URING_ENTER_GETEVENTS | URING_ENTER_EXT_ARG,
                       &arg, sizeof arg);
    if (ret < 0 && errno != ETIME && errno != EINTR && errno != EAGAIN && errno != EBUSY) break;
  }
}

/* guardRing(ringFd, eventFd, regions: [sqLen, cqLen, singleMmap],
 *           offsets: [sqHead, sqTail, cqHead, cqTail, cqMask, cqes, cqeSize],
 *           outstanding: Int32Array(1 or 2)) -> guard | -errno */
static napi_value js_guard_ring(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int64_t ring_fd, event_fd;
  void *regions_p, *offsets_p, *outstanding_p;
  size_t regions_len, offsets_len, outstanding_len;
  if (get_args(env, info, 5, argv) || get_i64(env, argv[0], &ring_fd) || get_i64(env, argv[1], &event_fd) ||
      get_bytes(env, argv[2], &regions_p, &regions_len) || get_bytes(env, argv[3], &offsets_p, &offsets_len) ||
      get_bytes(env, argv[4], &outstanding_p, &outstanding_len))
    return NULL;
  if (regions_len < 3 * 8 || offsets_len < 7 * 4 || outstanding_len < 4) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "uring shim: guardRing arguments too short");
    return NULL;
  }
  env_state_t *st = state_of(env);
  if (!st || st->torn_down) return make_int(env, -ESHUTDOWN);
  const double *regions = regions_p;
  const uint32_t *off = offsets_p;
  guard_t *g = calloc(1, sizeof(*g));
  if (!g) return make_int(env, -ENOMEM);
  g->ring_fd = (int)ring_fd;
  g->event_fd = (int)event_fd;
  g->sq_len = (size_t)regions[0];
  g->cq_len = (size_t)regions[1];
  int single = regions[2] != 0;
  if (single && g->cq_len > g->sq_len) g->sq_len = g->cq_len;
  g->sq_map = mmap(NULL, g->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED, g->ring_fd, URING_OFF_SQ_RING);
  if (g->sq_map == MAP_FAILED) {
    int err = errno;
    free(g);
    return make_int(env, -err);
  }
  if (single) {
    g->cq_map = g->sq_map;
  } else {
    g->cq_map = mmap(NULL, g->cq_len, PROT_READ | PROT_WRITE, MAP_SHARED, g->ring_fd, URING_OFF_CQ_RING);
    if (g->cq_map == MAP_FAILED) {
      int err = errno;
      munmap(g->sq_map, g->sq_len);
      free(g);
      return make_int(env, -err);
    }
  }
  /* Children of fork() must not inherit these mappings (as the ring's own). */
  madvise(g->sq_map, g->sq_len, MADV_DONTFORK);
  if (g->cq_map != g->sq_map) madvise(g->cq_map, g->cq_len, MADV_DONTFORK);
  g->sq_head = off[0];
  g->sq_tail = off[1];
  g->cq_head = off[2];
  g->cq_tail = off[3];
  g->cq_mask = off[4];
  g->cqes = off[5];
  g->cqe_size = off[6] ? off[6] : 16;
  g->outstanding = outstanding_p;
  g->has_notif_count = outstanding_len >= 8;
  g->st = st;
  napi_value ext;
  if (napi_create_reference(env, argv[4], 1, &g->outstanding_ref) != napi_ok ||
      napi_create_external(env, g, guard_finalize, NULL, &ext) != napi_ok) {
    guard_unmap(g);
    if (g->outstanding_ref) napi_delete_reference(env, g->outstanding_ref);
    free(g);
    return NULL;
  }
  LIST_PUSH(st->guards, g);
  teardown_hook_to_front(st);
  return ext;
}

/* releaseRing(guard): JavaScript drained and is closing the ring itself. */
static napi_value js_release_ring(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  void *g = NULL;
  if (get_args(env, info, 1, argv)) return NULL;
  if (napi_get_value_external(env, argv[0], &g) != napi_ok || !g) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "uring shim: expected a ring guard");
    return NULL;
  }
  guard_release(env, g);
  return NULL;
}

/* ----------------------------------------------------------------- teardown */

/* Runs before the environment releases memory (see the top of the file). */
static void teardown_hook(void *arg) {
  env_state_t *st = arg;
  if (st->torn_down) return;
  st->torn_down = 1;
  for (watcher_t *w = st->watchers; w; w = w->next)
    if (!w->closed) uv_poll_stop(w->poll);
  for (guard_t *g = st->guards; g; g = g->next) {
    if (g->released) continue;
    guard_drain(g);
    guard_unmap(g);
    if (g->event_fd >= 0) close(g->event_fd);
    close(g->ring_fd);
    g->released = 1;
    g->outstanding = NULL;
  }
  for (mapping_t *m = st->mappings; m; m = m->next) {
    if (!m->unmapped) munmap(m->addr, m->len);
    m->unmapped = 1;
  }
  /* After the rings: a request still holding one of these files was cancelled and completed above. */
  for (size_t fd = 0; fd < st->owned_cap; fd++)
    if (st->owned_fds[fd]) close((int)fd);
  st->owned_cap = 0;
  free(st->owned_fds);
  st->owned_fds = NULL;
}

/* Closes the libuv handles; the addon stays loaded until their close
 * callbacks have run (then the hook removes itself). */
static void async_teardown_hook(napi_async_cleanup_hook_handle handle, void *arg) {
  env_state_t *st = arg;
  teardown_hook(st);
  st->async_hook = handle;
  for (watcher_t *w = st->watchers; w; w = w->next) watcher_close_handle(w);
  if (st->open_handles == 0) {
    st->async_hook = NULL;
    napi_remove_async_cleanup_hook(handle);
  }
}

static void state_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  env_state_t *st = data;
  napi_remove_env_cleanup_hook(env, teardown_hook, st);
  /* Records still listed belong to JavaScript objects whose finalizers have
   * not run; they no longer have a state to unlink from. */
  for (mapping_t *m = st->mappings; m; m = m->next) m->st = NULL;
  for (watcher_t *w = st->watchers; w; w = w->next) w->st = NULL;
  for (guard_t *g = st->guards; g; g = g->next) g->st = NULL;
  free(st->owned_fds);
  free(st);
}

static napi_value constant(napi_env env, int64_t v) { return make_int(env, v); }

NAPI_MODULE_INIT() {
  env_state_t *st = calloc(1, sizeof(*st));
  if (!st) return NULL;
  st->env = env;
  if (napi_set_instance_data(env, st, state_finalize, NULL) != napi_ok) return NULL;
  napi_add_env_cleanup_hook(env, teardown_hook, st);
  if (napi_add_async_cleanup_hook(env, async_teardown_hook, st, NULL) != napi_ok) return NULL;
  napi_property_descriptor props[] = {
      {"setup", NULL, js_setup, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"enter", NULL, js_enter, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"register", NULL, js_register, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"mmap", NULL, js_mmap, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"munmap", NULL, js_munmap, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"madvise", NULL, js_madvise, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"addressOf", NULL, js_address_of, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"eventfd", NULL, js_eventfd, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"readEventfd", NULL, js_read_eventfd, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"watch", NULL, js_watch, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"watchRef", NULL, js_watch_ref, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"unwatch", NULL, js_unwatch, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"guardRing", NULL, js_guard_ring, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"releaseRing", NULL, js_release_ring, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"getrlimit", NULL, js_getrlimit, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"sockName", NULL, js_sock_name, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"ownFd", NULL, js_own_fd, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"RLIMIT_MEMLOCK", NULL, NULL, NULL, NULL, constant(env, RLIMIT_MEMLOCK), napi_default_jsproperty, NULL},
      {"RLIMIT_NOFILE", NULL, NULL, NULL, NULL, constant(env, RLIMIT_NOFILE), napi_default_jsproperty, NULL},
      {"MADV_DONTFORK", NULL, NULL, NULL, NULL, constant(env, MADV_DONTFORK), napi_enumerable, NULL},
      {"MADV_DOFORK", NULL, NULL, NULL, NULL, constant(env, MADV_DOFORK), napi_enumerable, NULL},
      {"PAGE_SIZE", NULL, NULL, NULL, NULL, constant(env, sysconf(_SC_PAGESIZE)), napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok)
    return NULL;
  return exports;
}
