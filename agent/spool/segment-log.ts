import { join } from 'node:path';
import { type BatchChunk, type PendingAppend, planBatch } from './append-batch.js';
import { writeCursor } from './cursor-file.js';
import { type FileAccess, hasCode, nodeFileAccess, type SpoolFile } from './file-access.js';
import { FrameScanner, NEEDS_READ, type ScanItem, type ScannedRecord } from './frame-scanner.js';
import { FRAME_HEADER_BYTES, payloadLength, type Payload } from './record-frame.js';
import { type RecoveryReport, recoverLog } from './recovery.js';
import { Segment, type SegmentPosition } from './segment.js';
import { SEGMENT_HEADER_BYTES, segmentName } from './segment-file.js';

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_BATCH_BYTES = 8 * 1024 * 1024;
const DEFAULT_READ_RECORDS = 1000;
const DEFAULT_READ_BYTES = 4 * 1024 * 1024;
const MIN_SEGMENT_BYTES = 256;
/** A fully delivered current segment is replaced by a new one once it holds this share of segmentBytes, so its space comes back. */
const ROLL_DELIVERED_FRACTION = 8;

export interface SegmentLogOptions {
  /** The log's own directory; created if missing. */
  dir: string;
  /** Defaults to the real file system. */
  files?: FileAccess;
  /** A segment is closed before a record would take it past this size. Default 64 MiB. */
  segmentBytes?: number;
  /** Largest payload accepted by append and believed by a reader. Default 16 MiB. */
  maxRecordBytes?: number;
  /** Most frame bytes written by one group commit (one larger appendMany still goes alone). Default 8 MiB. */
  maxBatchBytes?: number;
  /** Wall clock in ms, stamped on each record. Default Date.now. */
  now?: () => number;
}

export interface LogRecord {
  seq: number;
  appendedAtMs: number;
  /** A copy: the caller may keep it. */
  payload: Buffer;
}

export interface ReadLimits {
  /** Default 1000. */
  maxRecords?: number;
  /** Payload bytes; one record is returned even if it alone is larger. Default 4 MiB. */
  maxBytes?: number;
}

export interface LogStats {
  /** Segment files. */
  segments: number;
  /** Bytes in segment files, delivered records not yet removed included. */
  diskBytes: number;
  /** Undelivered records, and their bytes on disk (frame headers included). */
  records: number;
  bytes: number;
  /** Append time of the oldest undelivered record; undefined when there is none. */
  oldestAppendedAtMs: number | undefined;
  /** Everything up to here is delivered, durably. */
  ackedSeq: number;
  /** Last durable record. */
  lastSeq: number;
  /** Since open: records and frame bytes made durable, group commits, and fsyncs of files and of the directory. */
  appendedRecords: number;
  appendedBytes: number;
  commits: number;
  fileSyncs: number;
  dirSyncs: number;
  /** Since open: damaged ranges readers stepped over (those recovery reported are met again when read). */
  damagedRangesRead: number;
  /** Since open: delivered segment files that could not be removed (recovery removes them at the next start). */
  removeErrors: number;
}

export interface DropResult {
  records: number;
  /** Bytes of the log they took. */
  bytes: number;
  /** Sequence range dropped (records: toSeq − fromSeq + 1 unless damage had already taken some). */
  fromSeq: number;
  toSeq: number;
}

/** An append larger than maxRecordBytes. Nothing was written. */
export class RecordTooLargeError extends RangeError {
  readonly code = 'ERECORDTOOLARGE';
  constructor(
    readonly recordBytes: number,
    readonly maxRecordBytes: number,
  ) {
    super(`record of ${recordBytes} bytes is larger than the spool's limit of ${maxRecordBytes} bytes`);
    this.name = 'RecordTooLargeError';
  }
}

export class LogClosedError extends Error {
  readonly code = 'ELOGCLOSED';
  constructor(dir: string) {
    super(`spool log ${dir} is closed`);
    this.name = 'LogClosedError';
  }
}

