/*
 * tcp-sender: paced statsd/DogStatsD load over TCP for bench/tcp.mjs.
 *
 *   cc -O2 -o bench/bin/tcp-sender bench/tcp-sender.c
 *   tcp-sender HOST PORT METRICS_PER_SEC DURATION_S [CONNECTIONS=4] [SERIES=1000] [LINES_PER_WRITE=100]
 *
 * Same line shapes as udp-sender.c (tallybench.<type>_<NN>, c/g/ms/h/s with
 * DogStatsD tags, counters sometimes |@0.5), newline-delimited. Lines are
 * formatted once into a ring; the loop writes LINES_PER_WRITE lines at a
 * time, round-robin over the connections, paced against CLOCK_MONOTONIC.
 * Writes block, so a receiver that cannot keep up slows the sender: the
 * result line reports the rate actually achieved and how far behind it fell.
 * Every 10 lines carry a scaled counter sum of 10, as in udp-sender.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

enum { T_C, T_G, T_MS, T_H, T_S, T_COUNT };
static const char *TYPE_CODE[T_COUNT] = { "c", "g", "ms", "h", "s" };
static const char *TYPE_NAME[T_COUNT] = { "hits", "queue_depth", "latency", "payload_size", "users" };
static const int TYPE_WEIGHT[T_COUNT] = { 4, 2, 2, 1, 1 };
static const int SLOT_TYPES[10] = { T_C, T_G, T_MS, T_C, T_H, T_C, T_MS, T_G, T_C, T_S };
static const int COUNTER_VALUE[4] = { 1, 3, 1, 4 };
static const char *ROUTES[5] = { "/a", "/b", "/c", "/d", "/e" };

static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: tcp-sender HOST PORT METRICS_PER_SEC DURATION_S [CONNECTIONS=4] [SERIES=1000] [LINES_PER_WRITE=100]\n");
    return 2;
  }
  double rate = atof(argv[3]), duration = atof(argv[4]);
  int nconn = argc > 5 ? atoi(argv[5]) : 4;
  int series = argc > 6 ? atoi(argv[6]) : 1000;
  int lpw = argc > 7 ? atoi(argv[7]) : 100;
  if (rate <= 0 || duration <= 0 || nconn < 1 || series < 10 || lpw < 10) return 2;
  lpw -= lpw % 10; /* whole 10-line groups keep the counter sum per write constant */

  struct addrinfo hints = { 0 }, *ai;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(argv[1], argv[2], &hints, &ai)) return 1;
  int *fds = calloc((size_t)nconn, sizeof *fds);
  for (int i = 0; i < nconn; i++) {
    fds[i] = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fds[i] < 0 || connect(fds[i], ai->ai_addr, ai->ai_addrlen) < 0) {
      perror("tcp-sender: connect");
      return 1;
    }
    int one = 1;
    setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  freeaddrinfo(ai);

  int n_series[T_COUNT], assigned = 0;
  for (int t = 0; t < T_COUNT; t++) assigned += (n_series[t] = series * TYPE_WEIGHT[t] / 10);
  n_series[T_C] += series - assigned;

  /* Ring of chunks, each lpw lines. */
  long nchunks = 4096;
  char **chunk = calloc((size_t)nchunks, sizeof *chunk);
  size_t *clen = calloc((size_t)nchunks, sizeof *clen);
  long cursor[T_COUNT] = { 0 };
  char *buf = malloc((size_t)lpw * 160);
  long ck = 0;
  for (long c = 0; c < nchunks; c++) {
    size_t len = 0;
    for (int i = 0; i < lpw; i++) {
      int t = SLOT_TYPES[i % 10];
      long occ = cursor[t]++;
      int s = (int)(occ % n_series[t]);
      int j = s % 10, rev = (int)((occ / n_series[t] + s) % 2);
      char tags[96], env[24], route[24];
      snprintf(env, sizeof env, "env:%s", (j % 2) ? "staging" : "prod");
      snprintf(route, sizeof route, "route:%s", ROUTES[(j / 2) % 5]);
      if (j % 3 == 0) snprintf(tags, sizeof tags, rev ? "region:eu,%2$s,%1$s" : "%1$s,%2$s,region:eu", env, route);
      else snprintf(tags, sizeof tags, rev ? "%2$s,%1$s" : "%1$s,%2$s", env, route);
      char value[48];
      const char *rp = "";
      switch (t) {
        case T_C: {
          int k = (int)(ck++ % 4);
          snprintf(value, sizeof value, "%d", COUNTER_VALUE[k]);
          if (k == 2) rp = "|@0.5";
          break;
        }
        case T_G: snprintf(value, sizeof value, "%ld", (c * 7 + s) % 1000); break;
        case T_MS: snprintf(value, sizeof value, "%ld.%ld", 1 + (c * 13 + s) % 500, (c + s) % 10); break;
        case T_H: snprintf(value, sizeof value, "%ld", (c * 3 + s) % 4096); break;
        default: snprintf(value, sizeof value, "u%ld", (c * 31 + s) % 5000); break;
      }
      len += (size_t)sprintf(buf + len, "tallybench.%s_%02d:%s|%s%s|#%s\n", TYPE_NAME[t], s / 10, value, TYPE_CODE[t], rp, tags);
    }
    chunk[c] = malloc(len);
    memcpy(chunk[c], buf, len);
    clen[c] = len;
  }

  uint64_t total_chunks = (uint64_t)(rate * duration / lpw + 0.5);
  double cps = rate / lpw;
  uint64_t sent = 0, bytes = 0, max_behind = 0;
  int failed = 0;
  printf("{\"event\":\"start\",\"connections\":%d}\n", nconn);
  fflush(stdout);
  uint64_t t0 = now_ns();
  while (sent < total_chunks) {
    uint64_t due = (uint64_t)((double)(now_ns() - t0) * cps / 1e9) + 1;
    if (due > total_chunks) due = total_chunks;
    if (due <= sent) {
      uint64_t next = t0 + (uint64_t)((double)sent / cps * 1e9);
      while (now_ns() < next) {
      }
      continue;
    }
    if (due - sent > max_behind) max_behind = due - sent;
    while (sent < due) {
      long c = (long)(sent % (uint64_t)nchunks);
      if (write_all(fds[sent % (uint64_t)nconn], chunk[c], clen[c]) < 0) {
        failed = errno;
        goto out;
      }
      bytes += clen[c];
      sent++;
    }
  }
out:;
  double secs = (double)(now_ns() - t0) / 1e9;
  for (int i = 0; i < nconn; i++) shutdown(fds[i], SHUT_WR);
  printf("{\"event\":\"done\",\"target_metrics_per_s\":%.0f,\"connections\":%d,\"lines_per_write\":%d,\"metrics_sent\":%llu,"
         "\"bytes_sent\":%llu,\"seconds\":%.6f,\"actual_metrics_per_s\":%.0f,\"max_behind_ms\":%.3f,\"write_errno\":%d,"
         "\"counter_sum\":%.1f}\n",
         rate, nconn, lpw, (unsigned long long)(sent * (uint64_t)lpw), (unsigned long long)bytes, secs,
         (double)sent * lpw / secs, (double)max_behind / cps * 1000, failed, (double)sent * lpw);
  /* counter_sum: every 10 lines carry a scaled counter sum of 10, so it equals the line count. */
  for (int i = 0; i < nconn; i++) close(fds[i]);
  return failed ? 1 : 0;
}
