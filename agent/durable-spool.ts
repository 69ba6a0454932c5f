import { isAbsolute, join, resolve } from 'node:path';
import type { Meter } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { Logger } from 'pino';
import type { TallyConfig } from './config/schema.js';
import { builtInSinks } from './export/built-in-sinks.js';
import { lockDataDir, openPushSinks, type DataDir } from './export/open-push-sinks.js';
import type { PushSinks } from './export/push-sinks.js';
import { CollectJournal } from './ingest/collect-journal.js';
import { isDiskFull } from './spool/cursor-file.js';
import type { FileAccess } from './spool/file-access.js';
import { registerSinkMetrics } from './telemetry/sink-metrics.js';

/** How often opening the spool is tried again after a full disk refused it. */
export const SPOOL_RETRY_MS = 2_000;
/** Readiness stays false this long after a journal append failed (unless one succeeds). */
const JOURNAL_FAILURE_MS = 2_000;

export interface DurableSpoolOptions {
  config: TallyConfig;
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
  /** Replays a journal opened late before collect may use it. */
  private onJournalOpen: ((j: CollectJournal) => Promise<void>) | undefined;

  constructor(private readonly opts: DurableSpoolOptions) {
    const dir = opts.config.spool.dir;
    this.path = isAbsolute(dir) ? dir : resolve(opts.baseDir, dir);
  }

  get durableCollect(): boolean {
    return this.opts.config.http.collect.enabled && this.opts.config.http.collect.durable;
  }

  /** Opens the spool if the config needs one; a full disk is logged and retried in the background, any other error thrown. */
  async start(): Promise<void> {
    if (this.opts.config.sinks.length > 0 || this.durableCollect) await this.tryOpen();
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
    const max = this.opts.config.http.collect.journal_max_bytes;
    if (held >= max) {
      return { reason: 'journal_full', message: `the journal holds ${held} bytes not yet in the sink queues (journal_max_bytes ${max}); retry later`, retryAfterSeconds: flushRetryAfterSeconds };
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
    const refusing = this.push?.refusing() ?? [];
    if (refusing.length > 0) out.push(`sink queue(s) refused the last flush: ${refusing.join(', ')}`);
    else if (this.push !== undefined && !this.push.ready()) out.push('a sink queue is over 90 % full');
    return out;
  }

  /** Stops retrying, stops delivery (what is queued stays queued) and closes the journal and the lock. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
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
    const { config, logger, version } = this.opts;
    const dir = await lockDataDir(config, this.opts.baseDir, logger);
    let journal: CollectJournal | undefined;
    let push: PushSinks | undefined;
    try {
      if (this.durableCollect) {
        journal = await CollectJournal.open(join(dir.path, 'journal'), {
          segmentBytes: config.spool.segment_bytes,
          maxRecordBytes: config.spool.max_record_bytes,
          maxBodyBytes: config.http.collect.max_body_bytes,
          files: this.opts.files,
        });
      }
      if (config.sinks.length > 0) {
        const telemetry = { attempt: undefined as undefined | ReturnType<typeof registerSinkMetrics>['attempt'] };
        push = await openPushSinks(
          config,
          dir.path,
          { baseDir: this.opts.baseDir, version, logger, builtIn: builtInSinks(this.opts.pushResource, version) },
          (sink, seconds, outcome) => telemetry.attempt?.record(seconds, { sink, outcome }),
          this.opts.files,
        );
        telemetry.attempt = registerSinkMetrics(this.opts.meter, push).attempt;
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
  }
}
