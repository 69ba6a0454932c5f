import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CURSOR_NAME, CURSOR_TEMP_NAME, encodeCursor } from '../../agent/spool/cursor-file.js';
import { nodeFileAccess } from '../../agent/spool/file-access.js';
import { encodeFrame, FRAME_HEADER_BYTES } from '../../agent/spool/record-frame.js';
import { UnsupportedLogFormatError } from '../../agent/spool/recovery.js';
import { SEGMENT_HEADER_BYTES, segmentName } from '../../agent/spool/segment-file.js';
import { SegmentLog, type SegmentLogOptions } from '../../agent/spool/segment-log.js';
import { payload, payloadId, readAll, tempDir } from './helpers.js';

/**
 * Damage done to real files between runs: each case starts from the same
 * pristine log (copied), damages it, opens it, and checks that every record
 * that is still intact comes back, exactly, and nothing else does; that the
 * report says what happened; and that appends continue above every sequence
 * number seen.
 */

const SEGMENT_BYTES = 1024;
const MAX_RECORD = 400;
const OPTS = { segmentBytes: SEGMENT_BYTES, maxRecordBytes: MAX_RECORD } satisfies Partial<SegmentLogOptions>;
const RECORDS = 40;
const ACKED = 5;

interface Frame {
  offset: number;
  bytes: number;
  seq: number;
}

/** An independent walk over a healthy segment file, by the documented format. */
function framesOf(buf: Buffer): Frame[] {
  const out: Frame[] = [];
  let at = SEGMENT_HEADER_BYTES;
  while (at + FRAME_HEADER_BYTES <= buf.length) {
    const len = buf.readUInt32LE(at + 8);
    out.push({ offset: at, bytes: FRAME_HEADER_BYTES + len, seq: buf.readUInt32LE(at + 12) });
    at += FRAME_HEADER_BYTES + len;
  }
  expect(at).toBe(buf.length);
  return out;
}

const sizeOf = (id: number): number => 20 + ((id * 37) % 80);

let pristine: { dir: string; cleanup: () => void };
let segs: string[];
const work: Array<() => void> = [];

beforeAll(async () => {
  pristine = tempDir();
  const log = await SegmentLog.open({ dir: pristine.dir, ...OPTS });
  for (let id = 1; id <= RECORDS; id++) await log.append(payload(id, sizeOf(id)));
  await log.ack(ACKED);
  await log.close();
  segs = readdirSync(pristine.dir)
    .filter((n) => n.endsWith('.seg'))
    .sort();
  expect(segs.length).toBeGreaterThanOrEqual(4);
});
afterAll(() => {
  pristine.cleanup();
  for (const c of work.splice(0)) c();
});

function copy(): string {
  const t = tempDir();
  work.push(t.cleanup);
  for (const n of readdirSync(pristine.dir)) copyFileSync(join(pristine.dir, n), join(t.dir, n));
  return t.dir;
}

