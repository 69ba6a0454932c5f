/*
 * http-load: HTTP/1.1 keep-alive load for bench/http-collect.mjs.
 *
 *   cc -O2 -o bench/bin/http-load bench/http-load.c
 *   http-load --port P [--host 127.0.0.1] [--path /v1/collect] --mode open|closed
 *             [--rate 10000] [--duration 10] [--warmup 1] [--connections 64]
 *             [--variants 8] [--token T]
 *
 * One thread, non-blocking sockets, epoll; one request in flight per
 * connection (no pipelining, as real HTTP/1.1 clients do).
 *
 * open:   request i is due at t0 + i/rate. Due requests wait in a FIFO until a
 *         connection is free, and connections are taken round-robin (so every
 *         one stays warm and none reaches the server's keep-alive timeout).
 *         Latency runs from the *intended* send time to the last byte of the
 *         response, so a server stall shows in the percentiles instead of
 *         quietly delaying the requests behind it (coordinated omission).
 *         How late this program itself noticed each request was due is
 *         reported apart (issueLagMs): if it is large, the generator limited
 *         the run. sendLagMs adds the wait for a free connection, which is
 *         the server's doing.
 * closed: every connection sends its next request as soon as the previous
 *         answer is in; the rate achieved is the server's maximum at that
 *         concurrency.
 *
 * Bodies are single JSON events, `{"name":"feature-used","value":"<V>",
 * "tags":{"version":"<ver>"}}`, cycling over --variants (value, version)
 * pairs so the server sees several series rather than one. Every event
 * counts 1 in feature_used_total, whatever the variant, so the harness can
 * check the server's total against the 202s counted here.
 *
 * Every response is parsed (status line, Content-Length or chunked body);
 * anything but 202 is counted by status code, and connection errors by
 * name. A connection that fails is reopened.
 *
 * stdout: {"event":"measuring"} when the measured phase starts (after
 * --warmup s at the same mode and rate, not recorded), then one JSON line
 * with the results.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "http-load: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* ------------------------------------------------------------ samples */

typedef struct {
  uint64_t *v;
  size_t n, cap;
} samples_t;

static void push(samples_t *s, uint64_t x) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 1 << 16;
    s->v = realloc(s->v, s->cap * sizeof *s->v);
    if (!s->v) die("realloc");
  }
  s->v[s->n++] = x;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Same rank rule as the Node generator it replaces: sorted[ceil(p*n)-1]. */
static double pct_ms(const samples_t *s, double p) {
  if (!s->n) return -1;
  size_t i = (size_t)((p / 100.0) * (double)s->n + 0.999999999);
  if (i < 1) i = 1;
  if (i > s->n) i = s->n;
  return (double)s->v[i - 1] / 1e6;
}

/* ------------------------------------------------------------ counters */

enum { MAX_STATUS = 600 };
static uint64_t status_count[MAX_STATUS];
static uint64_t status_other;

#define ERR_KINDS(X) X(ECONNRESET) X(EPIPE) X(ECONNREFUSED) X(EOF_MIDRESPONSE) X(BAD_RESPONSE) X(CONNECT) X(OTHER)
#define ENUM(e) K_##e,
enum { ERR_KINDS(ENUM) K_COUNT };
#define NAME(e) #e,
static const char *ERR_NAME[K_COUNT] = { ERR_KINDS(NAME) };
static uint64_t err_count[K_COUNT];

/* ------------------------------------------------------------ connections */

enum { C_CONNECTING, C_IDLE, C_BUSY };

typedef struct conn {
  int fd, state, idx;
  unsigned gen; /* bumped on every reopen (the fd number may be reused) */
  const char *out;
  size_t out_len, out_off;
  char in[8192];
  size_t in_len;
  uint64_t intended, sent_at;
  int measured; /* 1: measured phase, 0: warm-up */
  int write_armed;
} conn_t;

static int epfd;
static struct addrinfo *addr;
static conn_t *conns;
static int nconn;
static uint64_t reconnects;

/* Idle connections, FIFO (round-robin). */
static int *idle_q;
static int idle_head, idle_len;

static void idle_push(int i) {
  idle_q[(idle_head + idle_len) % nconn] = i;
  idle_len++;
}
static int idle_pop(void) {
  int i = idle_q[idle_head];
  idle_head = (idle_head + 1) % nconn;
  idle_len--;
  return i;
}

