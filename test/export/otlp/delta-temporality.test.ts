/**
 * The per-sink cumulative → delta converter, on hand-made ResourceMetrics
 * shaped as the AggregateProducer makes them: increases, unchanged series,
 * restarts (value down, or a new start time), vanished series, histograms
 * bucket by bucket, exponential histograms across a scale change, gauges.
 */
import { ValueType, type HrTime } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type DataPoint,
  type ExponentialHistogram,
  type Histogram,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeltaConverter } from '../../../agent/export/otlp/delta-temporality.js';

const T0 = 1_700_000_000;
const t = (s: number): HrTime => [T0 + s, 0];
const descriptor = (name: string) => ({ name, description: '', unit: '', valueType: ValueType.DOUBLE });

function point<V>(value: V, start: number, end: number, attributes: Record<string, string> = {}): DataPoint<V> {
  return { attributes, startTime: t(start), endTime: t(end), value };
}

function counter(name: string, points: Array<DataPoint<number>>): MetricData {
  return { descriptor: descriptor(name), aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.SUM, isMonotonic: true, dataPoints: points };
}

function histogram(name: string, points: Array<DataPoint<Histogram>>): MetricData {
  return { descriptor: descriptor(name), aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.HISTOGRAM, dataPoints: points };
}

function batch(...metrics: MetricData[]): ResourceMetrics {
  return { resource: resourceFromAttributes({}), scopeMetrics: [{ scope: { name: 'tally-agent' }, metrics }] };
}

/** The converted points of the first metric, as [value, start offset s, end offset s]. */
function deltas(rm: ResourceMetrics, metric = 0): Array<[unknown, number, number]> {
  const m = rm.scopeMetrics[0]!.metrics[metric];
  if (m === undefined) return [];
  return (m.dataPoints as Array<DataPoint<unknown>>).map((p) => [p.value, p.startTime[0] - T0, p.endTime[0] - T0]);
}

/** A whole batch through the converter, as the OTLP encoder takes one: begin, each metric, end. */
function convert(d: DeltaConverter, rm: ResourceMetrics): ResourceMetrics {
  d.begin();
  const scopeMetrics = rm.scopeMetrics.map((sm) => ({
    scope: sm.scope,
    metrics: sm.metrics.map((m) => d.convertMetric(sm.scope.name, m)).filter((m) => m.dataPoints.length > 0),
  }));
  d.end();
  return { resource: rm.resource, scopeMetrics };
}

const hist = (counts: number[], sum: number, boundaries = [1, 10]): Histogram => ({
  buckets: { boundaries, counts },
  count: counts.reduce((a, b) => a + b, 0),
  sum,
});

