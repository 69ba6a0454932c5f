import { ValueType, type Meter } from '@opentelemetry/api';

/** What these counters read of a spool log's recovery report (spool/recovery.ts's RecoveryReport has more). */
export interface RecoveredBytes {
  /** What was cut off the end, piece by piece: whole records among the bytes mean records were lost with them. */
  readonly truncated: ReadonlyArray<{ readonly bytes: number; readonly wholeRecords: number }>;
  readonly truncatedBytes: number;
  readonly skippedBytes: number;
}

/** A spool log opened at start-up: the journal, or a sink's queue. */
export interface RecoveredLog {
  log: 'journal' | 'queue';
  sink?: string;
  report: RecoveredBytes;
}

/**
 * What start-up recovery of each spool log cut or stepped over, in bytes:
 * `torn_tail` (a write that never completed; no record lost), `truncated`
 * (whole records cut off behind damage: lost), `skipped` (damaged bytes in
 * the middle). A count that grows between restarts is a disk or a second
 * writer damaging the spool.
 */
export function registerSpoolMetrics(meter: Meter, logs: () => RecoveredLog[]): void {
  meter
    .createObservableCounter('tally_spool_recovered_bytes', {
      description: 'Bytes that start-up recovery cut off (torn_tail, truncated) or stepped over (skipped), by spool log.',
      unit: 'By',
      valueType: ValueType.INT,
    })
    .addCallback((r) => {
      for (const { log, sink, report } of logs()) {
        const labels = sink === undefined ? { log } : { log, sink };
        const truncated = report.truncated.filter((t) => t.wholeRecords > 0).reduce((n, t) => n + t.bytes, 0);
        r.observe(report.truncatedBytes - truncated, { ...labels, reason: 'torn_tail' });
        r.observe(truncated, { ...labels, reason: 'truncated' });
        r.observe(report.skippedBytes, { ...labels, reason: 'skipped' });
      }
    });
}
