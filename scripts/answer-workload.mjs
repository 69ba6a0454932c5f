/**
 * A scripted workload whose true answers are known, sent to Tally agents over
 * their real ways in (statsd over UDP, POST /v1/collect), so the dashboards
 * can be checked against the truth rather than eyeballed. One agent per
 * version, as a sidecar deployment would run it; each agent is expected to be
 * started with `TALLY_TAGS=service:shop,version:<v>,env:test` (see
 * agentTagsEnv). Used by the end-to-end dashboard tests and by the preview
 * screenshots.
 *
 * What is sent, per version (A = 1.4, B = 1.5):
 * - 2,000 timings of `checkout.time` (ms): A log-uniform over 20..300 ms,
 *   B exactly A × 1.5, so B's p99 over A's is 1.5 whatever the buckets are;
 *   each with `outcome:ok` or `outcome:error` (2 % of A, 5 % of B, spread
 *   evenly over the sending);
 * - the gauge `runtime.memory.rss_bytes` (A 150 MiB, B 210 MiB);
 * - the counter `checkout.hits` at a steady known rate;
 * - events `feature-used` (POST /v1/collect) with known counts, one feature
 *   used exactly once, and one ("Legacy import") last used 8 days ago
 *   through the item's `timestamp`.
 *
 * Zero dependencies beyond Node, so it also runs as a script:
 *   node scripts/answer-workload.mjs A_UDP:A_HTTP B_UDP:B_HTTP [--line-tags]
 */
import { createSocket } from 'node:dgram';
import { pathToFileURL } from 'node:url';

export const SERVICE = 'shop';
export const ENV = 'test';
export const VERSION_A = '1.4';
export const VERSION_B = '1.5';
/** B's timings are A's times this. */
export const SLOWDOWN = 1.5;
export const TIMINGS_PER_VERSION = 2000;
const TIMER_MIN_MS = 20;
const TIMER_MAX_MS = 300;
/** Every n-th timing (in sending order) is an error: 1/50 = 2 % for A, 1/20 = 5 % for B. */
const ERROR_EVERY = { [VERSION_A]: 50, [VERSION_B]: 20 };
const RSS_BYTES = { [VERSION_A]: 150 * 2 ** 20, [VERSION_B]: 210 * 2 ** 20 };
const HITS_PER_SECOND = 40;
const DEFAULT_DURATION_MS = 8_000;
const TICK_MS = 100;
/** Lines per datagram: far below a loopback datagram's size, so no line is split or cut. */
const LINES_PER_DATAGRAM = 40;
const LEGACY_AGE_S = 8 * 86_400;

/**
 * Uses per feature and version. "Legacy import" is sent first, with a
 * timestamp 8 days back (its counter still counts now: the timestamp moves
 * only the last-seen time). "Print" is used exactly once.
 */
const FEATURE_USES = {
  'Export PDF': { [VERSION_A]: 30, [VERSION_B]: 18 },
  Search: { [VERSION_A]: 14, [VERSION_B]: 16 },
  'Share link': { [VERSION_A]: 9, [VERSION_B]: 6 },
  'Dark mode': { [VERSION_A]: 3, [VERSION_B]: 4 },
  'Legacy import': { [VERSION_A]: 2, [VERSION_B]: 0 },
  Print: { [VERSION_A]: 0, [VERSION_B]: 1 },
};
const LEGACY_FEATURE = 'Legacy import';
const ONCE_FEATURE = 'Print';

/** The `TALLY_TAGS` value an agent beside `version` is started with. */
export function agentTagsEnv(version) {
  return `service:${SERVICE},version:${version},env:${ENV}`;
}

/** A timing's value for rank i of n (log-uniform between min and max): known quantiles, spread over many buckets. */
function baseTimingMs(rank, n) {
  return TIMER_MIN_MS * (TIMER_MAX_MS / TIMER_MIN_MS) ** ((rank + 0.5) / n);
}

/** Sending order: a fixed permutation of the ranks, so every part of the sending holds the whole distribution. */
function sendingOrder(n) {
  const step = 617; // prime, coprime with n = 2000: i → i·617 mod n visits every rank once
  return Array.from({ length: n }, (_, i) => (i * step) % n);
}

