import { z } from 'zod';
import { bucketLayout, exponentialBounds } from '../shared/bucket-bounds.js';
import { duration } from '../shared/duration-schema.js';
import type { AggregatorOptions } from './aggregator.js';
import { compileNamePatterns } from './name-patterns.js';

/**
 * The config's `aggregation:` and `limits:` sections, beside the aggregator
 * they configure, and the aggregator's options made from them.
 */

// Prometheus client libraries' default buckets, for h and d metrics, whose
// unit the agent cannot know.
export const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Timers are seconds, so their default can be fine: 8 bounds per doubling
 * from 1 ms to 60 s (128 bounds) keep any p50 or p99 in that range within
 * 9.2 % once Prometheus interpolates it. With the client libraries' 11
 * bounds a p99 of 0.283 s read 0.361 s and one of 0.423 s read 0.381 s
 * (both in the (0.25, 0.5] bucket), so "is B slower than A" came out wrong.
 */
export const DEFAULT_TIMER_LAYOUT = { min: 0.001, max: 60, per_octave: 8 } as const;
export const DEFAULT_TIMER_BUCKETS = exponentialBounds(DEFAULT_TIMER_LAYOUT.min, DEFAULT_TIMER_LAYOUT.max, DEFAULT_TIMER_LAYOUT.per_octave);

export const aggregationSchema = z
  .object({
    // prefault, not default: a zod default is returned as-is without running
    // the transform, which would leave the string "10s" where milliseconds
    // are expected.
    flush_interval: duration
      .refine((ms) => ms >= 100, { message: 'flush_interval must be at least 100ms' })
      .prefault('10s')
      .describe(
        'How often sets roll over and batches are cut. A duration such as "500ms", "10s", "1m" or "1h"; a bare number is seconds.',
      ),
    timer_buckets: bucketLayout
      .prefault({ ...DEFAULT_TIMER_LAYOUT })
      .describe('Histogram bucket bounds for timers (ms), in seconds: a list, or { min, max, per_octave } for a geometric layout.'),
    histogram_buckets: bucketLayout
      .prefault([...DEFAULT_BUCKETS])
      .describe('Bucket bounds for h and d metrics, in the unit sent: a list, or { min, max, per_octave }.'),
    series_ttl: duration
      .prefault(0)
      .describe('A series idle this long is dropped at a flush (a departed pod); 0 keeps series for as long as the agent runs.'),
    up_down_counters: z
      .array(z.string().regex(/^[^\s|:@#]+$/, 'a statsd name pattern: no spaces, "|", ":", "@" or "#"'))
      .default([])
      .describe(
        'statsd counters (by the name sent; "*" stands for any part of one dot-separated component) kept as up-down counters: negative counts (decrement()) are added, and the metric is an OpenTelemetry non-monotonic sum, a gauge without "_total" in Prometheus. Other counters refuse negative counts as negative_counter, with a warning.',
      ),
  })
  .strict();

export const limitsSchema = z
  .object({
    max_series_per_metric: z
      .number()
      .int()
      .positive()
      .default(10000)
      .describe('Series one metric name may hold; lines that would create more are dropped and counted.'),
    max_series: z
      .number()
      .int()
      .positive()
      .default(200000)
      .describe('Series the agent holds in all; lines that would create more are dropped and counted.'),
    max_line_bytes: z
      .number()
      .int()
      .positive()
      .default(65536)
      .describe('Longest statsd line accepted, in bytes.'),
    max_tags: z.number().int().positive().default(64).describe('Most tags one line may carry.'),
    max_tag_value_bytes: z
      .number()
      .int()
      .positive()
      .default(1024)
      .describe('Longest tag value accepted, in bytes (UTF-8).'),
    max_event_text_bytes: z
      .number()
      .int()
      .positive()
      .default(4096)
      .describe('Longest DogStatsD event text accepted, in bytes (UTF-8).'),
  })
  .strict();

export type AggregationConfig = z.output<typeof aggregationSchema>;
export type LimitsConfig = z.output<typeof limitsSchema>;

/** What the aggregator takes from `aggregation:` and `limits:`. */
export function aggregatorSettings(
  aggregation: AggregationConfig,
  limits: LimitsConfig,
): Pick<AggregatorOptions, 'timerBuckets' | 'histogramBuckets' | 'seriesTtlMs' | 'upDownCounters' | 'limits'> {
  return {
    timerBuckets: aggregation.timer_buckets,
    histogramBuckets: aggregation.histogram_buckets,
    seriesTtlMs: aggregation.series_ttl,
    upDownCounters: compileNamePatterns(aggregation.up_down_counters),
    limits: {
      maxSeriesPerMetric: limits.max_series_per_metric,
      maxSeries: limits.max_series,
      maxTags: limits.max_tags,
      maxTagValueBytes: limits.max_tag_value_bytes,
    },
  };
}
