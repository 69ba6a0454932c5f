import type { SpoolFile } from './file-access.js';
import {
  FRAME_HEADER_BYTES,
  FRAME_MAGIC_BYTES,
  type FrameFault,
  frameChecksumOk,
  readFrameHeader,
} from './record-frame.js';

const CHUNK_BYTES = 1024 * 1024;

/** Returned by nextBuffered() when the next item needs a read from the file. */
export const NEEDS_READ = Symbol('needs read');

export interface ScanBounds {
  /** File offset to start at, and the end of the bytes to trust (the durable end). */
  start: number;
  end: number;
  salt: number;
  maxRecordBytes: number;
  /** Sequence number of the record before `start`; the next must be above it. */
  prevSeq: number;
  /** No record here may reach this sequence number (the next segment's first); Infinity for the last segment. */
  seqLimit: number;
}

export interface ScannedRecord {
  kind: 'record';
  offset: number;
  /** Frame size on disk, header included. */
  bytes: number;
  seq: number;
  appendedAtMs: number;
  /** A view into the scanner's buffer: valid only until the next call. */
  payload: Buffer;
}

export interface ScannedDamage {
  kind: 'damage';
  offset: number;
  bytes: number;
  /** What was wrong at `offset`, where the damage starts. */
  fault: FrameFault;
  /** No valid frame follows before the end: a torn tail when this is the last segment. */
  toEnd: boolean;
}

export type ScanItem = ScannedRecord | ScannedDamage;

/**
 * Walks the frames of one segment from a position, verifying each, and
 * steps over damage: from the first bad byte it looks for the next magic
 * whose frame is complete, within the length limit, in sequence, and has a
 * good checksum. Nothing is ever sized by an unchecked length: a length
 * field is compared with the record limit and with the bytes left in the
 * file before any buffer is made for it.
 *
 * Sequence numbers in a segment are dense (each record is one more than the
 * one before; a failed write is rolled back and its numbers reused). So a
 * frame found after `skipped` damaged bytes may be at most
 * 1 + skipped / FRAME_HEADER_BYTES past the last good one: a stale or
 * foreign frame with a wild number is rejected without a checksum, which
 * also keeps a resync over hostile bytes from checksumming every candidate.
 */
export class FrameScanner {
  private buf: Buffer = Buffer.alloc(0);
  private bufStart = 0;
  private bufLen = 0;
  private pos: number;
  private prevSeq: number;
  private readonly end: number;
  private readonly salt: number;
  private readonly maxRecordBytes: number;
  private readonly seqLimit: number;
  /** A valid frame found while resyncing, handed out on the call after its damage. */
  private pending: ScannedRecord | undefined;

  constructor(
    private readonly file: SpoolFile,
    b: ScanBounds,
  ) {
    this.pos = b.start;
    this.end = b.end;
    this.salt = b.salt;
    this.maxRecordBytes = b.maxRecordBytes;
    this.prevSeq = b.prevSeq;
    this.seqLimit = b.seqLimit;
  }

  /** File offset after the last item returned. */
  get position(): number {
    return this.pos;
  }

  /**
   * The next record when it is whole in the buffer and valid: the common
   * case, answered without a promise. Anything else (a read needed, the
   * end, damage) is NEEDS_READ, and next() takes it from there.
   */
  nextBuffered(): ScannedRecord | typeof NEEDS_READ {
    if (this.pending !== undefined || this.pos >= this.end) return NEEDS_READ;
    const buf = this.buf;
    const rel = this.pos - this.bufStart;
    if (rel < 0 || rel + FRAME_HEADER_BYTES > this.bufLen) return NEEDS_READ;
    const h = readFrameHeader(buf, rel);
    if (typeof h === 'string' || h.length > this.maxRecordBytes) return NEEDS_READ;
    const bytes = FRAME_HEADER_BYTES + h.length;
    if (rel + bytes > this.bufLen || this.pos + bytes > this.end) return NEEDS_READ;
    if (h.seq !== this.prevSeq + 1 || h.seq >= this.seqLimit || !frameChecksumOk(buf, rel, h, this.salt)) return NEEDS_READ;
    const r: ScannedRecord = {
      kind: 'record',
      offset: this.pos,
      bytes,
      seq: h.seq,
      appendedAtMs: h.appendedAtMs,
      payload: buf.subarray(rel + FRAME_HEADER_BYTES, rel + bytes),
    };
    return this.accept(r);
  }

