import type { HrTime } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  type DataPoint,
  type ExponentialHistogram,
  type Histogram,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { downscaleSpan, type BucketSpan } from '../../aggregate/exponential-histogram.js';
import { attributesKey } from './series-key.js';

type CumulativeValue = number | Histogram | ExponentialHistogram;

/**
 * A histogram as remembered: only its buckets that hold anything, as
 * (index, count) pairs. A timer has 129 buckets by default and a series
 * fills a few; kept whole, they were 48 MB of the heap a delta sink kept
 * at 100,000 mixed series (147 against 99 MB retained after each flush of
 * bench/micro-flush.mjs's series, heap read after a forced collection).
 */
interface RememberedHistogram {
  boundaries: number[];
  count: number;
  sum: number | undefined;
  /** Index and count of each non-empty bucket, in index order. */
  filled: number[];
}

type RememberedValue = number | RememberedHistogram | ExponentialHistogram;

interface SeriesMemory {
  /** Start of the cumulative stream: when it changes, the series restarted. */
  startTime: HrTime;
  /** The previous batch's time: where the next delta begins. */
  endTime: HrTime;
  value: RememberedValue;
}

type Memory = Map<string, Map<string, SeriesMemory>>;

/**
 * Turns the agent's cumulative series into delta series for one sink, as the
 * OpenTelemetry data model defines them: each point holds the change since
 * the previous batch, with startTime = that batch's time, so consecutive
 * points of a series tile time without overlap.
 *
 * - A series seen for the first time, or whose cumulative start time changed
 *   or whose monotonic value went down (the agent restarted, or the series
 *   expired and came back), starts over: its point is its whole cumulative
 *   value since its own start time. Nothing is lost and nothing counted twice.
 * - A series absent from a batch is forgotten, so state never outgrows the
 *   series the agent holds.
 * - Gauges pass through unchanged. A series that did not change since the
 *   last point sent is not sent (a metric left with no points is left out):
 *   at a million series, most idle in any one flush, sending a 0 point for
 *   each made every flush as large as the whole state. Its memory keeps the
 *   last point sent, so the next delta starts where that one ended and the
 *   intervals still tile without overlap.
 * - abandon() takes the last batch back (its queue could not take it): the
 *   next batch's deltas then start where the last queued one ended.
 *
 * State is per sink (each sink sees its own sequence of batches) and kept in
 * memory only: after a restart the aggregator starts from zero too, so every
 * series' first delta is simply its value since its new start.
 */
export class DeltaConverter {
  /** Per metric (scope, name and type), per series (sorted attributes): the last batch's point. */
  private memory: Memory = new Map();
  /** The memory before the last batch, for abandon(). */
  private before: Memory | undefined;
  /** The memory of the batch under way, begun by begin(). */
  private next: Memory | undefined;

  /**
   * Starts a batch: its metrics go through convertMetric(), each once or
   * in runs of its points, in order, and end() closes it. Built anew each
   * batch, so series the batch lacks are forgotten, and the old memory stays
   * whole for abandon().
   */
  begin(): void {
    this.next = new Map();
  }

  /** The delta form of one metric of the batch begun, or of a run of its points (the rest of its points follow in later runs). */
  convertMetric(scopeName: string, m: MetricData): MetricData {
    const next = this.next;
    if (next === undefined) throw new Error('DeltaConverter.convertMetric() outside begin() and end()');
    if (m.dataPointType === DataPointType.GAUGE || m.aggregationTemporality !== AggregationTemporality.CUMULATIVE) return m;
    const metricKey = `${scopeName}\u0000${m.descriptor.name}\u0000${m.dataPointType}`;
    const monotonic = m.dataPointType !== DataPointType.SUM || m.isMonotonic;
    const last = this.memory.get(metricKey);
    let seen = next.get(metricKey);
    if (seen === undefined) next.set(metricKey, (seen = new Map()));
    const points: Array<DataPoint<CumulativeValue>> = [];
    for (const p of m.dataPoints as Array<DataPoint<CumulativeValue>>) {
      const key = attributesKey(p.attributes);
      // A series met twice in one batch (never, from the producer) goes whole.
      const prev = seen.has(key) ? undefined : last?.get(key);
      const change = prev !== undefined && sameTime(prev.startTime, p.startTime) ? difference(prev.value, p.value, monotonic) : undefined;
      if (change !== undefined && isZero(change)) {
        seen.set(key, prev!);
        continue;
      }
      seen.set(key, { startTime: p.startTime, endTime: p.endTime, value: remembered(p.value) });
      points.push(change === undefined ? p : { attributes: p.attributes, startTime: prev!.endTime, endTime: p.endTime, value: change });
    }
    return { ...m, aggregationTemporality: AggregationTemporality.DELTA, dataPoints: points } as MetricData;
  }

  /** The batch begun is whole: the next one's deltas start where its points end. */
  end(): void {
    if (this.next === undefined) return;
    this.before = this.memory;
    this.memory = this.next;
    this.next = undefined;
  }

  /** Forgets the last batch: it never reached the queue. */
  abandon(): void {
    // Begun and never ended (its encoding failed): the memory is still the one before it.
    if (this.next !== undefined) {
      this.next = undefined;
      return;
    }
    if (this.before === undefined) return;
    this.memory = this.before;
    this.before = undefined;
  }

