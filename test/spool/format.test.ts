import { cpSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../agent/spool/cursor-file.js';
import { encodeFrame, FRAME_HEADER_BYTES } from '../../agent/spool/record-frame.js';
import { decodeSegmentHeader, encodeSegmentHeader, SEGMENT_HEADER_BYTES, segmentName } from '../../agent/spool/segment-file.js';
import { SegmentLog } from '../../agent/spool/segment-log.js';
import { tempDir } from './helpers.js';

/**
 * fixtures/format-v1 is a log written by this code's first version
 * (segmentBytes 256, record 1 acknowledged). Spools outlive upgrades, so
 * this pins the on-disk format: the files must still open to the same
 * records, and encoding those records again must give the same bytes. A
 * change that breaks this needs a new format version, not a new fixture.
 */
const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'format-v1');
const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);
const RECORDS: Array<{ seq: number; at: number; payload: Buffer }> = [
  { seq: 1, at: T0 + 1000, payload: Buffer.from('first record') },
  { seq: 2, at: T0 + 2000, payload: Buffer.from('second') },
  { seq: 3, at: T0 + 2000, payload: Buffer.from('') },
  { seq: 4, at: T0 + 2000, payload: Buffer.from('x'.repeat(150)) },
  { seq: 5, at: T0 + 3000, payload: Buffer.from('{"json":true,"n":5}') },
  // Starts with the frame magic: a payload may hold anything.
  { seq: 6, at: T0 + 4000, payload: Buffer.from([0xf7, 0x54, 0x4c, 0x59, 0, 1, 2, 255]) },
];
const SEGMENTS: Record<string, number[]> = { [segmentName(1)]: [1, 2, 3], [segmentName(4)]: [4], [segmentName(5)]: [5, 6] };

const cleanups: Array<() => void> = [];
afterAll(() => {
  for (const c of cleanups) c();
});

describe('on-disk format, version 1', () => {
  it('the fixture opens cleanly to the records it was written with', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    cpSync(FIXTURE, t.dir, { recursive: true });
    const log = await SegmentLog.open({ dir: t.dir, segmentBytes: 256, maxRecordBytes: 200 });
    expect(log.recovery).toMatchObject({ clean: true, cursor: 'ok', ackedSeq: 1, lastSeq: 6, records: 5, segments: 3, truncated: [] });
    const got = await log.read(0);
    expect(got).toEqual(RECORDS.slice(1).map((r) => ({ seq: r.seq, appendedAtMs: r.at, payload: r.payload })));
    expect(log.stats()).toMatchObject({ records: 5, oldestAppendedAtMs: T0 + 2000 });
    await log.close();
  });

  it('encoding the same records again gives the fixture byte for byte', () => {
    expect(readdirSync(FIXTURE).sort()).toEqual([...Object.keys(SEGMENTS), 'cursor'].sort());
    const cursor = decodeCursor(readFileSync(join(FIXTURE, 'cursor')));
    expect(cursor.state).toBe('ok');
    if (cursor.state !== 'ok') return;
    expect(encodeCursor(cursor.cursor)).toEqual(readFileSync(join(FIXTURE, 'cursor')));
    for (const [name, seqs] of Object.entries(SEGMENTS)) {
      const file = readFileSync(join(FIXTURE, name));
      const h = decodeSegmentHeader(file);
      expect(h).toEqual({ salt: cursor.cursor.salt, firstSeq: seqs[0] });
      const recs = RECORDS.filter((r) => seqs.includes(r.seq));
      const out = Buffer.alloc(SEGMENT_HEADER_BYTES + recs.reduce((a, r) => a + FRAME_HEADER_BYTES + r.payload.length, 0));
      encodeSegmentHeader(out, 0, { salt: cursor.cursor.salt, firstSeq: seqs[0]! });
      let at = SEGMENT_HEADER_BYTES;
      for (const r of recs) at = encodeFrame(out, at, cursor.cursor.salt, r.seq, r.at, r.payload);
      expect(out.toString('hex')).toBe(file.toString('hex'));
    }
  });
});