describe('DeltaConverter', () => {
  it('sends a new series whole from its own start, then each change since the previous batch', async () => {
    const d = new DeltaConverter();
    const first = await convert(d, batch(counter('logins', [point(5, 0, 10)])));
    expect(first.scopeMetrics[0]!.metrics[0]!.aggregationTemporality).toBe(AggregationTemporality.DELTA);
    expect(deltas(first)).toEqual([[5, 0, 10]]);
    expect(deltas(await convert(d, batch(counter('logins', [point(8, 0, 20)]))))).toEqual([[3, 10, 20]]);
    // Unchanged: nothing is sent (the metric too is left out when it has no other point), and the next delta starts where the last sent one ended.
    expect((await convert(d, batch(counter('logins', [point(8, 0, 30)])))).scopeMetrics[0]!.metrics).toEqual([]);
    expect(d.size).toBe(1);
    expect(deltas(await convert(d, batch(counter('logins', [point(8.5, 0, 40)]))))).toEqual([[0.5, 20, 40]]);
  });

  it('restarts a series whose value went down, or whose start time changed, from its own new start', async () => {
    const d = new DeltaConverter();
    await convert(d, batch(counter('c', [point(8, 0, 10, { a: '1' }), point(8, 0, 10, { a: '2' })])));
    const out = await convert(d, batch(counter('c', [point(2, 0, 20, { a: '1' }), point(12, 15, 20, { a: '2' })])));
    // a=1 went down (the agent restarted with an old start time): all of it counts, from its start.
    // a=2 came back with a new start time and a larger value: not 12 - 8, but 12 since 15.
    expect(deltas(out)).toEqual([
      [2, 0, 20],
      [12, 15, 20],
    ]);
    expect(deltas(await convert(d, batch(counter('c', [point(3, 0, 30, { a: '1' }), point(13, 15, 30, { a: '2' })]))))).toEqual([
      [1, 20, 30],
      [1, 20, 30],
    ]);
  });

  it('forgets series absent from a batch: one that comes back starts over', async () => {
    const d = new DeltaConverter();
    await convert(d, batch(counter('c', [point(4, 0, 10, { a: '1' }), point(6, 0, 10, { a: '2' })])));
    expect(d.size).toBe(2);
    await convert(d, batch(counter('c', [point(5, 0, 20, { a: '1' })])));
    expect(d.size).toBe(1);
    // Same start time and a larger value, yet its last batch is gone: the whole value, from its own start.
    expect(deltas(await convert(d, batch(counter('c', [point(5, 0, 30, { a: '1' }), point(9, 0, 30, { a: '2' })]))))).toEqual([[9, 0, 30]]);
  });

  it('keys a series by name and sorted attributes, so attribute order does not matter', async () => {
    const d = new DeltaConverter();
    await convert(d, batch(counter('c', [point(1, 0, 10, { a: '1', b: '2' })]), counter('other', [point(100, 0, 10, { a: '1', b: '2' })])));
    const out = await convert(d, batch(counter('c', [point(4, 0, 20, { b: '2', a: '1' })]), counter('other', [point(150, 0, 20, { b: '2', a: '1' })])));
    expect(deltas(out, 0)).toEqual([[3, 10, 20]]);
    expect(deltas(out, 1)).toEqual([[50, 10, 20]]);
  });

  it('takes histograms bucket by bucket (counts, sum, count); a bucket going down or new bounds restart the series', async () => {
    const d = new DeltaConverter();
    expect(deltas(await convert(d, batch(histogram('lat', [point(hist([1, 2, 0], 7), 0, 10)]))))).toEqual([[hist([1, 2, 0], 7), 0, 10]]);
    expect(deltas(await convert(d, batch(histogram('lat', [point(hist([1, 5, 2], 40), 0, 20)]))))).toEqual([
      [{ buckets: { boundaries: [1, 10], counts: [0, 3, 2] }, count: 5, sum: 33 }, 10, 20],
    ]);
    // One bucket went down while the total grew: a restart, sent whole.
    expect(deltas(await convert(d, batch(histogram('lat', [point(hist([0, 9, 2], 50), 0, 30)]))))).toEqual([[hist([0, 9, 2], 50), 0, 30]]);
    expect(deltas(await convert(d, batch(histogram('lat', [point(hist([0, 9, 2, 1], 60, [1, 10, 100]), 0, 40)]))))).toEqual([
      [hist([0, 9, 2, 1], 60, [1, 10, 100]), 0, 40],
    ]);
    // Idle for a batch, nothing sent; the next change is taken from the last point sent, buckets and all.
    expect(deltas(await convert(d, batch(histogram('lat', [point(hist([0, 9, 2, 1], 60, [1, 10, 100]), 0, 50)]))))).toEqual([]);
    expect(deltas(await convert(d, batch(histogram('lat', [point(hist([1, 9, 3, 1], 62, [1, 10, 100]), 0, 60)]))))).toEqual([
      [{ buckets: { boundaries: [1, 10, 100], counts: [1, 0, 1, 0] }, count: 2, sum: 2 }, 40, 60],
    ]);
  });

  it('takes exponential histograms at the coarser of the two scales, trimming buckets that did not move', async () => {
    const exp = (scale: number, offset: number, counts: number[], zeroCount: number, sum: number): ExponentialHistogram => ({
      count: zeroCount + counts.reduce((a, b) => a + b, 0),
      sum,
      scale,
      zeroCount,
      positive: { offset, bucketCounts: counts },
      negative: { offset: 0, bucketCounts: [] },
    });
    const metric = (v: ExponentialHistogram, end: number): MetricData => ({
      descriptor: descriptor('e'),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM,
      dataPoints: [point(v, 0, end)],
    });
    const d = new DeltaConverter();
    // Scale 3, indices 8..11 hold 1,1,1,1; at scale 2 those are indices 4,4,5,5.
    await convert(d, batch(metric(exp(3, 8, [1, 1, 1, 1], 1, 10), 10)));
    const out = deltas(await convert(d, batch(metric(exp(2, 4, [2, 3, 0, 4], 1, 30), 20))));
    expect(out).toEqual([
      [{ count: 5, sum: 20, scale: 2, zeroCount: 0, positive: { offset: 5, bucketCounts: [1, 0, 4] }, negative: { offset: 0, bucketCounts: [] } }, 10, 20],
    ]);
  });

  it('takes an abandoned batch back: the next delta starts where the last queued batch ended, so nothing is skipped', async () => {
    const d = new DeltaConverter();
    expect(deltas(await convert(d, batch(counter('logins', [point(5, 0, 10)]))))).toEqual([[5, 0, 10]]);
    // This batch never reached the queue (a full disk).
    expect(deltas(await convert(d, batch(counter('logins', [point(8, 0, 20)]))))).toEqual([[3, 10, 20]]);
    d.abandon();
    expect(deltas(await convert(d, batch(counter('logins', [point(12, 0, 30)]))))).toEqual([[7, 10, 30]]);
    // That one is taken back too; a second abandon() in a row takes back nothing more.
    d.abandon();
    d.abandon();
    expect(deltas(await convert(d, batch(counter('logins', [point(12, 0, 40)]))))).toEqual([[7, 10, 40]]);
    // A series the abandoned batch forgot is remembered again.
    await convert(d, batch(counter('other', [point(1, 0, 50)])));
    d.abandon();
    expect(deltas(await convert(d, batch(counter('logins', [point(13, 0, 60)]))))).toEqual([[1, 40, 60]]);
  });

  it('takes back a batch whose encoding failed half-way without taking back the one before it', () => {
    const d = new DeltaConverter();
    expect(deltas(convert(d, batch(counter('logins', [point(5, 0, 10)]))))).toEqual([[5, 0, 10]]);
    // Begun, a metric converted, and never ended: the encoder threw before the end of the batch.
    d.begin();
    d.convertMetric('tally-agent', counter('logins', [point(8, 0, 20)]));
    d.abandon();
    // The next delta starts where the first batch ended: 12 − 5, not 12 from the start.
    expect(deltas(convert(d, batch(counter('logins', [point(12, 0, 30)]))))).toEqual([[7, 10, 30]]);
  });

  it('passes gauges through untouched', async () => {
    const d = new DeltaConverter();
    const gauge: MetricData = {
      descriptor: descriptor('temp'),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.GAUGE,
      dataPoints: [point(7, 0, 10)],
    };
    await convert(d, batch(gauge));
    const next = { ...gauge, dataPoints: [point(3, 0, 20)] };
    expect((await convert(d, batch(next))).scopeMetrics[0]!.metrics[0]).toBe(next);
  });

  it('converts a metric given in runs of its points as it converts it whole', async () => {
    const whole = new DeltaConverter();
    const inRuns = new DeltaConverter();
    const many = (value: number, end: number) =>
      batch(histogram('lat', Array.from({ length: 5_000 }, (_, i) => point(hist([value + (i % 3), 1, 0], value), 0, end, { pod: `p${i}` }))));
    for (const [value, end] of [[1, 10], [3, 20], [3, 30], [4, 40]] as const) {
      const expected = deltas(convert(whole, many(value, end)));
      inRuns.begin();
      const m = many(value, end).scopeMetrics[0]!.metrics[0]!;
      const points: Array<[unknown, number, number]> = [];
      for (let i = 0; i < m.dataPoints.length; i += 1024) {
        const run = inRuns.convertMetric('tally-agent', { ...m, dataPoints: m.dataPoints.slice(i, i + 1024) } as MetricData);
        points.push(...deltas(batch(run)));
      }
      inRuns.end();
      expect(points).toEqual(expected);
      expect(points).toHaveLength(value === 3 && end === 30 ? 0 : 5_000);
    }
  });

  it('property: deltas tile time and add up to the cumulative value, across random increases and restarts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ add: fc.nat(1000), restart: fc.boolean(), skip: fc.boolean() }), { minLength: 1, maxLength: 40 }), async (steps) => {
        const d = new DeltaConverter();
        let value = 0;
        let start = 0;
        let sentSinceStart = 0;
        let lastEnd: number | undefined;
        for (const [i, step] of steps.entries()) {
          const now = (i + 1) * 10;
          if (step.restart) {
            value = 0;
            start = now - 5;
          }
          value += step.add;
          if (step.skip) {
            // The series is absent from this batch (expired); it comes back as new.
            expect(deltas(await convert(d, batch(counter('c', []))))).toEqual([]);
            lastEnd = undefined;
            continue;
          }
          const out = deltas(await convert(d, batch(counter('c', [point(value, start, now)])))) as Array<[number, number, number]>;
          if (out.length === 0) {
            // Nothing changed since the last point sent, so nothing is sent; the next delta starts at lastEnd.
            expect(lastEnd !== undefined && !step.restart && step.add === 0).toBe(true);
            expect(sentSinceStart).toBe(value);
            continue;
          }
          const [[delta, from, to]] = out as [[number, number, number]];
          expect(to).toBe(now);
          const resumed = lastEnd !== undefined && !step.restart;
          if (resumed) {
            expect(from).toBe(lastEnd);
            sentSinceStart += delta;
          } else {
            expect(from).toBe(start);
            sentSinceStart = delta;
          }
          expect(sentSinceStart).toBe(value);
          lastEnd = now;
        }
      }),
    );
  });
});