  /** The next record or damaged range, or undefined at the end. */
  async next(): Promise<ScanItem | undefined> {
    if (this.pending !== undefined) {
      const r = this.pending;
      this.pending = undefined;
      return this.accept(r);
    }
    if (this.pos >= this.end) return undefined;
    const at = this.pos;
    const r = await this.frameAt(at, 0);
    if (typeof r !== 'string') return this.accept(r);
    // Damage: find the next frame that checks out.
    let from = at + 1;
    for (;;) {
      const q = await this.findMagic(from);
      if (q === -1) {
        this.pos = this.end;
        return { kind: 'damage', offset: at, bytes: this.end - at, fault: r, toEnd: true };
      }
      const c = await this.frameAt(q, q - at);
      if (typeof c !== 'string') {
        this.pending = c;
        this.pos = q;
        return { kind: 'damage', offset: at, bytes: q - at, fault: r, toEnd: false };
      }
      from = q + 1;
    }
  }

  private accept(r: ScannedRecord): ScannedRecord {
    this.pos = r.offset + r.bytes;
    this.prevSeq = r.seq;
    return r;
  }

  /** The valid frame at `at`, or why there is none. `skipped`: damaged bytes since the last good frame. */
  private async frameAt(at: number, skipped: number): Promise<ScannedRecord | FrameFault> {
    const left = this.end - at;
    if (left < FRAME_HEADER_BYTES) return 'incomplete';
    await this.ensure(at, FRAME_HEADER_BYTES);
    const h = readFrameHeader(this.buf, at - this.bufStart);
    if (typeof h === 'string') return h;
    if (h.length > this.maxRecordBytes) return 'bad-length';
    const bytes = FRAME_HEADER_BYTES + h.length;
    if (bytes > left) return 'incomplete';
    const maxSeq = Math.min(this.seqLimit - 1, this.prevSeq + 1 + Math.floor(skipped / FRAME_HEADER_BYTES));
    const seqOk = h.seq > this.prevSeq && h.seq <= maxSeq;
    // While resyncing, an out-of-sequence candidate is dropped before paying for its checksum.
    if (!seqOk && skipped > 0) return 'bad-sequence';
    await this.ensure(at, bytes);
    const rel = at - this.bufStart;
    if (!frameChecksumOk(this.buf, rel, h, this.salt)) return 'bad-checksum';
    if (!seqOk) return 'bad-sequence';
    return {
      kind: 'record',
      offset: at,
      bytes,
      seq: h.seq,
      appendedAtMs: h.appendedAtMs,
      payload: this.buf.subarray(rel + FRAME_HEADER_BYTES, rel + bytes),
    };
  }

  /** Offset of the next magic at or after `from` (whole magic before the end), or -1. */
  private async findMagic(from: number): Promise<number> {
    const m = FRAME_MAGIC_BYTES.length;
    while (from + m <= this.end) {
      const avail = this.bufStart + this.bufLen;
      if (from < this.bufStart || from + m > avail) {
        await this.ensure(from, Math.min(CHUNK_BYTES, this.end - from));
        continue;
      }
      const i = this.buf.subarray(0, this.bufLen).indexOf(FRAME_MAGIC_BYTES, from - this.bufStart);
      if (i !== -1) return this.bufStart + i;
      // Not in this chunk; keep the last m-1 bytes in view in case a magic straddles the boundary.
      from = Math.max(from, avail - m + 1);
      if (avail >= this.end) return -1;
      await this.ensure(from, Math.min(CHUNK_BYTES, this.end - from));
    }
    return -1;
  }

  /** Makes file bytes [at, at+n) available in the buffer; the caller keeps at+n within the end. */
  private async ensure(at: number, n: number): Promise<void> {
    if (at >= this.bufStart && at + n <= this.bufStart + this.bufLen) return;
    const want = Math.min(Math.max(CHUNK_BYTES, n), this.end - at);
    // A fresh buffer each time rather than reuse: views handed out earlier stay intact until the caller is done.
    this.buf = Buffer.allocUnsafe(want);
    this.bufStart = at;
    this.bufLen = await this.file.read(this.buf, 0, want, at);
    if (this.bufLen < n) {
      // The file is shorter than the durable end we were given: someone else truncated it.
      const err = new Error(`segment file shorter than expected: wanted ${n} bytes at ${at}, got ${this.bufLen}`);
      (err as NodeJS.ErrnoException).code = 'ESHORT';
      throw err;
    }
  }
}
