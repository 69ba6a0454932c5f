// What the in-process micro-benchmarks share: an aggregator as the agent
// makes one, with room for millions of series and a silent log, and the
// UDP sender's tag sets (bench/udp-sender.c). Reads dist/ (`npm run build`).

/**
 * An aggregator holding up to 4 million series; `timerBuckets` and
 * `histogramBuckets` default to the agent's, `exponential` to 'rules' (as
 * with an OTLP sink); 'all' is what a remote-write sink with native
 * histograms makes the agent keep.
 */
export async function benchAggregator({ timerBuckets, histogramBuckets, exponential } = {}) {
  const { pino } = await import('pino');
  const { Aggregator } = await import('../dist/agent/aggregate/aggregator.js');
  const { IngestCounters } = await import('../dist/agent/telemetry/ingest-counters.js');
  const { DEFAULT_BUCKETS, DEFAULT_TIMER_BUCKETS } = await import('../dist/agent/aggregate/aggregation-config.js');
  return new Aggregator({
    timerBuckets: timerBuckets ?? DEFAULT_TIMER_BUCKETS,
    histogramBuckets: histogramBuckets ?? DEFAULT_BUCKETS,
    exponential: exponential ?? 'rules',
    counters: new IngestCounters(),
    logger: pino({ level: 'silent' }),
    limits: { maxSeries: 4e6, maxSeriesPerMetric: 4e6, maxTags: 64, maxTagValueBytes: 1024 },
  });
}

const ROUTES = ['/a', '/b', '/c', '/d', '/e'];

/** The j-th of the sender's ten DogStatsD tag sets (j in 0..9): two or three tags, sets of one name differ. */
export function senderTags(j) {
  return `env:${j % 2 ? 'staging' : 'prod'},route:${ROUTES[(j >> 1) % 5]}${j % 3 === 0 ? ',region:eu' : ''}`;
}
