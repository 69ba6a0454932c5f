import { isAbsolute, join, resolve } from 'node:path';
import type { Meter } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { Logger } from 'pino';
import { builtInSinks } from './export/built-in-sinks.js';
import { lockDataDir, openPushSinks, type DataDir } from './export/open-push-sinks.js';
import type { PushSinks } from './export/push-sinks.js';
import type { SinkConfig, SpoolConfig } from './export/sinks-config.js';
import { CollectJournal } from './ingest/collect/journal.js';
import { isDiskFull } from './spool/cursor-file.js';
import { nodeFileAccess, type FileAccess } from './spool/file-access.js';
import { describeLoss } from './spool/recovery.js';
import { registerSinkMetrics } from './telemetry/sink-metrics.js';
import { registerSpoolMetrics } from './telemetry/spool-metrics.js';

/** How often opening the spool is tried again after a full disk refused it. */
export const SPOOL_RETRY_MS = 2_000;
/** Readiness stays false this long after a journal append failed (unless one succeeds). */
const JOURNAL_FAILURE_MS = 2_000;
/** How often the free space under the spool is read (statfs costs microseconds; the journal's own growth is counted between reads). */
const ROOM_POLL_MS = 250;
/**
 * The journal is released only once a flush covering its requests is in
 * every sink queue, and such a flush is several times their size: an event's
 * value is a label of its counter and of its last-used gauge and the body of
 * a log record (80 KB of journal made a 376 KB OTLP flush on the simulated
 * disk). So collect stops acknowledging while the free space is less than
 * this many times what the journal holds, plus a reserve; past that point
 * the flush could no longer fit beside the journal it would release, and
 * neither would ever leave the disk (a 384 KiB disk stayed stuck that way,
 * every flush refused with the queue empty).
 */
const ROOM_FACTOR = 6;
const ROOM_RESERVE_BYTES = 64 * 1024;

export interface DurableSpoolOptions {
  spool: SpoolConfig;
  sinks: readonly SinkConfig[];
  /** The HTTP collect journal: kept when collect is on and durable. */
  journal: { durable: boolean; maxBytes: number; maxBodyBytes: number };
  /** Folder a relative spool.dir is read from. */
  baseDir: string;
  version: string;
  logger: Logger;
  /** The resource of what the push sinks send. */
  pushResource: Resource;
  /** Where the sink telemetry is registered once the sinks are open. */
  meter: Meter;
  /** How the journal and the queues reach the disk; the real file system by default (tests pass a simulated disk). */
  files?: FileAccess;
}

/**
 * What the agent keeps on disk: the locked data directory, the HTTP collect
 * journal and the push sinks' queues. A full disk at start-up is not fatal:
 * the agent runs without them (UDP and /metrics served, collect refused with
 * 503), says so with the path and the error, and opens them once there is
 * room. It also answers whether collect can be made durable now and what
 * keeps the agent from being ready.
 */
export class DurableSpool {
  readonly path: string;
  dataDir: DataDir | undefined;
  journal: CollectJournal | undefined;
  push: PushSinks | undefined;
  /** Why the spool is not open (a full disk); undefined once it is, or when none is needed. */
  private down: string | undefined;
  private retry: NodeJS.Timeout | undefined;
  private opening: Promise<void> | undefined;
  private closed = false;
  /** Free bytes under the spool at the last read, and the journal's size then. */
  private room: { free: number; journalBytes: number } | undefined;
  private roomTimer: NodeJS.Timeout | undefined;
  /** Replays a journal opened late before collect may use it. */
  private onJournalOpen: ((j: CollectJournal) => Promise<void>) | undefined;

  constructor(private readonly opts: DurableSpoolOptions) {
    const dir = opts.spool.dir;
    this.path = isAbsolute(dir) ? dir : resolve(opts.baseDir, dir);
  }

  get durableCollect(): boolean {
    return this.opts.journal.durable;
  }

  /** Opens the spool if the config needs one; a full disk is logged and retried in the background, any other error thrown. */
  async start(): Promise<void> {
    if (this.opts.sinks.length === 0 && !this.durableCollect) return;
    registerSpoolMetrics(this.opts.meter, () => [
      ...(this.journal === undefined ? [] : [{ log: 'journal' as const, report: this.journal.recovery }]),
      ...(this.push?.recoveries().map(({ sink, report }) => ({ log: 'queue' as const, sink, report })) ?? []),
    ]);
    await this.tryOpen();
  }

  /** Replays a journal that opens after start-up through `fn` before collect uses it. */
  replayLateJournal(fn: (j: CollectJournal) => Promise<void>): void {
    this.onJournalOpen = fn;
  }

  /** Why collect cannot acknowledge durably now, with the Retry-After to give; undefined when it can. */
  collectUnavailable(flushRetryAfterSeconds: number): { reason: string; message: string; retryAfterSeconds: number } | undefined {
    if (!this.durableCollect) return undefined;
    if (this.journal === undefined) {
      return {
        reason: 'not_durable',
        message: `the spool (${this.path}) cannot be opened: ${this.down ?? 'opening'}; retry later`,
        retryAfterSeconds: Math.ceil(SPOOL_RETRY_MS / 1000),
      };
    }
    const held = this.journal.stats().bytes;
    const max = this.opts.journal.maxBytes;
    if (held >= max) {
      return { reason: 'journal_full', message: `the journal holds ${held} bytes not yet in the sink queues (journal_max_bytes ${max}); retry later`, retryAfterSeconds: flushRetryAfterSeconds };
    }
    const free = this.freeEstimate(held);
    if (free < ROOM_FACTOR * held + ROOM_RESERVE_BYTES) {
      return {
        reason: 'disk_low',
        message: `the disk under ${this.path} has ${free} bytes free, too few to queue a flush of the ${held} bytes the journal holds; retry later`,
        retryAfterSeconds: flushRetryAfterSeconds,
      };
    }
    const refusing = this.push?.refusing() ?? [];
    if (refusing.length > 0) {
      return { reason: 'queue_unavailable', message: `sink queue(s) cannot take data now: ${refusing.join(', ')}; retry later`, retryAfterSeconds: flushRetryAfterSeconds };
    }
    return undefined;
  }

