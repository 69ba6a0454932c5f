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
}

/**
 * Hands Tally's own pre-aggregated series to an OpenTelemetry MetricReader.
 * The SDK supplies the data model and exporters; aggregation stays in our hot
 * path, so the SDK is called once per collection, not once per metric.
 */
export class AggregateProducer implements MetricProducer {
  constructor(private readonly opts: AggregateProducerOptions) {}

  async collect(): Promise<CollectionResult> {
    const endTime = millisToHrTime((this.opts.now ?? Date.now)());
    const metrics: MetricData[] = [];
    this.opts.aggregator.forEachFamily((family) => {
      const data = toMetricData(family, endTime);
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

function toMetricData(family: Family, endTime: HrTime): MetricData | undefined {
  const descriptor = familyDescriptor(family);
  switch (family.type) {
    case 'counter':
      return {
        descriptor,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.SUM,
        isMonotonic: true,
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
          point<Histogram>(s, endTime, {
            buckets: { boundaries: family.bounds, counts: Array.from(s.bucketCounts) },
            sum: s.sum,
            count: s.count,
          }),
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
