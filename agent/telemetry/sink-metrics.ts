import { ValueType, type Histogram, type Meter } from '@opentelemetry/api';
import type { SinkStats } from './sink-stats.js';

/** From a few series (under a millisecond) to a million (seconds), where anything past 50 ms is a block that loses UDP. */
const ENCODE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Attempt latencies from a loopback collector (ms) to a slow remote one (tens of seconds). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** A push sink and its spool queue as these metrics read them (export/push-sinks.ts gives them). */
export interface SinkView {
  readonly stats: SinkStats;
  readonly queue: { readonly bytes: number; readonly records: number; readonly oldestAppendedAtMs: number | undefined };
  /** How full the queue is, 0 to 1. */
  readonly fill: number;
}

/**
 * Per push sink and its spool queue, on /metrics: what is queued, how old
 * the oldest batch is, what was sent, retried, dropped (by reason) and
 * dead-lettered, the time to encode a flush and the latency of each
 * attempt, and when the last error was.
 */
export function registerSinkMetrics(meter: Meter, sinks: { views(): readonly SinkView[] }, now: () => number = Date.now): { attempt: Histogram; encode: Histogram } {
  const gauge = (name: string, description: string, unit = '') =>
    meter.createObservableGauge(name, { description, unit, valueType: ValueType.DOUBLE });
  const counter = (name: string, description: string) =>
    meter.createObservableCounter(name, { description, valueType: ValueType.INT });

  gauge('tally_queue_bytes', 'Undelivered bytes in each sink queue.', 'By').addCallback((r) => {
    for (const v of sinks.views()) r.observe(v.queue.bytes, { sink: v.stats.sink });
  });
  gauge('tally_queue_records', 'Undelivered batches (requests) in each sink queue.').addCallback((r) => {
    for (const v of sinks.views()) r.observe(v.queue.records, { sink: v.stats.sink });
  });
  gauge('tally_queue_fill_ratio', 'Share of the queue\'s max_bytes in use.').addCallback((r) => {
    for (const v of sinks.views()) r.observe(v.fill, { sink: v.stats.sink });
  });
  gauge('tally_queue_oldest_record_age_seconds', 'Age of the oldest undelivered batch; 0 when the queue is empty.', 's').addCallback((r) => {
    const t = now();
    for (const v of sinks.views()) r.observe(v.queue.oldestAppendedAtMs === undefined ? 0 : (t - v.queue.oldestAppendedAtMs) / 1000, { sink: v.stats.sink });
  });
  counter('tally_sink_enqueued', 'Requests appended to each sink queue.').addCallback((r) => {
    for (const v of sinks.views()) r.observe(v.stats.enqueued, { sink: v.stats.sink });
  });
  counter('tally_sink_sent', 'Requests delivered (2xx) by each sink.').addCallback((r) => {
    for (const v of sinks.views()) r.observe(v.stats.sent, { sink: v.stats.sink });
  });
  counter('tally_sink_retries', 'Attempts that failed and will be retried.').addCallback((r) => {
    for (const v of sinks.views()) r.observe(v.stats.retries, { sink: v.stats.sink });
  });
  counter('tally_sink_dead_lettered', 'Requests refused for good and moved to the dead-letter folder.').addCallback((r) => {
    for (const v of sinks.views()) r.observe(v.stats.deadLettered, { sink: v.stats.sink });
  });
  counter('tally_dead_letter_removed', 'Dead-letter entries removed, oldest first, to keep the folder within dead_letter.max_bytes.').addCallback((r) => {
    for (const v of sinks.views()) r.observe(v.stats.deadLettersRemoved, { sink: v.stats.sink });
  });
  counter('tally_queue_dropped', 'Requests that left a queue undelivered, by reason.').addCallback((r) => {
    for (const v of sinks.views()) for (const [reason, n] of v.stats.dropped) r.observe(n, { sink: v.stats.sink, reason });
  });
  counter('tally_queue_refused', 'Flushes a queue could not take (full with refuse_new, or the append failed); their data goes with the next flush.').addCallback((r) => {
    for (const v of sinks.views()) for (const [reason, n] of v.stats.refused) r.observe(n, { sink: v.stats.sink, reason });
  });
  gauge('tally_sink_last_error_timestamp_seconds', 'When the sink last failed (0: never); the error is in the log.', 's').addCallback((r) => {
    for (const v of sinks.views()) r.observe(v.stats.lastError ? v.stats.lastError.atMs / 1000 : 0, { sink: v.stats.sink });
  });
  gauge('tally_sink_last_error_status', 'HTTP status of the sink\'s last failure; 0 for a network error or none.').addCallback((r) => {
    for (const v of sinks.views()) r.observe(v.stats.lastError?.status ?? 0, { sink: v.stats.sink });
  });
  gauge('tally_sink_last_delivery_timestamp_seconds', 'When the sink last delivered a request (0: not yet).', 's').addCallback((r) => {
    for (const v of sinks.views()) r.observe(v.stats.lastDeliveryMs / 1000, { sink: v.stats.sink });
  });
  const attempt = meter.createHistogram('tally_sink_request_duration_seconds', {
    description: 'Time per delivery attempt, by sink and outcome (delivered, retry, permanent).',
    unit: 's',
    advice: { explicitBucketBoundaries: LATENCY_BUCKETS },
  });
  const encode = meter.createHistogram('tally_sink_encode_duration_seconds', {
    description: 'Time to encode one flush into the sink\'s requests, by sink; the thread that reads the sockets waits meanwhile.',
    unit: 's',
    advice: { explicitBucketBoundaries: ENCODE_BUCKETS },
  });
  return { attempt, encode };
}
