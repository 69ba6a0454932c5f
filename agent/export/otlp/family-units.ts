import type { HrTime } from '@opentelemetry/api';
import { millisToHrTime, type InstrumentationScope } from '@opentelemetry/core';
import { AggregationTemporality, DataPointType, type DataPoint, type ExponentialHistogram, type MetricData } from '@opentelemetry/sdk-metrics';
import type { Family } from '../../aggregate/series.js';
import { familyDescriptor, point, pointMaker, toMetricData } from '../aggregate-producer.js';
import type { MetricsSnapshot, SnapshotFamily } from '../metrics-snapshot.js';
import { summaryDescriptor, summaryPoint, type SummaryValue } from '../summary-data.js';
import type { MetricUnit } from './metrics-body.js';

export type HistogramForm = 'explicit' | 'exponential';

/**
 * Series made into points at a time: a run of a family, so the points of
 * a large family never exist all at once. 1,024 classic histogram points
 * are some 400 KB of protobuf, about one piece (metrics-body.ts).
 */
export const RUN_SERIES = 1024;

/**
 * A push batch's families as the OpenTelemetry SDK's data, made as they
 * are taken, a run of one family's series at a time, every point ending at
 * the snapshot's time and cumulative. Values are read as each run is made.
 * This is the only OpenTelemetry form an OTLP sink needs: made whole for the
 * batch instead, at 100,000 mixed series it held 50 MB of heap until the
 * sink was done with it (bench/micro-flush.mjs, heap read after each step).
 *
 * A histogram family that keeps an exponential histogram goes as that
 * (EXPONENTIAL_HISTOGRAM) instead of its buckets when the sink's form is
 * `exponential` or a mapping rule asked for it; summaries go as Tally's
 * SummaryMetricData, which the SDK has no point for. Runs with no points
 * (sets whose first interval has not ended) are left out.
 */
export function* familyUnits(snapshot: MetricsSnapshot, scope: InstrumentationScope, form: HistogramForm): Generator<MetricUnit> {
  const endTime = millisToHrTime(snapshot.nowMs);
  for (const scraped of snapshot.families) {
    if (scraped.length === 0) continue;
    const make = runMaker(scraped, scope, endTime, snapshot.nowMs, form);
    if (make === undefined) continue;
    for (let from = 0; from < scraped.length; from += RUN_SERIES) {
      const unit = make(from, Math.min(scraped.length, from + RUN_SERIES));
      if (('metric' in unit ? unit.metric.dataPoints : unit.summary.dataPoints).length > 0) yield unit;
    }
  }
}

/** Makes the unit of series [from, to) of one family; undefined for a family with no OTLP form. */
function runMaker(
  scraped: SnapshotFamily,
  scope: InstrumentationScope,
  endTime: HrTime,
  nowMs: number,
  form: HistogramForm,
): ((from: number, to: number) => MetricUnit) | undefined {
  const { family, series } = scraped;
  if (family.type === 'summary') {
    const descriptor = summaryDescriptor(family);
    return (from, to) => {
      const dataPoints: Array<DataPoint<SummaryValue>> = [];
      for (let i = from; i < to; i++) dataPoints.push(summaryPoint(series[i]!, endTime, nowMs));
      return { scope, summary: { descriptor, dataPoints } };
    };
  }
  if (exponentialChosen(family, form)) {
    const descriptor = familyDescriptor(family);
    return (from, to) => {
      const dataPoints: Array<DataPoint<ExponentialHistogram>> = [];
      for (let i = from; i < to; i++) dataPoints.push(point<ExponentialHistogram>(series[i]!, endTime, series[i]!.expo!.toOtel()));
      return { scope, metric: { descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM, dataPoints } };
    };
  }
  const shape = toMetricData(family);
  if (shape === undefined) return undefined;
  return (from, to) => {
    const metric = { ...shape, dataPoints: [] } as MetricData;
    const add = pointMaker(scraped, endTime, undefined, metric.dataPoints as Array<DataPoint<unknown>>);
    for (let i = from; i < to; i++) add(i);
    return { scope, metric };
  };
}

/** Whether a sink of this form sends the family as its exponential histogram: every one that keeps it, or those a mapping rule asked for. */
function exponentialChosen(family: Family, form: HistogramForm): boolean {
  return family.exponential !== undefined && (form === 'exponential' || family.exponential.fromMapping);
}
