import { ValueType, type HrTime } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type DataPoint,
  type Histogram,
  type MetricData,
  type MetricDescriptor,
  type MetricProducer,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import type { Aggregator } from '../aggregate/aggregator.js';
import type { Family, Series } from '../aggregate/series.js';
import { SliceClock } from '../shared/slice-clock.js';
import { takeMetricsSnapshot, type MetricsSnapshot, type SnapshotFamily } from './metrics-snapshot.js';
import { heldAtZero, type ZeroHold } from './zero-hold.js';

export interface AggregateProducerOptions {
  aggregator: Aggregator;
  resource: Resource;
  scope: { name: string; version: string };
  now?: () => number;
  /**
   * For the producer a storing scraper reads: a counter or histogram series
   * younger than NEW_SERIES_HOLD_MS (zero-hold.ts) is shown at zero until the flush after
   * the first such read, so the scraper stores its first increment as an
   * increase from 0. Push sinks carry start times instead.
   */
  zeroNewSeries?: boolean;
}


/**
 * Hands Tally's own pre-aggregated series to an OpenTelemetry MetricReader.
 * The SDK supplies the data model and exporters; aggregation stays in our hot
 * path, so the SDK is called once per collection, not once per metric.
 */
export class AggregateProducer implements MetricProducer {
  constructor(private readonly opts: AggregateProducerOptions) {}

  async collect(): Promise<CollectionResult> {
    const nowMs = (this.opts.now ?? Date.now)();
    // Which series, and the set counts, are fixed here, before the first turn of the event loop.
    const snapshot = takeMetricsSnapshot(this.opts.aggregator, this.opts.zeroNewSeries === true, nowMs);
    return { resourceMetrics: await toResourceMetrics(snapshot, this.opts.resource, this.opts.scope), errors: [] };
  }
}

/**
 * A snapshot's families as the SDK's ResourceMetrics, every point ending at
 * the snapshot's time. Values are read as each point is made; it yields to
 * the event loop between slices (100,000 series held it 0.3 s in one piece),
 * so a flush of many series does not hold up the sockets.
 */
export async function toResourceMetrics(
  snapshot: MetricsSnapshot,
  resource: Resource,
  scope: { name: string; version: string },
): Promise<ResourceMetrics> {
  const endTime = millisToHrTime(snapshot.nowMs);
  const metrics: MetricData[] = [];
  const clock = new SliceClock();
  for (const scraped of snapshot.families) {
    const data = toMetricData(scraped.family);
    if (data === undefined) continue;
    const add = pointMaker(scraped, endTime, snapshot.hold, data.dataPoints as Array<DataPoint<unknown>>);
    for (let i = 0; i < scraped.length; i++) {
      add(i);
      if (clock.due()) await clock.turn();
    }
    if (data.dataPoints.length > 0) metrics.push(data);
  }
  return { resource, scopeMetrics: [{ scope, metrics }] };
}

/** A mapping rule's `help:`, else a default naming the family's statsd type and name. */
export function familyDescription(family: Family): string {
  return family.help ?? `statsd ${family.type} ${family.name}`;
}

/** The OpenTelemetry descriptor of a family, shared by every form of its data. */
export function familyDescriptor(family: Family): MetricDescriptor {
  return {
    // The Prometheus serializer appends `_total` to monotonic sums itself.
    name: family.type === 'counter' ? family.name.replace(/_total$/, '') : family.name,
    description: familyDescription(family),
    unit: family.unit,
    valueType: ValueType.DOUBLE,
  };
}


/** A family's MetricData with no points yet; undefined for summaries, which the SDK has no point for (summary-data.ts). */
export function toMetricData(family: Family): MetricData | undefined {
  const descriptor = familyDescriptor(family);
  switch (family.type) {
    case 'counter':
      return { descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.SUM, isMonotonic: true, dataPoints: [] };
    case 'up_down_counter':
      // A gauge to Prometheus and remote write; no zero hold, as rate() is not what a level is read with.
      return { descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.SUM, isMonotonic: false, dataPoints: [] };
    case 'gauge':
      return { descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.GAUGE, dataPoints: [] };
    case 'histogram':
      return { descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.HISTOGRAM, dataPoints: [] };
    case 'summary':
      return undefined;
  }
}

/** Appends the point of series i of the family, if it has one now. */
export function pointMaker(scraped: SnapshotFamily, endTime: HrTime, hold: ZeroHold | undefined, out: Array<DataPoint<unknown>>): (i: number) => void {
  const { family, series, setCounts } = scraped;
  switch (family.type) {
    case 'counter':
      return (i) => {
        const s = series[i]!;
        out.push(point(s, endTime, heldAtZero(s, hold) ? 0 : s.value));
      };
    case 'up_down_counter':
      return (i) => out.push(point(series[i]!, endTime, series[i]!.value));
    case 'gauge':
      // A set has no value until its first interval completes: a partial count would read as a drop later.
      if (setCounts !== undefined) return (i) => void (setCounts[i]! >= 0 && out.push(point(series[i]!, endTime, setCounts[i]!)));
      return (i) => out.push(point(series[i]!, endTime, series[i]!.value));
    case 'histogram':
      return (i) => {
        const s = series[i]!;
        out.push(
          point<Histogram>(
            s,
            endTime,
            heldAtZero(s, hold)
              ? { buckets: { boundaries: family.bounds, counts: new Array<number>(s.bucketCounts.length).fill(0) }, sum: 0, count: 0 }
              : { buckets: { boundaries: family.bounds, counts: Array.from(s.bucketCounts) }, sum: s.sum, count: s.count },
          ),
        );
      };
    case 'summary':
      return () => undefined;
  }
}

export function point<T>(s: Series, endTime: HrTime, value: T): DataPoint<T> {
  return { attributes: s.attributes, startTime: millisToHrTime(s.startTimeMs), endTime, value };
}
