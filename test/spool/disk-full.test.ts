/**
 * The segment log on a full disk (the simulated disk of fault-file-access.ts,
 * with a capacity): delivered data must come back as free space without
 * needing any, the cursor must move even when no new block can be had, and
 * a crash at any point of that leaves every undelivered record readable.
 */
import { describe, expect, it } from 'vitest';
import { SegmentLog } from '../../agent/spool/segment-log.js';
import { BLOCK_BYTES, FaultFileAccess } from './fault-file-access.js';
import { payload, payloadId, readAll } from './helpers.js';

const DIR = '/disk/queue';
const CAPACITY = 64 * 1024;

/** A log on a small disk, appended to until the disk refuses; resolves with the log and the last durable record. */
async function fill(fs: FaultFileAccess): Promise<{ log: SegmentLog; last: number; refusal: unknown }> {
  // Segments far larger than the disk: without eager removal nothing would roll, and nothing come back.
  const log = await SegmentLog.open({ dir: DIR, files: fs, segmentBytes: 1 << 20 });
  let last = 0;
  for (let id = 1; ; id++) {
    try {
      last = await log.append(payload(id, 1000));
    } catch (refusal) {
      return { log, last, refusal };
    }
  }
}

describe('SegmentLog on a full disk', () => {
  it('frees every delivered byte, the segment being written to included, with no space to spare', async () => {
    const fs = new FaultFileAccess({ capacityBytes: CAPACITY, yieldChance: 0 });
    const { log, last, refusal } = await fill(fs);
    expect(refusal).toMatchObject({ code: 'ENOSPC' });
    expect(last).toBeGreaterThan(40);
    expect(fs.usedBytes()).toBeGreaterThan(CAPACITY - 2 * BLOCK_BYTES);

    // The cursor cannot get a new block; it must move all the same.
    await log.ack(last);
    expect(log.stats()).toMatchObject({ records: 0, bytes: 0, ackedSeq: last, segments: 0, diskBytes: 0 });
    expect(fs.usedBytes()).toBeLessThanOrEqual(BLOCK_BYTES);

    // The space is there again: appends go on, numbered after the last one.
    expect(await log.append(payload(1001, 1000))).toBe(last + 1);
    await log.close();

    // And a restart agrees: nothing delivered comes back, the undelivered record does.
    const again = await SegmentLog.open({ dir: DIR, files: fs.restart() });
    expect(again.recovery).toMatchObject({ clean: true, ackedSeq: last, lastSeq: last + 1, records: 1 });
    expect((await readAll(again)).map((r) => payloadId(r.payload))).toEqual([1001]);
    await again.close();
  });

  it('frees the delivered part as it is acknowledged, and never a record that was not', async () => {
    const fs = new FaultFileAccess({ capacityBytes: CAPACITY, yieldChance: 0, seed: 7 });
    const { log, last } = await fill(fs);
    const half = Math.floor(last / 2);
    // Half delivered: the current segment still holds the other half, so it stays.
    await log.ack(half);
    expect(log.stats()).toMatchObject({ ackedSeq: half, records: last - half });
    expect((await readAll(log)).map((r) => payloadId(r.payload))).toEqual(Array.from({ length: last - half }, (_, i) => half + 1 + i));
    await log.ack(last);
    expect(fs.usedBytes()).toBeLessThanOrEqual(BLOCK_BYTES);
    await log.close();
  });

  it('survives a power loss at every step of an acknowledgement on a full disk: nothing undelivered is lost', async () => {
    const base = new FaultFileAccess({ capacityBytes: CAPACITY, yieldChance: 0, seed: 3 });
    const { log, last } = await fill(base);
    await log.ack(5);
    await log.close();
    const image = base.restart();
    for (let step = 1; step <= 12; step++) {
      const fs = image.restart();
      const l = await SegmentLog.open({ dir: DIR, files: fs });
      fs.crashAtOp(step);
      await l.ack(last).catch(() => undefined);
      const after = await SegmentLog.open({ dir: DIR, files: fs.restart() });
      // Either the old position, the new one, or (a torn in-place cursor) delivery again from the oldest record kept.
      const ids = (await readAll(after)).map((r) => payloadId(r.payload));
      const acked = after.recovery.ackedSeq;
      expect(acked === 5 || acked === last || after.recovery.cursor === 'corrupt').toBe(true);
      if (acked < last) expect(ids.slice(-(last - 5))).toEqual(Array.from({ length: last - 5 }, (_, i) => 6 + i));
      else expect(ids).toEqual([]);
      await after.close();
    }
  });
});
