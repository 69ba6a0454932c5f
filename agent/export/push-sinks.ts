import { join } from 'node:path';
import type { Logger } from 'pino';
import type { FileAccess } from '../spool/file-access.js';
import { describeLoss, type RecoveryReport } from '../spool/recovery.js';
import { SegmentLog } from '../spool/segment-log.js';
import { SinkStats } from '../telemetry/sink-stats.js';
import type { BackoffOptions } from './backoff.js';
import { DeadLetterFolder } from './dead-letter.js';
import { Shipper } from './shipper.js';
import { compileSinkMatch, type SinkMatch } from './sink-match.js';
import { SinkQueue, type WhenFull } from './sink-queue.js';
import type { EventRecord, FlushSnapshot, Sink } from './sink.js';

export interface PushSinkSpec {
  sink: Sink;
  match?: SinkMatch;
  maxBytes: number;
  whenFull: WhenFull;
  maxInFlight: number;
  backoff: BackoffOptions;
  stallTimeoutMs: number;
  /** /healthz fails once the sink has refused (dead-lettered) every request for this long. */
  refusalTimeoutMs?: number;
  /** /healthz fails for this long after the sink dropped data. */
  dropWindowMs?: number;
  /** Bytes the sink's dead-letter folder may hold; the oldest entries go first. */
  deadLetterMaxBytes?: number;
}

export interface PushSinksOptions {
  /** The data directory, already locked by the caller. */
  dataDir: string;
  segmentBytes: number;
  maxRecordBytes: number;
  sinks: PushSinkSpec[];
  logger: Logger;
  onAttempt?: (sink: string, seconds: number, outcome: string) => void;
  /** Time each sink took to encode a flush, from start to end: it runs on the thread that reads the sockets, in slices where the sink yields. */
  onEncode?: (sink: string, seconds: number) => void;
  now?: () => number;
  /** The queues' disk access; the real file system by default (tests pass a simulated disk). */
  files?: FileAccess;
}

interface Running {
  spec: PushSinkSpec;
  filter: ((s: FlushSnapshot) => FlushSnapshot) | undefined;
  log: SegmentLog;
  queue: SinkQueue;
  shipper: Shipper;
  stats: SinkStats;
  /** Events of flushes the queue refused, offered again with the next flush (its metrics are cumulative and need no carrying). */
  heldEvents: EventRecord[];
  /** Since when the queue has refused every flush; undefined while it takes them. */
  refusingSinceMs: number | undefined;
}

/** Events carried per sink while its queue refuses flushes; past it the oldest are dropped and counted. */
const MAX_HELD_EVENTS = 100_000;

/** A readiness limit: past this share of max_bytes a queue is close to dropping data. */
const READY_FILL = 0.9;
const DEFAULT_REFUSAL_TIMEOUT_MS = 60_000;
const DEFAULT_DROP_WINDOW_MS = 60_000;

/**
 * Every push sink with its spool queue and shipper. A flush is encoded once
 * per sink into its wire format and appended durably; the shippers deliver
 * from there, so a backend outage or a restart costs delay, not data.
 */
export class PushSinks {
  private constructor(
    private readonly running: Running[],
    private readonly logger: Logger,
    private readonly now: () => number,
    private readonly onEncode: ((sink: string, seconds: number) => void) | undefined,
  ) {}

  static async open(opts: PushSinksOptions): Promise<PushSinks> {
    const running: Running[] = [];
    try {
      for (const spec of opts.sinks) {
        const name = spec.sink.name;
        const log = await SegmentLog.open({
          dir: join(opts.dataDir, 'queues', name),
          segmentBytes: opts.segmentBytes,
          maxRecordBytes: opts.maxRecordBytes,
          files: opts.files,
        });
        const r = log.recovery;
        const opened = { sink: name, queued_records: log.stats().records, queued_bytes: log.stats().bytes, recovery: r };
        // A recovery that lost records is a warning, saying what was lost; the message stays the same for log searches.
        if (r.clean) opts.logger.info(opened, 'sink queue opened');
        else opts.logger.warn({ ...opened, lost: describeLoss(r) }, 'sink queue opened');
        const stats = new SinkStats(name, opts.now);
        const queue = new SinkQueue({
          sink: name,
          log,
          maxBytes: spec.maxBytes,
          whenFull: spec.whenFull,
          maxRecordBytes: opts.maxRecordBytes,
          stats,
          logger: opts.logger,
        });
        const shipper = new Shipper({
          sink: spec.sink,
          log,
          deadLetter: new DeadLetterFolder(join(opts.dataDir, 'dead-letter', name), {
            maxBytes: spec.deadLetterMaxBytes,
            onRemoved: (n) => stats.deadLetterRemoved(n),
          }),
          maxInFlight: spec.maxInFlight,
          backoff: spec.backoff,
          stats,
          logger: opts.logger,
          onAttempt: opts.onAttempt ? (s, o) => opts.onAttempt!(name, s, o) : undefined,
          now: opts.now,
        });
        running.push({ spec, filter: compileSinkMatch(spec.match), log, queue, shipper, stats, heldEvents: [], refusingSinceMs: undefined });
      }
    } catch (err) {
      await Promise.all(running.map((r) => r.log.close()));
      throw err;
    }
    for (const r of running) r.shipper.start();
    return new PushSinks(running, opts.logger, opts.now ?? Date.now, opts.onEncode);
  }

