import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aggregatorHarness } from '../support/aggregator-harness.js';

describe('series identity', () => {
  it('is the name and the set of labels, in any tag order, in small families (scanned) and large ones (indexed), across expiry', () => {
    const line = fc.record({
      name: fc.integer({ min: 0, max: 2 }),
      pod: fc.integer({ min: 0, max: 39 }),
      env: fc.constantFrom('prod', 'dev'),
      reversed: fc.boolean(),
      count: fc.integer({ min: 1, max: 5 }),
    });
    fc.assert(
      fc.property(fc.array(fc.array(line, { maxLength: 120 }), { minLength: 1, maxLength: 4 }), (intervals) => {
        const h = aggregatorHarness({ seriesTtlMs: 10_000 });
        for (const lines of intervals) {
          const expected = new Map<string, number>();
          for (const l of lines) {
            const tags = [`pod:p${l.pod}`, `env:${l.env}`];
            if (l.reversed) tags.reverse();
            h.send(`m${l.name}:${l.count}|c|#${tags.join(',')}`);
            const key = `m${l.name}_total{"env":"${l.env}","pod":"p${l.pod}"}`;
            expected.set(key, (expected.get(key) ?? 0) + l.count);
          }
          const seen = new Map<string, number>();
          h.agg.forEachFamily((f) => {
            for (const s of f.series) seen.set(`${f.name}${JSON.stringify({ ...s.attributes })}`, s.value);
          });
          expect(seen).toEqual(expected);
          // Every series expires before the next interval, which starts from nothing.
          h.advance(10_000);
          h.advance(10_000);
          expect(h.agg.seriesCount).toBe(0);
        }
      }),
      { numRuns: 60 },
    );
  });
});
