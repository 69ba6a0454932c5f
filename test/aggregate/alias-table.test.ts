import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AliasTable } from '../../agent/aggregate/alias-table.js';
import { newParsedLine, type ParsedLine } from '../../agent/parse/statsd-line.js';
import { COUNTER, TIMER, type MetricKind } from '../../agent/parse/metric-kind.js';

/** A line's identity as the parser leaves it: the two hashes, kind, and the lengths of name and tags. */
function identity(i: number, kind: MetricKind = COUNTER): ParsedLine {
  const p = newParsedLine();
  // Hashes that collide in their low bits often, so probing and growth are exercised.
  p.hash = (Math.imul(i, 0x9e3779b1) & 0xffff0000) >>> 0 | (i & 0x7);
  p.hash2 = Math.imul(i + 1, 0x85ebca6b) >>> 0;
  p.kind = kind;
  p.nameStart = 0;
  p.nameEnd = 5 + (i % 7);
  p.tagsStart = i % 3 === 0 ? -1 : 10;
  p.tagsEnd = i % 3 === 0 ? -1 : 20 + (i % 11);
  return p;
}

describe('AliasTable', () => {
  it('finds every identity it was given, and no other, while its slots grow and entries move across', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5_000 }), fc.array(fc.nat(), { maxLength: 200 }), (n, probes) => {
        const table = new AliasTable(4);
        for (let i = 0; i < n; i++) {
          expect(table.get(identity(i))).toBe(-1);
          table.set(identity(i), i * 2, i % 5);
          // Looked up at once and after later growths, mid-move or not.
          expect(table.get(identity(i))).toBe(i * 2);
          const j = probes[i % Math.max(1, probes.length)] ?? 0;
          if (j % (i + 1) <= i) expect(table.get(identity(j % (i + 1)))).toBe((j % (i + 1)) * 2);
        }
        for (let i = 0; i < n; i++) {
          expect(table.get(identity(i))).toBe(i * 2);
          expect(table.hitMalformedTags).toBe(i % 5);
          expect(table.get(identity(i, TIMER))).toBe(-1);
        }
        expect(table.get(identity(n))).toBe(-1);
        expect(table.size).toBe(n);
      }),
      { numRuns: 30 },
    );
  });

  it('renumbers and forgets entries on remap, in the middle of a move too', () => {
    const table = new AliasTable(4);
    const n = 3_000;
    for (let i = 0; i < n; i++) table.set(identity(i), i, 0);
    // Even series expire; odd ones move down to i >> 1.
    const remap = new Int32Array(n).map((_, i) => (i % 2 === 0 ? -1 : i >> 1));
    table.remap(remap);
    for (let i = 0; i < n; i++) expect(table.get(identity(i))).toBe(i % 2 === 0 ? -1 : i >> 1);
    expect(table.size).toBe(n / 2);
    for (let i = n; i < 2 * n; i++) table.set(identity(i), i, 0);
    for (let i = 0; i < 2 * n; i++) expect(table.get(identity(i))).toBe(i < n ? (i % 2 === 0 ? -1 : i >> 1) : i);
  });
});
