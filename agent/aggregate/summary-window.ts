import { LogCollapsingLowestDenseDDSketch } from '@datadog/sketches-js';
import type { Quantile } from '../mapping/mapping-rules.js';

/**
 * What every summary of one family shares, fixed when the family is created
 * (as statsd_exporter fixes a SummaryVec's options when it registers it).
 */
export interface SummaryShape {
  /** Ascending, each once: the `quantile` labels, in exposition order. */
  quantiles: readonly number[];
  /** DDSketch's α: a reported quantile is within ±α × its exact value. */
  relativeAccuracy: number;
  /** Bins a sketch store may hold; past it the lowest bins collapse into one. */
  binLimit: number;
  maxAgeMs: number;
  ageBuckets: number;
}

// statsd_exporter's `error` is client_golang's CKMS rank error; DDSketch
// bounds the value instead. Taking the tightest error of the rule as α makes
// every quantile at least that close in value. Error 0 asks for exact
// quantiles, which no bounded sketch gives (CKMS then keeps every sample), so
// α stops at 1e-4; above 0.01 (DDSketch's own default) a tighter sketch costs
// little, so α never gets coarser than that.
const MIN_RELATIVE_ACCURACY = 1e-4;
const MAX_RELATIVE_ACCURACY = 0.01;
// Bins enough to keep six decades below the window's largest value exact to
// α (1 µs to 1 s of latency): 6,908 bins at α = 0.001, about 55 KB per store
// when full. A store only spans the keys it has seen, so a series whose
// values span three decades holds half that. Capped so a tiny α cannot make
// one series take megabytes; the cap keeps 2.8 decades at α = 1e-4.
const DECADES_KEPT = 6;
const MIN_BINS = 1024;
const MAX_BINS = 32_768;

export function summaryShape(objectives: readonly Quantile[], maxAgeMs: number, ageBuckets: number): SummaryShape {
  // One entry per quantile, the last error given winning, as client_golang's Objectives map.
  const errors = new Map<number, number>();
  for (const o of objectives) errors.set(o.quantile, o.error);
  const relativeAccuracy = Math.min(MAX_RELATIVE_ACCURACY, Math.max(MIN_RELATIVE_ACCURACY, Math.min(...errors.values())));
  const gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy);
  const binLimit = Math.min(MAX_BINS, Math.max(MIN_BINS, Math.ceil((DECADES_KEPT * Math.LN10) / Math.log(gamma))));
  return {
    quantiles: Object.freeze([...errors.keys()].sort((a, b) => a - b)),
    relativeAccuracy,
    binLimit,
    maxAgeMs,
    ageBuckets,
  };
}

/**
 * The quantile state of one summary series: client_golang's sliding window
 * with DDSketch in place of CKMS. There are `ageBuckets` sketches, each reset
 * in turn every maxAge / ageBuckets; every value goes into all of them and
 * quantiles are read from the oldest (the head), so they cover between
 * (ageBuckets - 1) / ageBuckets of max_age and all of it, exactly the
 * window client_golang gives. Sum and count are not windowed and live on the
 * series, as in a Prometheus summary.
 */
export class SummaryWindow {
  private readonly sketches: LogCollapsingLowestDenseDDSketch[];
  private head = 0;
  private headExpiresMs: number;
  private readonly streamMs: number;

  constructor(
    readonly shape: SummaryShape,
    nowMs: number,
  ) {
    this.streamMs = shape.maxAgeMs / shape.ageBuckets;
    this.headExpiresMs = nowMs + this.streamMs;
    this.sketches = Array.from({ length: shape.ageBuckets }, () => this.newSketch());
  }

  /** `value` must be finite and `weight` positive (a sample rate's 1/rate). */
  observe(value: number, weight: number, nowMs: number): void {
    if (nowMs > this.headExpiresMs) this.rotate(nowMs);
    for (const sketch of this.sketches) sketch.accept(value, weight);
  }

  /** One value per shape.quantiles entry; NaN when nothing arrived within the window, as client_golang writes it. */
  quantileValues(nowMs: number): number[] {
    if (nowMs > this.headExpiresMs) this.rotate(nowMs);
    const head = this.sketches[this.head]!;
    const n = head.count;
    return this.shape.quantiles.map((q) => head.getValueAtQuantile(n > 1 ? nearestRank(q, n) / (n - 1) : q));
  }

  private rotate(nowMs: number): void {
    // Arithmetic instead of one step at a time: a series idle for a day must not loop through every missed period.
    const steps = Math.ceil((nowMs - this.headExpiresMs) / this.streamMs);
    const n = this.sketches.length;
    for (let i = 0; i < Math.min(steps, n); i++) {
      this.sketches[this.head] = this.newSketch();
      this.head = (this.head + 1) % n;
    }
    if (steps > n) this.head = (this.head + (steps - n)) % n;
    this.headExpiresMs += steps * this.streamMs;
  }

  private newSketch(): LogCollapsingLowestDenseDDSketch {
    return new LogCollapsingLowestDenseDDSketch({ relativeAccuracy: this.shape.relativeAccuracy, binLimit: this.shape.binLimit });
  }
}

/**
 * DDSketch reads the sample of rank ⌊q·(n−1)⌋, which for few samples sits
 * well below the usual definition: its p99 of 100 ms and 300 ms is 100 ms.
 * CKMS, as client_golang queries it, aims at the nearest rank instead, the
 * smallest sample with at least q of the weight at or below it; this is that
 * rank in DDSketch's terms (it picks the first sample whose running weight
 * exceeds the rank it is given).
 */
function nearestRank(q: number, n: number): number {
  // Just under q·n, so a product a hair above a whole number (0.1 × 30) does not step one sample up.
  return Math.min(n - 1, Math.max(0, q * n * (1 - 1e-12)));
}
