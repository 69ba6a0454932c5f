import { ValueType, type Counter, type Histogram, type Meter } from '@opentelemetry/api';
import type { AggregationCounters } from './aggregation-counters.js';
import type { IngestCounters } from './ingest-counters.js';

export interface SelfMetricsSources {
  counters: IngestCounters;
  aggregation: AggregationCounters;
  /** Open stream connections by listener. */
  openConnections: () => Array<[string, number]>;
  seriesCount: () => number;
  /** Datagrams the kernel dropped on each datagram listener's socket. */
  kernelDrops: () => Array<[string, number]>;
  /** Series held by the metric name that holds the most. */
  largestMetricSeries: () => number;
  /** The limits those two are held to. */
  seriesLimits: { maxSeries: number; maxSeriesPerMetric: number };
}

export interface SelfMetrics {
  flushDuration: Histogram;
  batchesSuperseded: Counter;
}

/**
 * The agent's own health on its /metrics endpoint, under `tally_`. Observable
 * instruments read the plain counters at scrape time, so the hot path only
 * increments numbers.
 */
export function registerSelfMetrics(meter: Meter, src: SelfMetricsSources): SelfMetrics {
  const c = src.counters;
  const a = src.aggregation;
  const counter = (name: string, description: string, unit = '') =>
    meter.createObservableCounter(name, { description, unit, valueType: ValueType.INT });

  counter('tally_packets_received', 'Datagrams and stream reads received, by listener.').addCallback((r) => {
    for (const [listener, n] of Object.entries(c.packets)) r.observe(n, { listener });
  });
  counter(
    'tally_packets_dropped',
    'Datagrams lost before the agent read them, by listener and reason (kernel_buffer: the socket receive buffer was full).',
  ).addCallback((r) => {
    for (const [listener, n] of src.kernelDrops()) r.observe(n, { listener, reason: 'kernel_buffer' });
  });
  counter('tally_bytes_received', 'Payload bytes received, by listener.').addCallback((r) => {
    for (const [listener, n] of Object.entries(c.bytes)) r.observe(n, { listener });
  });
  counter('tally_connections', 'Stream connections (tcp, unix) by listener and outcome: accepted, refused, error.').addCallback(
    (r) => {
      for (const [key, n] of c.connections) {
        const [listener, outcome] = key.split('\u0000');
        r.observe(n, { listener, outcome });
      }
    },
  );
  meter
    .createObservableGauge('tally_connections_open', { description: 'Stream connections open now.', valueType: ValueType.INT })
    .addCallback((r) => {
      for (const [listener, n] of src.openConnections()) r.observe(n, { listener });
    });
  counter('tally_metrics_received', 'statsd lines that parsed.').addCallback((r) => r.observe(c.metricsReceived));
  counter('tally_metrics_aggregated', 'Parsed lines applied to a series.').addCallback((r) =>
    r.observe(a.metricsAggregated),
  );
  counter('tally_parse_errors', 'Rejected or partly rejected statsd lines, by reason.').addCallback((r) => {
    for (const [reason, n] of c.parseErrors) r.observe(n, { reason });
  });
  counter('tally_metrics_dropped', 'Parsed lines not aggregated, by reason.').addCallback((r) => {
    for (const [reason, n] of a.metricsDropped) r.observe(n, { reason });
  });
  counter('tally_series_dropped', 'Lines refused because they would create a series past a limit, by reason.').addCallback(
    (r) => {
      for (const [reason, n] of a.seriesDropped) r.observe(n, { reason });
    },
  );
  counter('tally_series_expired', 'Series dropped after sitting idle past their ttl.').addCallback((r) =>
    r.observe(a.seriesExpired),
  );
  meter
    .createObservableGauge('tally_series', { description: 'Series held in memory.', valueType: ValueType.INT })
    .addCallback((r) => r.observe(src.seriesCount()));
  meter
    .createObservableGauge('tally_series_largest_metric', {
      description: 'Series held by the metric name that holds the most; compare with tally_series_limit{limit="max_series_per_metric"}.',
      valueType: ValueType.INT,
    })
    .addCallback((r) => r.observe(src.largestMetricSeries()));
  meter
    .createObservableGauge('tally_series_limit', { description: 'The configured series limits, by limit.', valueType: ValueType.INT })
    .addCallback((r) => {
      r.observe(src.seriesLimits.maxSeries, { limit: 'max_series' });
      r.observe(src.seriesLimits.maxSeriesPerMetric, { limit: 'max_series_per_metric' });
    });

  const flushDuration = meter.createHistogram('tally_flush_duration_seconds', {
    description: 'Time taken by one flush of the aggregation state.',
    unit: 's',
    advice: { explicitBucketBoundaries: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1] },
  });
  const batchesSuperseded = meter.createCounter('tally_flush_batches_superseded_total', {
    description: 'Flush batches replaced by the next flush before the sinks took them, because the one before was still encoding: nothing is lost (metrics are cumulative, events are carried), but the sinks see fewer points.',
  });
  return { flushDuration, batchesSuperseded };
}
