/*
 * uring native shim: the syscall boundary of the uring package, nothing more.
 *
 * Exposes io_uring_setup, io_uring_enter (plain and extended-argument form),
 * io_uring_register, mmap/munmap of ring regions as ArrayBuffers (detached
 * before unmapping so stale views read length 0), madvise on such regions,
 * the address of an ArrayBuffer's memory, eventfd creation, close, and
 * readiness of a file descriptor delivered to a JavaScript callback through
 * libuv. Every error is returned as -errno. No ring logic, no SQE layout and
 * no policy lives here: TypeScript reads and writes the shared memory itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
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

#define CHECK(call)                                                            \
  do {                                                                         \
    if ((call) != napi_ok) return NULL;                                        \
  } while (0)

static napi_value make_int(napi_env env, int64_t v) {
  napi_value out;
  if (napi_create_int64(env, v, &out) != napi_ok) return NULL;
  return out;
}

static int get_args(napi_env env, napi_callback_info info, size_t want,
                    napi_value *argv) {
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

static int get_bytes(napi_env env, napi_value v, void **data, size_t *len) {
  bool is_ab = false, is_ta = false;
  napi_is_arraybuffer(env, v, &is_ab);
  if (is_ab) return napi_get_arraybuffer_info(env, v, data, len) == napi_ok ? 0 : -1;
  napi_is_typedarray(env, v, &is_ta);
  if (is_ta) {
    napi_typedarray_type type;
    size_t length, offset;
    napi_value ab;
    if (napi_get_typedarray_info(env, v, &type, &length, data, &ab, &offset) != napi_ok)
      return -1;
    void *base;
    size_t ab_len;
    if (napi_get_arraybuffer_info(env, ab, &base, &ab_len) != napi_ok) return -1;
    *len = ab_len - offset;
    return 0;
  }
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                        "uring shim: expected an ArrayBuffer or a typed array");
  return -1;
}

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

/* A mapping handed to JavaScript. The ArrayBuffer's finalizer unmaps it if
 * JavaScript never did; `unmapped` stops a second munmap. */
typedef struct {
  void *addr;
  size_t len;
  int unmapped;
} mapping_t;

static void mapping_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  mapping_t *m = hint;
  if (!m->unmapped) munmap(m->addr, m->len);
  free(m);
}

static napi_value wrap_mapping(napi_env env, void *addr, size_t len) {
  mapping_t *m = malloc(sizeof(*m));
  if (!m) {
    munmap(addr, len);
    return make_int(env, -ENOMEM);
  }
  m->addr = addr;
  m->len = len;
  m->unmapped = 0;
  napi_value ab;
  if (napi_create_external_arraybuffer(env, addr, len, mapping_finalize, m, &ab) != napi_ok) {
    munmap(addr, len);
    free(m);
    return NULL;
  }
  /* The mapping record rides on the ArrayBuffer so munmap can find it. */
  if (napi_wrap(env, ab, m, NULL, NULL, NULL) != napi_ok) return NULL;
  return ab;
}

/* mmap(fd, offset, length, hugetlb) -> ArrayBuffer | -errno.
 * fd < 0 maps anonymous shared memory (for IORING_SETUP_NO_MMAP and
 * buffer rings); hugetlb asks for 2 MiB pages. */
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

/* The live mapping behind an ArrayBuffer from mmap(), or NULL once it has
 * been unmapped (detached) or if it never was one of ours. */
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
  if (!m) return make_int(env, -EINVAL);
  void *addr = m->addr;
  size_t len = m->len;
  m->unmapped = 1;
  /* Once detached, the finalizer may free m at any time: drop the wrap so
   * nothing reaches it through the ArrayBuffer again. */
  void *unused;
  CHECK(napi_remove_wrap(env, argv[0], &unused));
  CHECK(napi_detach_arraybuffer(env, argv[0]));
  return make_int(env, munmap(addr, len) < 0 ? -errno : 0);
}