  /** Series remembered from the last batch. */
  get size(): number {
    let n = 0;
    for (const series of this.memory.values()) n += series.size;
    return n;
  }
}

/** Nothing happened in the interval: no count, and no sum moved. */
function isZero(change: CumulativeValue): boolean {
  if (typeof change === 'number') return change === 0;
  return change.count === 0 && (change.sum === undefined || change.sum === 0) && ('buckets' in change || change.zeroCount === 0);
}

function sameTime(a: HrTime, b: HrTime): boolean {
  return a[0] === b[0] && a[1] === b[1];
}

/** What of a cumulative value the next batch needs to take its delta. */
function remembered(v: CumulativeValue): RememberedValue {
  if (typeof v === 'number' || !('buckets' in v)) return v;
  const filled: number[] = [];
  const counts = v.buckets.counts;
  for (let i = 0; i < counts.length; i++) if (counts[i] !== 0) filled.push(i, counts[i]!);
  return { boundaries: v.buckets.boundaries, count: v.count, sum: v.sum, filled };
}

/** cur − prev, or undefined when the series must be taken as restarted. */
function difference(prev: RememberedValue, cur: CumulativeValue, monotonic: boolean): CumulativeValue | undefined {
  if (typeof cur === 'number') {
    if (typeof prev !== 'number' || (monotonic && cur < prev)) return undefined;
    return cur - prev;
  }
  if (typeof prev === 'number') return undefined;
  if ('buckets' in cur) return 'filled' in prev ? histogramDifference(prev, cur) : undefined;
  return 'filled' in prev ? undefined : exponentialDifference(prev, cur);
}

function histogramDifference(prev: RememberedHistogram, cur: Histogram): Histogram | undefined {
  const b = cur.buckets.boundaries;
  const pb = prev.boundaries;
  if (b !== pb && (b.length !== pb.length || b.some((x, i) => x !== pb[i]))) return undefined;
  if (cur.count < prev.count) return undefined;
  const counts = cur.buckets.counts.slice();
  const filled = prev.filled;
  for (let k = 0; k < filled.length; k += 2) {
    const i = filled[k]!;
    if (i >= counts.length) return undefined;
    counts[i] = counts[i]! - filled[k + 1]!;
    if (counts[i]! < 0) return undefined;
  }
  // min and max of the interval alone are unknowable from two cumulative points, so they are left out.
  return {
    buckets: { boundaries: b, counts },
    count: cur.count - prev.count,
    ...(cur.sum !== undefined && prev.sum !== undefined ? { sum: cur.sum - prev.sum } : {}),
  };
}

function exponentialDifference(prev: ExponentialHistogram, cur: ExponentialHistogram): ExponentialHistogram | undefined {
  if (cur.count < prev.count || cur.zeroCount < prev.zeroCount) return undefined;
  // A series' scale only goes down; compare both at the coarser one.
  const scale = Math.min(prev.scale, cur.scale);
  const positive = spanDifference(prev.positive, prev.scale, cur.positive, cur.scale, scale);
  const negative = spanDifference(prev.negative, prev.scale, cur.negative, cur.scale, scale);
  if (positive === undefined || negative === undefined) return undefined;
  return {
    count: cur.count - prev.count,
    ...(cur.sum !== undefined && prev.sum !== undefined ? { sum: cur.sum - prev.sum } : {}),
    scale,
    zeroCount: cur.zeroCount - prev.zeroCount,
    positive: { offset: positive.offset, bucketCounts: positive.counts },
    negative: { offset: negative.offset, bucketCounts: negative.counts },
  };
}

function spanDifference(
  prev: { offset: number; bucketCounts: number[] },
  prevScale: number,
  cur: { offset: number; bucketCounts: number[] },
  curScale: number,
  scale: number,
): BucketSpan | undefined {
  const p = downscaleSpan({ offset: prev.offset, counts: prev.bucketCounts }, prevScale - scale);
  const c = downscaleSpan({ offset: cur.offset, counts: cur.bucketCounts }, curScale - scale);
  const at = (s: BucketSpan, i: number) => (i >= s.offset && i < s.offset + s.counts.length ? s.counts[i - s.offset]! : 0);
  const lows = [p, c].filter((s) => s.counts.length > 0).map((s) => s.offset);
  if (lows.length === 0) return { offset: 0, counts: [] };
  const low = Math.min(...lows);
  const high = Math.max(...[p, c].filter((s) => s.counts.length > 0).map((s) => s.offset + s.counts.length - 1));
  const counts: number[] = [];
  for (let i = low; i <= high; i++) {
    const d = at(c, i) - at(p, i);
    if (d < 0) return undefined;
    counts.push(d);
  }
  // Buckets that did not move are trimmed off both ends.
  let first = 0;
  while (first < counts.length && counts[first] === 0) first++;
  let last = counts.length - 1;
  while (last >= first && counts[last] === 0) last--;
  return first > last ? { offset: 0, counts: [] } : { offset: low + first, counts: counts.slice(first, last + 1) };
}
