import type { FileAccess } from '../../spool/file-access.js';
import { SegmentLog } from '../../spool/segment-log.js';

export type CollectBodyType = 'json' | 'text';

/** One accepted HTTP collect request body, as the journal holds it. */
export interface JournaledRequest {
  seq: number;
  type: CollectBodyType;
  /** When the agent received it: the time of events that carry none, on replay too. */
  receivedAtMs: number;
  /** The decoded (gunzipped) body. */
  body: Buffer;
}

const TYPE_CODE: Record<CollectBodyType, number> = { json: 0, text: 1 };
const HEADER_BYTES = 9;

/**
 * The write-ahead journal of POST /v1/collect. A request's body is appended
 * and fsynced (group commit, shared with the requests arriving alongside)
 * before the agent applies it and answers 2xx; after a crash the agent
 * replays what the last flush had not yet put into the sink queues. So a
 * client that got a 2xx never loses its data, at the price of a possible
 * second count of a request replayed after a crash (at least once).
 */
export class CollectJournal {
  /** The last request applied to aggregation; a flush that starts now covers everything up to it. */
  private applied = 0;
  /** When the last append failed; cleared by the next that succeeds. */
  private failedAtMs: number | undefined;

  constructor(private readonly log: SegmentLog) {}

  /** Opens (and recovers) the journal in `dir`; a record holds one decoded body, which maxBodyBytes bounds. */
  static async open(dir: string, opts: { segmentBytes: number; maxRecordBytes: number; maxBodyBytes: number; files?: FileAccess }): Promise<CollectJournal> {
    const log = await SegmentLog.open({
      dir,
      files: opts.files,
      segmentBytes: opts.segmentBytes,
      maxRecordBytes: Math.max(opts.maxRecordBytes, opts.maxBodyBytes + HEADER_BYTES),
    });
    return new CollectJournal(log);
  }

  /** Resolves with the request's sequence number once it is durable. */
  append(type: CollectBodyType, body: Buffer, receivedAtMs: number): Promise<number> {
    const record = Buffer.allocUnsafe(HEADER_BYTES + body.length);
    record[0] = TYPE_CODE[type];
    record.writeDoubleBE(receivedAtMs, 1);
    body.copy(record, HEADER_BYTES);
    return this.log.append(record).then(
      (seq) => {
        this.failedAtMs = undefined;
        return seq;
      },
      (err: unknown) => {
        this.failedAtMs = Date.now();
        throw err;
      },
    );
  }

  /** True unless an append failed within the last `withinMs` and none succeeded since. */
  healthy(withinMs: number, now = Date.now()): boolean {
    return this.failedAtMs === undefined || now - this.failedAtMs > withinMs;
  }

  /** The journal's folder, for log lines. */
  get dir(): string {
    return this.log.dir;
  }

  /** Marks a request applied; calls come in sequence order, as appends resolve in order. */
  markApplied(seq: number): void {
    if (seq > this.applied) this.applied = seq;
  }

  /** The position a flush starting now covers. */
  mark(): number {
    return this.applied;
  }

  /** Everything up to `seq` is in the sink queues (or there are none): it need not be replayed. */
  async release(seq: number): Promise<void> {
    if (seq > 0) await this.log.ack(seq);
  }

  /** Requests not yet released, oldest first, for replay at start-up; a damaged record is reported and skipped. */
  async *pending(): AsyncGenerator<JournaledRequest | { seq: number; error: string }> {
    let after = 0;
    for (;;) {
      const records = await this.log.read(after, { maxRecords: 256 });
      if (records.length === 0) return;
      for (const r of records) {
        after = r.seq;
        const p = r.payload;
        const type = p.length >= HEADER_BYTES ? (p[0] === 0 ? 'json' : p[0] === 1 ? 'text' : undefined) : undefined;
        if (type === undefined) {
          yield { seq: r.seq, error: `journal record ${r.seq} is not a collect request (${p.length} bytes)` };
          continue;
        }
        yield { seq: r.seq, type, receivedAtMs: p.readDoubleBE(1), body: p.subarray(HEADER_BYTES) };
      }
    }
  }

  /** What start-up recovery of the journal found. */
  get recovery(): SegmentLog['recovery'] {
    return this.log.recovery;
  }

  stats(): ReturnType<SegmentLog['stats']> {
    return this.log.stats();
  }

  close(): Promise<void> {
    return this.log.close();
  }
}