static void arm(conn_t *c, int want_write) {
  struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | (want_write ? EPOLLOUT : 0), .data.u32 = (uint32_t)c->idx };
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl mod");
  c->write_armed = want_write;
}

static void open_conn(conn_t *c) {
  c->fd = socket(addr->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) die("socket");
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->in_len = 0;
  c->gen++;
  c->state = C_CONNECTING;
  struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.u32 = (uint32_t)c->idx };
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl add");
  c->write_armed = 1;
  if (connect(c->fd, addr->ai_addr, addr->ai_addrlen) < 0 && errno != EINPROGRESS) {
    err_count[K_CONNECT]++;
    fprintf(stderr, "http-load: connect: %s\n", strerror(errno));
    exit(1);
  }
}

/* ------------------------------------------------------------ requests */

static char **req_buf;
static size_t *req_len;
static int nvariants;
static uint64_t next_variant;

static void build_requests(const char *host, const char *port, const char *path, const char *token) {
  static const char *VALUES[] = { "Export PDF", "Export CSV", "Share link", "Print", "Dark mode", "Search", "Undo", "Invite" };
  static const char *VERSIONS[] = { "1.4.0", "1.4.1", "1.5.0" };
  req_buf = calloc((size_t)nvariants, sizeof *req_buf);
  req_len = calloc((size_t)nvariants, sizeof *req_len);
  for (int i = 0; i < nvariants; i++) {
    char body[256], auth[1024] = "";
    int blen = snprintf(body, sizeof body, "{\"name\":\"feature-used\",\"value\":\"%s\",\"tags\":{\"version\":\"%s\"}}",
                        VALUES[i % 8], VERSIONS[(i / 8 + i) % 3]);
    if (token) snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", token);
    req_buf[i] = malloc(2048);
    req_len[i] = (size_t)snprintf(req_buf[i], 2048,
                                  "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n%s"
                                  "Content-Length: %d\r\n\r\n%s",
                                  path, host, port, auth, blen, body);
  }
}

/* ------------------------------------------------------------ run state */

static samples_t latency, send_lag, issue_lag;
static uint64_t sent_measured, done_measured, warm_202, warm_other;
static uint64_t last_done_ns;
static uint64_t in_flight;

static void fail_conn(conn_t *c, int kind);

static void try_write(conn_t *c) {
  while (c->out_off < c->out_len) {
    ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        if (!c->write_armed) arm(c, 1);
        return;
      }
      fail_conn(c, errno == EPIPE ? K_EPIPE : errno == ECONNRESET ? K_ECONNRESET : K_OTHER);
      return;
    }
    c->out_off += (size_t)w;
  }
  if (c->write_armed) arm(c, 0);
}

static void send_on(conn_t *c, uint64_t intended, int measured) {
  uint64_t v = next_variant++ % (uint64_t)nvariants;
  c->out = req_buf[v];
  c->out_len = req_len[v];
  c->out_off = 0;
  c->intended = intended;
  c->measured = measured;
  c->state = C_BUSY;
  c->in_len = 0;
  uint64_t t = now_ns();
  c->sent_at = t;
  if (measured) {
    sent_measured++;
    push(&send_lag, t > intended ? t - intended : 0);
  }
  in_flight++;
  try_write(c);
}

static void complete(conn_t *c, int status, int keep_alive) {
  uint64_t t = now_ns();
  in_flight--;
  if (c->measured) {
    done_measured++;
    last_done_ns = t;
    if (status >= 0 && status < MAX_STATUS) status_count[status]++;
    else status_other++;
    push(&latency, t - c->intended);
  } else if (status == 202) {
    warm_202++;
  } else {
    warm_other++;
  }
  if (!keep_alive) {
    /* The server asked to close: reopen, as a keep-alive client would. */
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    reconnects++;
    open_conn(c);
    return;
  }
  c->state = C_IDLE;
  idle_push(c->idx);
}

static void fail_conn(conn_t *c, int kind) {
  if (c->state == C_BUSY) {
    in_flight--;
    if (c->measured) {
      err_count[kind]++;
      done_measured++;
      last_done_ns = now_ns();
    } else {
      warm_other++;
    }
  } else if (c->state == C_CONNECTING) {
    err_count[K_CONNECT]++;
  }
  /* An idle connection the server closed (keep-alive timeout) is just reopened. */
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  if (c->state == C_IDLE) {
    /* Remove it from the idle queue by rebuilding it (rare). */
    int n = idle_len, kept = 0;
    int *tmp = malloc((size_t)nconn * sizeof *tmp);
    for (int k = 0; k < n; k++) {
      int j = idle_pop();
      if (j != c->idx) tmp[kept++] = j;
    }
    for (int k = 0; k < kept; k++) idle_push(tmp[k]);
    free(tmp);
  }
  reconnects++;
  open_conn(c);
}