/* madvise(ArrayBuffer, advice) -> 0 | -errno (MADV_DONTFORK for rings). */
static napi_value js_madvise(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t advice;
  if (get_args(env, info, 2, argv) || get_i64(env, argv[1], &advice)) return NULL;
  mapping_t *m = mapping_of(env, argv[0]);
  if (!m) return make_int(env, -EINVAL);
  return make_int(env, madvise(m->addr, m->len, (int)advice) < 0 ? -errno : 0);
}

/* addressOf(ArrayBuffer | typed array) -> address of its first byte as a
 * number (the typed array's own offset included). The memory of a
 * non-resizable ArrayBuffer never moves, so callers cache this. */
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

/* Readiness: a uv_poll_t watching one fd for POLLIN, calling a JS function
 * through napi_make_callback (so promise reactions run right after it).
 * JavaScript decides when the handle keeps the loop alive (ref/unref). */
typedef struct watcher {
  /* Allocated with uv_handle_size(UV_POLL): the running libuv's size, which
   * need not match sizeof(uv_poll_t) in the headers the addon was built with. */
  uv_poll_t *poll;
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  int closed;
  struct watcher *next;
} watcher_t;

static void watcher_on_event(uv_poll_t *handle, int status, int events) {
  watcher_t *w = handle->data;
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, recv, argv[1], result;
  /* napi_make_callback needs an object receiver; it then drains the
   * microtask queue, so promise reactions run right after the callback. */
  if (napi_get_reference_value(env, w->callback, &fn) == napi_ok && fn &&
      napi_get_global(env, &recv) == napi_ok &&
      napi_create_int32(env, status < 0 ? status : events, &argv[0]) == napi_ok) {
    napi_make_callback(env, w->async, recv, fn, 1, argv, &result);
  }
  napi_close_handle_scope(env, scope);
}

/* The poll handle's memory is freed when libuv is done with it; the
 * watcher record itself belongs to the JavaScript External and is freed by
 * its finalizer, so a stale External never points at freed memory. */
static void poll_free(uv_handle_t *handle) { free(handle); }

static void watcher_release(watcher_t *w) {
  if (w->closed) return;
  w->closed = 1;
  napi_delete_reference(w->env, w->callback);
  napi_async_destroy(w->env, w->async);
  uv_poll_stop(w->poll);
  uv_close((uv_handle_t *)w->poll, poll_free);
}

static void watcher_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  watcher_release(data);
  free(data);
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
  w->poll->data = w;
  w->env = env;
  napi_value name, ext;
  napi_create_string_utf8(env, "uring:completion", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, argv[1], 1, &w->callback) != napi_ok ||
      napi_async_init(env, NULL, name, &w->async) != napi_ok) {
    uv_close((uv_handle_t *)w->poll, poll_free);
    free(w);
    return NULL;
  }
  uv_unref((uv_handle_t *)w->poll);
  rc = uv_poll_start(w->poll, UV_READABLE, watcher_on_event);
  if (rc < 0) {
    watcher_release(w);
    free(w);
    return make_int(env, rc);
  }
  CHECK(napi_create_external(env, w, watcher_finalize, NULL, &ext));
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

/* getrlimit(resource) -> [soft, hard] (-1 for unlimited) | -errno. Needs no
 * file descriptor, so it answers even when the process has none left. */
static napi_value js_getrlimit(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int64_t resource;
  if (get_args(env, info, 1, argv) || get_i64(env, argv[0], &resource)) return NULL;
  struct rlimit rl;
  if (getrlimit((int)resource, &rl) < 0) return make_int(env, -errno);
  napi_value out;
  CHECK(napi_create_array_with_length(env, 2, &out));
  napi_value soft, hard;
  CHECK(napi_create_double(env, rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur, &soft));
  CHECK(napi_create_double(env, rl.rlim_max == RLIM_INFINITY ? -1 : (double)rl.rlim_max, &hard));
  CHECK(napi_set_element(env, out, 0, soft));
  CHECK(napi_set_element(env, out, 1, hard));
  return out;
}

static napi_value constant(napi_env env, int64_t v) { return make_int(env, v); }

NAPI_MODULE_INIT() {
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
      {"getrlimit", NULL, js_getrlimit, NULL, NULL, NULL, napi_default_jsproperty, NULL},
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
