/*
 * udp-sender: paced statsd/DogStatsD load generator for `npm run bench`.
 *
 *   cc -O2 -o bench/bin/udp-sender bench/udp-sender.c
 *   udp-sender HOST PORT METRICS_PER_SEC DURATION_S [METRICS_PER_PACKET=10] [SERIES=1000] [BATCH=32] [MODE=ring]
 *
 * MODE fresh makes every line a series never sent before (a deploy that
 * changes a label of every series at once): each line carries a tag
 * gen:<10 digits> holding its own number in the run, written into the ring
 * packet just before it is sent.
 *
 * One Node.js process cannot offer 200,000 packets/s from one core, and
 * several would compete with the receiver for the other core, so the load
 * comes from here: packets are formatted once into a ring up front and the
 * hot loop only calls sendmmsg(2), paced against CLOCK_MONOTONIC.
 *
 * Every packet uses the same slot layout (see SLOT_TYPES), so every packet
 * carries the same scaled counter sum; the harness can then check a
 * receiver's counter totals exactly against the number of packets it says it
 * received, even when some packets were lost.
 *
 * stdout: one {"event":"start"} line when the clock starts, then one JSON
 * result line. Failed sends are counted per errno and never retried, so
 * "packets_sent" is exactly what the kernel accepted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_PACKET 65507
#define MAX_BURST 256

enum { T_C, T_G, T_MS, T_H, T_S, T_COUNT };
static const char *TYPE_CODE[T_COUNT] = { "c", "g", "ms", "h", "s" };
static const char *TYPE_NAME[T_COUNT] = { "hits", "queue_depth", "latency", "payload_size", "users" };
/* Share of the series per type, in tenths; matches the slot mix below. */
static const int TYPE_WEIGHT[T_COUNT] = { 4, 2, 2, 1, 1 };
/* Metric type of line i in a packet is SLOT_TYPES[i % 10]. */
static const int SLOT_TYPES[10] = { T_C, T_G, T_MS, T_C, T_H, T_C, T_MS, T_G, T_C, T_S };
/* Counter slot k (k-th counter line of a packet, mod 4): value and sample
 * rate. Scaled sum per 4 counter lines: 1 + 3 + 1/0.5 + 4 = 10. */
static const int COUNTER_VALUE[4] = { 1, 3, 1, 4 };
static const char *COUNTER_RATE[4] = { NULL, NULL, "0.5", NULL };
static const double COUNTER_RATE_NUM[4] = { 1, 1, 0.5, 1 };

#define TAGSETS 10
static const char *ROUTES[5] = { "/a", "/b", "/c", "/d", "/e" };

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t deadline) {
  /* Sleep through most of the gap and spin the rest: a sleeping wake-up can
   * be late by tens of microseconds, which at 200k packets/s is a burst. */
  uint64_t now = now_ns();
  if (deadline > now + 150000) {
    uint64_t wake = deadline - 100000;
    struct timespec ts = { (time_t)(wake / 1000000000ull), (long)(wake % 1000000000ull) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
  }
  while (now_ns() < deadline) {
  }
}

/* Tagset j: env and route together make the 10 sets distinct; some also
 * carry region. Odd occurrences of a series list the tags in reverse, which
 * is the same series to a DogStatsD receiver. */
static int format_tags(char *out, size_t cap, int j, int reversed) {
  const char *tags[3];
  char env[32], route[32];
  int n = 0;
  snprintf(env, sizeof env, "env:%s", (j % 2) ? "staging" : "prod");
  snprintf(route, sizeof route, "route:%s", ROUTES[(j / 2) % 5]);
  tags[n++] = env;
  tags[n++] = route;
  if (j % 3 == 0) tags[n++] = "region:eu";
  size_t len = 0;
  for (int i = 0; i < n; i++) {
    const char *t = tags[reversed ? n - 1 - i : i];
    int w = snprintf(out + len, cap - len, "%s%s", i ? "," : "", t);
    if (w < 0 || (size_t)w >= cap - len) return -1;
    len += (size_t)w;
  }
  return (int)len;
}

static void usage(void) {
  fprintf(stderr,
          "usage: udp-sender HOST PORT METRICS_PER_SEC DURATION_S [METRICS_PER_PACKET=10] [SERIES=1000] [BATCH=32] [MODE=ring|fresh]\n");
  exit(2);
}

static double parse_num(const char *s, double min) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= min)) usage();
  return v;
}

