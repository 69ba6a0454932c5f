/**
 * Exponential histograms as Prometheus native histograms: which bucket each
 * value lands in at the schema sent, the spans and deltas that carry them,
 * counts that agree, and the scales Prometheus cannot hold.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExponentialHistogram } from '../../agent/aggregate/exponential-histogram.js';
import { MAX_SCHEMA, emptyNativeHistogram, toNativeHistogram, type NativeHistogram } from '../../agent/export/native-histogram.js';
import { nativeBucketCounts } from './remote-write/helpers.js';

/** Prometheus' bucket of v > 0 at a schema: the k with base^(k-1) < v <= base^k, base = 2^(2^-schema). */
function promIndex(v: number, schema: number): number {
  return Math.ceil(Math.log2(v) * 2 ** schema);
}

function expanded(h: NativeHistogram): { positive: Map<number, number>; negative: Map<number, number> } {
  const spans = (b: NativeHistogram['positive']) => b.spans.map(([offset, length]) => ({ offset, length }));
  return { positive: nativeBucketCounts(spans(h.positive), h.positive.deltas), negative: nativeBucketCounts(spans(h.negative), h.negative.deltas) };
}

describe('toNativeHistogram', () => {
  it('puts each value in the bucket Prometheus reads it from, merged down to schema 8 from a finer scale', () => {
    const h = new ExponentialHistogram();
    // A range of a fifth of an octave: 160 buckets hold it at scale 9.
    for (const v of [0.11, 0.11, 0.115, 0.125]) h.record(v);
    h.record(0);
    h.record(-0.12, 2);
    const n = toNativeHistogram(h)!;
    expect(h.scale).toBe(9);
    expect(n.schema).toBe(MAX_SCHEMA);
    expect(n.count).toBe(7);
    expect(n.zeroCount).toBe(1);
    expect(n.sum).toBeCloseTo(0.22 + 0.115 + 0.125 - 0.24, 12);
    const { positive, negative } = expanded(n);
    expect(positive).toEqual(
      new Map([
        [promIndex(0.11, 8), 2],
        [promIndex(0.115, 8), 1],
        [promIndex(0.125, 8), 1],
      ]),
    );
    // 0.125 is 2^-3, an upper bound itself: base^k with k = -3 × 256.
    expect(positive.get(-768)).toBe(1);
    expect(negative).toEqual(new Map([[promIndex(0.12, 8), 2]]));
  });

  it('sends a coarser scale as it is', () => {
    const h = new ExponentialHistogram();
    for (const v of [0.001, 0.5, 3]) h.record(v);
    const n = toNativeHistogram(h)!;
    expect(n.schema).toBe(h.scale);
    expect(n.schema).toBeLessThan(MAX_SCHEMA);
    expect([...expanded(n).positive.keys()]).toEqual([0.001, 0.5, 3].map((v) => promIndex(v, n.schema)));
  });

  it('keeps a short run of empty buckets inside a span and starts a new span after a longer one', () => {
    const h = new ExponentialHistogram({ maxScale: 0 });
    // Scale 0: buckets (1,2], (2,4], (4,8], … are Prometheus indices 1, 2, 3, …
    for (const v of [1.5, 5, 100]) h.record(v);
    const n = toNativeHistogram(h)!;
    expect(n.schema).toBe(0);
    // 1.5 → 1, 5 → 3 (one empty bucket between: same span), 100 → 7 (three empty: a new span, offset 3 past the last).
    expect(n.positive.spans).toEqual([
      [1, 3],
      [3, 1],
    ]);
    expect(n.positive.deltas).toEqual([1, -1, 1, 0]);
  });

  it('rounds fractional weights bucket by bucket and counts what it sends', () => {
    const h = new ExponentialHistogram({ maxScale: 0 });
    h.record(1.5, 10 / 3);
    h.record(1.5, 10 / 3);
    h.record(3, 10 / 3);
    h.record(0, 0.4);
    const n = toNativeHistogram(h)!;
    expect(n.zeroCount).toBe(0);
    expect([...expanded(n).positive]).toEqual([
      [1, 7],
      [2, 3],
    ]);
    expect(n.count).toBe(10);
  });

  it('gives up on a scale coarser than schema -4, which Prometheus cannot store', () => {
    const h = new ExponentialHistogram({ maxSize: 4, maxScale: 0 });
    for (const v of [1e-300, 1e300]) h.record(v);
    expect(h.scale).toBeLessThan(-4);
    expect(toNativeHistogram(h)).toBeUndefined();
  });

  it('has an empty form for the start of a series', () => {
    expect(emptyNativeHistogram(3)).toEqual({ count: 0, sum: 0, schema: 3, zeroCount: 0, positive: { spans: [], deltas: [] }, negative: { spans: [], deltas: [] } });
  });

  it('holds every value recorded, in its bucket, whatever the values and weights (property)', () => {
    const value = fc.oneof(
      fc.double({ min: 1e-6, max: 1e6, noNaN: true }),
      fc.double({ min: -1e6, max: -1e-6, noNaN: true }),
      fc.constant(0),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(value, fc.integer({ min: 1, max: 5 })), { minLength: 1, maxLength: 200 }), fc.integer({ min: 4, max: 160 }), (observations, maxSize) => {
        const h = new ExponentialHistogram({ maxSize });
        for (const [v, w] of observations) h.record(v, w);
        const n = toNativeHistogram(h)!;
        expect(n.schema).toBeLessThanOrEqual(MAX_SCHEMA);
        const want = { positive: new Map<number, number>(), negative: new Map<number, number>() };
        let zero = 0;
        for (const [v, w] of observations) {
          if (v === 0) {
            zero += w;
            continue;
          }
          const side = v > 0 ? want.positive : want.negative;
          const k = promIndex(Math.abs(v), n.schema);
          side.set(k, (side.get(k) ?? 0) + w);
        }
        const got = expanded(n);
        expect(got.positive).toEqual(want.positive);
        expect(got.negative).toEqual(want.negative);
        expect(n.zeroCount).toBe(zero);
        expect(n.count).toBe(observations.reduce((a, [, w]) => a + w, 0));
        // No span starts or ends on an empty bucket.
        for (const side of [n.positive, n.negative]) {
          let count = 0;
          let d = 0;
          for (const [, length] of side.spans) {
            for (let k = 0; k < length; k++) {
              count += side.deltas[d++]!;
              if (k === 0 || k === length - 1) expect(count).toBeGreaterThan(0);
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
