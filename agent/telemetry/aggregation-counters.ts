export const METRIC_DROP_REASONS = ['type_conflict', 'mapping_drop', 'event_buffer_full'] as const;
export type MetricDropReason = (typeof METRIC_DROP_REASONS)[number];

export const SERIES_DROP_REASONS = ['cardinality'] as const;
export type SeriesDropReason = (typeof SERIES_DROP_REASONS)[number];

/**
 * What became of the lines that parsed: applied to a series, or dropped by
 * reason; series refused at a limit, and series expired. Plain numbers, as
 * IngestCounters, read by the self-telemetry callbacks at scrape time.
 */
export class AggregationCounters {
  /** Lines applied to a series (received minus dropped). */
  metricsAggregated = 0;
  readonly metricsDropped = new Map<MetricDropReason, number>(METRIC_DROP_REASONS.map((r) => [r, 0]));
  /** Series dropped after sitting idle past their ttl. */
  seriesExpired = 0;
  /** Lines refused because their new series would pass a cardinality limit. */
  readonly seriesDropped = new Map<SeriesDropReason, number>(SERIES_DROP_REASONS.map((r) => [r, 0]));

  metricDrop(reason: MetricDropReason, n = 1): void {
    this.metricsDropped.set(reason, this.metricsDropped.get(reason)! + n);
  }

  seriesDrop(reason: SeriesDropReason, n = 1): void {
    this.seriesDropped.set(reason, this.seriesDropped.get(reason)! + n);
  }
}
