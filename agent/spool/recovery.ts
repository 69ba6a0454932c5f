import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { CURSOR_NAME, CURSOR_TEMP_NAME, readCursor, writeCursor } from './cursor-file.js';
import type { FileAccess, SpoolFile } from './file-access.js';
import { FrameScanner, NEEDS_READ, type ScanItem } from './frame-scanner.js';
import { FRAME_HEADER_BYTES, FRAME_MAGIC_BYTES, type FrameFault, frameChecksumOk, readFrameHeader } from './record-frame.js';
import { Segment } from './segment.js';
import { decodeSegmentHeader, parseSegmentName, SEGMENT_HEADER_BYTES, type SegmentHeader } from './segment-file.js';

export interface SeqRange {
  fromSeq: number;
  toSeq: number;
  /** toSeq − fromSeq + 1; 0 when damaged bytes sat between two consecutive records. */
  records: number;
}

/** What start-up found and did. Plain data, safe to log as JSON. */
export interface RecoveryReport {
  /** The directory held no log (no segment, no cursor): a new one was started. */
  created: boolean;
  /** The cursor file as found: `missing` or `corrupt` means delivery restarts at the oldest record on disk. */
  cursor: 'ok' | 'missing' | 'corrupt' | 'created';
  /**
   * Bytes cut off the end of the last segment: normally a torn write whose
   * fsync never returned, so no append in it was acknowledged.
   */
  truncated: Array<{ segment: string; offset: number; bytes: number; fault: FrameFault; wholeRecords: number }>;
  /** Sum of `truncated[].bytes`. */
  truncatedBytes: number;
  /**
   * Whole, checksummed records among the bytes cut off (`truncated[].wholeRecords`).
   * A torn write leaves none; records there were written after a record
   * that is damaged or out of sequence (another writer on the same files,
   * damage on disk), and are lost with the cut: the recovery is not clean.
   */
  truncatedRecords: number;
  /** Sum of `skipped[].bytes`. */
  skippedBytes: number;
  /** Damaged bytes stepped over, with the sequence numbers they held (still undelivered ones only). */
  skipped: Array<SeqRange & { segment: string; offset: number; bytes: number; fault: FrameFault }>;
  /** Undelivered sequence ranges that no file holds any more: a deleted or lost segment. */
  missing: SeqRange[];
  /** Segments whose header was damaged; their frames were checked with the log's salt. */
  damagedHeaders: string[];
  /** Segment files removed: fully delivered, or holding no record (a segment torn as it was created). */
  removedSegments: Array<{ segment: string; reason: 'delivered' | 'no-records' }>;
  /** A cursor temp file left by a crash during an acknowledgement, removed. */
  removedTempFiles: string[];
  /** Files in the directory that are not the log's; left alone. */
  ignoredFiles: string[];
  /** Sum of `skipped[].records`. */
  skippedRecords: number;
  /** Sum of `missing[].records`. */
  missingRecords: number;
  /** After recovery: segment files, undelivered records, the last delivered and the last appended sequence number. */
  segments: number;
  records: number;
  ackedSeq: number;
  lastSeq: number;
  /** No durable record was lost or damaged: at most a torn tail and a crash's leftovers were cleaned up. */
  clean: boolean;
}

/** The first undelivered record, as recovery found it. */
export interface RecoveredHead {
  segment: Segment;
  offset: number;
  ordinal: number;
  seq: number;
  appendedAtMs: number;
}

export interface RecoveredLog {
  /** Oldest first; only the last may be appendable. */
  segments: Segment[];
  salt: number;
  ackedSeq: number;
  /** The next sequence number to hand out: above every one any file or the cursor has shown. */
  nextSeq: number;
  /** Undefined when nothing is left to deliver. */
  head: RecoveredHead | undefined;
  report: RecoveryReport;
}

export interface RecoveryOptions {
  files: FileAccess;
  dir: string;
  maxRecordBytes: number;
}

/** A file in the log directory is in a format this version does not read; nothing was changed. */
export class UnsupportedLogFormatError extends Error {
  constructor(path: string, version: number) {
    super(`${path}: written in spool format version ${version}, which this version of tally-agent does not read`);
    this.name = 'UnsupportedLogFormatError';
  }
}

interface Found {
  firstSeq: number;
  name: string;
  file: SpoolFile | undefined;
  size: number;
  header: SegmentHeader | undefined;
}

type Damage = { offset: number; bytes: number; fault: FrameFault };

