// Batched datagram receive for tally-agent.
//
// libuv (and so node:dgram) makes one recvmsg call, one 64 KiB allocation and
// one JavaScript callback per datagram, and formats the sender's address as a
// string each time. At 200,000 datagrams/s that alone takes most of a core.
// Here the socket is watched with a uv_poll on Node's own loop; when it is
// readable, recvmmsg(2) fills many fixed slots of one JavaScript-owned buffer
// per system call, and JavaScript is called once per batch with the count.
// Everything runs on the main thread, so there is no locking.
//
// SO_RXQ_OVFL makes the kernel attach to each datagram the socket's count of
// datagrams it dropped for want of buffer space, so the agent can count the
// loss UDP is known for (read with drops()).

#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

// Batches taken per readable event before yielding to the loop, so a flood on
// one socket cannot starve timers, HTTP and the other listeners.
#define MAX_ROUNDS 16
// And no new batch once this long has gone in this event: a batch of lines
// that all make new series (a deploy relabelling every pod) takes 10 to 20 us
// a line, and 16 batches of them held the loop 0.2 s where one takes about
// 10 ms. A batch of known series takes about 1 ms, so steady traffic still
// gets all 16.
#define ROUND_BUDGET_NS 5000000ull

typedef struct {
  napi_env env;
  int fd;
  int closing;
  // Set when the JavaScript handle is collected: whichever of the handle and the
  // socket goes last frees the struct, so a late close() never reads freed memory.
  int closed;
  int orphaned;
  uv_poll_t poll;
  napi_ref buffer_ref;
  napi_ref lengths_ref;
  napi_ref callback_ref;
  napi_async_context async_context;
  uint8_t *data;
  int32_t *lengths;
  size_t slots;
  size_t slot_bytes;
  struct mmsghdr *msgs;
  struct iovec *iovs;
  // One control buffer per slot, for the SO_RXQ_OVFL count.
  uint8_t *controls;
  // The kernel's cumulative drop count (a wrapping 32-bit number) as of the latest datagram read.
  uint32_t drops;
} receiver_t;

#define CONTROL_BYTES CMSG_SPACE(sizeof(uint32_t))

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "udp-mmsg: N-API call failed: " #call); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *where) {
  char message[512];
  snprintf(message, sizeof message, "%s %s %s", syscall, uv_err_name(err), where);
  napi_value msg, error, code, errno_value, syscall_value;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_string_utf8(env, uv_err_name(err), NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &error);
  napi_create_int32(env, err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_set_named_property(env, error, "code", code);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  napi_throw(env, error);
  return NULL;
}

static void deliver(receiver_t *r, int32_t n) {
  napi_env env = r->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, recv, argv[1], result;
  napi_get_reference_value(env, r->callback_ref, &callback);
  napi_get_global(env, &recv);
  napi_create_int32(env, n, &argv[0]);
  // make_callback, not call_function: it opens a callback scope, so process.nextTick
  // and promise jobs queued by the handler run before control returns to libuv.
  napi_status status = napi_make_callback(env, r->async_context, recv, callback, 1, argv, &result);
  if (status == napi_pending_exception) {
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception);
  }
  napi_close_handle_scope(env, scope);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  receiver_t *r = (receiver_t *)handle->data;
  if (status < 0) {
    deliver(r, status);
    return;
  }
  uint64_t start = uv_hrtime();
  for (int round = 0; round < MAX_ROUNDS && !r->closing; round++) {
    // The socket stays readable, so the loop calls back on its next turn for the rest.
    if (round > 0 && uv_hrtime() - start > ROUND_BUDGET_NS) return;
    // The kernel writes back how much control data it filled in.
    for (size_t i = 0; i < r->slots; i++) r->msgs[i].msg_hdr.msg_controllen = CONTROL_BYTES;
    int n = recvmmsg(r->fd, r->msgs, (unsigned int)r->slots, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) deliver(r, -errno);
      return;
    }
    for (int i = 0; i < n; i++) {
      int32_t len = (int32_t)r->msgs[i].msg_len;
      // A datagram longer than its slot is cut by the kernel: say so rather than parse a torn packet.
      r->lengths[i] = (r->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? -len - 1 : len;
    }
    // Counts only grow (modulo 2^32), so the last datagram's is the latest.
    for (int i = n - 1; i >= 0; i--) {
      struct msghdr *h = &r->msgs[i].msg_hdr;
      struct cmsghdr *c;
      for (c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) break;
      }
      if (c != NULL) {
        memcpy(&r->drops, CMSG_DATA(c), sizeof r->drops);
        break;
      }
    }
    deliver(r, n);
    if ((size_t)n < r->slots) return;
  }
}

