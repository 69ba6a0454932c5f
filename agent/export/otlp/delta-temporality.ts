import {
  AggregationTemporality,
  DataPointType,
  type DataPoint,
  type ExponentialHistogram,
  type Histogram,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { downscaleSpan } from '../../aggregate/exponential-histogram.js';
import { DeltaMemory, EXPONENTIAL, HISTOGRAM, NUMBER } from './delta-memory.js';
import { attributesKey } from './series-key.js';

type CumulativeValue = number | Histogram | ExponentialHistogram;

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
  /** Per metric (scope, name and type), per series (sorted attributes): the last point sent. */
  private readonly memory: DeltaMemory;
  /** Classic bucket bounds by their values, numbered: a series remembers its bounds' number. */
  private readonly bounds = new Map<string, number>();
  private lastBounds: { array: readonly number[]; id: number } | undefined;

  /** sweepMinimum, sweepBudget: see DeltaMemory; tests lower them to sweep a few series, a few at a time. */
  constructor(options: { sweepMinimum?: number; sweepBudget?: number } = {}) {
    this.memory = new DeltaMemory(options.sweepMinimum, options.sweepBudget);
  }

  /**
   * Starts a batch: its metrics go through convertMetric(), each once or
   * in runs of its points, in order, and end() closes it. Series the batch
   * lacks are forgotten, and the last batch's memory stays whole for
   * abandon().
   */
  begin(): void {
    this.memory.begin();
  }

  /** The delta form of one metric of the batch begun, or of a run of its points (the rest of its points follow in later runs). */
  convertMetric(scopeName: string, m: MetricData): MetricData {
    if (!this.memory.inBatch) throw new Error('DeltaConverter.convertMetric() outside begin() and end()');
    if (m.dataPointType === DataPointType.GAUGE || m.aggregationTemporality !== AggregationTemporality.CUMULATIVE) return m;
    const memory = this.memory;
    const slots = memory.metric(`${scopeName}\u0000${m.descriptor.name}\u0000${m.dataPointType}`);
    const monotonic = m.dataPointType !== DataPointType.SUM || m.isMonotonic;
    const points: Array<DataPoint<CumulativeValue>> = [];
    for (const p of m.dataPoints as Array<DataPoint<CumulativeValue>>) {
      const slot = memory.slot(slots, attributesKey(p.attributes));
      // A series met twice in one batch (never, from the producer) goes whole.
      const resumes = !memory.written(slot) && memory.remembers(slot, p.startTime);
      const layout = typeof p.value === 'number' ? 0 : 'buckets' in p.value ? this.boundsId(p.value.buckets.boundaries) : p.value.scale;
      const change = resumes ? difference(memory, slot, p.value, monotonic, layout) : undefined;
      if (change !== undefined && isZero(change)) {
        memory.keep(slot);
        continue;
      }
      const startTime = change === undefined ? undefined : memory.endTime(slot);
      remember(memory, slot, p, layout);
      points.push(startTime === undefined ? p : { attributes: p.attributes, startTime, endTime: p.endTime, value: change! });
    }
    return { ...m, aggregationTemporality: AggregationTemporality.DELTA, dataPoints: points } as MetricData;
  }

  /** The batch begun is whole: the next one's deltas start where its points end. */
  end(): void {
    this.memory.end();
  }

  /** Forgets the last batch: it never reached the queue. */
  abandon(): void {
    this.memory.abandon();
  }

  /** Series remembered from the last batch. */
  get size(): number {
    return this.memory.size;
  }

  /** Series that hold a slot, forgotten ones not yet swept among them. */
  get tracked(): number {
    return this.memory.tracked;
  }

  private boundsId(array: readonly number[]): number {
    // Every point of a family shares its bounds array: looked up by value once a run, not once a point.
    if (this.lastBounds?.array === array) return this.lastBounds.id;
    const text = array.join(',');
    let id = this.bounds.get(text);
    if (id === undefined) this.bounds.set(text, (id = this.bounds.size + 1));
    this.lastBounds = { array, id };
    return id;
  }
}

/** Nothing happened in the interval: no count, and no sum moved. */
function isZero(change: CumulativeValue): boolean {
  if (typeof change === 'number') return change === 0;
  return change.count === 0 && (change.sum === undefined || change.sum === 0) && ('buckets' in change || change.zeroCount === 0);
}

/** What of a cumulative point the next batch needs to take its delta. */
function remember(memory: DeltaMemory, slot: number, p: DataPoint<CumulativeValue>, layout: number): void {
  const v = p.value;
  if (typeof v === 'number') {
    memory.write(slot, NUMBER, p.startTime, p.endTime, v, undefined, 0);
  } else if ('buckets' in v) {
    memory.write(slot, HISTOGRAM, p.startTime, p.endTime, v.count, v.sum, layout);
    memory.writeCells(slot, v.buckets.counts, 0, false);
  } else {
    memory.write(slot, EXPONENTIAL, p.startTime, p.endTime, v.count, v.sum, layout, v.zeroCount);
    memory.writeCells(slot, v.positive.bucketCounts, v.positive.offset, false);
    memory.writeCells(slot, v.negative.bucketCounts, v.negative.offset, true);
  }
}

