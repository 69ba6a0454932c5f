import { join } from 'node:path';
import type { FileAccess, SpoolFile } from './file-access.js';
import { SEGMENT_HEADER_BYTES, segmentName } from './segment-file.js';

/** One sparse-index entry is kept per this many bytes of frames, so finding a record reads at most this much. */
export const INDEX_INTERVAL_BYTES = 64 * 1024;

/** Where a scan for records after some sequence number should start. */
export interface SegmentPosition {
  offset: number;
  /** Records of this segment before `offset`. */
  ordinal: number;
  /** Sequence number of the record before `offset` (firstSeq − 1 at the start). */
  prevSeq: number;
}

/**
 * What the log knows about one segment file: its committed extent (only
 * durable bytes, so readers never see a record that a crash could take
 * back), its record count and sequence range, and a sparse index from
 * sequence numbers to file offsets.
 */
export class Segment {
  readonly name: string;
  readonly path: string;
  /** Records appended after this are in the file up to `endOffset`. */
  lastSeq: number;
  records = 0;
  /** Durable end of the frames. */
  endOffset: number;
  /** Append time of the segment's first record. */
  firstAppendedAtMs: number | undefined;
  /**
   * False when the header was damaged (frames are checked with the log's
   * salt instead) or the segment was written by an earlier run that left it
   * unfit to extend: such a segment is read but never appended to.
   */
  appendable: boolean;
  /** Readers using `file` right now; a deleted segment's file is closed when the last one is done. */
  pins = 0;
  deleted = false;
  file: SpoolFile | undefined;
  private opening: Promise<SpoolFile> | undefined;
  private readonly idxSeq: number[] = [];
  private readonly idxOffset: number[] = [];
  private readonly idxOrdinal: number[] = [];
  private lastIndexedOffset = -INDEX_INTERVAL_BYTES;

  constructor(
    dir: string,
    readonly firstSeq: number,
    readonly salt: number,
    appendable: boolean,
  ) {
    this.name = segmentName(firstSeq);
    this.path = join(dir, this.name);
    this.lastSeq = firstSeq - 1;
    this.endOffset = SEGMENT_HEADER_BYTES;
    this.appendable = appendable;
  }

  /** Frame bytes held, header excluded. */
  get frameBytes(): number {
    return this.endOffset - SEGMENT_HEADER_BYTES;
  }

  /** Called for every record, in order, as it becomes part of the segment. */
  noteRecord(seq: number, offset: number, ordinal: number, appendedAtMs: number, afterDamage = false): void {
    if (ordinal === 0) this.firstAppendedAtMs = appendedAtMs;
    if (afterDamage || offset - this.lastIndexedOffset >= INDEX_INTERVAL_BYTES) {
      this.idxSeq.push(seq);
      this.idxOffset.push(offset);
      this.idxOrdinal.push(ordinal);
      this.lastIndexedOffset = offset;
    }
  }

  /** A record start at or before the first record after `afterSeq`. */
  seek(afterSeq: number): SegmentPosition {
    const target = afterSeq + 1;
    let lo = 0;
    let hi = this.idxSeq.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.idxSeq[mid]! <= target) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found === -1) return { offset: SEGMENT_HEADER_BYTES, ordinal: 0, prevSeq: this.firstSeq - 1 };
    return { offset: this.idxOffset[found]!, ordinal: this.idxOrdinal[found]!, prevSeq: this.idxSeq[found]! - 1 };
  }

  /** The open file, opened read-only if nobody holds it yet. */
  async open(files: FileAccess): Promise<SpoolFile> {
    if (this.file !== undefined) return this.file;
    this.opening ??= files.open(this.path, 'read').then(
      (f) => {
        this.opening = undefined;
        this.file = f;
        return f;
      },
      (err: unknown) => {
        this.opening = undefined;
        throw err;
      },
    );
    return this.opening;
  }

  /** Closes the file unless a reader holds it (that reader closes it on release). */
  async closeIfIdle(): Promise<void> {
    if (this.pins > 0 || this.file === undefined) return;
    const f = this.file;
    this.file = undefined;
    await f.close();
  }
}