static void on_close(uv_handle_t *handle) {
  receiver_t *r = (receiver_t *)handle->data;
  close(r->fd);
  napi_delete_reference(r->env, r->buffer_ref);
  napi_delete_reference(r->env, r->lengths_ref);
  napi_delete_reference(r->env, r->callback_ref);
  napi_async_destroy(r->env, r->async_context);
  free(r->msgs);
  free(r->iovs);
  free(r->controls);
  r->msgs = NULL;
  r->iovs = NULL;
  r->controls = NULL;
  r->closed = 1;
  if (r->orphaned) free(r);
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  receiver_t *r = (receiver_t *)data;
  if (r->closed) free(r);
  else r->orphaned = 1;
}

// A unix datagram socket file left by a process that is gone would make bind fail;
// one that still has a reader must not be taken over.
static int clear_stale_unix_path(const struct sockaddr_un *addr) {
  struct stat st;
  if (lstat(addr->sun_path, &st) != 0) return errno == ENOENT ? 0 : -errno;
  if (!S_ISSOCK(st.st_mode)) return -EADDRINUSE;
  int probe = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return -errno;
  int rc = connect(probe, (const struct sockaddr *)addr, sizeof *addr);
  int err = errno;
  close(probe);
  if (rc == 0) return -EADDRINUSE;
  if (err != ECONNREFUSED) return -err;
  if (unlink(addr->sun_path) != 0 && errno != ENOENT) return -errno;
  return 0;
}

// bind(family: 'udp4'|'udp6'|'unix', address: string, port: number, receiveBufferBytes: number,
//      buffer: Buffer, lengths: Int32Array, slotBytes: number, onBatch: (n: number) => void): External
static napi_value bind_receiver(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 8) {
    napi_throw_type_error(env, NULL, "udp-mmsg: bind takes 8 arguments");
    return NULL;
  }
  char family[8] = {0};
  char address[sizeof(((struct sockaddr_un *)0)->sun_path) + 1] = {0};
  size_t family_len = 0, address_len = 0;
  int32_t port = 0, rcvbuf = 0, slot_bytes = 0;
  CHECK(napi_get_value_string_utf8(env, argv[0], family, sizeof family, &family_len));
  CHECK(napi_get_value_string_utf8(env, argv[1], address, sizeof address, &address_len));
  CHECK(napi_get_value_int32(env, argv[2], &port));
  CHECK(napi_get_value_int32(env, argv[3], &rcvbuf));
  uint8_t *data;
  size_t data_len;
  CHECK(napi_get_buffer_info(env, argv[4], (void **)&data, &data_len));
  napi_typedarray_type lengths_type;
  size_t slots;
  void *lengths;
  CHECK(napi_get_typedarray_info(env, argv[5], &lengths_type, &slots, &lengths, NULL, NULL));
  CHECK(napi_get_value_int32(env, argv[6], &slot_bytes));
  if (lengths_type != napi_int32_array || slots == 0 || slot_bytes <= 0 || (size_t)slot_bytes * slots > data_len) {
    napi_throw_range_error(env, NULL, "udp-mmsg: buffer must hold lengths.length slots of slotBytes");
    return NULL;
  }

  int domain = strcmp(family, "udp6") == 0 ? AF_INET6 : strcmp(family, "unix") == 0 ? AF_UNIX : AF_INET;
  struct sockaddr_storage storage;
  socklen_t addr_len;
  memset(&storage, 0, sizeof storage);
  if (domain == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&storage;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, address, &a->sin_addr) != 1) return throw_errno(env, -EINVAL, "bind", address);
    addr_len = sizeof *a;
  } else if (domain == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&storage;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, address, &a->sin6_addr) != 1) return throw_errno(env, -EINVAL, "bind", address);
    addr_len = sizeof *a;
  } else {
    struct sockaddr_un *a = (struct sockaddr_un *)&storage;
    if (address_len >= sizeof a->sun_path) return throw_errno(env, -ENAMETOOLONG, "bind", address);
    a->sun_family = AF_UNIX;
    memcpy(a->sun_path, address, address_len + 1);
    addr_len = sizeof *a;
    int err = clear_stale_unix_path(a);
    if (err < 0) return throw_errno(env, err, "bind", address);
  }

  int fd = socket(domain, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, -errno, "socket", address);
  if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, -err, "setsockopt", address);
  }
  // Best effort: without it (an old kernel, a unix socket, which never drops) the count just stays 0.
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&storage, addr_len) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, -err, "bind", address);
  }

  receiver_t *r = calloc(1, sizeof *r);
  struct mmsghdr *msgs = calloc(slots, sizeof *msgs);
  struct iovec *iovs = calloc(slots, sizeof *iovs);
  uint8_t *controls = calloc(slots, CONTROL_BYTES);
  if (r == NULL || msgs == NULL || iovs == NULL || controls == NULL) {
    free(r);
    free(msgs);
    free(iovs);
    free(controls);
    close(fd);
    return throw_errno(env, -ENOMEM, "bind", address);
  }
  r->env = env;
  r->fd = fd;
  r->data = data;
  r->lengths = (int32_t *)lengths;
  r->slots = slots;
  r->slot_bytes = (size_t)slot_bytes;
  r->msgs = msgs;
  r->iovs = iovs;
  r->controls = controls;
  for (size_t i = 0; i < slots; i++) {
    iovs[i].iov_base = data + i * (size_t)slot_bytes;
    iovs[i].iov_len = (size_t)slot_bytes;
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_control = controls + i * CONTROL_BYTES;
    msgs[i].msg_hdr.msg_controllen = CONTROL_BYTES;
  }
  // The references keep the buffer, the lengths and the callback alive for as long as the socket is.
  napi_value resource_name;
  napi_create_string_utf8(env, "tally:udp-mmsg", NAPI_AUTO_LENGTH, &resource_name);
  if (napi_create_reference(env, argv[4], 1, &r->buffer_ref) != napi_ok ||
      napi_create_reference(env, argv[5], 1, &r->lengths_ref) != napi_ok ||
      napi_create_reference(env, argv[7], 1, &r->callback_ref) != napi_ok ||
      napi_async_init(env, NULL, resource_name, &r->async_context) != napi_ok) {
    close(fd);
    free(msgs);
    free(iovs);
    free(controls);
    free(r);
    napi_throw_error(env, NULL, "udp-mmsg: could not hold the receive buffers");
    return NULL;
  }

  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  r->poll.data = r;
  int rc = uv_poll_init(loop, &r->poll, fd);
  if (rc != 0) {
    close(fd);
    napi_delete_reference(env, r->buffer_ref);
    napi_delete_reference(env, r->lengths_ref);
    napi_delete_reference(env, r->callback_ref);
    napi_async_destroy(env, r->async_context);
    free(msgs);
    free(iovs);
    free(controls);
    free(r);
    return throw_errno(env, rc, "uv_poll_init", address);
  }
  rc = uv_poll_start(&r->poll, UV_READABLE, on_readable);
  if (rc != 0) {
    r->closing = 1;
    r->orphaned = 1;
    uv_close((uv_handle_t *)&r->poll, on_close);
    return throw_errno(env, rc, "uv_poll_start", address);
  }

  napi_value external;
  CHECK(napi_create_external(env, r, finalize_handle, NULL, &external));
  return external;
}

