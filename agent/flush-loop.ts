import { randomUUID } from 'node:crypto';
import type { Resource } from '@opentelemetry/resources';
import type { Logger } from 'pino';
import type { Aggregator } from './aggregate/aggregator.js';
import type { DurableSpool } from './durable-spool.js';
import { toResourceMetrics } from './export/aggregate-producer.js';
import { BatchLine, type WaitingBatch } from './export/batch-line.js';
import { collectExponentialHistograms } from './export/exponential-data.js';
import { takeMetricsSnapshot } from './export/metrics-snapshot.js';
import type { FlushSnapshot } from './export/sink.js';
import { summariesOf } from './export/summary-data.js';
import type { CollectJournal } from './ingest/collect/journal.js';
import type { AggregationCounters } from './telemetry/aggregation-counters.js';
import type { SelfMetrics } from './telemetry/self-metrics.js';

/** A cut batch before the sinks take it: the SDK's form of its metrics, and the summaries and exponential histograms beside it, are made when its turn comes. */
type CutBatch = Omit<FlushSnapshot, 'metrics' | 'summaries' | 'exponential'>;

/** A flush's batch and the HTTP collect journal mark it releases once every sink queue holds it. */
interface FlushBatch extends WaitingBatch<CutBatch> {
  journal: CollectJournal | undefined;
  journaled: number;
}

/** Events kept per flush interval for log-record sinks; past it they are counted, not kept. */
export const MAX_PENDING_EVENTS = 100_000;

export interface FlushLoopOptions {
  aggregator: Aggregator;
  spool: DurableSpool;
  intervalMs: number;
  /**
   * Whether a sink reads the OpenTelemetry SDK's form of the batch, and the
   * summaries and exponential histograms beside it (a sink module, see
   * needsSdkForm); remote write and OTLP render the families themselves.
   */
  sdkForm: boolean;
  pushResource: Resource;
  scope: { name: string; version: string };
  self: SelfMetrics;
  aggregation: AggregationCounters;
  logger: Logger;
}

export interface FlushLoop {
  /** Closes an interval now: sets roll over, idle series expire, and a batch is cut for the sinks and the journal. */
  flush(): void;
  /** No more flushes by the timer. */
  pause(): void;
  /** No more flushes by the timer; with `last`, one more, and waits until the sinks' queues hold every batch. */
  stop(last: boolean): Promise<void>;
}

/**
 * Every flush interval: the aggregator closes the interval, and a batch is
 * cut when anything takes one (push sinks, or the HTTP collect journal whose
 * requests the batch covers). Batches reach the sink queues in flush order,
 * one after another, at most one waiting (export/batch-line.ts).
 */
export function startFlushLoop(opts: FlushLoopOptions): FlushLoop {
  const { aggregator, spool, sdkForm, pushResource, scope, self, logger } = opts;
  const line = new BatchLine<CutBatch>({
    deliver: async ({ batch, journal, journaled }: FlushBatch) => {
      let queued = true;
      if (spool.push !== undefined) {
        try {
          // The SDK's form of the same families, for sink modules, made in slices between the loop's turns.
          const metrics = sdkForm ? await toResourceMetrics(batch.families, pushResource, scope) : { resource: pushResource, scopeMetrics: [] };
          const summaries = sdkForm ? await summariesOf(batch.families) : [];
          const exponential = sdkForm ? await collectExponentialHistograms(batch.families) : [];
          queued = await spool.push.push({ ...batch, metrics, summaries, exponential });
        } catch (err) {
          logger.error({ err, batch_id: batch.batchId }, 'could not queue the flush for the push sinks');
          queued = false;
        }
      }
      // Released only once every queue took a flush covering it: until then a later flush or a restart still has it.
      if (queued && journal !== undefined && journaled > 0) await journal.release(journaled).catch((err) => logger.error({ err }, 'could not release the HTTP collect journal'));
    },
    onSuperseded: (older, by) => {
      self.batchesSuperseded.add(1);
      logger.warn(
        { superseded: older.batch.batchId, by: by.batch.batchId },
        'a flush batch was replaced by the next one before the sinks took it (the last one is still encoding): its metrics are in the newer batch, its events carried; counted in tally_flush_batches_superseded_total',
      );
    },
    maxEvents: MAX_PENDING_EVENTS,
    onEventsDropped: (n) => opts.aggregation.metricDrop('event_buffer_full', n),
  });

  const flush = () => {
    const t0 = performance.now();
    const journal = spool.journal;
    // Journaled requests applied so far are in this flush: once it is in the sink queues, they need no replay.
    const journaled = journal?.mark() ?? 0;
    aggregator.flush();
    if (spool.push === undefined && !(journal !== undefined && journaled > 0)) {
      self.flushDuration.record((performance.now() - t0) / 1000);
      return;
    }
    // Every point of a batch carries the batch's time, fixed when it is cut, so a replay rewrites the same samples.
    const batchTimeMs = Date.now();
    const cut: FlushBatch = {
      batch: {
        batchId: randomUUID(),
        timeMs: batchTimeMs,
        // Which series the batch holds is fixed now; their values are read as the sinks reach them.
        families: takeMetricsSnapshot(aggregator, false, batchTimeMs),
        events: aggregator.takeEvents(),
      },
      journal,
      journaled,
      absorb(older) {
        // The newer mark covers the older one's requests; without a journal of its own, it releases the older one's.
        if (this.journal === undefined) {
          this.journal = (older as FlushBatch).journal;
          this.journaled = (older as FlushBatch).journaled;
        }
      },
    };
    line.offer(cut);
    self.flushDuration.record((performance.now() - t0) / 1000);
  };
  const timer = setInterval(flush, opts.intervalMs);
  timer.unref();
  return {
    flush,
    pause() {
      clearInterval(timer);
    },
    async stop(last) {
      clearInterval(timer);
      if (!last) return;
      flush();
      // What the sinks have not delivered stays in their queues for the next start.
      await line.idle();
    },
  };
}
