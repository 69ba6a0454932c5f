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
} from '@opentelemetry/sdk-metrics';
import type { Aggregator, Family, Series } from '../aggregate/aggregator.js';

export interface AggregateProducerOptions {
  aggregator: Aggregator;
  resource: Resource;
  scope: { name: string; version: string };
  now?: () => number;
  /**
   * For the producer a storing scraper reads: a counter or histogram series
   * younger than NEW_SERIES_HOLD_MS is shown at zero until the flush after
   * the first such read, so the scraper stores its first increment as an
   * increase from 0. Push sinks carry start times instead.
   */
  zeroNewSeries?: boolean;
}

/**
 * Past this age a series is not held at zero for its first scrape: a scraper
 * that starts late would see every old counter drop to 0 and jump back, and
 * Prometheus would count the whole jump into the minutes it has just begun.
 * It is the staleness window, beyond which Prometheus would not join the two
 * samples anyway.
 */
export const NEW_SERIES_HOLD_MS = 5 * 60_000;

/**
 * Hands Tally's own pre-aggregated series to an OpenTelemetry MetricReader.
 * The SDK supplies the data model and exporters; aggregation stays in our hot
 * path, so the SDK is called once per collection, not once per metric.
 */
export class AggregateProducer implements MetricProducer {
  constructor(private readonly opts: AggregateProducerOptions) {}

  async collect(): Promise<CollectionResult> {
    const nowMs = (this.opts.now ?? Date.now)();
    const endTime = millisToHrTime(nowMs);
    const metrics: MetricData[] = [];
    const hold = this.opts.zeroNewSeries ? zeroHold(this.opts.aggregator, nowMs) : undefined;
    this.opts.aggregator.forEachFamily((family) => {
      const data = toMetricData(family, endTime, hold);
      if (data !== undefined && data.dataPoints.length > 0) metrics.push(data);
    });
    return {
      resourceMetrics: {
        resource: this.opts.resource,
        scopeMetrics: [{ scope: this.opts.scope, metrics }],
      },
      errors: [],
    };
  }
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

/** For a storing scraper's read: series younger than `since` are shown at 0 through the interval of their first such read. */
export interface ZeroHold {
  since: number;
  epoch: number;
}

/** The hold a storing scraper's read at `nowMs` applies. */
export function zeroHold(aggregator: Aggregator, nowMs: number): ZeroHold {
  return { since: nowMs - NEW_SERIES_HOLD_MS, epoch: aggregator.flushEpoch };
}

/** Whether this read shows the series at zero; the first storing read of a series starts its zero interval. */
export function heldAtZero(s: Series, hold: ZeroHold | undefined): boolean {
  if (hold === undefined || s.startTimeMs <= hold.since) return false;
  if (s.firstScrapedEpoch === -1) s.firstScrapedEpoch = hold.epoch;
  return s.firstScrapedEpoch === hold.epoch;
}

function toMetricData(family: Family, endTime: HrTime, hold: ZeroHold | undefined): MetricData | undefined {
  const descriptor = familyDescriptor(family);
  switch (family.type) {
    case 'counter':
      return {
        descriptor,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.SUM,
        isMonotonic: true,
        dataPoints: family.series.map((s) => point(s, endTime, heldAtZero(s, hold) ? 0 : s.value)),
      };
    case 'up_down_counter':
      // A gauge to Prometheus and remote write; no zero hold, as rate() is not what a level is read with.
      return {
        descriptor,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.SUM,
        isMonotonic: false,
        dataPoints: family.series.map((s) => point(s, endTime, s.value)),
      };
    case 'gauge':
      return {
        descriptor,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.GAUGE,
        // A set has no value until its first interval completes: a partial count would read as a drop later.
        dataPoints: family.series
          .filter((s) => s.members === null || s.lastIntervalCount >= 0)
          .map((s) => point(s, endTime, s.members === null ? s.value : s.lastIntervalCount)),
      };
    case 'histogram':
      return {
        descriptor,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.HISTOGRAM,
        dataPoints: family.series.map((s) =>
          point<Histogram>(
            s,
            endTime,
            heldAtZero(s, hold)
              ? { buckets: { boundaries: family.bounds, counts: new Array<number>(s.bucketCounts.length).fill(0) }, sum: 0, count: 0 }
              : { buckets: { boundaries: family.bounds, counts: Array.from(s.bucketCounts) }, sum: s.sum, count: s.count },
          ),
        ),
      };
    case 'summary':
      // The SDK has no summary data point; summary-data.ts hands these out, summary-text.ts renders them.
      return undefined;
  }
}

export function point<T>(s: Series, endTime: HrTime, value: T): DataPoint<T> {
  return { attributes: s.attributes, startTime: millisToHrTime(s.startTimeMs), endTime, value };
}
