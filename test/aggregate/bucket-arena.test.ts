import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BucketArena } from '../../agent/aggregate/bucket-arena.js';

describe('BucketArena', () => {
  it('hands out zeroed counts of the length asked, no two sharing a cell', () => {
    const arena = new BucketArena();
    const taken = Array.from({ length: 600 }, (_, i) => arena.poolFor(i % 3 === 0 ? 12 : 129).take());
    taken.forEach((counts, i) => {
      expect(counts.length).toBe(i % 3 === 0 ? 12 : 129);
      expect(counts.every((c) => c === 0)).toBe(true);
      counts.fill(i + 1);
    });
    // Each kept what was written to it: no view overlaps another, across slabs and lengths.
    taken.forEach((counts, i) => expect(counts.every((c) => c === i + 1)).toBe(true));
  });

  it('keeps one pool a length, and gives counts given back to the next taker of it, zeroed', () => {
    const arena = new BucketArena();
    expect(arena.poolFor(5)).toBe(arena.poolFor(5));
    const a = arena.poolFor(5).take();
    a.fill(7);
    arena.poolFor(5).give(a);
    const other = arena.poolFor(6).take();
    expect(other.buffer === a.buffer && other.byteOffset === a.byteOffset).toBe(false);
    const again = arena.poolFor(5).take();
    expect(again.buffer).toBe(a.buffer);
    expect(again.byteOffset).toBe(a.byteOffset);
    expect([...again]).toEqual([0, 0, 0, 0, 0]);
  });

  it('never lets two live holders share a cell, whatever the order of takes and gives', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 4 }), fc.nat()), { maxLength: 800 }), (steps) => {
        const arena = new BucketArena();
        const live: Array<{ counts: Uint32Array; mark: number }> = [];
        let mark = 0;
        for (const [take, length, pick] of steps) {
          if (take || live.length === 0) {
            const counts = arena.poolFor(length).take();
            if (!counts.every((c) => c === 0)) return false;
            counts.fill(++mark);
            live.push({ counts, mark });
          } else {
            const [gone] = live.splice(pick % live.length, 1);
            arena.poolFor(gone!.counts.length).give(gone!.counts);
          }
        }
        return live.every(({ counts, mark }) => counts.every((c) => c === mark));
      }),
    );
  });
});
