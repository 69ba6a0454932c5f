import type { Aggregator } from '../aggregate/aggregator.js';
import type { Series } from '../aggregate/series.js';

/**
 * Past this age a series is not held at zero for its first scrape: a scraper
 * that starts late would see every old counter drop to 0 and jump back, and
 * Prometheus would count the whole jump into the minutes it has just begun.
 * It is the staleness window, beyond which Prometheus would not join the two
 * samples anyway.
 */
export const NEW_SERIES_HOLD_MS = 5 * 60_000;

/** For a storing scraper's read: series younger than `since` are shown at 0 through the interval of their first such read. */
export interface ZeroHold {
  since: number;
  epoch: number;
}

/** The hold a storing scraper's read at `nowMs` applies. */
export function zeroHold(aggregator: Aggregator, nowMs: number): ZeroHold {
  return { since: nowMs - NEW_SERIES_HOLD_MS, epoch: aggregator.flushEpoch };
}

/** Whether this read shows the series at zero; the first storing read of a series starts its zero interval. */
export function heldAtZero(s: Series, hold: ZeroHold | undefined): boolean {
  if (hold === undefined || s.startTimeMs <= hold.since) return false;
  if (s.firstScrapedEpoch === -1) s.firstScrapedEpoch = hold.epoch;
  return s.firstScrapedEpoch === hold.epoch;
}
