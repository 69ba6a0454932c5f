import { DataPointType, type DataPoint, type ExponentialHistogram, type Histogram, type MetricData } from '@opentelemetry/sdk-metrics';

/**
 * OTLP histogram counts are integers (fixed64 / uint64), while the agent
 * weights an observation sent with `|@0.1` as 10 and one with `|@0.3` as
 * 3.33…; the transformer would truncate those bit-wise. Each cumulative
 * bucket is rounded to the nearest integer instead, and the count is the sum
 * of the rounded buckets, so count == Σ bucket_counts holds as the data model
 * requires. Rounding cumulative values keeps them non-decreasing, so deltas
 * taken afterwards never go negative and add up to the rounded total.
 */
export function withIntegerCounts(m: MetricData): MetricData {
  if (m.dataPointType === DataPointType.HISTOGRAM) {
    if (m.dataPoints.every((p) => p.value.buckets.counts.every(Number.isInteger) && Number.isInteger(p.value.count))) return m;
    return { ...m, dataPoints: m.dataPoints.map(roundHistogram) };
  }
  if (m.dataPointType === DataPointType.EXPONENTIAL_HISTOGRAM) {
    const integral = (h: ExponentialHistogram) =>
      Number.isInteger(h.count) && Number.isInteger(h.zeroCount) && h.positive.bucketCounts.every(Number.isInteger) && h.negative.bucketCounts.every(Number.isInteger);
    if (m.dataPoints.every((p) => integral(p.value))) return m;
    return { ...m, dataPoints: m.dataPoints.map(roundExponential) };
  }
  return m;
}

function roundHistogram(p: DataPoint<Histogram>): DataPoint<Histogram> {
  const counts = p.value.buckets.counts.map(Math.round);
  return { ...p, value: { ...p.value, buckets: { boundaries: p.value.buckets.boundaries, counts }, count: sum(counts) } };
}

function roundExponential(p: DataPoint<ExponentialHistogram>): DataPoint<ExponentialHistogram> {
  const h = p.value;
  const positive = h.positive.bucketCounts.map(Math.round);
  const negative = h.negative.bucketCounts.map(Math.round);
  const zeroCount = Math.round(h.zeroCount);
  return {
    ...p,
    value: {
      ...h,
      zeroCount,
      positive: { offset: h.positive.offset, bucketCounts: positive },
      negative: { offset: h.negative.offset, bucketCounts: negative },
      count: zeroCount + sum(positive) + sum(negative),
    },
  };
}

function sum(xs: number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}