/*
 * Parses one complete response from c->in. Returns 1 when complete (status
 * and keep-alive set), 0 when more bytes are needed, -1 when malformed.
 */
static int parse_response(conn_t *c, int *status, int *keep_alive) {
  char *buf = c->in;
  size_t len = c->in_len;
  char *hdr_end = memmem(buf, len, "\r\n\r\n", 4);
  if (!hdr_end) return len >= sizeof c->in ? -1 : 0;
  if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0) return -1;
  *status = atoi(buf + 9);
  *keep_alive = buf[7] == '1';
  long content_length = -1;
  int chunked = 0;
  for (char *line = memchr(buf, '\n', (size_t)(hdr_end - buf)) + 1; line < hdr_end;) {
    char *eol = memchr(line, '\r', (size_t)(hdr_end + 2 - line));
    if (!eol) return -1;
    if (!strncasecmp(line, "content-length:", 15)) content_length = strtol(line + 15, NULL, 10);
    else if (!strncasecmp(line, "transfer-encoding:", 18) && memmem(line, (size_t)(eol - line), "chunked", 7)) chunked = 1;
    else if (!strncasecmp(line, "connection:", 11)) {
      if (memmem(line, (size_t)(eol - line), "close", 5)) *keep_alive = 0;
      else if (memmem(line, (size_t)(eol - line), "keep-alive", 10)) *keep_alive = 1;
    }
    line = eol + 2;
  }
  size_t body = (size_t)(hdr_end + 4 - buf);
  if (chunked) {
    size_t p = body;
    for (;;) {
      char *crlf = memmem(buf + p, len - p, "\r\n", 2);
      if (!crlf) return len >= sizeof c->in ? -1 : 0;
      long n = strtol(buf + p, NULL, 16);
      p = (size_t)(crlf + 2 - buf);
      if (n == 0) {
        /* No trailers expected: the final CRLF follows. */
        if (len - p < 2) return 0;
        p += 2;
        break;
      }
      if (len - p < (size_t)n + 2) return len >= sizeof c->in ? -1 : 0;
      p += (size_t)n + 2;
    }
    if (p != len) return -1; /* one request in flight: nothing may follow */
    return 1;
  }
  if (content_length < 0) content_length = 0;
  if (len - body < (size_t)content_length) return body + (size_t)content_length > sizeof c->in ? -1 : 0;
  if (len - body > (size_t)content_length) return -1;
  return 1;
}

static void on_readable(conn_t *c) {
  for (;;) {
    if (c->in_len == sizeof c->in) {
      fail_conn(c, K_BAD_RESPONSE);
      return;
    }
    ssize_t r = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      fail_conn(c, errno == ECONNRESET ? K_ECONNRESET : K_OTHER);
      return;
    }
    if (r == 0) {
      fail_conn(c, c->state == C_BUSY ? K_EOF_MIDRESPONSE : K_OTHER);
      return;
    }
    if (c->state != C_BUSY) {
      fail_conn(c, K_BAD_RESPONSE); /* bytes nobody asked for */
      return;
    }
    c->in_len += (size_t)r;
    int status, keep_alive;
    int p = parse_response(c, &status, &keep_alive);
    if (p < 0) {
      fail_conn(c, K_BAD_RESPONSE);
      return;
    }
    if (p == 1) {
      complete(c, status, keep_alive);
      return;
    }
  }
}

static void on_event(struct epoll_event *ev) {
  conn_t *c = &conns[ev->data.u32];
  if (c->state == C_CONNECTING) {
    if (ev->events & (EPOLLERR | EPOLLHUP)) {
      fail_conn(c, K_CONNECT);
      return;
    }
    if (ev->events & EPOLLOUT) {
      int err = 0;
      socklen_t l = sizeof err;
      getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
      if (err) {
        fprintf(stderr, "http-load: connect: %s\n", strerror(err));
        exit(1);
      }
      arm(c, 0);
      c->state = C_IDLE;
      idle_push(c->idx);
    }
    return;
  }
  unsigned gen = c->gen;
  if ((ev->events & EPOLLOUT) && c->state == C_BUSY) try_write(c);
  /* A failed write reopens the connection; the new socket has nothing to read yet. */
  if (c->gen == gen && (ev->events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))) on_readable(c);
}