  get count(): number {
    return this.running.length;
  }

  /**
   * Encodes the flush for each sink and appends it to the sink's queue;
   * resolves once every queue holds it durably (or has counted it dropped)
   * with true, or with false when some queue refused it. A refused flush
   * is not lost: the sink's delta state goes back to before it and its
   * events are carried, so the next flush a queue takes covers it.
   */
  async push(snapshot: FlushSnapshot): Promise<boolean> {
    const outcomes = await Promise.all(
      this.running.map(async (r) => {
        const base = r.filter ? r.filter(snapshot) : snapshot;
        const events = r.heldEvents.length === 0 ? base.events : r.heldEvents.concat(base.events);
        const batch = events === base.events ? base : { ...base, events };
        let requests;
        const t0 = performance.now();
        try {
          requests = await r.spec.sink.encode(batch);
          this.onEncode?.(r.spec.sink.name, (performance.now() - t0) / 1000);
        } catch (err) {
          r.spec.sink.abandon?.(snapshot.batchId);
          r.stats.drop('encode_failed');
          r.heldEvents = [];
          this.logger.error({ err, sink: r.spec.sink.name, batch_id: snapshot.batchId }, 'sink could not encode the batch: dropped');
          return true;
        }
        const outcome = requests.length === 0 ? 'queued' : await r.queue.append(requests.map((q) => ({ ...q, batchId: snapshot.batchId, batchTimeMs: snapshot.timeMs })));
        if (outcome !== 'refused') {
          r.heldEvents = [];
          r.refusingSinceMs = undefined;
          return true;
        }
        r.spec.sink.abandon?.(snapshot.batchId);
        r.refusingSinceMs ??= this.now();
        const over = events.length - MAX_HELD_EVENTS;
        if (over > 0) r.stats.drop('events_overflow', over);
        r.heldEvents = over > 0 ? events.slice(over) : events;
        return false;
      }),
    );
    return outcomes.every((ok) => ok);
  }

  /** Sinks whose queue refused the last flush (full with refuse_new, or a failed append). */
  refusing(): string[] {
    return this.running.filter((r) => r.refusingSinceMs !== undefined).map((r) => r.spec.sink.name);
  }

  /**
   * Why the sinks are unhealthy, one line each; empty when healthy: a sink
   * stalled (nothing delivered for stall_timeout while data waits), one
   * that refused every request for refusal_timeout, one that dropped data
   * within drop_window.
   */
  problems(): string[] {
    const now = this.now();
    const stalled = this.stalled();
    const out = stalled.length === 0 ? [] : [`sink stalled (nothing delivered within stall_timeout): ${stalled.join(', ')}`];
    for (const r of this.running) {
      const name = r.spec.sink.name;
      const refusedFor = r.stats.refusedSinceMs;
      if (refusedFor !== undefined && now - refusedFor >= (r.spec.refusalTimeoutMs ?? DEFAULT_REFUSAL_TIMEOUT_MS)) {
        out.push(`sink ${name} refused everything (dead-lettered) for refusal_timeout`);
      }
      if (r.stats.lastDropMs > 0 && now - r.stats.lastDropMs < (r.spec.dropWindowMs ?? DEFAULT_DROP_WINDOW_MS)) {
        out.push(`sink ${name} dropped data within drop_window`);
      }
    }
    return out;
  }

  /** Per sink: its counts and its queue's state, for telemetry. */
  views(): Array<{ stats: SinkStats; queue: ReturnType<SegmentLog['stats']>; fill: number }> {
    return this.running.map((r) => ({ stats: r.stats, queue: r.log.stats(), fill: r.queue.fill() }));
  }

  /** What start-up recovery found in each queue. */
  recoveries(): Array<{ sink: string; report: RecoveryReport }> {
    return this.running.map((r) => ({ sink: r.spec.sink.name, report: r.log.recovery }));
  }

  /** False while a queue is over 90 % full (the agent is about to drop data) or refuses flushes. */
  ready(): boolean {
    return this.running.every((r) => r.queue.fill() <= READY_FILL && r.refusingSinceMs === undefined);
  }

  /** Sinks that have delivered nothing for their stall_timeout while their queue is not empty. */
  stalled(): string[] {
    const now = this.now();
    return this.running
      .filter((r) => {
        const q = r.log.stats();
        if (q.records === 0 || q.oldestAppendedAtMs === undefined) return false;
        // Waiting since the later of the last delivery and the oldest record's arrival.
        return now - Math.max(r.stats.lastDeliveryMs, q.oldestAppendedAtMs) > r.spec.stallTimeoutMs;
      })
      .map((r) => r.spec.sink.name);
  }

  /** Stops delivery (what is queued stays queued), closes the sinks and the logs. */
  async stop(): Promise<void> {
    await Promise.all(this.running.map((r) => r.shipper.stop()));
    await Promise.all(this.running.map((r) => r.spec.sink.close?.().catch((err) => this.logger.warn({ err, sink: r.spec.sink.name }, 'sink close failed'))));
    await Promise.all(this.running.map((r) => r.log.close()));
  }
}