/**
 * Opens a log directory after any kind of stop and brings it to a state the
 * writer and readers can trust: every frame is verified, a torn tail is cut
 * off, damage in the middle is stepped over and counted, lost files are
 * reported, and a lost cursor is rewritten. It fails only on I/O errors and
 * on files of a newer format, never on damaged content, so a damaged spool
 * cannot make the agent crash-loop.
 */
export async function recoverLog(opts: RecoveryOptions): Promise<RecoveredLog> {
  const { files, dir } = opts;
  await files.mkdir(dir);
  const report: RecoveryReport = {
    created: false,
    cursor: 'ok',
    truncated: [],
    skipped: [],
    missing: [],
    damagedHeaders: [],
    removedSegments: [],
    removedTempFiles: [],
    ignoredFiles: [],
    truncatedBytes: 0,
    truncatedRecords: 0,
    skippedBytes: 0,
    skippedRecords: 0,
    missingRecords: 0,
    segments: 0,
    records: 0,
    ackedSeq: 0,
    lastSeq: 0,
    clean: true,
  };

  const segNames: Array<{ name: string; firstSeq: number }> = [];
  let hasTemp = false;
  for (const name of await files.readdir(dir)) {
    const firstSeq = parseSegmentName(name);
    if (firstSeq !== undefined) segNames.push({ name, firstSeq });
    else if (name === CURSOR_TEMP_NAME) hasTemp = true;
    else if (name !== CURSOR_NAME) report.ignoredFiles.push(name);
  }
  segNames.sort((a, b) => a.firstSeq - b.firstSeq);
  report.ignoredFiles.sort();

  const cursorRead = await readCursor(files, dir);
  if (cursorRead.state === 'unsupported') throw new UnsupportedLogFormatError(join(dir, CURSOR_NAME), cursorRead.version);

  let dirChanged = false;
  if (hasTemp) {
    // Written by an acknowledgement that never finished, so never reported done: the old cursor stands.
    await files.unlink(join(dir, CURSOR_TEMP_NAME));
    report.removedTempFiles.push(CURSOR_TEMP_NAME);
    dirChanged = true;
  }

  const found: Found[] = [];
  try {
    for (let i = 0; i < segNames.length; i++) {
      const { name, firstSeq } = segNames[i]!;
      // Only the last segment can need truncating or take appends.
      const file = await files.open(join(dir, name), i === segNames.length - 1 ? 'read-write' : 'read');
      const f: Found = { firstSeq, name, file, size: 0, header: undefined };
      found.push(f);
      f.size = await file.size();
      const hb = Buffer.alloc(SEGMENT_HEADER_BYTES);
      const n = await file.read(hb, 0, SEGMENT_HEADER_BYTES, 0);
      const h = decodeSegmentHeader(hb.subarray(0, n));
      if (h !== undefined && 'unsupportedVersion' in h) throw new UnsupportedLogFormatError(join(dir, name), h.unsupportedVersion);
      // A header naming another first record than the file name does is not this file's header.
      f.header = h !== undefined && h.firstSeq === firstSeq ? h : undefined;
      // One file open at a time (and the last, kept for the writer), however many segments there are.
      if (i < segNames.length - 1) {
        f.file = undefined;
        await file.close();
      }
    }

    if (found.length === 0 && cursorRead.state === 'missing') {
      report.created = true;
      report.cursor = 'created';
    } else if (cursorRead.state !== 'ok') {
      report.cursor = cursorRead.state;
    }
    const salt =
      cursorRead.state === 'ok' ? cursorRead.cursor.salt : (found.find((f) => f.header !== undefined)?.header?.salt ?? randomInt(2 ** 32));
    // Without a cursor, everything still on disk is delivered again: at least once, never lost.
    const ackedSeq = cursorRead.state === 'ok' ? cursorRead.cursor.ackedSeq : found.length > 0 ? found[0]!.firstSeq - 1 : 0;

    const segments: Segment[] = [];
    const skipped: RecoveryReport['skipped'] = [];
    const missing: SeqRange[] = [];
    let head: RecoveredHead | undefined;
    for (let i = 0; i < found.length; i++) {
      const f = found[i]!;
      const last = i === found.length - 1;
      const seqLimit = last ? Infinity : found[i + 1]!.firstSeq;
      const seg = new Segment(dir, f.firstSeq, f.header?.salt ?? salt, last && f.header !== undefined);
      let tail: Damage | undefined;
      f.file ??= await files.open(join(dir, f.name), 'read');
      if (f.size > SEGMENT_HEADER_BYTES) {
        const scanner = new FrameScanner(f.file, {
          start: SEGMENT_HEADER_BYTES,
          end: f.size,
          salt: seg.salt,
          maxRecordBytes: opts.maxRecordBytes,
          prevSeq: f.firstSeq - 1,
          seqLimit,
        });
        let damage: Damage | undefined;
        for (;;) {
          let item: ScanItem | typeof NEEDS_READ | undefined = scanner.nextBuffered();
          if (item === NEEDS_READ) item = await scanner.next();
          if (item === undefined) break;
          if (item.kind === 'damage') {
            const d = { offset: item.offset, bytes: item.bytes, fault: item.fault };
            if (item.toEnd) tail = d;
            else damage = d;
            continue;
          }
          if (damage !== undefined) skipped.push({ segment: f.name, ...damage, ...range(seg.lastSeq + 1, item.seq - 1) });
          if (head === undefined && item.seq > ackedSeq) head = { segment: seg, offset: item.offset, ordinal: seg.records, seq: item.seq, appendedAtMs: item.appendedAtMs };
          seg.noteRecord(item.seq, item.offset, seg.records, item.appendedAtMs, damage !== undefined);
          damage = undefined;
          seg.records++;
          seg.lastSeq = item.seq;
          seg.endOffset = item.offset + item.bytes;
        }
      } else if (f.size < SEGMENT_HEADER_BYTES && f.header === undefined) {
        // Shorter than its header: torn as it was created, before any record in it was durable.
        tail = { offset: 0, bytes: f.size, fault: 'incomplete' };
      }

      const tornOnCreation = last && f.header === undefined && seg.records === 0;
      if (f.header === undefined && !tornOnCreation) report.damagedHeaders.push(f.name);
      if (tail !== undefined || tornOnCreation) {
        if (last && (seg.appendable || tornOnCreation)) {
          const cut = tail ?? { offset: 0, bytes: f.size, fault: 'incomplete' as const };
          const wholeRecords = await countWholeFrames(f.file!, cut.offset, cut.offset + cut.bytes, seg.salt, opts.maxRecordBytes);
          report.truncated.push({ segment: f.name, ...cut, wholeRecords });
          if (seg.appendable) {
            await f.file!.truncate(cut.offset);
            // Durable before anything is appended after it, so new frames never sit beside stale ones.
            await f.file!.sync();
          }
        } else if (tail !== undefined) {
          skipped.push({ segment: f.name, ...tail, ...range(seg.lastSeq + 1, last ? seg.lastSeq : seqLimit - 1) });
        }
      }
      if (!last) {
        await f.file.close();
        f.file = undefined;
      }
      if (!last && tail === undefined && found[i + 1]!.firstSeq > seg.lastSeq + 1) {
        // A gap not explained by damage at this segment's end: the file that held it is gone.
        missing.push(range(seg.lastSeq + 1, found[i + 1]!.firstSeq - 1));
      }
      segments.push(seg);
    }
    if (segments.length > 0 && segments[0]!.firstSeq > ackedSeq + 1) missing.unshift(range(ackedSeq + 1, segments[0]!.firstSeq - 1));
    // Damage in records already delivered loses nothing.
    for (const s of skipped) if (Math.max(s.fromSeq, s.toSeq) > ackedSeq) report.skipped.push({ ...s, ...clip(s, ackedSeq) });
    for (const m of missing) if (m.toSeq > ackedSeq) report.missing.push(clip(m, ackedSeq));

    // The next number is above every one any file or the cursor has shown.
    let maxSeen = ackedSeq;
    for (const s of segments) maxSeen = Math.max(maxSeen, s.lastSeq, s.firstSeq - 1);

    // Remove what holds nothing to deliver and will not be appended to; keep the last segment's file for the writer.
    const kept: Segment[] = [];
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i]!;
      const f = found[i]!;
      // Only the last segment can be appendable; it stays even when empty or delivered, for the writer.
      const reason = seg.appendable ? undefined : seg.records === 0 ? 'no-records' : seg.lastSeq <= ackedSeq ? 'delivered' : undefined;
      const file = f.file;
      f.file = undefined;
      if (reason === undefined && seg.appendable) seg.file = file;
      else await file?.close();
      if (reason === undefined) {
        kept.push(seg);
      } else {
        await files.unlink(seg.path);
        report.removedSegments.push({ segment: seg.name, reason });
        dirChanged = true;
      }
    }

    if (report.cursor !== 'ok') {
      // writeCursor fsyncs the directory, which also makes the removals above durable.
      await writeCursor(files, dir, { salt, ackedSeq });
    } else if (dirChanged) {
      await files.syncDir(dir);
    }

    for (const t of report.truncated) {
      report.truncatedBytes += t.bytes;
      report.truncatedRecords += t.wholeRecords;
    }
    for (const s of report.skipped) {
      report.skippedRecords += s.records;
      report.skippedBytes += s.bytes;
    }
    for (const m of report.missing) report.missingRecords += m.records;
    report.segments = kept.length;
    if (head !== undefined) {
      // Every kept segment before the head's would have been removed as delivered.
      for (const seg of kept.slice(kept.indexOf(head.segment))) report.records += seg.records;
      report.records -= head.ordinal;
    }
    report.ackedSeq = ackedSeq;
    report.lastSeq = maxSeen;
    report.clean =
      report.truncatedRecords === 0 &&
      report.skipped.length === 0 &&
      report.missing.length === 0 &&
      report.damagedHeaders.length === 0 &&
      (report.cursor === 'ok' || report.cursor === 'created');
    return { segments: kept, salt, ackedSeq, nextSeq: maxSeen + 1, head, report };
  } catch (err) {
    for (const f of found) await f.file?.close().catch(() => {});
    throw err;
  }
}

