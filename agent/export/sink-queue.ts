import type { Logger } from 'pino';
import { payloadLength, type Payload } from '../spool/record-frame.js';
import type { SegmentLog } from '../spool/segment-log.js';
import type { SinkStats } from '../telemetry/sink-stats.js';
import { SliceClock, SLICE_MS } from '../shared/slice-clock.js';
import { encodeStoredRequest, type StoredRequest } from './stored-request.js';

export type WhenFull = 'drop_oldest' | 'refuse_new';

/**
 * What became of a flush: in the queue; dropped for good (too large for a
 * record: counted); or refused for now (queue full with refuse_new, or the
 * disk would not take it), to be offered again with the next flush.
 */
export type AppendOutcome = 'queued' | 'dropped' | 'refused';

export interface SinkQueueOptions {
  sink: string;
  log: SegmentLog;
  /** Undelivered bytes the queue may hold. */
  maxBytes: number;
  whenFull: WhenFull;
  /** Largest record the log takes. */
  maxRecordBytes: number;
  stats: SinkStats;
  logger: Logger;
}

/**
 * The append side of one sink's spool queue: each flush's requests go in
 * once, durably, within the queue's size limit. Every request that cannot
 * stay is counted and logged with its reason.
 */
export class SinkQueue {
  constructor(private readonly opts: SinkQueueOptions) {}

  get log(): SegmentLog {
    return this.opts.log;
  }

  /** Resolves once every request kept is durable. Never rejects: a failure is a counted refusal or drop. */
  async append(requests: StoredRequest[]): Promise<AppendOutcome> {
    const { log, stats, logger, sink } = this.opts;
    const records: Payload[] = [];
    let incoming = 0;
    const clock = new SliceClock(SLICE_MS, 8);
    for (const r of requests) {
      if (clock.due()) await clock.turn();
      const record = encodeStoredRequest(r);
      const bytes = payloadLength(record);
      if (bytes > this.opts.maxRecordBytes) {
        stats.drop('too_large');
        logger.error(
          { sink, batch_id: r.batchId, bytes, max_record_bytes: this.opts.maxRecordBytes },
          'batch larger than the spool record limit: dropped',
        );
        continue;
      }
      records.push(record);
      incoming += bytes;
    }
    if (records.length === 0) return 'dropped';
    const held = log.stats().bytes;
    if (held + incoming > this.opts.maxBytes) {
      if (this.opts.whenFull === 'refuse_new') {
        stats.refuse('refuse_new');
        logger.warn({ sink, queue_bytes: held, max_bytes: this.opts.maxBytes }, 'sink queue full: new batch refused, its data waits for the next flush');
        return 'refused';
      }
      const dropped = await log.dropOldest({ bytes: held + incoming - this.opts.maxBytes });
      if (dropped.records > 0) {
        stats.drop('drop_oldest', dropped.records);
        logger.warn(
          { sink, queue_bytes: held, max_bytes: this.opts.maxBytes, dropped: dropped.records, from_seq: dropped.fromSeq, to_seq: dropped.toSeq },
          'sink queue full: oldest batches dropped',
        );
      }
    }
    try {
      await log.appendMany(records);
      stats.enqueued += records.length;
      return 'queued';
    } catch (err) {
      stats.refuse('append_failed');
      logger.error({ err, sink, dir: log.dir, bytes: incoming, records: records.length }, 'could not append to the sink queue: its data waits for the next flush');
      return 'refused';
    }
  }

  /** Share of maxBytes in use, 0..1 (and above, briefly, for one oversized batch). */
  fill(): number {
    return this.opts.log.stats().bytes / this.opts.maxBytes;
  }
}
