import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aggregatorHarness } from '../support/aggregator-harness.js';

describe('bucket counts', () => {
  it('start as 32-bit integers and move to doubles when a weight is not whole, keeping every count', () => {
    const h = aggregatorHarness({ histogramBuckets: [10, 100] });
    h.send('size:5|h|#pod:a\nsize:50|h|#pod:a\nsize:5|h|#pod:b');
    const a = h.seriesWith('size', { pod: 'a' })!;
    expect(a.bucketCounts).toBeInstanceOf(Uint32Array);
    h.send('size:5|h|#pod:a|@0.3');
    expect(a.bucketCounts).toBeInstanceOf(Float64Array);
    expect([...a.bucketCounts]).toEqual([1 + 1 / 0.3, 1, 0]);
    expect(a.count).toBe(2 + 1 / 0.3);
    // The other series of the family stays narrow, and its counts are its own.
    const b = h.seriesWith('size', { pod: 'b' })!;
    expect(b.bucketCounts).toBeInstanceOf(Uint32Array);
    expect([...b.bucketCounts]).toEqual([1, 0, 0]);
  });

  it('gives the 32-bit cells of a series that moved to doubles to the next new series, zeroed', () => {
    const h = aggregatorHarness({ histogramBuckets: [10, 100] });
    h.send('size:5|h|#pod:a\nsize:500|h|#pod:a');
    const narrow = h.seriesWith('size', { pod: 'a' })!.bucketCounts;
    h.send('size:50|h|#pod:a|@0.3');
    h.send('size:5|h|#pod:c');
    const c = h.seriesWith('size', { pod: 'c' })!.bucketCounts;
    expect(c.buffer === narrow.buffer && c.byteOffset === narrow.byteOffset).toBe(true);
    expect([...c]).toEqual([1, 0, 0]);
    expect([...h.seriesWith('size', { pod: 'a' })!.bucketCounts]).toEqual([1, 1 / 0.3, 1]);
  });

  it('move to doubles at a count past 2^32 - 1 rather than wrap', () => {
    const h = aggregatorHarness({ histogramBuckets: [10] });
    h.send('size:5|h');
    const s = h.seriesAt('size')!;
    s.bucketCounts[0] = 2 ** 32 - 2;
    h.send('size:5|h');
    expect(s.bucketCounts).toBeInstanceOf(Uint32Array);
    expect(s.bucketCounts[0]).toBe(2 ** 32 - 1);
    h.send('size:5|h');
    expect(s.bucketCounts).toBeInstanceOf(Float64Array);
    expect(s.bucketCounts[0]).toBe(2 ** 32);
  });

  it('equal counts kept in doubles throughout, whatever the sample rates and values', () => {
    const rates = ['', '|@1', '|@0.5', '|@0.1', '|@0.25', '|@0.3', '|@0.7', '|@0.01'];
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 200 }), fc.constantFrom(...rates)), { minLength: 1, maxLength: 60 }), (samples) => {
        const bounds = [10, 50, 100];
        const h = aggregatorHarness({ histogramBuckets: bounds });
        const expected = new Float64Array(bounds.length + 1);
        for (const [v, rate] of samples) {
          h.send(`size:${v}|h${rate}`);
          const weight = rate === '' ? 1 : 1 / Number(rate.slice(2));
          let i = 0;
          while (i < bounds.length && v > bounds[i]!) i++;
          expected[i]! += weight;
        }
        expect([...h.seriesAt('size')!.bucketCounts]).toEqual([...expected]);
      }),
    );
  });
});