/* Waits for socket events, at most until `deadline` (0: do not block; UINT64_MAX: no deadline). */
static void poll_until(uint64_t deadline) {
  struct epoll_event evs[256];
  struct timespec ts, *tsp = NULL;
  if (deadline != UINT64_MAX) {
    uint64_t now = now_ns(), d = deadline > now ? deadline - now : 0;
    ts.tv_sec = (time_t)(d / 1000000000ull);
    ts.tv_nsec = (long)(d % 1000000000ull);
    tsp = &ts;
  }
  int n = epoll_pwait2(epfd, evs, 256, tsp, NULL);
  if (n < 0) {
    if (errno == EINTR) return;
    die("epoll_pwait2");
  }
  for (int i = 0; i < n; i++) on_event(&evs[i]);
}

/* ------------------------------------------------------------ phases */

/* Due requests that found no free connection, oldest first: intended times. */
static uint64_t *backlog;
static size_t backlog_head, backlog_len, backlog_cap, backlog_max;

static void run_open(double rate, double secs, int measured) {
  uint64_t total = (uint64_t)(rate * secs + 0.5);
  double interval = 1e9 / rate;
  uint64_t issued = 0;
  uint64_t t0 = now_ns();
  backlog_cap = total + 1;
  backlog = realloc(backlog, backlog_cap * sizeof *backlog);
  backlog_head = backlog_len = 0;
  while (issued < total || backlog_len) {
    uint64_t now = now_ns();
    while (issued < total) {
      uint64_t intended = t0 + (uint64_t)((double)issued * interval);
      if (intended > now) break;
      if (measured) push(&issue_lag, now - intended);
      backlog[backlog_head + backlog_len++] = intended;
      issued++;
    }
    if (backlog_len > backlog_max && measured) backlog_max = backlog_len;
    while (backlog_len && idle_len) {
      send_on(&conns[idle_pop()], backlog[backlog_head], measured);
      backlog_head++;
      backlog_len--;
    }
    if (issued < total && !backlog_len) poll_until(t0 + (uint64_t)((double)issued * interval));
    else poll_until(backlog_len ? UINT64_MAX : 0);
  }
}

static void run_closed(double secs, int measured) {
  uint64_t end = now_ns() + (uint64_t)(secs * 1e9);
  for (;;) {
    uint64_t now = now_ns();
    if (now >= end) break;
    while (idle_len) send_on(&conns[idle_pop()], now_ns(), measured);
    poll_until(end);
  }
}

