/** Types for dashboards/preview/time-range.mjs (Grafana's time ranges, intervals and query timing). */

export declare function parseDuration(text: string): number;
export declare function parseTimePoint(text: string, nowMs: number): number;
/** A duration (ms) as a range selector: whole seconds as `Ns`, anything finer as `Nms`. */
export declare function promDuration(ms: number): string;
/** Grafana's rangeUtil.roundInterval: a raw interval (ms) to a "nice" one. */
export declare function roundInterval(ms: number): number;
/** Grafana's $__rate_interval (ms): max(interval + scrape interval, 4 × scrape interval). */
export declare function rateIntervalMs(intervalMs: number, scrapeIntervalMs: number): number;

export interface QueryTimeContext {
  /** Dashboard time range, unix milliseconds. */
  fromMs: number;
  toMs: number;
  /** The datasource's scrape interval ("Scrape interval" / timeInterval). */
  scrapeIntervalMs: number;
  /** Panel width in data points (Grafana passes the panel's pixel width); default 1,000. */
  maxDataPoints?: number;
  /** A target's or panel's min interval (`interval`); default the scrape interval. */
  minIntervalMs?: number;
}

export interface QueryTiming {
  fromMs: number;
  toMs: number;
  scrapeIntervalMs: number;
  rangeMs: number;
  /** `$__interval`: also the range query's step. */
  intervalMs: number;
  rateIntervalMs: number;
  /** Range query bounds, whole seconds aligned to the step as Grafana aligns them. */
  startMs: number;
  endMs: number;
  /** An instant query's time: the range's end, rounded up to a whole second. */
  instantMs: number;
}

/** How Grafana times a Prometheus query for this range, scrape interval and panel width. Throws on an empty range. */
export declare function queryTiming(ctx: QueryTimeContext): QueryTiming;
