import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { LogRecord, SegmentLog } from '../spool/segment-log.js';
import type { SinkStats } from '../telemetry/sink-stats.js';
import { retryDelayMs, type BackoffOptions } from './backoff.js';
import type { DeadLetterFolder } from './dead-letter.js';
import type { SendOutcome, Sink } from './sink.js';
import { decodeStoredRequest, type StoredRequest } from './stored-request.js';

/** How much one read takes from the queue ahead of sending: bounded, so a long queue does not fill memory. */
const READ_AHEAD = { maxRecords: 64, maxBytes: 8 * 1024 * 1024 };
/** The reason a wait is ended with: a constant, as abort() would otherwise build a DOMException each time. */
const WAIT_OVER = new Error('wait over');
/** Parts of one batch sent at once (a batch split into several requests). */
const PARTS_IN_FLIGHT = 8;

export interface ShipperOptions {
  sink: Sink;
  log: SegmentLog;
  deadLetter: DeadLetterFolder;
  /** Requests out at once. 1 keeps batches in order at the receiver, which remote write needs. */
  maxInFlight: number;
  backoff: BackoffOptions;
  stats: SinkStats;
  logger: Logger;
  /** Seconds per attempt, for the latency histogram. */
  onAttempt?: (seconds: number, outcome: string) => void;
  now?: () => number;
}

/**
 * The delivery side of one sink's queue: reads records in order, sends each
 * until a 2xx or a permanent refusal, and acknowledges in order, so the
 * spool's cursor only passes records that left it for good. There is no
 * retry deadline: a batch waits, with backoff, for as long as the receiver
 * is down, and only the queue's size limit can push it out (counted).
 */
export class Shipper {
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  /** Sequence numbers handed to a delivery, in order, and whether each is finished. */
  private readonly dispatched: Array<{ seq: number; done: boolean }> = [];
  private ackChain: Promise<void> = Promise.resolve();
  private ackTarget = 0;
  private ackedTo = 0;
  private acking = false;

  constructor(private readonly opts: ShipperOptions) {}

  start(): void {
    this.running ??= this.run().catch((err) => {
      if (!this.abort.signal.aborted) this.opts.logger.error({ err, sink: this.opts.sink.name }, 'sink shipper stopped');
    });
  }

  /**
   * Stops sending: in-flight attempts are aborted and stay in the queue
   * (delivery is at least once), acknowledgements already due are written.
   */
  async stop(): Promise<void> {
    this.abort.abort(new Error('agent stopping'));
    await this.running;
    await this.ackChain;
  }

  private async run(): Promise<void> {
    const { log, maxInFlight } = this.opts;
    const signal = this.abort.signal;
    const inFlight = new Set<Promise<void>>();
    // Requests out per batch: the parts of one batch hold disjoint series, so
    // they may overlap without reordering any series; batches never overlap
    // beyond maxInFlight.
    const batchesOut = new Map<string, number>();
    let readAfter = log.stats().ackedSeq;
    // Records read but not yet sent: one read call serves many sends during a replay.
    let ahead: Array<{ record: LogRecord; request: StoredRequest | Error; batch: string }> = [];
    const mayStart = (batch: string): boolean => {
      const out = batchesOut.get(batch);
      if (out !== undefined) return out < PARTS_IN_FLIGHT;
      return batchesOut.size < maxInFlight;
    };
    while (!signal.aborted) {
      if (ahead.length === 0) {
        const records = await log.read(readAfter, READ_AHEAD);
        if (records.length > 0) readAfter = records[records.length - 1]!.seq;
        ahead = records.map((record) => {
          const request = decodeStoredRequest(record.payload);
          return { record, request, batch: request instanceof Error ? `unreadable:${record.seq}` : request.batchId };
        });
      }
      const next = ahead[0];
      if (next !== undefined && !mayStart(next.batch)) {
        await Promise.race(inFlight);
        continue;
      }
      if (next === undefined) {
        // Nothing queued: wake for a new record, a finished send, or stop.
        const waitAbort = new AbortController();
        const onStop = () => waitAbort.abort(WAIT_OVER);
        signal.addEventListener('abort', onStop, { once: true });
        try {
          await Promise.race([log.waitForRecords(readAfter, waitAbort.signal).catch(() => undefined), ...inFlight]);
        } finally {
          signal.removeEventListener('abort', onStop);
          waitAbort.abort(WAIT_OVER);
        }
        continue;
      }
      ahead.shift();
      const entry = { seq: next.record.seq, done: false };
      this.dispatched.push(entry);
      batchesOut.set(next.batch, (batchesOut.get(next.batch) ?? 0) + 1);
      const p: Promise<void> = this.deliver(next.record, next.request).then((finished) => {
        inFlight.delete(p);
        const left = batchesOut.get(next.batch)! - 1;
        if (left === 0) batchesOut.delete(next.batch);
        else batchesOut.set(next.batch, left);
        // Unfinished means stopping: the record and everything after it stay queued.
        if (!finished) return;
        entry.done = true;
        this.ackDone();
      });
      inFlight.add(p);
    }
    await Promise.allSettled(inFlight);
  }

