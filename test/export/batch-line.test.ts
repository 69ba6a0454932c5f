import { describe, expect, it } from 'vitest';
import { BatchLine, type WaitingBatch } from '../../agent/export/batch-line.js';
import type { EventRecord } from '../../agent/export/sink.js';

interface B {
  id: number;
  events: EventRecord[];
}

const event = (value: string): EventRecord => ({ name: 'e', value, attributes: [], timeMs: 1 });

function harness(maxEvents = 100) {
  const delivered: Array<{ id: number; events: string[]; marks: number[] }> = [];
  const superseded: Array<[number, number]> = [];
  let dropped = 0;
  let release: (() => void) | undefined;
  const line = new BatchLine<B>({
    deliver: async (w) => {
      // Each delivery waits until the test lets it finish, as a slow encode would.
      await new Promise<void>((r) => (release = r));
      delivered.push({ id: w.batch.id, events: w.batch.events.map((e) => e.value), marks: (w as Marked).marks });
    },
    onSuperseded: (older, by) => superseded.push([older.batch.id, by.batch.id]),
    maxEvents,
    onEventsDropped: (n) => (dropped += n),
  });
  type Marked = WaitingBatch<B> & { marks: number[] };
  const offer = (id: number, events: string[] = []) => {
    const w: Marked = {
      batch: { id, events: events.map(event) },
      marks: [id],
      absorb(older) {
        this.marks = [...(older as Marked).marks, ...this.marks];
      },
    };
    line.offer(w);
  };
  const finishOne = async () => {
    while (release === undefined) await new Promise((r) => setImmediate(r));
    const r = release;
    release = undefined;
    r();
    await new Promise((r) => setImmediate(r));
  };
  return { line, offer, finishOne, delivered, superseded, dropped: () => dropped };
}

describe('BatchLine', () => {
  it('delivers batches one after another in flush order', async () => {
    const h = harness();
    h.offer(1);
    await h.finishOne();
    h.offer(2);
    await h.finishOne();
    await h.line.idle();
    expect(h.delivered.map((d) => d.id)).toEqual([1, 2]);
    expect(h.superseded).toEqual([]);
  });

  it('keeps at most one batch waiting: a newer one replaces it, carrying its events and what it absorbs', async () => {
    const h = harness();
    h.offer(1, ['a']);
    // 1 is being delivered; 2 waits; 3 and 4 arrive before 1 is done.
    h.offer(2, ['b']);
    h.offer(3, ['c']);
    h.offer(4, ['d']);
    await h.finishOne();
    await h.finishOne();
    await h.line.idle();
    expect(h.delivered).toEqual([
      { id: 1, events: ['a'], marks: [1] },
      { id: 4, events: ['b', 'c', 'd'], marks: [2, 3, 4] },
    ]);
    expect(h.superseded).toEqual([
      [2, 3],
      [3, 4],
    ]);
  });

  it('carries at most maxEvents from superseded batches, dropping the oldest and counting them', async () => {
    const h = harness(3);
    h.offer(1);
    h.offer(2, ['a', 'b']);
    h.offer(3, ['c', 'd']);
    await h.finishOne();
    await h.finishOne();
    await h.line.idle();
    expect(h.delivered.at(-1)).toEqual({ id: 3, events: ['b', 'c', 'd'], marks: [2, 3] });
    expect(h.dropped()).toBe(1);
  });

  it('idle() waits for the batch under way and the one waiting', async () => {
    const h = harness();
    h.offer(1);
    h.offer(2);
    let idle = false;
    const done = h.line.idle().then(() => (idle = true));
    await h.finishOne();
    expect(idle).toBe(false);
    await h.finishOne();
    await done;
    expect(h.delivered.map((d) => d.id)).toEqual([1, 2]);
  });
});
