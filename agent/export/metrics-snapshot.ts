import type { Aggregator } from '../aggregate/aggregator.js';
import type { Family, Series } from '../aggregate/series.js';
import { SET } from '../parse/metric-kind.js';
import { zeroHold, type ZeroHold } from './zero-hold.js';

/** One family as a scrape or a flush found it. */
export interface SnapshotFamily {
  readonly family: Family;
  /** The family's series array and its length at the start: later series are left to the next scrape. */
  readonly series: readonly Series[];
  readonly length: number;
  /** For a family of sets, each series' count of the last complete interval, as it was at the start. */
  readonly setCounts: Float64Array | undefined;
}

/**
 * Tally's own view of its metrics at one moment, what /metrics and remote
 * write render: taken when a scrape arrives, or when a flush cuts a push
 * batch.
 */
export interface MetricsSnapshot {
  readonly families: readonly SnapshotFamily[];
  readonly nowMs: number;
  /** Set for a storing scraper (see NEW_SERIES_HOLD_MS); the epoch is the one the scrape began in. Never for a push batch, which carries start times. */
  readonly hold: ZeroHold | undefined;
}

/**
 * Takes what a scrape, or the encoding of a push batch, needs to stay
 * consistent while it yields to the event loop between chunks, during which
 * lines and flushes go on.
 *
 * Copying every value would cost as much memory as the text it saves
 * (a histogram has a dozen buckets per series), so values are read live, as
 * they are at the moment their chunk is written: a line that lands while the
 * scrape runs shows in it or in the next one, as with any client library
 * that renders one metric after another. What a flush changes is fixed here
 * instead, so no scrape shows a flush half applied:
 * - expiry replaces a family's series array rather than editing it, so the
 *   array and its length taken now keep every series the scrape began with,
 *   in order, and none made since;
 * - a set's value is the count of the last complete interval, which a flush
 *   replaces for every set at once: copied now (one number per set series);
 * - the zero-hold epoch is the one the scrape began in, so a flush during
 *   the scrape does not split it into two hold intervals.
 * All of this is O(families + set series), a few milliseconds at 1M series.
 */
export function takeMetricsSnapshot(aggregator: Aggregator, storingScraper: boolean, nowMs = Date.now()): MetricsSnapshot {
  const families: SnapshotFamily[] = [];
  aggregator.forEachFamily((family) => {
    const series = family.series;
    let setCounts: Float64Array | undefined;
    if (family.kind === SET) {
      setCounts = new Float64Array(series.length);
      for (let i = 0; i < series.length; i++) setCounts[i] = series[i]!.lastIntervalCount;
    }
    families.push({ family, series, length: series.length, setCounts });
  });
  return { families, nowMs, hold: storingScraper ? zeroHold(aggregator, nowMs) : undefined };
}