/** The q-quantile of sorted values as the smallest value with at least q·n values at or below it. */
function quantile(sorted, q) {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

function timingsFor(version) {
  const factor = version === VERSION_B ? SLOWDOWN : 1;
  const order = sendingOrder(TIMINGS_PER_VERSION);
  return order.map((rank, i) => ({
    ms: Number((baseTimingMs(rank, TIMINGS_PER_VERSION) * factor).toFixed(3)),
    outcome: i % ERROR_EVERY[version] === 0 ? 'error' : 'ok',
  }));
}

function timerTruth(timings) {
  const seconds = timings.map((t) => t.ms / 1000).sort((x, y) => x - y);
  const errors = timings.filter((t) => t.outcome !== 'ok').length;
  return {
    count: timings.length,
    sumSeconds: seconds.reduce((s, v) => s + v, 0),
    mean: seconds.reduce((s, v) => s + v, 0) / seconds.length,
    p50: quantile(seconds, 0.5),
    p90: quantile(seconds, 0.9),
    p95: quantile(seconds, 0.95),
    p99: quantile(seconds, 0.99),
    p999: quantile(seconds, 0.999),
    errors,
    errorShare: errors / timings.length,
  };
}

/** One version's feature uses in sending order: each feature's uses evenly spaced over the sending, so none is bunched. */
function spreadEvents(version) {
  const placed = [];
  for (const [feature, uses] of Object.entries(FEATURE_USES)) {
    if (feature === LEGACY_FEATURE) continue;
    const n = uses[version];
    for (let k = 0; k < n; k++) placed.push({ feature, at: (k + 0.5) / n });
  }
  placed.sort((x, y) => x.at - y.at || x.feature.localeCompare(y.feature));
  return placed.map((p) => p.feature);
}

function identityTags(version) {
  return { service: SERVICE, version, env: ENV };
}

function statsdTags(tags) {
  const parts = Object.entries(tags).map(([k, v]) => `${k}:${v}`);
  return parts.length ? `|#${parts.join(',')}` : '';
}

async function postCollect(httpPort, items) {
  const res = await fetch(`http://127.0.0.1:${httpPort}/v1/collect`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(items),
    signal: AbortSignal.timeout(10_000),
  });
  const body = await res.text();
  if (res.status !== 202) throw new Error(`POST /v1/collect to port ${httpPort}: HTTP ${res.status}: ${body.slice(0, 500)}`);
}

/**
 * Sends the workload to two agents (A runs version 1.4, B 1.5) and returns
 * the truth once everything was handed over (UDP: taken by the kernel;
 * HTTP: answered 202).
 *
 * @param {{ a: { udpPort: number, httpPort: number }, b: { udpPort: number, httpPort: number } }} agents
 * @param {{ lineTags?: boolean, durationMs?: number }} [options]
 *   lineTags: also send service/version/env on every line, for agents without
 *   global tags; durationMs: how long the steady part lasts (default 8 s: long
 *   enough that a few 4-second rate windows lie wholly within it).
 */
