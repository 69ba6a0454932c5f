/**
 * The base-2 exponential histogram against exact arithmetic: bucket indices
 * computed with BigInt (v^(2^scale) compared with powers of two), and a
 * model histogram built from those exact indices at the finest scale that
 * fits. Property tests with fast-check; boundary neighbours (the doubles
 * either side of 2^(j/2^scale)) are checked on purpose, since that is where
 * log-based mappings go wrong.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CellPools } from '../../agent/aggregate/bucket-arena.js';
import { downscaleSpan, ExponentialHistogram, frexp2, mapToIndex } from '../../agent/aggregate/exponential-histogram.js';
import { DEFAULT_MAX_SCALE, DEFAULT_MAX_SIZE, MIN_SCALE } from '../../agent/shared/exponential-scale.js';

const view = new DataView(new ArrayBuffer(8));

/** v = mant * 2^exp with mant an odd integer, exactly. */
function decompose(v: number): { mant: bigint; exp: number } {
  view.setFloat64(0, v);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & ((1n << 52n) - 1n);
  let mant = biased === 0 ? frac : frac | (1n << 52n);
  let exp = biased === 0 ? -1074 : biased - 1075;
  while ((mant & 1n) === 0n) {
    mant >>= 1n;
    exp++;
  }
  return { mant, exp };
}

function bitLength(b: bigint): number {
  const hex = b.toString(16);
  return (hex.length - 1) * 4 + parseInt(hex[0]!, 16).toString(2).length;
}

/**
 * The i with base^i < v <= base^(i+1), base = 2^(2^-scale), exactly:
 * for scale > 0 that is 2^i < v^(2^scale) <= 2^(i+1).
 */
function exactIndex(v: number, scale: number): number {
  const { mant, exp } = decompose(v);
  if (scale <= 0) {
    const q = 2 ** -scale;
    if (mant === 1n) return Math.ceil(exp / q) - 1;
    return Math.floor((bitLength(mant) - 1 + exp) / q);
  }
  const p = 2 ** scale;
  if (mant === 1n) return exp * p - 1;
  return bitLength(mant ** BigInt(p)) - 1 + exp * p;
}

function nextUp(v: number): number {
  view.setFloat64(0, v);
  view.setBigUint64(0, view.getBigUint64(0) + 1n);
  return view.getFloat64(0);
}

function nextDown(v: number): number {
  view.setFloat64(0, v);
  view.setBigUint64(0, view.getBigUint64(0) - 1n);
  return view.getFloat64(0);
}

const positiveDouble = fc.double({ min: Number.MIN_VALUE, max: Number.MAX_VALUE, noNaN: true, noDefaultInfinity: true });
const everydayDouble = fc.double({ min: 1e-6, max: 1e6, noNaN: true });

describe('frexp2', () => {
  it('splits every positive double, subnormals included, into significand in [1, 2) and exponent, exactly', () => {
    fc.assert(
      fc.property(positiveDouble, (v) => {
        const { significand, exponent } = frexp2(v);
        expect(significand).toBeGreaterThanOrEqual(1);
        expect(significand).toBeLessThan(2);
        // Two exact scalings, so a subnormal result does not round.
        expect(significand * 2 ** Math.max(exponent, -1022) * 2 ** Math.min(0, exponent + 1022)).toBe(v);
      }),
    );
  });
});

