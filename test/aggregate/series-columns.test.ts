import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ColumnBlocks, SeriesColumns } from '../../agent/aggregate/series-columns.js';

describe('ColumnBlocks and SeriesColumns', () => {
  it('gives each live series a slot of its own, zeroed, across new blocks and slots given back', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat()), { maxLength: 600 }), (steps) => {
        const blocks = new ColumnBlocks(4);
        const live: Array<{ block: SeriesColumns; slot: number; mark: number }> = [];
        let mark = 0;
        for (const [take, pick] of steps) {
          if (take || live.length === 0) {
            const block = blocks.withRoom();
            const slot = block.take(1000 + mark);
            if (block.value[slot] !== 0 || block.sum[slot] !== 0 || block.count[slot] !== 0) return false;
            if (block.startTimeMs[slot] !== 1000 + mark || block.lastSeenMs[slot] !== 1000 + mark) return false;
            if (live.some((l) => l.block === block && l.slot === slot)) return false;
            mark++;
            block.value[slot] = mark;
            block.sum[slot] = -mark;
            block.count[slot] = 2 * mark;
            live.push({ block, slot, mark });
          } else {
            const [gone] = live.splice(pick % live.length, 1);
            gone!.block.give(gone!.slot);
          }
        }
        return live.every(({ block, slot, mark }) => block.value[slot] === mark && block.sum[slot] === -mark && block.count[slot] === 2 * mark);
      }),
    );
  });

  it('fills the slots given back before it makes a block, and never moves a series out of its block', () => {
    const blocks = new ColumnBlocks(2);
    const first = blocks.withRoom();
    const a = first.take(1);
    first.take(2);
    const second = blocks.withRoom();
    expect(second).not.toBe(first);
    expect(second.value.length).toBe(4);
    first.value[a] = 7;
    for (let i = 0; i < 4; i++) blocks.withRoom().take(3);
    first.give(a);
    expect(blocks.withRoom()).toBe(first);
    expect(first.take(4)).toBe(a);
    expect(first.value[a]).toBe(0);
    const third = blocks.withRoom();
    expect([third.value.length, first.value.length]).toEqual([8, 2]);
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