export async function sendAnswerWorkload(agents, options = {}) {
  const lineTags = options.lineTags ?? false;
  const durationMs = options.durationMs ?? DEFAULT_DURATION_MS;
  const targets = [
    { version: VERSION_A, ...agents.a },
    { version: VERSION_B, ...agents.b },
  ];
  const socket = createSocket('udp4');
  const sendUdp = (port, lines) =>
    new Promise((resolve, reject) => socket.send(Buffer.from(lines.join('\n')), port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  const extra = (version) => (lineTags ? identityTags(version) : {});

  try {
    const startedAtS = Date.now() / 1000;
    const legacyTimestampS = Math.floor(startedAtS) - LEGACY_AGE_S;
    const plans = targets.map((t) => ({
      ...t,
      timings: timingsFor(t.version),
      events: spreadEvents(t.version),
      timingsSent: 0,
      eventsSent: 0,
      hitsSent: 0,
    }));

    // First the feature last used long ago, with its own time.
    for (const p of plans) {
      const uses = FEATURE_USES[LEGACY_FEATURE][p.version];
      if (uses === 0) continue;
      const items = Array.from({ length: uses }, () => ({
        name: 'feature-used',
        value: LEGACY_FEATURE,
        timestamp: legacyTimestampS,
        ...(lineTags ? { tags: identityTags(p.version) } : {}),
      }));
      await postCollect(p.httpPort, items);
    }

    const t0 = Date.now();
    for (;;) {
      const elapsed = Math.min(Date.now() - t0, durationMs);
      const share = elapsed / durationMs;
      const work = [];
      for (const p of plans) {
        const lines = [];
        const timingsDue = Math.floor(share * p.timings.length);
        for (; p.timingsSent < timingsDue; p.timingsSent++) {
          const t = p.timings[p.timingsSent];
          lines.push(`checkout.time:${t.ms}|ms${statsdTags({ outcome: t.outcome, ...extra(p.version) })}`);
        }
        const hitsDue = Math.floor((elapsed / 1000) * HITS_PER_SECOND);
        if (hitsDue > p.hitsSent) {
          lines.push(`checkout.hits:${hitsDue - p.hitsSent}|c${statsdTags(extra(p.version))}`);
          p.hitsSent = hitsDue;
        }
        lines.push(`runtime.memory.rss_bytes:${RSS_BYTES[p.version]}|g${statsdTags(extra(p.version))}`);
        for (let i = 0; i < lines.length; i += LINES_PER_DATAGRAM) work.push(sendUdp(p.udpPort, lines.slice(i, i + LINES_PER_DATAGRAM)));
        const eventsDue = Math.floor(share * p.events.length);
        const items = [];
        for (; p.eventsSent < eventsDue; p.eventsSent++) {
          items.push({ name: 'feature-used', value: p.events[p.eventsSent], ...(lineTags ? { tags: identityTags(p.version) } : {}) });
        }
        if (items.length) work.push(postCollect(p.httpPort, items));
      }
      await Promise.all(work);
      if (elapsed >= durationMs) break;
      await new Promise((r) => setTimeout(r, TICK_MS));
    }
    const endedAtS = Date.now() / 1000;

    const perVersion = {};
    for (const p of plans) perVersion[p.version] = timerTruth(p.timings);
    const counts = {};
    for (const [feature, uses] of Object.entries(FEATURE_USES)) counts[feature] = uses[VERSION_A] + uses[VERSION_B];
    const order = Object.keys(counts).sort((x, y) => counts[y] - counts[x] || x.localeCompare(y));
    const hitsTotal = Object.fromEntries(plans.map((p) => [p.version, p.hitsSent]));
    return {
      service: SERVICE,
      env: ENV,
      versionA: VERSION_A,
      versionB: VERSION_B,
      startedAtS,
      endedAtS,
      timer: {
        statsdName: 'checkout.time',
        metric: 'checkout_time_seconds',
        slowdown: SLOWDOWN,
        perVersion,
        p99Ratio: perVersion[VERSION_B].p99 / perVersion[VERSION_A].p99,
      },
      memory: { statsdName: 'runtime.memory.rss_bytes', metric: 'runtime_memory_rss_bytes', perVersion: { ...RSS_BYTES } },
      counter: {
        statsdName: 'checkout.hits',
        metric: 'checkout_hits_total',
        perSecondPerVersion: HITS_PER_SECOND,
        totalPerVersion: hitsTotal,
        durationS: durationMs / 1000,
      },
      features: {
        event: 'feature_used',
        counts,
        order,
        onceUsed: ONCE_FEATURE,
        lastUsedLongAgo: { feature: LEGACY_FEATURE, timestampS: legacyTimestampS },
        /** Features whose last use is older than N days, for N in the dashboard's idle_days choices. */
        idleForDays: { 1: 1, 7: 1, 30: 0 },
      },
    };
  } finally {
    await new Promise((r) => socket.close(() => r(undefined)));
  }
}

function parsePorts(arg) {
  const m = /^(\d+):(\d+)$/.exec(arg ?? '');
  if (!m) throw new Error(`expected UDP_PORT:HTTP_PORT, got ${JSON.stringify(arg)}`);
  return { udpPort: Number(m[1]), httpPort: Number(m[2]) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const positional = args.filter((a) => !a.startsWith('--'));
  if (positional.length !== 2) {
    console.error('usage: node scripts/answer-workload.mjs A_UDP:A_HTTP B_UDP:B_HTTP [--line-tags]');
    process.exit(2);
  }
  const truth = await sendAnswerWorkload(
    { a: parsePorts(positional[0]), b: parsePorts(positional[1]) },
    { lineTags: args.includes('--line-tags') },
  );
  console.log(JSON.stringify(truth, null, 2));
}