/** Opens, checks that what is read is exactly the expected ids in order with their own sequence numbers, appends, reopens. */
async function expectRecovers(dir: string, expectedIds: number[], opts: Partial<SegmentLogOptions> = {}): Promise<SegmentLog['recovery']> {
  const log = await SegmentLog.open({ dir, ...OPTS, ...opts });
  const report = log.recovery;
  const recs = await readAll(log, 0, 7);
  const ids = recs.map((r) => payloadId(r.payload));
  expect(ids).toEqual(expectedIds);
  // A record's sequence number is the id it was appended with: nothing moved.
  for (const r of recs) expect(r.seq).toBe(payloadId(r.payload));
  const next = await log.append(payload(1000, 50));
  expect(next).toBe(report.lastSeq + 1);
  expect(next).toBeGreaterThan(Math.max(report.ackedSeq, ...recs.map((r) => r.seq)));
  await log.close();
  const again = await SegmentLog.open({ dir, ...OPTS, ...opts });
  expect((await readAll(again)).map((r) => payloadId(r.payload))).toEqual([...expectedIds, 1000]);
  expect(again.recovery.truncated).toEqual([]);
  await again.close();
  return report;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const undelivered = range(ACKED + 1, RECORDS);

describe('recovery: torn tail', () => {
  it('cut at every byte of the last three records: keeps every whole record before the cut, truncates the rest, and reports it', async () => {
    const dir = copy();
    const last = join(dir, segs[segs.length - 1]!);
    const orig = readFileSync(last);
    const frames = framesOf(orig);
    const from = frames[frames.length - 3]!.offset;
    let cases = 0;
    for (let cut = from; cut <= orig.length; cut++) {
      writeFileSync(last, orig.subarray(0, cut));
      for (const n of readdirSync(dir)) if (!n.endsWith('.seg') && n !== CURSOR_NAME) rmSync(join(dir, n));
      const whole = frames.filter((f) => f.offset + f.bytes <= cut);
      const lastWhole = whole.length > 0 ? whole[whole.length - 1]!.seq : Number(segs[segs.length - 1]!.slice(0, 20)) - 1;
      const report = await expectRecovers(dir, range(ACKED + 1, lastWhole));
      const boundary = cut === SEGMENT_HEADER_BYTES || frames.some((f) => f.offset === cut) || cut === orig.length;
      if (boundary) {
        expect(report.truncated).toEqual([]);
      } else {
        const torn = frames.find((f) => f.offset < cut && f.offset + f.bytes > cut)!;
        expect(report.truncated).toEqual([{ segment: segs[segs.length - 1], offset: torn.offset, bytes: cut - torn.offset, fault: expect.any(String), wholeRecords: 0 }]);
      }
      // A torn tail is what a crash leaves: it is not reported as loss.
      expect(report.clean).toBe(true);
      expect(report.skipped).toEqual([]);
      // Put the original back for the next cut (the check above appended to it).
      writeFileSync(last, orig);
      rmSync(join(dir, CURSOR_NAME));
      copyFileSync(join(pristine.dir, CURSOR_NAME), join(dir, CURSOR_NAME));
      for (const n of readdirSync(dir)) if (n.endsWith('.seg') && !segs.includes(n)) rmSync(join(dir, n));
      cases++;
    }
    expect(cases).toBeGreaterThan(3 * FRAME_HEADER_BYTES);
  });

  it('a segment torn as it was created (shorter than its header) is removed, and its number is used again', async () => {
    const dir = copy();
    const next = segmentName(RECORDS + 1);
    writeFileSync(join(dir, next), Buffer.from('TALLYSEG\x01\x02'));
    const report = await expectRecovers(dir, undelivered);
    expect(report.truncated).toEqual([{ segment: next, offset: 0, bytes: 10, fault: 'incomplete', wholeRecords: 0 }]);
    expect(report.removedSegments).toEqual([{ segment: next, reason: 'no-records' }]);
    expect(report.clean).toBe(true);
    expect(report.lastSeq).toBe(RECORDS);
  });

  it('counts every whole record in a cut tail of megabytes, frames straddling the chunks it is read in', async () => {
    const t = tempDir();
    work.push(t.cleanup);
    const big = { segmentBytes: 64 << 20, maxRecordBytes: 200_000 };
    const log = await SegmentLog.open({ dir: t.dir, ...big });
    for (let id = 1; id <= 3; id++) await log.append(payload(id, 1000));
    await log.close();
    const seg = join(t.dir, segmentName(1));
    const orig = readFileSync(seg);
    const salt = orig.readUInt32LE(16);
    const sizes = Array.from({ length: 30 }, (_, i) => 100_000 + ((i * 7919) % 90_000));
    const foreign = Buffer.alloc(sizes.reduce((n, x) => n + FRAME_HEADER_BYTES + x, 0));
    let at = 0;
    // Out of sequence (numbers the log already used), so all of it is cut.
    sizes.forEach((size, i) => (at = encodeFrame(foreign, at, salt, 1 + (i % 3), Date.now(), payload(500 + i, size))));
    expect(at).toBeGreaterThan(3 << 20);
    writeFileSync(seg, Buffer.concat([orig, foreign]));
    const again = await SegmentLog.open({ dir: t.dir, ...big });
    expect(again.recovery).toMatchObject({ truncatedBytes: at, truncatedRecords: 30, clean: false });
    expect((await readAll(again)).map((r) => payloadId(r.payload))).toEqual([1, 2, 3]);
    await again.close();
  });

  it('whole records cut with the tail (a second writer\'s, out of sequence) are data lost: not clean, with the bytes and records counted', async () => {
    const dir = copy();
    const last = join(dir, segs[segs.length - 1]!);
    const orig = readFileSync(last);
    const salt = orig.readUInt32LE(16);
    // What a second agent on the same files appends: good frames, numbered from where its own (older) view ended.
    const foreign = Buffer.alloc(3 * (FRAME_HEADER_BYTES + 60));
    let at = 0;
    for (let i = 0; i < 3; i++) at = encodeFrame(foreign, at, salt, RECORDS - 10 + i, Date.now(), payload(900 + i, 60));
    writeFileSync(last, Buffer.concat([orig, foreign.subarray(0, at)]));
    const report = await expectRecovers(dir, undelivered);
    expect(report.truncated).toEqual([{ segment: segs[segs.length - 1], offset: orig.length, bytes: at, fault: 'bad-sequence', wholeRecords: 3 }]);
    expect(report).toMatchObject({ truncatedBytes: at, truncatedRecords: 3, clean: false });
  });
});

describe('recovery: damage in a middle segment', () => {
  // The second segment holds undelivered records; damage its middle record.
  const fields = {
    magic: { at: 0, bits: 32, faults: ['bad-magic'] },
    checksum: { at: 4, bits: 32, faults: ['bad-checksum'] },
    length: { at: 8, bits: 32, faults: ['bad-checksum', 'bad-length'] },
    sequence: { at: 12, bits: 64, faults: ['bad-checksum', 'bad-sequence'] },
    time: { at: 20, bits: 64, faults: ['bad-checksum', 'bad-sequence'] },
    payload: { at: 28, bits: 8 * 20, faults: ['bad-checksum'] },
  };

  for (const [field, f] of Object.entries(fields)) {
    it(`a flipped bit in the ${field}: that record is skipped and counted, every record after it is kept`, async () => {
      const dir = copy();
      const segName = segs[1]!;
      const path = join(dir, segName);
      const orig = readFileSync(path);
      const frames = framesOf(orig);
      const victim = frames[Math.floor(frames.length / 2)]!;
      expect(victim.seq).toBeGreaterThan(ACKED);
      const faults = new Set<string>();
      for (let bit = 0; bit < f.bits; bit++) {
        const damaged = Buffer.from(orig);
        damaged[victim.offset + f.at + (bit >> 3)]! ^= 1 << (bit & 7);
        writeFileSync(path, damaged);
        const report = await expectRecovers(
          dir,
          undelivered.filter((id) => id !== victim.seq),
        );
        expect(report.clean).toBe(false);
        expect(report.skipped).toEqual([
          { segment: segName, offset: victim.offset, bytes: victim.bytes, fault: expect.any(String), fromSeq: victim.seq, toSeq: victim.seq, records: 1 },
        ]);
        expect(report.skippedRecords).toBe(1);
        expect(f.faults).toContain(report.skipped[0]!.fault);
        faults.add(report.skipped[0]!.fault);
        // Restore for the next bit, dropping the record the check appended.
        writeFileSync(path, orig);
        for (const n of readdirSync(dir)) if (n.endsWith('.seg') && !segs.includes(n)) rmSync(join(dir, n));
        writeFileSync(join(dir, segs[segs.length - 1]!), readFileSync(join(pristine.dir, segs[segs.length - 1]!)));
      }
      if (field === 'length') expect([...faults].sort()).toEqual(['bad-checksum', 'bad-length']);
    });
  }

  it('the last record of a middle segment with a length running past the end of the file is skipped, counted up to the next segment', async () => {
    const dir = copy();
    const path = join(dir, segs[1]!);
    const buf = readFileSync(path);
    const frames = framesOf(buf);
    const victim = frames[frames.length - 1]!;
    buf.writeUInt32LE(buf.readUInt32LE(victim.offset + 8) + 40, victim.offset + 8);
    writeFileSync(path, buf);
    const report = await expectRecovers(
      dir,
      undelivered.filter((id) => id !== victim.seq),
    );
    expect(report.skipped).toEqual([
      { segment: segs[1], offset: victim.offset, bytes: victim.bytes, fault: 'incomplete', fromSeq: victim.seq, toSeq: victim.seq, records: 1 },
    ]);
  });

  it('a length field past the record limit is never allocated: no read asks for more than a chunk or one record', async () => {
    const dir = copy();
    const path = join(dir, segs[1]!);
    const buf = readFileSync(path);
    const victim = framesOf(buf)[1]!;
    buf.writeUInt32LE(0xffffffff, victim.offset + 8);
    writeFileSync(path, buf);
    let largest = 0;
    const files = {
      ...nodeFileAccess,
      async open(p: string, mode: Parameters<typeof nodeFileAccess.open>[1]) {
        const f = await nodeFileAccess.open(p, mode);
        return {
          ...f,
          read: (b: Uint8Array, o: number, l: number, pos: number) => {
            largest = Math.max(largest, l);
            return f.read(b, o, l, pos);
          },
          write: f.write.bind(f),
          sync: f.sync.bind(f),
          truncate: f.truncate.bind(f),
          size: f.size.bind(f),
          close: f.close.bind(f),
        };
      },
    };
    const log = await SegmentLog.open({ dir, files, ...OPTS });
    expect(log.recovery.skipped).toMatchObject([{ fault: 'bad-length', fromSeq: victim.seq, toSeq: victim.seq, records: 1 }]);
    expect((await readAll(log)).map((r) => payloadId(r.payload))).toEqual(undelivered.filter((id) => id !== victim.seq));
    await log.close();
    expect(largest).toBeLessThanOrEqual(SEGMENT_BYTES);
  });

  it('a record longer than this run allows (written under a larger limit) is treated as damage, and the rest is kept', async () => {
    const t = tempDir();
    work.push(t.cleanup);
    const log = await SegmentLog.open({ dir: t.dir, maxRecordBytes: 5000 });
    await log.append(payload(1, 100));
    await log.append(payload(2, 3000));
    await log.append(payload(3, 100));
    await log.close();
    const small = await SegmentLog.open({ dir: t.dir, maxRecordBytes: 1000 });
    expect(small.recovery.skipped).toMatchObject([{ fault: 'bad-length', fromSeq: 2, toSeq: 2, records: 1, bytes: FRAME_HEADER_BYTES + 3000 }]);
    expect((await readAll(small)).map((r) => payloadId(r.payload))).toEqual([1, 3]);
    await small.close();
  });

  it('garbage written over several records is stepped over; the count comes from the sequence numbers on either side', async () => {
    const dir = copy();
    const path = join(dir, segs[1]!);
    const buf = readFileSync(path);
    const frames = framesOf(buf);
    const a = frames[1]!;
    const b = frames[3]!;
    buf.fill(0xf7, a.offset + 3, b.offset + 5);
    writeFileSync(path, buf);
    const lost = [a.seq, a.seq + 1, b.seq];
    const report = await expectRecovers(
      dir,
      undelivered.filter((id) => !lost.includes(id)),
    );
    expect(report.skipped).toMatchObject([{ segment: segs[1], offset: a.offset, fromSeq: a.seq, toSeq: b.seq, records: 3 }]);
  });

  it('a damaged segment header: its frames are still checked with the log salt from the cursor and read', async () => {
    const dir = copy();
    const path = join(dir, segs[2]!);
    const buf = readFileSync(path);
    buf[9]! ^= 0xff; // inside the header checksum
    writeFileSync(path, buf);
    const report = await expectRecovers(dir, undelivered);
    expect(report.damagedHeaders).toEqual([segs[2]]);
    expect(report.clean).toBe(false);
  });

  it('a payload holding a well-formed frame of another log is not mistaken for a record when the frame around it is damaged', async () => {
    const t = tempDir();
    work.push(t.cleanup);
    // The frame a client might smuggle in: right magic, plausible sequence number, valid checksum under a salt it guessed.
    const inner = Buffer.alloc(FRAME_HEADER_BYTES + 8);
    encodeFrame(inner, 0, 12345, 2, Date.now(), Buffer.from('smuggled'));
    const log = await SegmentLog.open({ dir: t.dir });
    await log.append(payload(1, 30));
    await log.append(Buffer.concat([Buffer.alloc(3), inner, Buffer.alloc(5)]));
    await log.append(payload(3, 30));
    await log.close();
    const path = join(t.dir, segmentName(1));
    const buf = readFileSync(path);
    const frames = framesOf(buf);
    buf[frames[1]!.offset + 4]! ^= 1; // the carrying record's checksum
    writeFileSync(path, buf);
    const again = await SegmentLog.open({ dir: t.dir });
    const recs = await readAll(again);
    expect(recs.map((r) => r.payload.toString('latin1'))).not.toContain('smuggled');
    expect(recs.map((r) => payloadId(r.payload))).toEqual([1, 3]);
    expect(again.recovery.skipped).toMatchObject([{ fromSeq: 2, toSeq: 2, records: 1, fault: 'bad-checksum' }]);
    await again.close();
  });
});

describe('recovery: lost files', () => {
  it('a deleted middle segment is reported as missing with its sequence range; reads go on after the gap', async () => {
    const dir = copy();
    const gone = segs[2]!;
    const from = Number(gone.slice(0, 20));
    const to = Number(segs[3]!.slice(0, 20)) - 1;
    rmSync(join(dir, gone));
    const report = await expectRecovers(
      dir,
      undelivered.filter((id) => id < from || id > to),
    );
    expect(report.missing).toEqual([{ fromSeq: from, toSeq: to, records: to - from + 1 }]);
    expect(report.missingRecords).toBe(to - from + 1);
    expect(report.clean).toBe(false);
  });

  it('a deleted first undelivered segment is missing from the cursor on', async () => {
    const dir = copy();
    const to = Number(segs[1]!.slice(0, 20)) - 1;
    rmSync(join(dir, segs[0]!));
    const report = await expectRecovers(dir, range(to + 1, RECORDS));
    expect(report.missing).toEqual([{ fromSeq: ACKED + 1, toSeq: to, records: to - ACKED }]);
  });

  it('a missing cursor: everything on disk is delivered again (at least once), and a new cursor is written', async () => {
    const dir = copy();
    rmSync(join(dir, CURSOR_NAME));
    const report = await expectRecovers(dir, range(1, RECORDS));
    expect(report).toMatchObject({ cursor: 'missing', ackedSeq: 0, clean: false });
    expect(existsSync(join(dir, CURSOR_NAME))).toBe(true);
    const again = await SegmentLog.open({ dir, ...OPTS });
    expect(again.recovery.cursor).toBe('ok');
    await again.close();
  });

  it('a damaged cursor is treated as missing', async () => {
    const dir = copy();
    const c = readFileSync(join(dir, CURSOR_NAME));
    c[22]! ^= 4;
    writeFileSync(join(dir, CURSOR_NAME), c);
    const report = await expectRecovers(dir, range(1, RECORDS));
    expect(report.cursor).toBe('corrupt');
  });

  it('a leftover temp cursor is removed and reported, and the old cursor stands', async () => {
    const dir = copy();
    writeFileSync(join(dir, CURSOR_TEMP_NAME), encodeCursor({ salt: 1, ackedSeq: 30 }).subarray(0, 20));
    const report = await expectRecovers(dir, undelivered);
    expect(report.removedTempFiles).toEqual([CURSOR_TEMP_NAME]);
    expect(report.clean).toBe(true);
    expect(existsSync(join(dir, CURSOR_TEMP_NAME))).toBe(false);
  });

  it('every segment gone but a cursor far ahead: new records are numbered above the cursor', async () => {
    const t = tempDir();
    work.push(t.cleanup);
    writeFileSync(join(t.dir, CURSOR_NAME), encodeCursor({ salt: 7, ackedSeq: 500 }));
    const log = await SegmentLog.open({ dir: t.dir });
    expect(log.recovery).toMatchObject({ created: false, cursor: 'ok', segments: 0, lastSeq: 500 });
    expect(await log.append(Buffer.from('x'))).toBe(501);
    await log.close();
  });

  it('a cursor ahead of the last record on disk (later segments lost): new records go in a segment of their own, numbered above it', async () => {
    const t = tempDir();
    work.push(t.cleanup);
    const log = await SegmentLog.open({ dir: t.dir, ...OPTS });
    await log.append(payload(1, 20));
    await log.append(payload(2, 20));
    await log.close();
    // A small segment, not yet worth rolling away from, and a cursor that says 100 records were delivered.
    const salt = readFileSync(join(t.dir, segmentName(1))).readUInt32LE(16);
    writeFileSync(join(t.dir, CURSOR_NAME), encodeCursor({ salt, ackedSeq: 100 }));
    const reopened = await SegmentLog.open({ dir: t.dir, ...OPTS });
    expect(reopened.recovery).toMatchObject({ ackedSeq: 100, lastSeq: 100, records: 0, segments: 1 });
    expect(await reopened.append(payload(101, 30))).toBe(101);
    expect(await reopened.append(payload(102, 30))).toBe(102);
    await reopened.close();
    expect(readdirSync(t.dir)).toContain(segmentName(101));
    const again = await SegmentLog.open({ dir: t.dir, ...OPTS });
    expect(again.recovery.clean).toBe(true);
    expect(again.recovery.skipped).toEqual([]);
    expect((await readAll(again)).map((r) => [r.seq, payloadId(r.payload)])).toEqual([
      [101, 101],
      [102, 102],
    ]);
    await again.close();
  });

  it('files that are not the log are left alone and listed', async () => {
    const dir = copy();
    writeFileSync(join(dir, 'notes.txt'), 'hello');
    writeFileSync(join(dir, '123.seg'), 'not a segment name');
    const report = await expectRecovers(dir, undelivered);
    expect(report.ignoredFiles).toEqual(['123.seg', 'notes.txt']);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('hello');
  });

  it('a segment of a newer format stops start-up with a clear error and changes nothing', async () => {
    const dir = copy();
    const path = join(dir, segs[0]!);
    const before = readFileSync(path);
    // Rewrite the header as version 2 with a valid checksum.
    const { crc32c } = await import('@node-rs/crc32');
    const h = Buffer.from(before.subarray(0, SEGMENT_HEADER_BYTES));
    h.writeUInt16LE(2, 12);
    h.writeUInt32LE(crc32c(h.subarray(12)), 8);
    writeFileSync(path, Buffer.concat([h, before.subarray(SEGMENT_HEADER_BYTES)]));
    await expect(SegmentLog.open({ dir, ...OPTS })).rejects.toBeInstanceOf(UnsupportedLogFormatError);
    await expect(SegmentLog.open({ dir, ...OPTS })).rejects.toThrow(/spool format version 2/);
    expect(readdirSync(dir).sort()).toEqual(readdirSync(pristine.dir).sort());
  });
});