/**
 * A write failed and could not be undone, so what is on disk past the last
 * durable record is unknown: the log takes no more appends (reads still
 * work). Closing and opening it again lets recovery settle the file.
 */
export class LogFailedError extends Error {
  readonly code = 'ELOGFAILED';
  constructor(dir: string, cause: unknown) {
    super(`spool log ${dir} failed and takes no more appends until reopened: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'LogFailedError';
  }
}

/** The first undelivered record. */
interface Head {
  segment: Segment;
  offset: number;
  ordinal: number;
  seq: number;
  appendedAtMs: number;
}

/** Where the last read stopped, so the next one from there reads nothing twice. */
interface ReadHint {
  afterSeq: number;
  segment: Segment;
  offset: number;
  ordinal: number;
}

interface Waiter {
  afterSeq: number;
  resolve: () => void;
}

/**
 * An append-only log of records in one directory, with one reader position.
 *
 * Appends are group-committed: every append waiting when a write starts
 * goes into it, one write and one fsync per file, and each caller's promise
 * resolves only after its record is durable; appends arriving meanwhile wait
 * for the next batch. Readers see durable records only, in sequence order,
 * from after the acknowledged position; ack() makes that position durable
 * (an atomic cursor file) before any segment it frees is deleted.
 *
 * Sequence numbers start at 1 and rise by one per record; they are never
 * reused for a record that was durable, across restarts included. One
 * process may have a directory open at a time: take a DirLock on the data
 * directory above it first.
 */
export class SegmentLog {
  readonly dir: string;
  /** What start-up recovery found and did. */
  readonly recovery: RecoveryReport;
  private readonly files: FileAccess;
  private readonly segmentBytes: number;
  private readonly maxRecordBytes: number;
  private readonly maxBatchBytes: number;
  private readonly now: () => number;
  private readonly salt: number;
  private readonly segments: Segment[];
  private nextSeq: number;
  private ackedSeq: number;
  private ackTarget: number;
  private head: Head | undefined;
  private hint: ReadHint | undefined;
  /**
   * A read from `from` found nothing readable up to `upTo` (damage found
   * after start-up at the tail): waiting for records after `from` means
   * waiting for records after `upTo`, or a consumer would spin.
   */
  private barren: { from: number; upTo: number } | undefined;

  private queue: PendingAppend[] = [];
  private writing = false;
  private failed: LogFailedError | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private idle: Array<() => void> = [];
  private waiters: Waiter[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  private reads = 0;
  private readsDone: Array<() => void> = [];

  private appendedRecords = 0;
  private appendedBytes = 0;
  private commits = 0;
  private fileSyncs = 0;
  private dirSyncs = 0;
  private damagedRangesRead = 0;
  private removeErrors = 0;

  /** Opens (creating, or recovering) the log in `opts.dir`. */
  static async open(opts: SegmentLogOptions): Promise<SegmentLog> {
    const segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    const maxRecordBytes = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    const maxBatchBytes = opts.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
    positiveInt('segmentBytes', segmentBytes, MIN_SEGMENT_BYTES);
    positiveInt('maxRecordBytes', maxRecordBytes, 1);
    positiveInt('maxBatchBytes', maxBatchBytes, 1);
    if (maxRecordBytes > 0xffffffff - FRAME_HEADER_BYTES) throw new RangeError(`maxRecordBytes must fit a 32-bit length, got ${maxRecordBytes}`);
    const files = opts.files ?? nodeFileAccess;
    const r = await recoverLog({ files, dir: opts.dir, maxRecordBytes });
    return new SegmentLog(opts, files, segmentBytes, maxRecordBytes, maxBatchBytes, r);
  }

  private constructor(
    opts: SegmentLogOptions,
    files: FileAccess,
    segmentBytes: number,
    maxRecordBytes: number,
    maxBatchBytes: number,
    r: Awaited<ReturnType<typeof recoverLog>>,
  ) {
    this.dir = opts.dir;
    this.files = files;
    this.segmentBytes = segmentBytes;
    this.maxRecordBytes = maxRecordBytes;
    this.maxBatchBytes = maxBatchBytes;
    this.now = opts.now ?? Date.now;
    this.salt = r.salt;
    this.segments = r.segments;
    this.nextSeq = r.nextSeq;
    this.ackedSeq = r.ackedSeq;
    this.ackTarget = r.ackedSeq;
    this.recovery = r.report;
    this.head = r.head;
  }

  /** Last durable record's sequence number (0 for a log that never held one). */
  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  /** Durable reader position: every record up to here is delivered. */
  get acknowledgedSeq(): number {
    return this.ackedSeq;
  }

  /**
   * Appends one record; resolves with its sequence number once it is
   * durable. `payload` (its bytes, or their parts in order) must not change
   * until then: it is copied only when its batch is written.
   */
  append(payload: Payload): Promise<number> {
    return this.enqueue([payload]);
  }

  /**
   * Appends records in order with consecutive sequence numbers, in one
   * batch; resolves once all are durable. Not atomic across a crash: a
   * prefix of them may survive one.
   */
  async appendMany(payloads: readonly Payload[]): Promise<{ first: number; last: number }> {
    if (payloads.length === 0) throw new RangeError('appendMany needs at least one payload');
    const first = await this.enqueue(payloads);
    return { first, last: first + payloads.length - 1 };
  }

  /**
   * Durable records after `afterSeq` (and after the acknowledged position),
   * in order, at most `maxRecords` and about `maxBytes` of payload. Empty
   * when there is nothing yet: see waitForRecords. A reader with several
   * reads in flight passes the last sequence number it has read.
   */
  async read(afterSeq: number, limits: ReadLimits = {}): Promise<LogRecord[]> {
    this.checkOpen();
    const maxRecords = limits.maxRecords ?? DEFAULT_READ_RECORDS;
    const maxBytes = limits.maxBytes ?? DEFAULT_READ_BYTES;
    positiveInt('maxRecords', maxRecords, 1);
    positiveInt('maxBytes', maxBytes, 1);
    if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) throw new RangeError(`afterSeq must be a non-negative integer, got ${afterSeq}`);
    const from = Math.max(afterSeq, this.ackedSeq);
    const out: LogRecord[] = [];
    if (from >= this.lastSeq) return out;

    this.reads++;
    const lastAtStart = this.lastSeq;
    try {
      let seg: Segment | undefined;
      let pos: SegmentPosition | undefined;
      const hint = this.hint;
      if (hint !== undefined && hint.afterSeq === from && !hint.segment.deleted) {
        seg = hint.segment;
        pos = { offset: hint.offset, ordinal: hint.ordinal, prevSeq: from };
      } else {
        seg = this.segments.find((s) => s.lastSeq > from);
        pos = seg?.seek(from);
      }
      let bytes = 0;
      let done = false;
      while (seg !== undefined && !done) {
        const current = seg;
        await this.scanSegment(current, pos!, (r, ordinal) => {
          if (r.seq <= from) return true;
          if (out.length > 0 && bytes + r.payload.length > maxBytes) {
            done = true;
            return false;
          }
          out.push({ seq: r.seq, appendedAtMs: r.appendedAtMs, payload: Buffer.from(r.payload) });
          bytes += r.payload.length;
          this.hint = { afterSeq: r.seq, segment: current, offset: r.offset + r.bytes, ordinal: ordinal + 1 };
          if (out.length >= maxRecords || bytes >= maxBytes) done = true;
          return !done;
        });
        seg = this.segmentAfter(current);
        // Passed through a sealed segment: let its file go (the writer keeps the current one's).
        if (!done && seg !== undefined) await current.closeIfIdle();
        pos = seg === undefined ? undefined : startOf(seg);
      }
      if (out.length === 0) this.barren = { from, upTo: lastAtStart };
      return out;
    } finally {
      if (--this.reads === 0) for (const f of this.readsDone.splice(0)) f();
    }
  }

  /**
   * Resolves once a record after `afterSeq` is durable, or the log closes.
   * Rejects with the signal's reason if it aborts first.
   */
  waitForRecords(afterSeq: number, signal?: AbortSignal): Promise<void> {
    const b = this.barren;
    if (b !== undefined && afterSeq >= b.from && afterSeq < b.upTo) afterSeq = b.upTo;
    if (this.lastSeq > afterSeq || this.closed) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        afterSeq,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(w);
    });
  }

  /**
   * Marks every record up to `seq` delivered; resolves once the cursor is
   * durable. Segments holding only delivered records are deleted after
   * that, never before. Acknowledging at or below the current position
   * does nothing; past the last durable record is an error.
   */
  ack(seq: number): Promise<void> {
    if (this.closed) return Promise.reject(new LogClosedError(this.dir));
    if (!Number.isSafeInteger(seq) || seq < 0) return Promise.reject(new RangeError(`seq must be a non-negative integer, got ${seq}`));
    if (seq > this.lastSeq) return Promise.reject(new RangeError(`cannot acknowledge ${seq}: the last durable record is ${this.lastSeq}`));
    if (seq > this.ackTarget) this.ackTarget = seq;
    return this.serial(() => this.persistAck(seq));
  }

  /**
   * Drops the oldest undelivered records, as if delivered, until at least
   * `records` records and `bytes` bytes are gone (or nothing is left), for
   * a queue's drop_oldest. Says what went so it can be counted.
   */
  dropOldest(target: { records?: number; bytes?: number }): Promise<DropResult> {
    if (this.closed) return Promise.reject(new LogClosedError(this.dir));
    const wantRecords = target.records ?? 0;
    const wantBytes = target.bytes ?? 0;
    if (!Number.isSafeInteger(wantRecords) || wantRecords < 0 || !Number.isSafeInteger(wantBytes) || wantBytes < 0) {
      return Promise.reject(new RangeError(`dropOldest wants non-negative integers, got ${JSON.stringify(target)}`));
    }
    return this.serial(async () => {
      const head = this.head;
      const none: DropResult = { records: 0, bytes: 0, fromSeq: 0, toSeq: 0 };
      if (head === undefined || (wantRecords === 0 && wantBytes === 0)) return none;
      let records = 0;
      let bytes = 0;
      let cut = this.ackedSeq;
      const met = (): boolean => records >= wantRecords && bytes >= wantBytes;
      let seg: Segment | undefined = head.segment;
      let pos: SegmentPosition = { offset: head.offset, ordinal: head.ordinal, prevSeq: head.seq - 1 };
      while (seg !== undefined && !met()) {
        const segRecords = seg.records - pos.ordinal;
        const segBytes = seg.endOffset - pos.offset;
        if (segRecords > 0 && !(records + segRecords >= wantRecords && bytes + segBytes >= wantBytes)) {
          // The cut lies beyond this segment: take all of it without reading it.
          records += segRecords;
          bytes += segBytes;
          cut = seg.lastSeq;
        } else if (segRecords > 0) {
          const base = bytes;
          const from = pos.offset;
          await this.scanSegment(seg, pos, (r) => {
            records++;
            bytes = base + (r.offset + r.bytes - from);
            cut = r.seq;
            return !met();
          });
        }
        seg = this.segmentAfter(seg);
        if (seg !== undefined) pos = startOf(seg);
      }
      if (records === 0) return none;
      if (cut > this.ackTarget) this.ackTarget = cut;
      await this.persistAck(cut);
      return { records, bytes, fromSeq: head.seq, toSeq: cut };
    });
  }

  stats(): LogStats {
    let diskBytes = 0;
    for (const s of this.segments) diskBytes += s.endOffset;
    let records = 0;
    let bytes = 0;
    const head = this.head;
    if (head !== undefined) {
      let counting = false;
      for (const s of this.segments) {
        if (s === head.segment) counting = true;
        if (!counting) continue;
        records += s.records;
        bytes += s.frameBytes;
      }
      records -= head.ordinal;
      bytes -= head.offset - SEGMENT_HEADER_BYTES;
    }
    return {
      segments: this.segments.length,
      diskBytes,
      records,
      bytes,
      oldestAppendedAtMs: head?.appendedAtMs,
      ackedSeq: this.ackedSeq,
      lastSeq: this.lastSeq,
      appendedRecords: this.appendedRecords,
      appendedBytes: this.appendedBytes,
      commits: this.commits,
      fileSyncs: this.fileSyncs,
      dirSyncs: this.dirSyncs,
      damagedRangesRead: this.damagedRangesRead,
      removeErrors: this.removeErrors,
    };
  }

  /**
   * Finishes the appends already made (they are durable when this
   * resolves) and pending acknowledgements, then closes the files. Later
   * calls are refused with LogClosedError.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    if (this.writing || this.queue.length > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    await this.chain;
    if (this.reads > 0) await new Promise<void>((resolve) => this.readsDone.push(resolve));
    for (const w of this.waiters.splice(0)) w.resolve();
    const errors: unknown[] = [];
    for (const s of this.segments) {
      await s.closeIfIdle().catch((err: unknown) => errors.push(err));
    }
    if (errors.length > 0) throw errors[0];
  }

  // --- appends -------------------------------------------------------------

  private enqueue(payloads: readonly Payload[]): Promise<number> {
    if (this.closed) return Promise.reject(new LogClosedError(this.dir));
    if (this.failed !== undefined) return Promise.reject(this.failed);
    let bytes = 0;
    for (const p of payloads) {
      const parts = p instanceof Uint8Array ? [p] : Array.isArray(p) ? p : undefined;
      if (parts === undefined || !parts.every((part) => part instanceof Uint8Array)) {
        return Promise.reject(new TypeError('a spool record must be a Uint8Array or Buffer, or an array of them'));
      }
      const length = payloadLength(p);
      if (length > this.maxRecordBytes) return Promise.reject(new RecordTooLargeError(length, this.maxRecordBytes));
      bytes += FRAME_HEADER_BYTES + length;
    }
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ payloads, appendedAtMs: this.now(), bytes, resolve, reject });
      if (!this.writing) {
        this.writing = true;
        // After the current task's synchronous appends have queued, so one burst is one commit.
        queueMicrotask(() => void this.writeLoop());
      }
    });
  }

  private async writeLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        if (this.failed !== undefined) {
          for (const e of this.queue.splice(0)) e.reject(this.failed);
          break;
        }
        let n = 0;
        let bytes = 0;
        while (n < this.queue.length && (n === 0 || bytes + this.queue[n]!.bytes <= this.maxBatchBytes)) bytes += this.queue[n++]!.bytes;
        await this.commit(this.queue.splice(0, n));
      }
    } finally {
      this.writing = false;
      for (const f of this.idle.splice(0)) f();
    }
  }

  /** Writes one batch, makes it durable, then publishes it; on failure undoes it or fails the log. */
  private async commit(batch: PendingAppend[]): Promise<void> {
    const last = this.segments[this.segments.length - 1];
    let active = last?.appendable ? last : undefined;
    let rolledDelivered = false;
    if (active !== undefined && active.records > 0 && active.lastSeq <= this.ackedSeq && active.frameBytes * ROLL_DELIVERED_FRACTION >= this.segmentBytes) {
      // Everything in it is delivered: start a new segment so this one can be deleted.
      active = undefined;
      rolledDelivered = true;
    }
    // Numbers in a segment are dense (readers rely on it); after a start where the cursor was ahead of
    // the last record on disk, the next number does not follow on, so it opens a segment of its own.
    if (active !== undefined && this.nextSeq !== active.lastSeq + 1) active = undefined;
    const firstSeq = this.nextSeq;
    const chunks = await planBatch(batch, { segment: active, segmentBytes: this.segmentBytes, salt: this.salt, nextSeq: firstSeq });
    const created: Array<{ chunk: BatchChunk; file: SpoolFile }> = [];
    try {
      for (const c of chunks) {
        let file: SpoolFile;
        if (c.segment === undefined) {
          file = await this.files.open(join(this.dir, segmentName(c.newFirstSeq)), 'create');
          created.push({ chunk: c, file });
        } else {
          file = c.segment.file!;
        }
        await file.write(c.buf, c.offset);
        await file.sync();
        this.fileSyncs++;
      }
      // A new segment's name must survive a crash too before its records count as durable.
      if (created.length > 0) {
        await this.files.syncDir(this.dir);
        this.dirSyncs++;
      }
    } catch (err) {
      await this.rollback(chunks, created, err);
      const e = err instanceof Error ? err : new Error(String(err));
      for (const b of batch) b.reject(this.failed ?? e);
      if (this.failed !== undefined) for (const q of this.queue.splice(0)) q.reject(this.failed);
      return;
    }

    // Durable: publish, without an await in between so readers see all of it or none.
    const sealed: Segment[] = [];
    let ci = 0;
    for (const c of chunks) {
      let seg = c.segment;
      if (seg === undefined) {
        seg = new Segment(this.dir, c.newFirstSeq, this.salt, true);
        seg.file = created[ci++]!.file;
        const prev = this.segments[this.segments.length - 1];
        if (prev !== undefined) {
          prev.appendable = false;
          sealed.push(prev);
        }
        this.segments.push(seg);
      }
      for (let i = 0; i < c.offsets.length; i++) {
        const seq = c.firstSeq + i;
        if (this.head === undefined) this.head = { segment: seg, offset: c.offsets[i]!, ordinal: seg.records, seq, appendedAtMs: c.times[i]! };
        seg.noteRecord(seq, c.offsets[i]!, seg.records, c.times[i]!);
        seg.records++;
      }
      seg.lastSeq = c.firstSeq + c.offsets.length - 1;
      seg.endOffset = c.offset + c.buf.length;
      this.appendedBytes += c.buf.length - (c.segment === undefined ? SEGMENT_HEADER_BYTES : 0);
    }
    let count = 0;
    for (const b of batch) {
      b.resolve(firstSeq + count);
      count += b.payloads.length;
    }
    this.nextSeq = firstSeq + count;
    this.appendedRecords += count;
    this.commits++;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (this.lastSeq > w.afterSeq) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
    // The writer's handle on a sealed segment is not needed; readers open their own.
    for (const s of sealed) void s.closeIfIdle().catch(() => {});
    if (rolledDelivered || sealed.some((s) => s.lastSeq <= this.ackedSeq)) void this.serial(() => this.removeDelivered()).catch(() => {});
  }

  /**
   * Takes a failed batch back off the disk: the current segment truncated
   * to its durable end, new segments removed. The batch's sequence numbers
   * are handed out again. If that fails too, the log stops taking appends.
   */
  private async rollback(chunks: BatchChunk[], created: Array<{ chunk: BatchChunk; file: SpoolFile }>, cause: unknown): Promise<void> {
    try {
      for (const c of chunks) {
        if (c.segment === undefined) continue;
        await c.segment.file!.truncate(c.offset);
        await c.segment.file!.sync();
      }
      for (const { chunk, file } of created) {
        await file.close();
        await this.files.unlink(join(this.dir, segmentName(chunk.newFirstSeq))).catch((err: unknown) => {
          if (!hasCode(err, 'ENOENT')) throw err;
        });
      }
      // Chunks after the failing one never created their file.
      if (created.length > 0) await this.files.syncDir(this.dir);
    } catch {
      this.failed = new LogFailedError(this.dir, cause);
      for (const { file } of created) await file.close().catch(() => {});
    }
  }

  // --- delivery --------------------------------------------------------------

  private async persistAck(seq: number): Promise<void> {
    if (this.ackedSeq >= seq) return;
    const target = this.ackTarget;
    await writeCursor(this.files, this.dir, { salt: this.salt, ackedSeq: target });
    this.fileSyncs++;
    this.dirSyncs++;
    this.ackedSeq = target;
    // Records committed while the search ran may sit past where it looked: search again from there.
    let searchedTo = this.lastSeq;
    let head = await this.locateAfter(target);
    while (head === undefined && this.lastSeq > searchedTo) {
      const from = searchedTo;
      searchedTo = this.lastSeq;
      head = await this.locateAfter(from);
    }
    this.head = head;
    await this.removeDelivered();
  }

  /**
   * Deletes the segments whose records are all delivered. The last one (the
   * writer's) goes too when no write is under way: a delivered queue then
   * holds no data on disk at all, whatever its segment size, and the next
   * append starts a new segment. On a full disk this is how space comes
   * back, since deleting needs none.
   */
  private async removeDelivered(): Promise<void> {
    while (this.segments.length > (this.writing ? 1 : 0) && this.segments[0]!.lastSeq <= this.ackedSeq) {
      const seg = this.segments.shift()!;
      seg.deleted = true;
      if (this.hint?.segment === seg) this.hint = undefined;
      await seg.closeIfIdle().catch(() => {});
      try {
        await this.files.unlink(seg.path);
      } catch (err) {
        // Not fatal: the cursor says these records are delivered, so recovery deletes the file next time.
        if (!hasCode(err, 'ENOENT')) this.removeErrors++;
      }
    }
  }

  /** The first readable record after `seq`, or undefined when there is none. */
  private async locateAfter(seq: number): Promise<Head | undefined> {
    let seg = this.segments.find((s) => s.lastSeq > seq);
    while (seg !== undefined) {
      let head: Head | undefined;
      const current = seg;
      await this.scanSegment(current, current.seek(seq), (r, ordinal) => {
        if (r.seq <= seq) return true;
        head = { segment: current, offset: r.offset, ordinal, seq: r.seq, appendedAtMs: r.appendedAtMs };
        return false;
      });
      if (head !== undefined) return head;
      seg = this.segmentAfter(current);
    }
    return undefined;
  }

  // --- shared --------------------------------------------------------------

  /**
   * Scans the committed frames of `seg` from `pos`, calling `visit` with
   * each record and its ordinal in the segment until it returns false.
   * The file stays open while the scan runs, even if the segment is
   * deleted meanwhile.
   */
  private async scanSegment(seg: Segment, pos: SegmentPosition, visit: (r: ScannedRecord, ordinal: number) => boolean): Promise<void> {
    const end = seg.endOffset;
    if (pos.offset >= end) return;
    seg.pins++;
    try {
      let file: SpoolFile;
      try {
        file = await seg.open(this.files);
      } catch (err) {
        // Deleted as delivered between the caller's look and this open: nothing in it is wanted.
        if (seg.deleted && hasCode(err, 'ENOENT')) return;
        throw err;
      }
      const scanner = new FrameScanner(file, {
        start: pos.offset,
        end,
        salt: seg.salt,
        maxRecordBytes: this.maxRecordBytes,
        prevSeq: pos.prevSeq,
        seqLimit: this.segmentAfter(seg)?.firstSeq ?? Infinity,
      });
      let ordinal = pos.ordinal;
      for (;;) {
        let item: ScanItem | typeof NEEDS_READ | undefined = scanner.nextBuffered();
        if (item === NEEDS_READ) item = await scanner.next();
        if (item === undefined) break;
        if (item.kind === 'damage') {
          this.damagedRangesRead++;
          continue;
        }
        if (!visit(item, ordinal++)) break;
      }
    } finally {
      seg.pins--;
      if (seg.deleted) await seg.closeIfIdle();
    }
  }

  /** The segment after `seg` in sequence order, found by number so that concurrent removals do not matter. */
  private segmentAfter(seg: Segment): Segment | undefined {
    return this.segments.find((s) => s.firstSeq > seg.firstSeq);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => {});
    return run;
  }

  private checkOpen(): void {
    if (this.closed) throw new LogClosedError(this.dir);
  }
}

function startOf(seg: Segment): SegmentPosition {
  return { offset: SEGMENT_HEADER_BYTES, ordinal: 0, prevSeq: seg.firstSeq - 1 };
}

function positiveInt(name: string, v: number, min: number): void {
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`${name} must be an integer of at least ${min}, got ${v}`);
}