static void drain(uint64_t timeout_ns) {
  uint64_t deadline = now_ns() + timeout_ns;
  while (in_flight && now_ns() < deadline) poll_until(deadline);
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *port = NULL, *path = "/v1/collect", *mode = "open", *token = NULL;
  double rate = 10000, duration = 10, warmup = 1;
  nconn = 64;
  nvariants = 8;
  for (int i = 1; i < argc; i++) {
    const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) goto usage;
    if (!strcmp(k, "--host")) host = v;
    else if (!strcmp(k, "--port")) port = v;
    else if (!strcmp(k, "--path")) path = v;
    else if (!strcmp(k, "--mode")) mode = v;
    else if (!strcmp(k, "--rate")) rate = atof(v);
    else if (!strcmp(k, "--duration")) duration = atof(v);
    else if (!strcmp(k, "--warmup")) warmup = atof(v);
    else if (!strcmp(k, "--connections")) nconn = atoi(v);
    else if (!strcmp(k, "--variants")) nvariants = atoi(v);
    else if (!strcmp(k, "--token")) token = v;
    else goto usage;
    i++;
  }
  int open_mode = !strcmp(mode, "open");
  if (!port || (!open_mode && strcmp(mode, "closed")) || rate <= 0 || duration <= 0 || warmup < 0 || nconn < 1 || nvariants < 1) goto usage;

  /* Wake-ups on time: the default 50 µs timer slack is half a 10,000 req/s interval. */
  prctl(PR_SET_TIMERSLACK, 1UL);
  signal(SIGPIPE, SIG_IGN);
  struct addrinfo hints = { 0 };
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, port, &hints, &addr)) {
    fprintf(stderr, "http-load: cannot resolve %s\n", host);
    return 1;
  }
  build_requests(host, port, path, token);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) die("epoll_create1");
  conns = calloc((size_t)nconn, sizeof *conns);
  idle_q = calloc((size_t)nconn, sizeof *idle_q);
  for (int i = 0; i < nconn; i++) {
    conns[i].idx = i;
    open_conn(&conns[i]);
  }
  uint64_t connect_deadline = now_ns() + 5000000000ull;
  while (idle_len < nconn && now_ns() < connect_deadline) poll_until(connect_deadline);
  if (idle_len < nconn) {
    fprintf(stderr, "http-load: only %d of %d connections opened\n", idle_len, nconn);
    return 1;
  }

  if (warmup > 0) {
    if (open_mode) run_open(rate, warmup, 0);
    else run_closed(warmup, 0);
    drain(10000000000ull);
  }
  reconnects = 0;
  printf("{\"event\":\"measuring\"}\n");
  fflush(stdout);
  double cpu0 = cpu_seconds();
  uint64_t t0 = now_ns();
  if (open_mode) run_open(rate, duration, 1);
  else run_closed(duration, 1);
  uint64_t t_issue_end = now_ns();
  drain(30000000000ull);
  double cpu = cpu_seconds() - cpu0;
  /* Closed loop: the window is the run plus the answers still due at its end. */
  double elapsed = (double)((last_done_ns > t_issue_end ? last_done_ns : t_issue_end) - t0) / 1e9;

  qsort(latency.v, latency.n, sizeof *latency.v, cmp_u64);
  qsort(send_lag.v, send_lag.n, sizeof *send_lag.v, cmp_u64);
  qsort(issue_lag.v, issue_lag.n, sizeof *issue_lag.v, cmp_u64);
  printf("{\"mode\":\"%s\",", mode);
  if (open_mode) printf("\"rate\":%.0f,", rate);
  else printf("\"rate\":null,");
  printf("\"connections\":%d,\"variants\":%d,\"durationS\":%g,\"elapsedS\":%.6f,\"warmup202\":%llu,\"warmupOther\":%llu,"
         "\"sent\":%llu,\"completed\":%llu,\"inFlightAtEnd\":%llu,\"reconnects\":%llu,\"status\":{",
         nconn, nvariants, duration, elapsed, (unsigned long long)warm_202, (unsigned long long)warm_other,
         (unsigned long long)sent_measured, (unsigned long long)latency.n, (unsigned long long)in_flight,
         (unsigned long long)reconnects);
  const char *sep = "";
  for (int s = 0; s < MAX_STATUS; s++) {
    if (!status_count[s]) continue;
    printf("%s\"%d\":%llu", sep, s, (unsigned long long)status_count[s]);
    sep = ",";
  }
  if (status_other) printf("%s\"other\":%llu", sep, (unsigned long long)status_other);
  printf("},\"errors\":{");
  sep = "";
  for (int k = 0; k < K_COUNT; k++) {
    if (!err_count[k]) continue;
    printf("%s\"%s\":%llu", sep, ERR_NAME[k], (unsigned long long)err_count[k]);
    sep = ",";
  }
  printf("},\"reqPerS\":%.1f,", (double)latency.n / elapsed);
  printf("\"latencyMs\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f},", pct_ms(&latency, 50),
         pct_ms(&latency, 90), pct_ms(&latency, 99), pct_ms(&latency, 99.9), pct_ms(&latency, 100));
  printf("\"sendLagMs\":{\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f},", pct_ms(&send_lag, 50),
         pct_ms(&send_lag, 99), pct_ms(&send_lag, 99.9), pct_ms(&send_lag, 100));
  if (open_mode)
    printf("\"issueLagMs\":{\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f},", pct_ms(&issue_lag, 50),
           pct_ms(&issue_lag, 99), pct_ms(&issue_lag, 99.9), pct_ms(&issue_lag, 100));
  else
    printf("\"issueLagMs\":null,");
  printf("\"backlogMax\":%zu,\"generatorCpuPct\":%.1f}\n", backlog_max, cpu / elapsed * 100);
  return 0;

usage:
  fprintf(stderr,
          "usage: http-load --port P [--host H] [--path /v1/collect] --mode open|closed [--rate R] [--duration S] [--warmup S] "
          "[--connections N] [--variants N] [--token T]\n");
  return 2;
}