/** cur − prev, or undefined when the series must be taken as restarted. */
function difference(memory: DeltaMemory, slot: number, cur: CumulativeValue, monotonic: boolean, layout: number): CumulativeValue | undefined {
  const kind = memory.kind(slot);
  if (typeof cur === 'number') {
    if (kind !== NUMBER) return undefined;
    const prev = memory.value(slot);
    return monotonic && cur < prev ? undefined : cur - prev;
  }
  if ('buckets' in cur) return kind === HISTOGRAM && memory.layout(slot) === layout ? histogramDifference(memory, slot, cur) : undefined;
  return kind === EXPONENTIAL ? exponentialDifference(memory, slot, cur) : undefined;
}

function histogramDifference(memory: DeltaMemory, slot: number, cur: Histogram): Histogram | undefined {
  const prevCount = memory.value(slot);
  if (cur.count < prevCount) return undefined;
  const counts = cur.buckets.counts.slice();
  const cells = memory.cells();
  const [at, pairs] = memory.pairs(slot);
  for (let k = at; k < at + 2 * pairs; k += 2) {
    const i = cells[k]!;
    if (i >= counts.length) return undefined;
    counts[i] = counts[i]! - cells[k + 1]!;
    if (counts[i]! < 0) return undefined;
  }
  const prevSum = memory.sum(slot);
  // min and max of the interval alone are unknowable from two cumulative points, so they are left out.
  return {
    buckets: { boundaries: cur.buckets.boundaries, counts },
    count: cur.count - prevCount,
    ...(cur.sum !== undefined && prevSum !== undefined ? { sum: cur.sum - prevSum } : {}),
  };
}

function exponentialDifference(memory: DeltaMemory, slot: number, cur: ExponentialHistogram): ExponentialHistogram | undefined {
  const prevCount = memory.value(slot);
  const prevZero = memory.zeroCount(slot);
  if (cur.count < prevCount || cur.zeroCount < prevZero) return undefined;
  // A series' scale only goes down; compare both at the coarser one.
  const prevScale = memory.layout(slot);
  const scale = Math.min(prevScale, cur.scale);
  const cells = memory.cells();
  const [at, positivePairs, negativePairs] = memory.pairs(slot);
  const positive = rangeDifference(cur.positive, cur.scale - scale, cells, at, positivePairs, prevScale - scale);
  if (positive === undefined) return undefined;
  const negative = rangeDifference(cur.negative, cur.scale - scale, cells, at + 2 * positivePairs, negativePairs, prevScale - scale);
  if (negative === undefined) return undefined;
  const prevSum = memory.sum(slot);
  return {
    count: cur.count - prevCount,
    ...(cur.sum !== undefined && prevSum !== undefined ? { sum: cur.sum - prevSum } : {}),
    scale,
    zeroCount: cur.zeroCount - prevZero,
    positive,
    negative,
  };
}

const NO_BUCKETS = (): ExponentialHistogram['positive'] => ({ offset: 0, bucketCounts: [] });

/**
 * One range's change: the current counts taken `curShift` scales coarser,
 * less the remembered (index, count) pairs taken `prevShift` scales coarser,
 * with the buckets that did not move trimmed off both ends. Undefined when
 * a bucket went down.
 */
function rangeDifference(
  cur: ExponentialHistogram['positive'],
  curShift: number,
  cells: Float64Array,
  at: number,
  pairs: number,
  prevShift: number,
): ExponentialHistogram['positive'] | undefined {
  // A remembered bucket the current range lacks went down to 0.
  if (cur.bucketCounts.length === 0) return pairs === 0 ? NO_BUCKETS() : undefined;
  const { offset: low, counts } = downscaleSpan({ offset: cur.offset, counts: cur.bucketCounts }, curShift);
  for (let k = at; k < at + 2 * pairs; k += 2) {
    const i = (cells[k]! >> prevShift) - low;
    if (i < 0 || i >= counts.length) return undefined;
    counts[i] = counts[i]! - cells[k + 1]!;
    if (counts[i]! < 0) return undefined;
  }
  let first = 0;
  while (first < counts.length && counts[first] === 0) first++;
  let last = counts.length - 1;
  while (last >= first && counts[last] === 0) last--;
  return first > last ? NO_BUCKETS() : { offset: low + first, bucketCounts: first === 0 && last === counts.length - 1 ? counts : counts.slice(first, last + 1) };
}