describe('mapToIndex', () => {
  it('matches the exact index for any positive double at scales -10..0', () => {
    fc.assert(fc.property(positiveDouble, fc.integer({ min: MIN_SCALE, max: 0 }), (v, scale) => mapToIndex(v, scale) === exactIndex(v, scale)), { numRuns: 2000 });
  });

  it('matches the exact index for any positive double at scales 1..10', () => {
    fc.assert(fc.property(fc.oneof(positiveDouble, everydayDouble), fc.integer({ min: 1, max: 10 }), (v, scale) => mapToIndex(v, scale) === exactIndex(v, scale)), {
      numRuns: 1000,
    });
  });

  it('puts powers of two at the top of their bucket, at every scale', () => {
    for (let scale = MIN_SCALE; scale <= DEFAULT_MAX_SCALE; scale++) {
      for (const k of [-1074, -1022, -3, 0, 1, 7, 1023]) {
        const expected = scale >= 0 ? k * 2 ** scale - 1 : Math.floor((k - 1) / 2 ** -scale);
        expect(mapToIndex(2 ** k, scale)).toBe(expected);
      }
    }
  });

  it('is exact on the doubles either side of bucket boundaries, at scales 1..12', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.integer({ min: -30, max: 30 }), (scale, at, octave) => {
        const p = 2 ** scale;
        const j = 1 + Math.floor(at * (p - 1));
        const boundary = 2 ** (j / p) * 2 ** octave;
        for (const v of [nextDown(nextDown(boundary)), nextDown(boundary), boundary, nextUp(boundary), nextUp(nextUp(boundary))]) {
          expect([v, mapToIndex(v, scale)]).toEqual([v, exactIndex(v, scale)]);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('is exact on boundary neighbours at the finest scales, 13..20 (slow exact arithmetic, so few cases)', () => {
    for (let scale = 13; scale <= DEFAULT_MAX_SCALE; scale++) {
      const p = 2 ** scale;
      for (const j of scale <= 16 ? [1, 12345 % p, p - 1] : [(p / 3) | 0]) {
        const boundary = 2 ** (j / p);
        for (const v of [nextDown(boundary), boundary, nextUp(boundary)]) expect([scale, v, mapToIndex(v, scale)]).toEqual([scale, v, exactIndex(v, scale)]);
      }
    }
  });

  it('nests: the index at scale s, shifted right by c, is the index at scale s - c, up to scale 20', () => {
    fc.assert(
      fc.property(positiveDouble, fc.integer({ min: MIN_SCALE + 1, max: DEFAULT_MAX_SCALE }), fc.integer({ min: 1, max: 30 }), (v, scale, c) => {
        const change = Math.min(c, scale - MIN_SCALE);
        return mapToIndex(v, scale) >> change === mapToIndex(v, scale - change);
      }),
      { numRuns: 2000 },
    );
  });
});

interface Model {
  scale: number;
  zeroCount: number;
  count: number;
  positive: Map<number, number>;
  negative: Map<number, number>;
}

/** The histogram the data model asks for: the finest scale <= maxScale where each side fits maxSize buckets, counted exactly. */
function model(samples: Array<[number, number]>, maxSize: number, maxScale: number): Model {
  const fits = (scale: number) =>
    [samples.filter(([v]) => v > 0), samples.filter(([v]) => v < 0)].every((side) => {
      if (side.length === 0) return true;
      const idx = side.map(([v]) => exactIndex(Math.abs(v), scale));
      return Math.max(...idx) - Math.min(...idx) + 1 <= maxSize;
    });
  let scale = maxScale;
  while (!fits(scale)) scale--;
  const m: Model = { scale, zeroCount: 0, count: 0, positive: new Map(), negative: new Map() };
  for (const [v, w] of samples) {
    m.count += w;
    if (v === 0) m.zeroCount += w;
    else {
      const side = v > 0 ? m.positive : m.negative;
      const i = exactIndex(Math.abs(v), scale);
      side.set(i, (side.get(i) ?? 0) + w);
    }
  }
  return m;
}

function spanMap(span: { offset: number; counts: number[] }): Map<number, number> {
  const out = new Map<number, number>();
  span.counts.forEach((c, i) => {
    if (c !== 0) out.set(span.offset + i, c);
  });
  return out;
}

/**
 * Weights: small whole ones mostly; halves and quarters (a sample rate's,
 * exact in binary, so sums do not depend on their order), and counts past
 * 2^32 that a 32-bit cell cannot keep.
 */
const weight = fc.oneof({ arbitrary: fc.integer({ min: 1, max: 5 }), weight: 6 }, fc.constantFrom(0.5, 0.25, 2 ** 31, 3 * 2 ** 30));
const sample = fc.tuple(fc.oneof(fc.constant(0), everydayDouble, everydayDouble.map((v) => -v), positiveDouble, fc.integer({ min: -1000, max: 1000 })), weight);
const options = fc.record({ maxSize: fc.integer({ min: 4, max: 40 }), maxScale: fc.integer({ min: -2, max: 8 }) });

describe('ExponentialHistogram', () => {
  it('holds exactly the model histogram: finest scale that fits, exact bucket counts, count, zero count, min, max, sum', () => {
    fc.assert(
      fc.property(fc.array(sample, { maxLength: 60 }), options, (samples, opts) => {
        const h = new ExponentialHistogram(opts);
        for (const [v, w] of samples) h.record(v, w);
        const m = model(samples, opts.maxSize, opts.maxScale);
        expect(h.scale).toBe(m.scale);
        expect(spanMap(h.positiveSpan())).toEqual(m.positive);
        expect(spanMap(h.negativeSpan())).toEqual(m.negative);
        for (const span of [h.positiveSpan(), h.negativeSpan()]) expect(span.counts.length).toBeLessThanOrEqual(opts.maxSize);
        expect(h.zeroCount).toBe(m.zeroCount);
        expect(h.count).toBe(m.count);
        const otel = h.toOtel();
        expect(otel.count).toBe(otel.zeroCount + [...otel.positive.bucketCounts, ...otel.negative.bucketCounts].reduce((a, b) => a + b, 0));
        if (samples.length > 0) {
          expect(otel.min).toBe(Math.min(...samples.map(([v]) => v)));
          expect(otel.max).toBe(Math.max(...samples.map(([v]) => v)));
          const sum = samples.reduce((a, [v, w]) => a + v * w, 0);
          expect(otel.sum).toBeCloseTo(sum, Math.abs(sum) > 1e6 ? -Math.ceil(Math.log10(Math.abs(sum))) + 10 : 6);
        } else {
          expect(otel).not.toHaveProperty('min');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('merges to the same histogram as recording everything into one', () => {
    fc.assert(
      fc.property(fc.array(sample, { maxLength: 40 }), fc.array(sample, { maxLength: 40 }), options, (a, b, opts) => {
        const left = new ExponentialHistogram(opts);
        const right = new ExponentialHistogram(opts);
        const all = new ExponentialHistogram(opts);
        for (const [v, w] of a) left.record(v, w), all.record(v, w);
        for (const [v, w] of b) right.record(v, w), all.record(v, w);
        left.merge(right);
        expect(left.scale).toBe(all.scale);
        expect(left.positiveSpan()).toEqual(all.positiveSpan());
        expect(left.negativeSpan()).toEqual(all.negativeSpan());
        expect([left.count, left.zeroCount, left.min, left.max]).toEqual([all.count, all.zeroCount, all.min, all.max]);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps histograms that share an arena apart, and a released one keeps its counts while the cells go to others', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(5), sample), { maxLength: 200 }), fc.nat(200), options, (steps, releaseAt, opts) => {
        const cells = new CellPools();
        const shared = Array.from({ length: 6 }, () => new ExponentialHistogram(opts, cells));
        const alone = Array.from({ length: 6 }, () => new ExponentialHistogram(opts));
        const released = new Set<number>();
        steps.forEach(([k, [v, w]], step) => {
          if (step === releaseAt) {
            shared[k]!.release();
            released.add(k);
          }
          // A released histogram belongs to an expired series: nothing records into it again.
          if (released.has(k)) return;
          shared[k]!.record(v, w);
          alone[k]!.record(v, w);
        });
        shared.forEach((h, k) => {
          expect(h.scale).toBe(alone[k]!.scale);
          expect(h.positiveSpan()).toEqual(alone[k]!.positiveSpan());
          expect(h.negativeSpan()).toEqual(alone[k]!.negativeSpan());
        });
      }),
      { numRuns: 300 },
    );
  });

  it('starts at scale 20 with 160 buckets a side, the OpenTelemetry SDK defaults, and keeps fractional weights', () => {
    const h = new ExponentialHistogram();
    expect([h.maxScale, h.maxSize]).toEqual([DEFAULT_MAX_SCALE, DEFAULT_MAX_SIZE]);
    h.record(1.5, 1 / 0.3);
    expect(h.scale).toBe(20);
    expect(h.toOtel()).toMatchObject({ count: 1 / 0.3, positive: { offset: mapToIndex(1.5, 20), bucketCounts: [1 / 0.3] } });
    // 1.5 and 1000 are 9.4 octaves apart: 160 buckets hold that at scale 4 (16 a octave), not at 5 (32).
    h.record(1000);
    expect(h.scale).toBe(4);
    expect(h.positiveSpan().counts.length).toBeLessThanOrEqual(160);
  });

  it('refuses what it cannot hold: non-finite values and weights that are not positive, without counting them', () => {
    const h = new ExponentialHistogram();
    for (const [v, w] of [
      [NaN, 1],
      [Infinity, 1],
      [1, 0],
      [1, -1],
      [1, NaN],
    ]) expect(h.record(v!, w)).toBe(false);
    expect(h.count).toBe(0);
    expect(() => new ExponentialHistogram({ maxSize: 3 })).toThrow(RangeError);
    expect(() => new ExponentialHistogram({ maxScale: 21 })).toThrow(RangeError);
  });

  it('downscaleSpan adds the counts that fall into one coarser bucket', () => {
    expect(downscaleSpan({ offset: -3, counts: [1, 2, 3, 4, 5] }, 1)).toEqual({ offset: -2, counts: [1, 5, 9] });
    expect(downscaleSpan({ offset: 6, counts: [1, 1, 1] }, 3)).toEqual({ offset: 0, counts: [2, 1] });
    expect(downscaleSpan({ offset: -9, counts: [1, 0, 1] }, 3)).toEqual({ offset: -2, counts: [1, 1] });
    expect(downscaleSpan({ offset: 0, counts: [] }, 4)).toEqual({ offset: 0, counts: [] });
  });
});
