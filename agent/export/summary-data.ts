import { ValueType } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import type { DataPoint, MetricDescriptor } from '@opentelemetry/sdk-metrics';
import type { Aggregator } from '../aggregate/aggregator.js';
import { familyDescription } from './aggregate-producer.js';

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
 * Reads every summary family of the aggregator. OpenTelemetry JS SDK 2.x has
 * no summary data point type (and the Prometheus exporter cannot render
 * one), so summaries stay out of the AggregateProducer's MetricData and come
 * from here instead. Reading moves each window forward to `nowMs`.
 */
export function collectSummaries(aggregator: Aggregator, nowMs = Date.now()): SummaryMetricData[] {
  const endTime = millisToHrTime(nowMs);
  const out: SummaryMetricData[] = [];
  aggregator.forEachFamily((family) => {
    if (family.type !== 'summary' || family.series.length === 0) return;
    const quantiles = family.summary!.quantiles;
    out.push({
      descriptor: { name: family.name, description: familyDescription(family), unit: family.unit, valueType: ValueType.DOUBLE },
      dataPoints: family.series.map((s) => {
        const values = s.summary!.quantileValues(nowMs);
        return {
          attributes: s.attributes,
          startTime: millisToHrTime(s.startTimeMs),
          endTime,
          value: { count: s.count, sum: s.sum, quantileValues: quantiles.map((quantile, i) => ({ quantile, value: values[i]! })) },
        };
      }),
    });
  });
  return out;
}