/**
 * The rules of the converter written out plainly, one object per series, as
 * the converter kept them before its memory moved into typed arrays: the
 * reference the property below holds it to.
 */
class ReferenceDelta {
  private memory = new Map<string, { start: number; end: number; counts: number[] }>();
  private before: typeof this.memory | undefined;

  convert(points: Array<{ key: string; start: number; counts: number[] }>, end: number): Map<string, [number[], number]> {
    const next: typeof this.memory = new Map();
    const out = new Map<string, [number[], number]>();
    for (const p of points) {
      const prev = this.memory.get(p.key);
      const change = prev !== undefined && prev.start === p.start && prev.counts.length === p.counts.length ? p.counts.map((c, i) => c - prev.counts[i]!) : undefined;
      if (change !== undefined && change.some((c) => c < 0)) {
        next.set(p.key, { start: p.start, end, counts: p.counts });
        out.set(p.key, [p.counts, p.start]);
      } else if (change !== undefined && change.every((c) => c === 0)) {
        next.set(p.key, prev!);
      } else {
        next.set(p.key, { start: p.start, end, counts: p.counts });
        out.set(p.key, change === undefined ? [p.counts, p.start] : [change, prev!.end]);
      }
    }
    this.before = this.memory;
    this.memory = next;
    return out;
  }

