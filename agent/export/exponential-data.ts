import { millisToHrTime } from '@opentelemetry/core';
import { AggregationTemporality, DataPointType, type DataPoint, type ExponentialHistogram, type MetricData } from '@opentelemetry/sdk-metrics';
import { SliceClock } from '../shared/slice-clock.js';
import type { MetricsSnapshot } from './metrics-snapshot.js';
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
 * The exponential histograms of every family of a snapshot that keeps
 * them, every point ending at the snapshot's time. Apart from the
 * MetricData of the producer, so the Prometheus exporter and remote write,
 * which have no use for them, never see them. Values are read as each
 * point is made, in slices between turns of the event loop: at a million
 * mixed series, made in one piece at the flush, they held it 1.2 s.
 */
export async function collectExponentialHistograms(snapshot: MetricsSnapshot): Promise<ExponentialMetricData[]> {
  const endTime = millisToHrTime(snapshot.nowMs);
  const out: ExponentialMetricData[] = [];
  const clock = new SliceClock();
  for (const { family, series, length } of snapshot.families) {
    if (family.exponential === undefined || length === 0) continue;
    const dataPoints: Array<DataPoint<ExponentialHistogram>> = [];
    for (let i = 0; i < length; i++) {
      const s = series[i]!;
      dataPoints.push(point<ExponentialHistogram>(s, endTime, s.expo!.toOtel()));
      if (clock.due()) await clock.turn();
    }
    out.push({
      metric: { descriptor: familyDescriptor(family), aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM, dataPoints },
      fromMapping: family.exponential.fromMapping,
    });
  }
  return out;
}
