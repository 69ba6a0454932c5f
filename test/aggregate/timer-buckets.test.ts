import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketIndex } from '../../agent/aggregate/sample-math.js';
import { DEFAULT_TIMER_BUCKETS } from '../../agent/aggregate/aggregation-config.js';
import { histogramQuantile } from '../support/histogram-quantile.js';
import { exactQuantile } from '../support/quantiles.js';
import { SHAPES, samplesWithQuantile } from '../support/latency-samples.js';

function counts(bounds: readonly number[], samples: readonly number[]): number[] {
  const out = new Array<number>(bounds.length + 1).fill(0);
  for (const v of samples) out[bucketIndex(bounds, v)]!++;
  return out;
}

describe('the default timer buckets', () => {
  it('are 128 bounds from 1 ms to 60 s, no two neighbours more than 9.2 % apart', () => {
    expect(DEFAULT_TIMER_BUCKETS).toHaveLength(128);
    expect(DEFAULT_TIMER_BUCKETS[0]).toBe(0.001);
    expect(DEFAULT_TIMER_BUCKETS.at(-1)).toBeGreaterThanOrEqual(60);
    for (let i = 1; i < DEFAULT_TIMER_BUCKETS.length; i++) {
      expect(DEFAULT_TIMER_BUCKETS[i]! / DEFAULT_TIMER_BUCKETS[i - 1]!).toBeLessThanOrEqual(1.0914);
    }
  });

  it("tell the issue's two versions apart: true p99s of 0.283 s and 0.423 s read within 10 %", () => {
    for (const [seed, p99] of [
      [1, 0.283],
      [2, 0.423],
    ] as const) {
      const samples = samplesWithQuantile('lognormal', 0.5, seed, 2000, 0.99, p99);
      const estimate = histogramQuantile(0.99, DEFAULT_TIMER_BUCKETS, counts(DEFAULT_TIMER_BUCKETS, samples));
      expect(Math.abs(estimate / p99 - 1)).toBeLessThan(0.1);
    }
  });

  it('keep any p50 or p99 between 1 ms and 60 s within 10 % after histogram_quantile, whatever the shape', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SHAPES),
        fc.double({ min: 0.02, max: 1.5, noNaN: true }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.constantFrom(0.5, 0.99),
        // log-uniform over the range, so every octave is tried alike
        fc.double({ min: Math.log(0.001), max: Math.log(60), noNaN: true }),
        fc.integer({ min: 100, max: 3000 }),
        (shape, spread, seed, q, logAt, n) => {
          const at = Math.exp(logAt);
          const samples = samplesWithQuantile(shape, spread, seed, n, q, at);
          const estimate = histogramQuantile(q, DEFAULT_TIMER_BUCKETS, counts(DEFAULT_TIMER_BUCKETS, samples));
          return Math.abs(estimate / exactQuantile(samples, q) - 1) <= 0.1;
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('would not with the client libraries\' 11 bounds (so the property above can fail)', () => {
    const old = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    const a = samplesWithQuantile('lognormal', 0.5, 1, 2000, 0.99, 0.283);
    const b = samplesWithQuantile('lognormal', 0.5, 2, 2000, 0.99, 0.423);
    const readA = histogramQuantile(0.99, old, counts(old, a));
    const readB = histogramQuantile(0.99, old, counts(old, b));
    expect(Math.abs(readA / 0.283 - 1) > 0.1 || Math.abs(readB / 0.423 - 1) > 0.1).toBe(true);
  });
});

describe('bucketIndex', () => {
  it('finds the first bucket whose inclusive bound holds v, as a scan would, for short and long bound lists', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 200 }),
        fc.double({ min: -2e6, max: 2e6, noNaN: true }),
        fc.boolean(),
        (raw, v, onBound) => {
          const bounds = [...raw].sort((x, y) => x - y);
          const probe = onBound ? bounds[Math.abs(Math.floor(v)) % bounds.length]! : v;
          let k = 0;
          while (k < bounds.length && probe > bounds[k]!) k++;
          return bucketIndex(bounds, probe) === k;
        },
      ),
      { numRuns: 2000 },
    );
  });
});