  abandon(): void {
    if (this.before === undefined) return;
    this.memory = this.before;
    this.before = undefined;
  }
}

describe('DeltaConverter against a plain model', () => {
  it('property: over series that come, go, restart, stay idle and are abandoned, it sends what the model sends, and sweeps what it forgot', () => {
    const step = fc.record({
      // Which of 12 series, their per-bucket increases, and restarts.
      present: fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
      // Idle as often as not: what an idle series keeps is what its next change is taken from.
      add: fc.array(fc.oneof(fc.constant([0, 0, 0]), fc.array(fc.nat(3), { minLength: 3, maxLength: 3 })), { minLength: 12, maxLength: 12 }),
      restart: fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
      abandon: fc.boolean(),
    });
    for (const histograms of [false, true]) {
      fc.assert(
        fc.property(fc.array(step, { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 64 }), (steps, sweepBudget) => {
          const d = new DeltaConverter({ sweepMinimum: 0, sweepBudget });
          const model = new ReferenceDelta();
          const counts = Array.from({ length: 12 }, () => [0, 0, 0]);
          const starts = Array.from({ length: 12 }, () => 0);
          // A restart is a series gone and another come, under a key of its own: without sweeps, keys would pile up.
          const generation = Array.from({ length: 12 }, () => 0);
          for (const [i, s] of steps.entries()) {
            const end = (i + 1) * 10;
            const points: Array<{ key: string; start: number; counts: number[] }> = [];
            for (let k = 0; k < 12; k++) {
              if (s.restart[k]) {
                counts[k] = [0, 0, 0];
                starts[k] = end - 5;
                generation[k]!++;
              }
              counts[k] = counts[k]!.map((c, b) => c + s.add[k]![b]!);
              // A counter is the series' first bucket alone.
              if (s.present[k]) points.push({ key: `s${k}.${generation[k]}`, start: starts[k]!, counts: histograms ? counts[k]! : [counts[k]![0]!] });
            }
            const expected = model.convert(points, end);
            const metric = histograms
              ? histogram('m', points.map((p) => point(hist(p.counts, 0), p.start, end, { k: p.key })))
              : counter('m', points.map((p) => point(p.counts[0]!, p.start, end, { k: p.key })));
            d.begin();
            const out = d.convertMetric('tally-agent', metric);
            d.end();
            const got = new Map(
              (out.dataPoints as Array<DataPoint<number | Histogram>>).map((p) => [
                p.attributes.k as string,
                [typeof p.value === 'number' ? [p.value] : p.value.buckets.counts, p.startTime[0] - T0] as [number[], number],
              ]),
            );
            expect(got).toEqual(expected);
            if (s.abandon) {
              d.abandon();
              model.abandon();
            }
            // The series of the last two batches, and a few that no sweep has begun on; a budget of 64 sweeps all in one end().
            if (sweepBudget === 64) expect(d.tracked).toBeLessThanOrEqual(32);
          }
        }),
        { numRuns: 300 },
      );
    }
  });

  it('sweeps thousands of series that went away, and gives their slots to new ones', () => {
    const d = new DeltaConverter();
    const wave = (from: number, end: number) => counter('c', Array.from({ length: 3_000 }, (_, i) => point(i + 1, 0, end, { pod: `p${from + i}` })));
    for (let w = 0; w < 5; w++) {
      d.begin();
      d.convertMetric('tally-agent', wave(w * 3_000, (w + 1) * 10));
      d.end();
      expect(d.size).toBe(3_000);
    }
    // Each wave replaces the last: without the sweep, 15,000 would hold a slot.
    expect(d.tracked).toBeLessThanOrEqual(6_000);
  });

  it('sweeps a bounded number of entries at each end(), going on where it stopped', () => {
    const d = new DeltaConverter({ sweepBudget: 1_000 });
    const wave = (from: number, end: number) => counter('c', Array.from({ length: 3_000 }, (_, i) => point(i + 1, 0, end, { pod: `p${from + i}` })));
    const tracked: number[] = [];
    for (let b = 0; b < 12; b++) {
      d.begin();
      // One wave, then the next for good: the first wave's 3,000 are to be forgotten.
      d.convertMetric('tally-agent', wave(b === 0 ? 0 : 3_000, (b + 1) * 10));
      d.end();
      tracked.push(d.tracked);
    }
    // A sweep starts once the first wave is absent from two batches, and reads 1,000 entries an end() (the old wave's come first).
    expect(tracked.slice(0, 6)).toEqual([3_000, 6_000, 5_000, 4_000, 3_000, 3_000]);
    expect(tracked.at(-1)).toBe(3_000);
    expect(d.size).toBe(3_000);
  });
});