  /** Acknowledges the longest finished prefix; later records finished early wait for the ones before them. */
  private ackDone(): void {
    let upTo = -1;
    while (this.dispatched.length > 0 && this.dispatched[0]!.done) upTo = this.dispatched.shift()!.seq;
    if (upTo < 0) return;
    this.ackTarget = upTo;
    if (this.acking) return;
    // One cursor write (two fsyncs) at a time, for the latest position: acks
    // that come in meanwhile fold into the next write instead of queueing one each.
    const { log, logger, sink } = this.opts;
    this.acking = true;
    this.ackChain = (async () => {
      while (this.ackTarget > this.ackedTo) {
        const seq = this.ackTarget;
        try {
          await log.ack(seq);
          this.ackedTo = seq;
        } catch (err) {
          // Retried, not skipped: until the cursor moves, the queue's counts and its disk space stay those of undelivered data.
          logger.error({ err, sink: sink.name, seq }, 'could not record delivery in the spool cursor; will retry');
          if (this.abort.signal.aborted) break;
          await sleep(this.opts.backoff.initialMs, undefined, { signal: this.abort.signal }).catch(() => undefined);
        }
      }
      this.acking = false;
    })();
  }

  /** True once the record is delivered or dead-lettered; false when the shipper stops first (it then stays queued). */
  private async deliver(record: LogRecord, request: StoredRequest | Error): Promise<boolean> {
    const { sink, stats, logger, backoff } = this.opts;
    const signal = this.abort.signal;
    const now = this.opts.now ?? Date.now;
    if (request instanceof Error) return this.deadLetter({ seq: record.seq, error: request.message, raw: record.payload });
    for (let attempt = 1; !signal.aborted; attempt++) {
      const t0 = performance.now();
      const outcome: SendOutcome = await sink.send(request, signal).catch(
        (err: unknown): SendOutcome => ({ kind: 'retry', error: `sink threw: ${(err as Error)?.message ?? String(err)}` }),
      );
      this.opts.onAttempt?.((performance.now() - t0) / 1000, outcome.kind);
      if (signal.aborted) return false;
      if (outcome.kind === 'delivered') {
        stats.sent++;
        stats.lastDeliveryMs = now();
        stats.refusedSinceMs = undefined;
        return true;
      }
      stats.lastError = { message: outcome.error, atMs: now(), status: outcome.status };
      if (outcome.kind === 'permanent') {
        return this.deadLetter({ seq: record.seq, error: outcome.error, status: outcome.status, responseBody: outcome.responseBody, request });
      }
      stats.retries++;
      const delay = retryDelayMs(attempt, backoff, outcome.retryAfterMs);
      // The first failure of a run is worth a warning; the rest would flood the log during an outage.
      const level = attempt === 1 ? 'warn' : 'debug';
      logger[level](
        { sink: sink.name, seq: record.seq, batch_id: request.batchId, attempt, status: outcome.status, error: outcome.error, retry_in_ms: Math.round(delay) },
        'sink delivery failed, will retry',
      );
      await sleep(delay, undefined, { signal }).catch(() => undefined);
    }
    return false;
  }

  /** True once the dead-letter copy is durable; the record may then leave the queue. */
  private async deadLetter(e: { seq: number; error: string; status?: number; responseBody?: string; request?: StoredRequest; raw?: Buffer }): Promise<boolean> {
    const { sink, stats, logger, deadLetter } = this.opts;
    for (;;) {
      try {
        const where = await deadLetter.put({ sink: sink.name, ...e });
        stats.deadLettered++;
        stats.refusedSinceMs ??= (this.opts.now ?? Date.now)();
        logger.error(
          { sink: sink.name, seq: e.seq, status: e.status, error: e.error, response_body: e.responseBody?.slice(0, 2048), dead_letter: where },
          'sink refused a batch for good: moved to the dead-letter folder',
        );
        return true;
      } catch (err) {
        // Without a dead-letter copy the batch stays at the head of the queue rather than vanish.
        logger.error({ err, sink: sink.name, seq: e.seq }, 'could not write the dead-letter file; the batch stays queued');
        await sleep(this.opts.backoff.maxMs, undefined, { signal: this.abort.signal }).catch(() => undefined);
        if (this.abort.signal.aborted) return false;
      }
    }
  }
}
