import { ValueType, type HrTime } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import type { DataPoint, MetricDescriptor } from '@opentelemetry/sdk-metrics';
import type { Aggregator } from '../aggregate/aggregator.js';
import type { Family, Series } from '../aggregate/series.js';
import { SliceClock } from '../shared/slice-clock.js';
import { familyDescription, point } from './aggregate-producer.js';
import { takeMetricsSnapshot, type MetricsSnapshot } from './metrics-snapshot.js';

/**
 * A summary point's value, shaped as OTLP's SummaryDataPoint (count, sum,
 * quantile_values) so a later OTLP sink maps it field for field. Count and
 * sum are cumulative since the series started; the quantiles cover the
 * series' sliding window.
 */
export interface SummaryValue {
  /** Weighted by 1/sample rate, so it can be fractional; OTLP's count is an integer, and a sink must round it. */
  count: number;
  sum: number;
  /** Ascending by quantile; a value is NaN when the window holds no sample. */
  quantileValues: Array<{ quantile: number; value: number }>;
}

/** One summary family: the SDK's descriptor and data points, with a value type the SDK lacks. */
export interface SummaryMetricData {
  descriptor: MetricDescriptor;
  dataPoints: Array<DataPoint<SummaryValue>>;
}

/**
 * Reads every summary family of the aggregator at once, for callers that
 * cannot wait (the SDK exporter's path, kept for comparison). OpenTelemetry
 * JS SDK 2.x has no summary data point type (and the Prometheus exporter
 * cannot render one), so summaries stay out of the AggregateProducer's
 * MetricData and come from here instead. Reading moves each window forward
 * to `nowMs`.
 */
export function collectSummaries(aggregator: Aggregator, nowMs = Date.now()): SummaryMetricData[] {
  const out: SummaryMetricData[] = [];
  for (const _ of summaryMetrics(takeMetricsSnapshot(aggregator, false, nowMs), out));
  return out;
}

/**
 * The summary families of a snapshot, as a flush hands them to the sinks
 * when the batch's turn comes: in slices between turns of the event loop,
 * as each summary's quantiles are read from its window's sketches, and
 * every timer is a summary where the mapping's defaults say
 * `observer_type: summary`.
 */
export async function summariesOf(snapshot: MetricsSnapshot): Promise<SummaryMetricData[]> {
  const out: SummaryMetricData[] = [];
  const clock = new SliceClock();
  for (const _ of summaryMetrics(snapshot, out)) if (clock.due()) await clock.turn();
  return out;
}

/** Appends the snapshot's summary families to `out`, a point at a time, and yields after each. */
function* summaryMetrics(snapshot: MetricsSnapshot, out: SummaryMetricData[]): Generator<void, void, undefined> {
  const nowMs = snapshot.nowMs;
  const endTime = millisToHrTime(nowMs);
  for (const { family, series, length } of snapshot.families) {
    if (family.type !== 'summary' || length === 0) continue;
    const dataPoints: Array<DataPoint<SummaryValue>> = [];
    out.push({ descriptor: summaryDescriptor(family), dataPoints });
    for (let i = 0; i < length; i++) {
      dataPoints.push(summaryPoint(series[i]!, endTime, nowMs));
      yield;
    }
  }
}

/** The descriptor of a summary family (its name has no suffix the SDK would add or take off). */
export function summaryDescriptor(family: Family): MetricDescriptor {
  return { name: family.name, description: familyDescription(family), unit: family.unit, valueType: ValueType.DOUBLE };
}

/** One summary series' point; reading its quantiles moves its window forward to `nowMs`. */
export function summaryPoint(s: Series, endTime: HrTime, nowMs: number): DataPoint<SummaryValue> {
  const quantiles = s.family.summary!.quantiles;
  const values = s.summary!.quantileValues(nowMs);
  return point<SummaryValue>(s, endTime, { count: s.count, sum: s.sum, quantileValues: quantiles.map((quantile, q) => ({ quantile, value: values[q]! })) });
}
