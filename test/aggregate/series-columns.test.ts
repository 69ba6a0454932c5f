import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeriesColumns } from '../../agent/aggregate/series-columns.js';

describe('SeriesColumns', () => {
  it('gives each live series a slot of its own, zeroed, across growth and slots given back', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat()), { maxLength: 600 }), (steps) => {
        const columns = new SeriesColumns(4);
        const live: Array<{ slot: number; mark: number }> = [];
        let mark = 0;
        for (const [take, pick] of steps) {
          if (take || live.length === 0) {
            const slot = columns.take(1000 + mark);
            if (columns.value[slot] !== 0 || columns.sum[slot] !== 0 || columns.count[slot] !== 0) return false;
            if (columns.startTimeMs[slot] !== 1000 + mark || columns.lastSeenMs[slot] !== 1000 + mark) return false;
            mark++;
            columns.value[slot] = mark;
            columns.sum[slot] = -mark;
            columns.count[slot] = 2 * mark;
            live.push({ slot, mark });
          } else {
            const [gone] = live.splice(pick % live.length, 1);
            columns.give(gone!.slot);
          }
        }
        return live.every(({ slot, mark }) => columns.value[slot] === mark && columns.sum[slot] === -mark && columns.count[slot] === 2 * mark);
      }),
    );
  });

  it('copies one slot into columns of its own, which the slot\'s next holder does not touch', () => {
    const columns = new SeriesColumns(2);
    const slot = columns.take(5);
    columns.value[slot] = 1.5;
    columns.sum[slot] = 2.5;
    columns.count[slot] = 3;
    columns.lastSeenMs[slot] = 9;
    const copy = columns.copyOf(slot);
    columns.give(slot);
    expect(columns.take(7)).toBe(slot);
    expect(columns.value[slot]).toBe(0);
    expect([copy.value[0], copy.sum[0], copy.count[0], copy.startTimeMs[0], copy.lastSeenMs[0]]).toEqual([1.5, 2.5, 3, 5, 9]);
  });
});