static receiver_t *unwrap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *r = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_external(env, argv[0], &r) != napi_ok || r == NULL) {
    napi_throw_type_error(env, NULL, "udp-mmsg: expected a receiver handle");
    return NULL;
  }
  return (receiver_t *)r;
}

// info(handle): [port, receiveBufferBytes]; port is 0 for a unix socket.
static napi_value receiver_info(napi_env env, napi_callback_info info) {
  receiver_t *r = unwrap(env, info);
  if (r == NULL) return NULL;
  struct sockaddr_storage storage;
  socklen_t len = sizeof storage;
  int port = 0;
  if (getsockname(r->fd, (struct sockaddr *)&storage, &len) == 0) {
    if (storage.ss_family == AF_INET) port = ntohs(((struct sockaddr_in *)&storage)->sin_port);
    if (storage.ss_family == AF_INET6) port = ntohs(((struct sockaddr_in6 *)&storage)->sin6_port);
  }
  int rcvbuf = 0;
  socklen_t optlen = sizeof rcvbuf;
  getsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &optlen);
  napi_value result, port_value, rcvbuf_value;
  CHECK(napi_create_array_with_length(env, 2, &result));
  CHECK(napi_create_int32(env, port, &port_value));
  CHECK(napi_create_int32(env, rcvbuf, &rcvbuf_value));
  CHECK(napi_set_element(env, result, 0, port_value));
  CHECK(napi_set_element(env, result, 1, rcvbuf_value));
  return result;
}

// drops(handle): the kernel's count of datagrams it dropped on this socket (wraps at 2^32), as of the latest read.
static napi_value receiver_drops(napi_env env, napi_callback_info info) {
  receiver_t *r = unwrap(env, info);
  if (r == NULL) return NULL;
  napi_value result;
  CHECK(napi_create_uint32(env, r->drops, &result));
  return result;
}

// close(handle): stops receiving at once; the socket is closed on the loop's next turn.
static napi_value receiver_close(napi_env env, napi_callback_info info) {
  receiver_t *r = unwrap(env, info);
  if (r == NULL || r->closing) return NULL;
  r->closing = 1;
  uv_poll_stop(&r->poll);
  uv_close((uv_handle_t *)&r->poll, on_close);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"bind", NULL, bind_receiver, NULL, NULL, NULL, napi_default, NULL},
      {"info", NULL, receiver_info, NULL, NULL, NULL, napi_default, NULL},
      {"drops", NULL, receiver_drops, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, receiver_close, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