/** One line for the log of what an unclean recovery lost. */
export function describeLoss(r: RecoveryReport): string {
  const parts: string[] = [];
  if (r.truncatedRecords > 0) parts.push(`${r.truncatedRecords} whole records cut off with the tail (${r.truncatedBytes} bytes truncated)`);
  if (r.skipped.length > 0) parts.push(`${r.skippedRecords} records in ${r.skippedBytes} damaged bytes skipped`);
  if (r.missingRecords > 0) parts.push(`${r.missingRecords} records missing (a segment file gone)`);
  if (r.damagedHeaders.length > 0) parts.push(`${r.damagedHeaders.length} damaged segment headers`);
  if (r.cursor === 'missing' || r.cursor === 'corrupt') parts.push(`cursor ${r.cursor}: delivered records are sent again`);
  return parts.join('; ');
}

const COUNT_CHUNK_BYTES = 1024 * 1024;

/**
 * Frames with a good checksum (in any sequence) in [from, end) of a file:
 * what a cut there would throw away. Read in chunks that overlap by one
 * largest frame, so every frame starting in a chunk is whole in it.
 */
async function countWholeFrames(file: SpoolFile, from: number, end: number, salt: number, maxRecordBytes: number): Promise<number> {
  let count = 0;
  let pos = from;
  while (pos < end) {
    const want = Math.min(end - pos, COUNT_CHUNK_BYTES + FRAME_HEADER_BYTES + maxRecordBytes);
    const buf = Buffer.allocUnsafe(want);
    const got = await file.read(buf, 0, want, pos);
    if (got === 0) break;
    const view = buf.subarray(0, got);
    // Frames starting before `limit` are this chunk's; the overlap after it only completes them.
    const limit = pos + got >= end ? got : COUNT_CHUNK_BYTES;
    let resumeAt = limit;
    let i = view.indexOf(FRAME_MAGIC_BYTES);
    while (i !== -1 && i < limit) {
      const h = i + FRAME_HEADER_BYTES <= got ? readFrameHeader(view, i) : 'incomplete';
      const frameEnd = typeof h === 'string' ? 0 : i + FRAME_HEADER_BYTES + h.length;
      if (typeof h !== 'string' && h.length <= maxRecordBytes && frameEnd <= got && frameChecksumOk(view, i, h, salt)) {
        count++;
        // Its payload may hold the magic: look again after it.
        resumeAt = Math.max(limit, frameEnd);
        i = view.indexOf(FRAME_MAGIC_BYTES, frameEnd);
      } else {
        i = view.indexOf(FRAME_MAGIC_BYTES, i + 1);
      }
    }
    pos += resumeAt;
  }
  return count;
}

function range(fromSeq: number, toSeq: number): SeqRange {
  return { fromSeq, toSeq, records: Math.max(0, toSeq - fromSeq + 1) };
}

/** The part of a range after the acknowledged position. */
function clip(r: SeqRange, ackedSeq: number): SeqRange {
  return r.fromSeq > ackedSeq ? range(r.fromSeq, r.toSeq) : range(ackedSeq + 1, r.toSeq);
}
