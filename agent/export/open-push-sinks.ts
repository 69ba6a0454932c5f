import { mkdir, stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { Logger } from 'pino';
import { DirLock } from '../spool/dir-lock.js';
import type { FileAccess } from '../spool/file-access.js';
import { PushSinks } from './push-sinks.js';
import { createSink, type SinkFactoryContext } from './sink-factory.js';
import type { SinkConfig, SpoolConfig } from './sinks-config.js';

export interface DataDir {
  path: string;
  lock: DirLock;
}

/** The data directory, created if missing and locked: one agent per directory, or exit naming the holder. */
export async function lockDataDir(spool: SpoolConfig, baseDir: string, logger: Logger): Promise<DataDir> {
  const path = isAbsolute(spool.dir) ? spool.dir : resolve(baseDir, spool.dir);
  await mkdir(path, { recursive: true, mode: 0o700 });
  const lock = await DirLock.acquire(path);
  // A directory made before (by an older version, or by hand) keeps its mode: the operator's choice, but said.
  const mode = (await stat(path)).mode & 0o777;
  if ((mode & 0o077) !== 0) logger.warn({ data_dir: path, mode: mode.toString(8) }, 'data directory is readable by other users: chmod 700 it unless that is meant');
  if (lock.tookOver !== undefined) logger.warn({ data_dir: path, previous_holder: lock.tookOver }, 'took over the lock of an agent that is gone');
  return { path, lock };
}

/** Makes every configured sink and opens its queue; recovery of each queue is logged. */
export async function openPushSinks(
  sinks: readonly SinkConfig[],
  spool: SpoolConfig,
  dataDir: string,
  ctx: SinkFactoryContext,
  onAttempt?: (sink: string, seconds: number, outcome: string) => void,
  files?: FileAccess,
  onEncode?: (sink: string, seconds: number) => void,
): Promise<PushSinks> {
  const specs = [];
  for (const c of sinks) {
    specs.push({
      sink: await createSink(c, ctx),
      match: c.match,
      maxBytes: c.queue.max_bytes,
      whenFull: c.queue.when_full,
      maxInFlight: c.queue.max_in_flight ?? 1,
      backoff: { initialMs: c.retry.initial_backoff, maxMs: c.retry.max_backoff, maxRetryAfterMs: c.retry.max_retry_after },
      stallTimeoutMs: c.stall_timeout,
      refusalTimeoutMs: c.refusal_timeout,
      dropWindowMs: c.drop_window,
      deadLetterMaxBytes: c.dead_letter.max_bytes,
    });
  }
  return PushSinks.open({
    dataDir,
    segmentBytes: spool.segment_bytes,
    maxRecordBytes: spool.max_record_bytes,
    sinks: specs,
    logger: ctx.logger,
    onAttempt,
    onEncode,
    files,
  });
}
