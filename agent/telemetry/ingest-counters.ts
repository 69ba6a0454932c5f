import { PARSE_ERROR_REASONS, type ParseErrorReason } from './parse-error-reasons.js';

export const LISTENERS = ['udp', 'tcp', 'unix', 'unixgram'] as const;
export type ListenerName = (typeof LISTENERS)[number];

export const METRIC_DROP_REASONS = ['type_conflict', 'mapping_drop', 'event_buffer_full'] as const;

export const SERIES_DROP_REASONS = ['cardinality'] as const;
export type SeriesDropReason = (typeof SERIES_DROP_REASONS)[number];
export type MetricDropReason = (typeof METRIC_DROP_REASONS)[number];

/**
 * The agent's own counts, plain numbers bumped on the hot path and read by the
 * self-telemetry callbacks at scrape time. One instance per agent, passed in.
 */
export class IngestCounters {
  readonly packets: Record<ListenerName, number> = { udp: 0, tcp: 0, unix: 0, unixgram: 0 };
  readonly bytes: Record<ListenerName, number> = { udp: 0, tcp: 0, unix: 0, unixgram: 0 };
  /** Stream connections (tcp, unix) by what happened to them. */
  readonly connections = new Map<string, number>();
  /** Lines that parsed. */
  metricsReceived = 0;
  /** Lines applied to a series (received minus dropped). */
  metricsAggregated = 0;
  readonly parseErrors = new Map<ParseErrorReason, number>(PARSE_ERROR_REASONS.map((r) => [r, 0]));
  readonly metricsDropped = new Map<MetricDropReason, number>(METRIC_DROP_REASONS.map((r) => [r, 0]));
  /** Series dropped after sitting idle past their ttl. */
  seriesExpired = 0;
  /** Lines refused because their new series would pass a cardinality limit. */
  readonly seriesDropped = new Map<SeriesDropReason, number>(SERIES_DROP_REASONS.map((r) => [r, 0]));

  connection(listener: ListenerName, event: string): void {
    const key = `${listener}\u0000${event}`;
    this.connections.set(key, (this.connections.get(key) ?? 0) + 1);
  }

  parseError(reason: ParseErrorReason, n = 1): void {
    this.parseErrors.set(reason, this.parseErrors.get(reason)! + n);
  }

  seriesDrop(reason: SeriesDropReason, n = 1): void {
    this.seriesDropped.set(reason, this.seriesDropped.get(reason)! + n);
  }

  metricDrop(reason: MetricDropReason, n = 1): void {
    this.metricsDropped.set(reason, this.metricsDropped.get(reason)! + n);
  }
}
