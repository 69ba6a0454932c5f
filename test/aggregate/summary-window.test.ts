import { describe, expect, it } from 'vitest';
import { SummaryWindow, summaryShape } from '../../agent/aggregate/summary-window.js';
import { DEFAULT_MAPPING_QUANTILES } from '../../agent/mapping/mapping-rules.js';
import { loadLatenciesMs, quantileErrors } from '../support/quantiles.js';

const TEN_MINUTES = 600_000;

describe('summaryShape', () => {
  it('sorts the quantiles, keeps each once (the last error wins) and takes the tightest error as accuracy', () => {
    const shape = summaryShape(
      [
        { quantile: 0.99, error: 0.01 },
        { quantile: 0.5, error: 0.05 },
        { quantile: 0.99, error: 0.002 },
      ],
      TEN_MINUTES,
      5,
    );
    expect(shape.quantiles).toEqual([0.5, 0.99]);
    expect(shape.relativeAccuracy).toBe(0.002);
  });

  it('uses 0.001 for statsd_exporter default quantiles, with bins for six decades', () => {
    const shape = summaryShape(DEFAULT_MAPPING_QUANTILES, TEN_MINUTES, 5);
    expect(shape.quantiles).toEqual([0.5, 0.9, 0.99]);
    expect(shape.relativeAccuracy).toBe(0.001);
    const gamma = 1.001 / 0.999;
    expect(shape.binLimit).toBe(Math.ceil((6 * Math.LN10) / Math.log(gamma)));
    expect(shape.binLimit).toBeGreaterThan(6900);
  });

  it('keeps the accuracy between 1e-4 (error 0 asks for exact) and 0.01', () => {
    expect(summaryShape([{ quantile: 0.9, error: 0 }], TEN_MINUTES, 5).relativeAccuracy).toBe(1e-4);
    expect(summaryShape([{ quantile: 0.9, error: 0.3 }], TEN_MINUTES, 5).relativeAccuracy).toBe(0.01);
    expect(summaryShape([{ quantile: 0.9, error: 0 }], TEN_MINUTES, 5).binLimit).toBe(32_768);
    expect(summaryShape([{ quantile: 0.9, error: 0.3 }], TEN_MINUTES, 5).binLimit).toBe(1024);
  });
});

describe('SummaryWindow', () => {
  it('estimates every quantile of a known sample set within the configured error, in value and in rank', () => {
    const samples = loadLatenciesMs().map((ms) => ms / 1000);
    const window = new SummaryWindow(summaryShape(DEFAULT_MAPPING_QUANTILES, TEN_MINUTES, 5), 0);
    samples.forEach((v, i) => window.observe(v, 1, i));
    const values = window.quantileValues(samples.length);
    DEFAULT_MAPPING_QUANTILES.forEach(({ quantile, error }, i) => {
      const { relative, rank } = quantileErrors(samples, quantile, values[i]!);
      expect(relative, `q${quantile} value`).toBeLessThanOrEqual(error);
      expect(rank, `q${quantile} rank`).toBeLessThanOrEqual(error);
    });
  });

  it('reads the nearest rank, as CKMS aims to, also for a handful of samples', () => {
    const quantiles = [0, 0.1, 0.15, 0.5, 0.99, 1].map((quantile) => ({ quantile, error: 0.001 }));
    const two = new SummaryWindow(summaryShape(quantiles, TEN_MINUTES, 5), 0);
    two.observe(0.1, 1, 0);
    two.observe(0.3, 1, 0);
    expect(two.quantileValues(0).map((v) => Number(v.toPrecision(2)))).toEqual([0.1, 0.1, 0.1, 0.1, 0.3, 0.3]);
    const ten = new SummaryWindow(summaryShape(quantiles, TEN_MINUTES, 5), 0);
    for (let v = 1; v <= 10; v++) ten.observe(v, 1, 0);
    // 0.1 × 10 is one sample exactly (the first); 0.15 × 10 needs the second.
    expect(ten.quantileValues(0).map((v) => Math.round(v))).toEqual([1, 1, 2, 5, 10, 10]);
    const one = new SummaryWindow(summaryShape(quantiles, TEN_MINUTES, 5), 0);
    one.observe(42, 1, 0);
    expect(one.quantileValues(0).map((v) => Math.round(v))).toEqual([42, 42, 42, 42, 42, 42]);
  });

  it('weights samples, for sample rates', () => {
    const window = new SummaryWindow(summaryShape([{ quantile: 0.5, error: 0.01 }], TEN_MINUTES, 5), 0);
    window.observe(1, 1, 0);
    window.observe(100, 3, 0); // one line at @0.333: three samples' worth
    expect(window.quantileValues(0)[0]).toBeCloseTo(100, 0);
  });

  it('handles negative values and zero', () => {
    const window = new SummaryWindow(summaryShape([0.01, 0.5, 0.99].map((quantile) => ({ quantile, error: 0.001 })), TEN_MINUTES, 5), 0);
    for (let v = -50; v <= 50; v++) window.observe(v, 1, 0);
    const [low, mid, high] = window.quantileValues(0);
    expect(low).toBeCloseTo(-49, 1);
    expect(mid).toBe(0);
    expect(high).toBeCloseTo(49, 1);
  });

  it('answers NaN for every quantile while the window is empty, as client_golang does', () => {
    const window = new SummaryWindow(summaryShape(DEFAULT_MAPPING_QUANTILES, TEN_MINUTES, 5), 0);
    expect(window.quantileValues(0)).toEqual([NaN, NaN, NaN]);
  });

  // max_age 10 s in 5 buckets: a bucket is reset every 2 s, and quantiles read
  // the oldest, which holds between 8 and 10 s of samples.
  describe('slides like client_golang over max_age in age_buckets steps', () => {
    const shape = summaryShape([{ quantile: 1, error: 0.001 }], 10_000, 5);
    const max = (w: SummaryWindow, t: number) => w.quantileValues(t)[0]!;

    it('keeps a sample for max_age and not a moment longer', () => {
      const w = new SummaryWindow(shape, 0);
      w.observe(100, 1, 0);
      w.observe(1, 1, 9_000);
      expect(max(w, 10_000)).toBeCloseTo(100, 0);
      expect(max(w, 10_001)).toBeCloseTo(1, 2);
    });

    it('drops a sample between (age_buckets - 1) / age_buckets of max_age and max_age after it arrived', () => {
      const w = new SummaryWindow(shape, 0);
      w.observe(100, 1, 2_500); // in the bucket period 2–4 s: reset at 4 s + 8 s
      expect(max(w, 11_999)).toBeCloseTo(100, 0);
      expect(max(w, 12_001)).toBeNaN();
    });

    it('empties after an idle gap of many windows, and fills again', () => {
      const w = new SummaryWindow(shape, 0);
      w.observe(100, 1, 0);
      const later = 86_401_000; // a day on, inside the bucket period that ends 1 s later
      w.observe(7, 1, later);
      expect(max(w, later)).toBeCloseTo(7, 1);
      expect(max(w, later + 9_000)).toBeCloseTo(7, 1);
      expect(max(w, later + 10_001)).toBeNaN();
    });
  });
});
