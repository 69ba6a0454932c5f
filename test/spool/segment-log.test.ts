import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeFileAccess } from '../../agent/spool/file-access.js';
import { FRAME_HEADER_BYTES } from '../../agent/spool/record-frame.js';
import { LogClosedError, LogFailedError, RecordTooLargeError, SegmentLog } from '../../agent/spool/segment-log.js';
import { SEGMENT_HEADER_BYTES, segmentName } from '../../agent/spool/segment-file.js';
import { FaultFileAccess } from './fault-file-access.js';
import { payload, payloadId, readAll, tempDir, watchFiles } from './helpers.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
function dir(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

describe('SegmentLog on the real file system', () => {
  it('appends, reads in order after a position, acknowledges, and keeps all of it across a reopen', async () => {
    const d = dir();
    let clock = 1_700_000_000_000;
    const log = await SegmentLog.open({ dir: d, now: () => clock++ });
    expect(log.recovery.created).toBe(true);
    expect(log.recovery.clean).toBe(true);
    expect(await log.append(Buffer.from('one'))).toBe(1);
    expect(await log.append(Buffer.from('two'))).toBe(2);
    expect(await log.appendMany([[Buffer.from('th'), Buffer.from('ree')], Buffer.from('')])).toEqual({ first: 3, last: 4 });

    const all = await log.read(0);
    expect(all.map((r) => [r.seq, r.payload.toString(), r.appendedAtMs])).toEqual([
      [1, 'one', 1_700_000_000_000],
      [2, 'two', 1_700_000_000_001],
      [3, 'three', 1_700_000_000_002],
      [4, '', 1_700_000_000_002],
    ]);
    expect((await log.read(1, { maxRecords: 2 })).map((r) => r.seq)).toEqual([2, 3]);
    expect((await log.read(3)).map((r) => r.seq)).toEqual([4]);
    expect(await log.read(4)).toEqual([]);

    await log.ack(2);
    expect(log.stats()).toMatchObject({ records: 2, ackedSeq: 2, lastSeq: 4, oldestAppendedAtMs: 1_700_000_000_002 });
    // Reading from before the acknowledged position starts after it.
    expect((await log.read(0)).map((r) => r.seq)).toEqual([3, 4]);
    await log.close();

    const again = await SegmentLog.open({ dir: d });
    expect(again.recovery).toMatchObject({ created: false, clean: true, cursor: 'ok', ackedSeq: 2, lastSeq: 4, records: 2, truncated: [] });
    expect((await again.read(0)).map((r) => r.payload.toString())).toEqual(['three', '']);
    expect(await again.append(Buffer.from('five'))).toBe(5);
    await again.close();
  });

  it('rolls segments before they pass segmentBytes, names each by its first sequence number, and lets one oversized record stand alone', async () => {
    const d = dir();
    const log = await SegmentLog.open({ dir: d, segmentBytes: 4096, maxRecordBytes: 10_000 });
    for (let i = 1; i <= 10; i++) await log.append(payload(i, 1000));
    await log.append(payload(11, 9000));
    await log.append(payload(12, 10));
    await log.close();
    const files = readdirSync(d).filter((n) => n.endsWith('.seg')).sort();
    const perSegment = Math.floor((4096 - SEGMENT_HEADER_BYTES) / (1000 + FRAME_HEADER_BYTES));
    expect(perSegment).toBe(3);
    expect(files).toEqual([1, 4, 7, 10, 11, 12].map(segmentName));
    for (const f of files) {
      const size = statSync(join(d, f)).size;
      if (f === segmentName(11)) expect(size).toBe(SEGMENT_HEADER_BYTES + FRAME_HEADER_BYTES + 9000);
      else expect(size).toBeLessThanOrEqual(4096);
    }
    const log2 = await SegmentLog.open({ dir: d, segmentBytes: 4096, maxRecordBytes: 10_000 });
    const recs = await readAll(log2);
    expect(recs.map((r) => payloadId(r.payload))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(recs.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    await log2.close();
  });

  it('refuses a record over maxRecordBytes with a clear error and writes nothing', async () => {
    const log = await SegmentLog.open({ dir: dir(), maxRecordBytes: 100 });
    const err = await log.append(Buffer.alloc(101)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RecordTooLargeError);
    expect((err as Error).message).toMatch(/101 bytes is larger than the spool's limit of 100 bytes/);
    await expect(log.appendMany([Buffer.alloc(5), Buffer.alloc(200)])).rejects.toBeInstanceOf(RecordTooLargeError);
    expect(log.lastSeq).toBe(0);
    expect(await log.append(Buffer.alloc(100))).toBe(1);
    await log.close();
  });

  it('deletes a fully delivered segment only after the cursor that frees it is durable', async () => {
    const d = dir();
    const ops: string[] = [];
    const files = watchFiles(nodeFileAccess, { onOp: (op) => ops.push(op.replaceAll(d + '/', '')) });
    const log = await SegmentLog.open({ dir: d, files, segmentBytes: 4096 });
    for (let i = 1; i <= 7; i++) await log.append(payload(i, 1000));
    expect(log.stats().segments).toBe(3);
    ops.length = 0;
    await log.ack(6);
    expect(ops).toEqual([
      'replace cursor.tmp',
      'write cursor.tmp',
      'sync cursor.tmp',
      'rename cursor.tmp cursor',
      `syncDir ${d}`,
      `unlink ${segmentName(1)}`,
      `unlink ${segmentName(4)}`,
    ]);
    expect(readdirSync(d).sort()).toEqual([segmentName(7), 'cursor']);
    expect(log.stats()).toMatchObject({ segments: 1, records: 1, ackedSeq: 6 });
    await log.close();
  });

  it('rejects acknowledging past the last durable record, and ignores acknowledging backwards', async () => {
    const log = await SegmentLog.open({ dir: dir() });
    await log.append(Buffer.from('a'));
    await expect(log.ack(2)).rejects.toThrow(/cannot acknowledge 2: the last durable record is 1/);
    await log.ack(1);
    await log.ack(0);
    expect(log.acknowledgedSeq).toBe(1);
    await log.close();
  });

  it('reports size, count and oldest age of what is undelivered, and drops the oldest on request, counting what went', async () => {
    let clock = 1000;
    const log = await SegmentLog.open({ dir: dir(), segmentBytes: 4096, now: () => (clock += 10) });
    for (let i = 1; i <= 20; i++) await log.append(payload(i, 500));
    const frame = FRAME_HEADER_BYTES + 500;
    expect(log.stats()).toMatchObject({ records: 20, bytes: 20 * frame, oldestAppendedAtMs: 1010, lastSeq: 20 });

    // Whole segments are dropped without reading them, the rest record by record.
    const r = await log.dropOldest({ bytes: 9 * frame + 1 });
    expect(r).toEqual({ records: 10, bytes: 10 * frame, fromSeq: 1, toSeq: 10 });
    expect(log.stats()).toMatchObject({ records: 10, bytes: 10 * frame, oldestAppendedAtMs: 1110, ackedSeq: 10 });
    expect((await log.read(0, { maxRecords: 1 }))[0]!.seq).toBe(11);

    expect(await log.dropOldest({ records: 3 })).toEqual({ records: 3, bytes: 3 * frame, fromSeq: 11, toSeq: 13 });
    expect(await log.dropOldest({ records: 100 })).toEqual({ records: 7, bytes: 7 * frame, fromSeq: 14, toSeq: 20 });
    expect(log.stats()).toMatchObject({ records: 0, bytes: 0, oldestAppendedAtMs: undefined });
    expect(await log.dropOldest({ records: 1 })).toEqual({ records: 0, bytes: 0, fromSeq: 0, toSeq: 0 });
    // Appends after everything was dropped are counted again.
    await log.append(payload(21, 500));
    expect(log.stats()).toMatchObject({ records: 1, bytes: frame, oldestAppendedAtMs: clock });
    await log.close();
  });

  it('after close, waits for nothing new: pending appends finish durably, later calls are refused', async () => {
    const d = dir();
    const log = await SegmentLog.open({ dir: d });
    const pending = [log.append(Buffer.from('x')), log.append(Buffer.from('y'))];
    const closed = log.close();
    await expect(log.append(Buffer.from('z'))).rejects.toBeInstanceOf(LogClosedError);
    expect(await Promise.all(pending)).toEqual([1, 2]);
    await closed;
    await expect(log.read(0)).rejects.toBeInstanceOf(LogClosedError);
    const again = await SegmentLog.open({ dir: d });
    expect((await again.read(0)).map((r) => r.payload.toString())).toEqual(['x', 'y']);
    await again.close();
  });

  it('waitForRecords resolves when a record after the position is durable, and rejects when aborted', async () => {
    const log = await SegmentLog.open({ dir: dir() });
    let woke = false;
    const w = log.waitForRecords(0).then(() => (woke = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(woke).toBe(false);
    await log.append(Buffer.from('a'));
    await w;
    expect(woke).toBe(true);
    await log.waitForRecords(0); // already there
    const ac = new AbortController();
    const aborted = log.waitForRecords(1, ac.signal);
    ac.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    await log.close();
  });
});

describe('SegmentLog reading damage found after start-up', () => {
  it('steps over a record damaged on disk while open, counts it, and a waiting reader does not spin on it', async () => {
    const d = dir();
    const log = await SegmentLog.open({ dir: d });
    for (let i = 1; i <= 3; i++) await log.append(payload(i, 40));
    // Rot the last record's payload under the running log.
    const path = join(d, segmentName(1));
    const buf = readFileSync(path);
    buf[buf.length - 1]! ^= 0x10;
    writeFileSync(path, buf);
    expect((await readAll(log)).map((r) => payloadId(r.payload))).toEqual([1, 2]);
    expect(log.stats().damagedRangesRead).toBeGreaterThan(0);
    expect(await log.read(2)).toEqual([]);
    let woke = false;
    const waiting = log.waitForRecords(2).then(() => (woke = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(woke).toBe(false);
    expect(await log.append(payload(4, 40))).toBe(4);
    await waiting;
    expect((await log.read(2)).map((r) => [r.seq, payloadId(r.payload)])).toEqual([[4, 4]]);
    await log.close();
  });
});

describe('SegmentLog group commit', () => {
  it('batches concurrent appends into one write and one fsync, and resolves none before its fsync returns', async () => {
    const fs = new FaultFileAccess({ yieldChance: 0 });
    let release!: () => void;
    let gate: Promise<void> | undefined;
    let syncsDone = 0;
    const files = watchFiles(fs, {
      beforeSync: async (path) => {
        if (path.endsWith('.seg') && gate !== undefined) await gate;
      },
      onOp: (op) => {
        if (op.startsWith('sync') && op.endsWith('.seg')) syncsDone++;
      },
    });
    const log = await SegmentLog.open({ dir: '/spool', files });
    gate = new Promise((r) => (release = r));
    const resolved: number[] = [];
    const first = Array.from({ length: 50 }, (_, i) => log.append(payload(i, 100)).then((s) => resolved.push(s)));
    // Let the first batch reach its fsync, then append more while it is held there.
    await new Promise((r) => setTimeout(r, 20));
    expect(syncsDone).toBe(0);
    const second = Array.from({ length: 30 }, (_, i) => log.append(payload(100 + i, 100)).then((s) => resolved.push(s)));
    await new Promise((r) => setTimeout(r, 20));
    expect(resolved).toEqual([]);
    const writesBefore = fs.counts.writes;
    release();
    gate = undefined;
    await Promise.all([...first, ...second]);
    expect(resolved).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
    // One batch for the first 50 (held at its fsync), one for the 30 that arrived meanwhile.
    expect(log.stats().commits).toBe(2);
    expect(fs.counts.fileSyncs).toBeGreaterThanOrEqual(2);
    expect(fs.counts.writes - writesBefore).toBe(1);
    await log.close();
  });

  it('takes a failed write back off the disk, hands its sequence numbers out again, and keeps working', async () => {
    const fs = new FaultFileAccess({ yieldChance: 0 });
    const log = await SegmentLog.open({ dir: '/spool', files: fs, segmentBytes: 4096 });
    expect(await log.append(payload(1, 300))).toBe(1);
    fs.failNext('write', 'ENOSPC');
    const failed = await Promise.allSettled([log.append(payload(2, 300)), log.append(payload(3, 300))]);
    expect(failed.map((f) => f.status)).toEqual(['rejected', 'rejected']);
    expect((failed[0] as PromiseRejectedResult).reason.code).toBe('ENOSPC');
    expect(await log.append(payload(4, 300))).toBe(2);
    expect((await readAll(log)).map((r) => payloadId(r.payload))).toEqual([1, 4]);
    await log.close();
    const again = await SegmentLog.open({ dir: '/spool', files: fs.restart(), segmentBytes: 4096 });
    expect(again.recovery.clean).toBe(true);
    expect(again.recovery.truncated).toEqual([]);
    expect((await readAll(again)).map((r) => payloadId(r.payload))).toEqual([1, 4]);
    await again.close();
  });

  it('stops taking appends when a failed write cannot be undone, and recovers on reopen', async () => {
    const fs = new FaultFileAccess({ yieldChance: 0 });
    const log = await SegmentLog.open({ dir: '/spool', files: fs });
    await log.append(payload(1, 50));
    fs.failNext('sync', 'EIO');
    fs.failNext('truncate', 'EIO');
    await expect(log.append(payload(2, 50))).rejects.toBeInstanceOf(LogFailedError);
    await expect(log.append(payload(3, 50))).rejects.toThrow(/takes no more appends until reopened: EIO/);
    expect((await readAll(log)).map((r) => payloadId(r.payload))).toEqual([1]);
    await log.close();
    const again = await SegmentLog.open({ dir: '/spool', files: fs.restart() });
    const ids = (await readAll(again)).map((r) => payloadId(r.payload));
    // Record 2 was written but never acknowledged: it may or may not have survived, but nothing else may appear.
    expect([[1], [1, 2]]).toContainEqual(ids);
    expect(await again.append(payload(4, 50))).toBe(ids.length + 1);
    await again.close();
  });
});