  /** What keeps the agent from taking data durably now; empty when nothing does. */
  unready(): string[] {
    const out: string[] = [];
    if (this.down !== undefined) out.push(`spool ${this.path} cannot be opened (${this.down})`);
    if (this.journal !== undefined && !this.journal.healthy(JOURNAL_FAILURE_MS)) out.push(`the HTTP collect journal (${this.journal.dir}) cannot be written`);
    if (this.journal !== undefined) {
      const held = this.journal.stats().bytes;
      const free = this.freeEstimate(held);
      if (free < ROOM_FACTOR * held + ROOM_RESERVE_BYTES) out.push(`the disk under ${this.path} has ${free} bytes free, too few to queue the journal's ${held} bytes`);
    }
    const refusing = this.push?.refusing() ?? [];
    if (refusing.length > 0) out.push(`sink queue(s) refused the last flush: ${refusing.join(', ')}`);
    else if (this.push !== undefined && !this.push.ready()) out.push('a sink queue is over 90 % full');
    return out;
  }

  /** Stops retrying, stops delivery (what is queued stays queued) and closes the journal and the lock. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    clearInterval(this.roomTimer);
    await this.opening;
    await this.push?.stop();
    await this.journal?.close();
    await this.dataDir?.lock.release();
  }

  private async tryOpen(): Promise<void> {
    try {
      await this.open();
      if (this.down !== undefined) this.opts.logger.warn({ data_dir: this.path }, 'spool opened: the disk has room again, collect is durable again');
      this.down = undefined;
    } catch (err) {
      if (!isDiskFull(err)) throw err;
      if (this.down === undefined) {
        this.opts.logger.error(
          { data_dir: this.path, err, retry_ms: SPOOL_RETRY_MS },
          'cannot open the spool: the disk is full. UDP and /metrics are served; HTTP collect answers 503 and push sinks wait until it opens',
        );
      }
      this.down = `${(err as NodeJS.ErrnoException).code}: ${(err as Error).message}`;
      if (this.closed) return;
      this.retry = setTimeout(() => {
        this.opening = this.tryOpen().catch((e: unknown) => this.opts.logger.error({ err: e, data_dir: this.path }, 'cannot open the spool'));
      }, SPOOL_RETRY_MS);
      this.retry.unref();
    }
  }

  private async open(): Promise<void> {
    const { spool, sinks, logger, version } = this.opts;
    const dir = await lockDataDir(spool, this.opts.baseDir, logger);
    let journal: CollectJournal | undefined;
    let push: PushSinks | undefined;
    try {
      if (this.durableCollect) {
        journal = await CollectJournal.open(join(dir.path, 'journal'), {
          segmentBytes: spool.segment_bytes,
          maxRecordBytes: spool.max_record_bytes,
          maxBodyBytes: this.opts.journal.maxBodyBytes,
          files: this.opts.files,
        });
        const r = journal.recovery;
        if (!r.clean) logger.warn({ recovery: r, lost: describeLoss(r) }, 'HTTP collect journal recovered with loss');
      }
      if (sinks.length > 0) {
        const telemetry: { metrics?: ReturnType<typeof registerSinkMetrics> } = {};
        push = await openPushSinks(
          sinks,
          spool,
          dir.path,
          { baseDir: this.opts.baseDir, version, logger, builtIn: builtInSinks(this.opts.pushResource, version) },
          (sink, seconds, outcome) => telemetry.metrics?.attempt.record(seconds, { sink, outcome }),
          this.opts.files,
          (sink, seconds) => telemetry.metrics?.encode.record(seconds, { sink }),
        );
        telemetry.metrics = registerSinkMetrics(this.opts.meter, push);
      }
      if (journal !== undefined) await this.onJournalOpen?.(journal);
    } catch (err) {
      await push?.stop();
      await journal?.close();
      await dir.lock.release();
      throw err;
    }
    this.dataDir = dir;
    this.push = push;
    this.journal = journal;
    if (journal !== undefined) {
      await this.readRoom();
      this.roomTimer = setInterval(() => void this.readRoom(), ROOM_POLL_MS);
      this.roomTimer.unref();
    }
  }

  /** The free space now: the last read less what the journal has grown by since. */
  private freeEstimate(journalBytes: number): number {
    if (this.room === undefined) return Infinity;
    return this.room.free - Math.max(0, journalBytes - this.room.journalBytes);
  }

  private async readRoom(): Promise<void> {
    const journal = this.journal;
    if (journal === undefined || this.closed) return;
    const journalBytes = journal.stats().bytes;
    try {
      this.room = { free: await (this.opts.files ?? nodeFileAccess).freeBytes(this.path), journalBytes };
    } catch (err) {
      // Not knowing the free space must not stop collect: the queues' refusals still guard it.
      this.room = undefined;
      this.opts.logger.debug({ err, data_dir: this.path }, 'cannot read the free space under the spool');
    }
  }
}