int main(int argc, char **argv) {
  if (argc < 5 || argc > 9) usage();
  const char *host = argv[1];
  const char *port = argv[2];
  double rate = parse_num(argv[3], 1);
  double duration = parse_num(argv[4], 0.001);
  int mpp = argc > 5 ? (int)parse_num(argv[5], 1) : 10;
  int series = argc > 6 ? (int)parse_num(argv[6], 1) : 1000;
  int batch = argc > 7 ? (int)parse_num(argv[7], 1) : 32;
  if (batch > MAX_BURST) batch = MAX_BURST;
  int fresh = 0;
  if (argc > 8) {
    if (strcmp(argv[8], "fresh") == 0) fresh = 1;
    else if (strcmp(argv[8], "ring") != 0) usage();
  }

  struct addrinfo hints = { 0 }, *ai;
  hints.ai_socktype = SOCK_DGRAM;
  int gai = getaddrinfo(host, port, &hints, &ai);
  if (gai) {
    fprintf(stderr, "udp-sender: %s:%s: %s\n", host, port, gai_strerror(gai));
    return 1;
  }
  int fd = socket(ai->ai_family, SOCK_DGRAM, 0);
  if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
    perror("udp-sender: socket/connect");
    return 1;
  }
  freeaddrinfo(ai);
  int sndbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

  /* Series per type, split by TYPE_WEIGHT; the remainder goes to counters. */
  int n_series[T_COUNT], assigned = 0;
  for (int t = 0; t < T_COUNT; t++) {
    n_series[t] = series * TYPE_WEIGHT[t] / 10;
    assigned += n_series[t];
  }
  n_series[T_C] += series - assigned;
  int slots[T_COUNT] = { 0 };
  for (int i = 0; i < mpp; i++) slots[SLOT_TYPES[i % 10]]++;
  for (int t = 0; t < T_COUNT; t++)
    if (slots[t] && n_series[t] == 0) n_series[t] = 1;

  /* Ring long enough that every series shows up many times in both tag
   * orders, so receivers see steady state rather than one-off series. */
  long cycle = 1;
  for (int t = 0; t < T_COUNT; t++)
    if (slots[t]) {
      long c = (n_series[t] + slots[t] - 1) / slots[t];
      if (c > cycle) cycle = c;
    }
  long ring = cycle * 20;
  if (ring < 2048) ring = 2048;
  if (ring > (1L << 20)) ring = 1L << 20;
  /* Fresh lines are new series whatever the ring holds, so a short one will do. */
  if (fresh) ring = 4096;

  char **bufs = calloc((size_t)ring, sizeof *bufs);
  double *csums = calloc((size_t)ring, sizeof *csums);
  struct iovec *iov = calloc((size_t)ring, sizeof *iov);
  struct mmsghdr *msgs = calloc((size_t)ring + MAX_BURST, sizeof *msgs);
  char *line = malloc(MAX_PACKET), *tags = malloc(256);
  long cursor[T_COUNT] = { 0 };
  uint64_t per_type[T_COUNT] = { 0 };
  double counter_per_packet = -1;
  int constant_counter = 1;
  long sampled_lines_per_packet = 0;
  char *seen = calloc((size_t)series + T_COUNT, 1);
  /* Fresh mode: where each line's gen digits sit in its ring packet. */
  uint32_t *gen_at = fresh ? calloc((size_t)ring * (size_t)mpp, sizeof *gen_at) : NULL;
  int distinct = 0;
  if (!bufs || !csums || !iov || !msgs || !line || !tags || !seen || (fresh && !gen_at)) {
    fprintf(stderr, "udp-sender: out of memory\n");
    return 1;
  }

  for (long p = 0; p < ring; p++) {
    size_t len = 0;
    double csum = 0;
    int ck = 0;
    long sampled = 0;
    for (int i = 0; i < mpp; i++) {
      int t = SLOT_TYPES[i % 10];
      long occ = cursor[t]++;
      int s = (int)(occ % n_series[t]);
      int reversed = (int)((occ / n_series[t] + s) % 2);
      int global = s;
      for (int u = 0; u < t; u++) global += n_series[u];
      if (global < series + T_COUNT && !seen[global]) {
        seen[global] = 1;
        distinct++;
      }
      if (format_tags(tags, 256, s % TAGSETS, reversed) < 0) return 1;
      char value[64];
      const char *rate_part = "";
      char rate_buf[16];
      switch (t) {
        case T_C: {
          int k = ck++ % 4;
          snprintf(value, sizeof value, "%d", COUNTER_VALUE[k]);
          csum += COUNTER_VALUE[k] / COUNTER_RATE_NUM[k];
          if (COUNTER_RATE[k]) {
            snprintf(rate_buf, sizeof rate_buf, "|@%s", COUNTER_RATE[k]);
            rate_part = rate_buf;
            sampled++;
          }
          break;
        }
        case T_G: snprintf(value, sizeof value, "%ld", (p * 7 + s) % 1000); break;
        case T_MS: snprintf(value, sizeof value, "%ld.%ld", 1 + (p * 13 + s) % 500, (p + s) % 10); break;
        case T_H: snprintf(value, sizeof value, "%ld", (p * 3 + s) % 4096); break;
        default: snprintf(value, sizeof value, "u%ld", (p * 31 + s) % 5000); break;
      }
      int w = snprintf(line + len, MAX_PACKET - len, "%stallybench.%s_%02d:%s|%s%s|#%s%s", i ? "\n" : "",
                       TYPE_NAME[t], s / TAGSETS, value, TYPE_CODE[t], rate_part, tags, fresh ? ",gen:0000000000" : "");
      if (w < 0 || (size_t)w >= MAX_PACKET - len) {
        fprintf(stderr, "udp-sender: packet over %d bytes; use fewer metrics per packet\n", MAX_PACKET);
        return 1;
      }
      len += (size_t)w;
      if (fresh) gen_at[p * mpp + i] = (uint32_t)(len - 10);
    }
    if (counter_per_packet < 0) counter_per_packet = csum;
    else if (csum != counter_per_packet) constant_counter = 0;
    sampled_lines_per_packet = sampled;
    csums[p] = csum;
    bufs[p] = malloc(len);
    memcpy(bufs[p], line, len);
    iov[p].iov_base = bufs[p];
    iov[p].iov_len = len;
  }
  /* Duplicate the head after the tail so any batch is one contiguous slice. */
  for (long i = 0; i < ring + MAX_BURST; i++) {
    msgs[i].msg_hdr.msg_iov = &iov[i % ring];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  /* Per-packet type counts are the same for every packet by construction. */
  for (int i = 0; i < mpp; i++) per_type[SLOT_TYPES[i % 10]]++;

  double pps = rate / mpp;
  uint64_t total = (uint64_t)(pps * duration + 0.5);
  double counter_sum = 0;
  uint64_t sent = 0, failed = 0, attempted = 0, bytes = 0, calls = 0, max_behind = 0;
  uint64_t err_eagain = 0, err_enobufs = 0, err_econnrefused = 0, err_other = 0;
  int last_other_errno = 0;
  long pos = 0;

  printf("{\"event\":\"start\",\"packets_planned\":%llu}\n", (unsigned long long)total);
  fflush(stdout);
  uint64_t t0 = now_ns();
  while (attempted < total) {
    uint64_t now = now_ns();
    uint64_t due = (uint64_t)((double)(now - t0) * pps / 1e9);
    if (due > total) due = total;
    if (due <= attempted || (due - attempted < (uint64_t)batch && due < total)) {
      uint64_t next_count = attempted + (uint64_t)batch;
      if (next_count > total) next_count = total;
      sleep_until(t0 + (uint64_t)((double)next_count / pps * 1e9));
      continue;
    }
    uint64_t behind = due - attempted;
    if (behind > max_behind) max_behind = behind;
    unsigned k = behind > MAX_BURST ? MAX_BURST : (unsigned)behind;
    if (fresh) {
      for (unsigned j = 0; j < k; j++) {
        long rp = (pos + (long)j) % ring;
        for (int i = 0; i < mpp; i++) {
          uint64_t n = (attempted + j) * (uint64_t)mpp + (uint64_t)i;
          char *d = bufs[rp] + gen_at[rp * mpp + i];
          for (int q = 9; q >= 0; q--, n /= 10) d[q] = (char)('0' + n % 10);
        }
      }
    }
    calls++;
    int r = sendmmsg(fd, &msgs[pos], k, MSG_DONTWAIT);
    if (r > 0) {
      for (int i = 0; i < r; i++) {
        bytes += msgs[pos + i].msg_len;
        counter_sum += csums[(pos + i) % ring];
      }
      sent += (uint64_t)r;
      attempted += (uint64_t)r;
      pos = (pos + r) % ring;
    } else {
      /* The first packet of the slice failed: count it as offered but not
       * sent and move on, rather than retrying and skewing the pacing. */
      if (errno == EAGAIN || errno == EWOULDBLOCK) err_eagain++;
      else if (errno == ENOBUFS) err_enobufs++;
      else if (errno == ECONNREFUSED) err_econnrefused++;
      else if (errno == EINTR) continue;
      else {
        err_other++;
        last_other_errno = errno;
      }
      failed++;
      attempted++;
      pos = (pos + 1) % ring;
    }
  }
  double secs = (double)(now_ns() - t0) / 1e9;
  char per_packet[32] = "null";
  if (constant_counter) snprintf(per_packet, sizeof per_packet, "%.1f", counter_per_packet);

  printf("{\"event\":\"done\",\"target_metrics_per_s\":%.0f,\"duration_target_s\":%.3f,"
         "\"metrics_per_packet\":%d,\"series\":%d,\"series_in_ring\":%d,\"ring_packets\":%ld,\"batch\":%d,"
         "\"packets_planned\":%llu,\"packets_sent\":%llu,\"metrics_sent\":%llu,\"bytes_sent\":%llu,"
         "\"packets_failed\":%llu,\"send_errors\":{\"EAGAIN\":%llu,\"ENOBUFS\":%llu,\"ECONNREFUSED\":%llu,"
         "\"other\":%llu,\"last_other_errno\":%d},"
         "\"seconds\":%.6f,\"actual_metrics_per_s\":%.0f,\"actual_packets_per_s\":%.0f,"
         "\"sendmmsg_calls\":%llu,\"max_behind_packets\":%llu,"
         "\"by_type\":{\"c\":%llu,\"g\":%llu,\"ms\":%llu,\"h\":%llu,\"s\":%llu},"
         "\"sampled_counter_lines\":%llu,\"counter_sum_per_packet\":%s,\"counter_sum\":%.1f,\"mode\":\"%s\"}\n",
         rate, duration, mpp, series, distinct, ring, batch, (unsigned long long)total, (unsigned long long)sent,
         (unsigned long long)(sent * (uint64_t)mpp), (unsigned long long)bytes, (unsigned long long)failed,
         (unsigned long long)err_eagain, (unsigned long long)err_enobufs, (unsigned long long)err_econnrefused,
         (unsigned long long)err_other, last_other_errno, secs, (double)sent * mpp / secs, (double)sent / secs,
         (unsigned long long)calls, (unsigned long long)max_behind,
         (unsigned long long)(per_type[T_C] * sent), (unsigned long long)(per_type[T_G] * sent),
         (unsigned long long)(per_type[T_MS] * sent), (unsigned long long)(per_type[T_H] * sent),
         (unsigned long long)(per_type[T_S] * sent), (unsigned long long)(sampled_lines_per_packet * sent),
         per_packet, counter_sum, fresh ? "fresh" : "ring");
  return 0;
}
