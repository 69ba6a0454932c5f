import { millisToHrTime } from '@opentelemetry/core';
import { AggregationTemporality, DataPointType, type ExponentialHistogram, type MetricData } from '@opentelemetry/sdk-metrics';
import type { Aggregator } from '../aggregate/aggregator.js';
import { familyDescriptor, point } from './aggregate-producer.js';

/**
 * The exponential form of one histogram family. It carries the name of the
 * HISTOGRAM the AggregateProducer hands out for the same family, and an OTLP
 * sink that takes it sends it in that one's place.
 */
export interface ExponentialMetricData {
  /** An EXPONENTIAL_HISTOGRAM, cumulative, one point per series. */
  metric: MetricData;
  /** A mapping rule (or the mapping defaults) asked for it: every OTLP sink sends it, not only those with `histograms: exponential`. */
  fromMapping: boolean;
}

/**
 * Reads the exponential histograms of every family that keeps them. Apart
 * from the MetricData of the producer, so the Prometheus exporter and
 * remote write, which have no use for them, never see them.
 */
export function collectExponentialHistograms(aggregator: Aggregator, nowMs = Date.now()): ExponentialMetricData[] {
  const endTime = millisToHrTime(nowMs);
  const out: ExponentialMetricData[] = [];
  aggregator.forEachFamily((family) => {
    if (family.exponential === undefined || family.series.length === 0) return;
    out.push({
      metric: {
        descriptor: familyDescriptor(family),
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM,
        dataPoints: family.series.map((s) => point<ExponentialHistogram>(s, endTime, s.expo!.toOtel())),
      },
      fromMapping: family.exponential.fromMapping,
    });
  });
  return out;
}
