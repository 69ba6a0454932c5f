/**
 * Grafana's macro and variable expansion for Prometheus queries
 * (dashboards/preview/macros.mjs, time-range.mjs), the one the preview, the
 * end-to-end runs and the static dashboard tests share: tables of inputs and
 * the outputs Grafana's Prometheus datasource gives for them.
 */
import { describe, expect, it } from 'vitest';
import { builtinMacros, interpolate, referencedNames, type VariableSelection } from '../../dashboards/preview/macros.mjs';
import { promDuration, queryTiming, rateIntervalMs, roundInterval } from '../../dashboards/preview/time-range.mjs';

const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;
const D = 24 * H;

describe('roundInterval (Grafana rangeUtil.roundInterval)', () => {
  it.each([
    [1, 10],
    [14, 10],
    [15, 20],
    [700, 500],
    [1499, 1000],
    [1500, 2000],
    [3600, 5000], // 1 h over 1,000 points
    [21_600, 20_000], // 6 h over 1,000 points
    [86_400, 60_000], // 24 h over 1,000 points
    [100 * S, 2 * MIN],
    [40 * MIN, 30 * MIN],
    [13 * H, 12 * H],
    [2 * D, 1 * D],
    [20 * D, 7 * D],
    [40 * D, 30 * D],
    [50 * D, 365 * D],
  ])('%i ms → %i ms', (raw, nice) => {
    expect(roundInterval(raw)).toBe(nice);
  });
});

describe('$__rate_interval = max($__interval + scrape interval, 4 × scrape interval)', () => {
  it.each([
    // [interval, scrape, rate interval]
    [15 * S, 15 * S, 60 * S],
    [1 * MIN, 15 * S, 75 * S],
    [5 * MIN, 1 * MIN, 6 * MIN],
    [1 * S, 1 * S, 4 * S],
    [1 * MIN, 1 * MIN, 4 * MIN],
    [500, 1 * S, 4 * S],
  ])('interval %i ms, scrape %i ms → %i ms', (interval, scrape, rate) => {
    expect(rateIntervalMs(interval, scrape)).toBe(rate);
  });
});

describe('queryTiming: $__interval, step and bounds as Grafana sends them', () => {
  const T0 = 1_699_999_200_000; // a whole hour, so a multiple of every step below
  it.each([
    // what, context, interval, rate interval
    ['1 h, 1 m scrape: the scrape interval is the floor', { fromMs: T0 - H, toMs: T0, scrapeIntervalMs: MIN }, MIN, 4 * MIN],
    ['1 h, 1 s scrape, 1,000 points: 3.6 s rounds to 5 s', { fromMs: T0 - H, toMs: T0, scrapeIntervalMs: S }, 5 * S, 6 * S],
    ['24 h, 15 s scrape: 86.4 s rounds to 1 m', { fromMs: T0 - D, toMs: T0, scrapeIntervalMs: 15 * S }, MIN, 75 * S],
    ['1 h, 15 s scrape, 200 points: 18 s rounds to 20 s', { fromMs: T0 - H, toMs: T0, scrapeIntervalMs: 15 * S, maxDataPoints: 200 }, 20 * S, 60 * S],
    ['a target min interval above the scrape interval wins', { fromMs: T0 - H, toMs: T0, scrapeIntervalMs: 15 * S, minIntervalMs: 2 * MIN }, 2 * MIN, 135 * S],
    // adjustInterval: 30 d / 11,000 points = 235.6 s, rounded up to a whole second.
    ['30 d at 100,000 points stays under 11,000 points', { fromMs: T0 - 30 * D, toMs: T0, scrapeIntervalMs: 15 * S, maxDataPoints: 100_000 }, 236 * S, 251 * S],
  ])('%s', (_what, ctx, interval, rate) => {
    const t = queryTiming(ctx);
    expect(t.intervalMs).toBe(interval);
    expect(t.rateIntervalMs).toBe(rate);
    expect(t.rangeMs).toBe(ctx.toMs - ctx.fromMs);
  });

  it('rounds the bounds out to whole seconds and floors them to the step; an instant query runs at the end', () => {
    const t = queryTiming({ fromMs: T0 - H + 1_400, toMs: T0 + 7_300, scrapeIntervalMs: 15 * S });
    expect(t.intervalMs).toBe(15 * S);
    expect(t.startMs).toBe(T0 - H); // (T0 − 1 h + 1 s) floored to 15 s
    expect(t.endMs).toBe(T0); // T0 + 8 s floored to 15 s
    expect(t.instantMs).toBe(T0 + 8 * S); // 7.3 s rounds up
  });

  it('refuses an empty range', () => {
    expect(() => queryTiming({ fromMs: T0, toMs: T0, scrapeIntervalMs: S })).toThrow(/empty time range/);
  });
});

describe('builtinMacros: the macros as Prometheus reads them', () => {
  it.each([
    ['whole seconds', { fromMs: 0, toMs: H, intervalMs: MIN, scrapeIntervalMs: 15 * S }, {
      __interval: '60s', __interval_ms: '60000', __rate_interval: '75s', __rate_interval_ms: '75000',
      __range: '3600s', __range_s: '3600', __range_ms: '3600000', __from: '0', __to: '3600000',
    }],
    ['a step below a second in milliseconds, the range rounded to whole seconds', { fromMs: 1_000, toMs: 91_600, intervalMs: 500, scrapeIntervalMs: 250 }, {
      __interval: '500ms', __interval_ms: '500', __rate_interval: '1s', __rate_interval_ms: '1000',
      __range: '91s', __range_s: '91', __range_ms: '90600', __from: '1000', __to: '91600',
    }],
  ])('%s', (_what, t, want) => {
    expect(builtinMacros(t)).toEqual(want);
  });

  it.each([
    [1, '1ms'],
    [1_500, '1500ms'],
    [60_000, '60s'],
    [0, '1ms'],
  ])('promDuration(%i) = %s', (ms, text) => {
    expect(promDuration(ms)).toBe(text);
  });
});

describe('interpolate: variables and macros in every syntax, escaped as the Prometheus datasource escapes them', () => {
  const one = (v: string, extra: Partial<VariableSelection> = {}): VariableSelection => ({ values: [v], ...extra });
  const multi = { multi: true, includeAll: true };
  const variables: Record<string, VariableSelection> = {
    metric: one('checkout_time_seconds'),
    quote: one("it's a\\b"),
    version: one('1.4', multi),
    versions: { values: ['1.4', '1.5'], ...multi },
    job: { values: ['a', 'b'], isAll: true, allValue: '.*', ...multi },
    env: { values: ['prod', 'stage'], isAll: true, ...multi },
    idle_days: one('7'),
  };
  const macros = builtinMacros({ fromMs: 1_700_000_000_000, toMs: 1_700_003_600_000, intervalMs: MIN, scrapeIntervalMs: MIN });

  it.each([
    // Every syntax Grafana accepts.
    ['$metric_bucket', '$metric_bucket'], // \w+ takes the whole word: no variable metric_bucket
    ['${metric}_bucket', 'checkout_time_seconds_bucket'],
    ['[[metric]]_bucket', 'checkout_time_seconds_bucket'],
    ['$metric + $metric', 'checkout_time_seconds + checkout_time_seconds'],
    // Single value, no multi/All: string escaping only.
    ["x{a='$quote'}", "x{a='it\\\\'s a\\\\b'}"],
    ['x > $idle_days * 86400', 'x > 7 * 86400'],
    // Multi/All: regex escaping, several values as an alternation.
    ['x{version=~"$version"}', 'x{version=~"1\\\\.4"}'],
    ['x{version=~"$versions"}', 'x{version=~"(1\\\\.4|1\\\\.5)"}'],
    ['x{job=~"$job"}', 'x{job=~".*"}'],
    ['x{env=~"$env"}', 'x{env=~"(prod|stage)"}'],
    // Formats.
    ['${versions:regex}', '(1\\.4|1\\.5)'],
    ['${version:regex}', '1\\.4'],
    ['${versions:pipe}', '1.4|1.5'],
    ['${versions:csv}', '1.4,1.5'],
    ['${versions:raw}', '1.4,1.5'],
    ['[[versions:pipe]]', '1.4|1.5'],
    ['${job:text} / ${versions:text}', 'All / 1.4 + 1.5'],
    ['${job:regex}', '.*'], // a custom all value goes in as written, whatever the format
    ['${env:regex}', '(prod|stage)'],
    // Macros: the longest name is taken whole.
    ['rate(x[$__rate_interval])', 'rate(x[240s])'],
    ['increase(x[$__range])', 'increase(x[3600s])'],
    ['$__range_s $__range_ms $__interval $__interval_ms $__rate_interval_ms', '3600 3600000 60s 60000 240000'],
    ['${__range}', '3600s'],
    ['${__from:date:seconds}', '1700000000'],
    ['${__to:date:iso}', '2023-11-14T23:13:20.000Z'],
  ])('%s → %s', (input, output) => {
    expect(interpolate(input, { variables, macros })).toBe(output);
  });

  it('leaves an unknown name as written, as Grafana does, and throws on it when strict', () => {
    expect(interpolate('x{a="$nope"} $1', { variables, macros })).toBe('x{a="$nope"} $1');
    expect(() => interpolate('rate(${nope}_total[1m])', { variables, macros, strict: true })).toThrow(/no value for \$\{nope\}/);
    expect(() => interpolate('${metric.field}', { variables, macros, strict: true })).toThrow(/no value for \$\{metric\.field\}/);
    expect(() => interpolate('${__range:regex}', { variables, macros, strict: true })).toThrow(/format ":regex" on a built-in macro/);
    expect(interpolate('${__range:raw}', { variables, macros, strict: true })).toBe('3600s');
    expect(() => interpolate('${versions:nope}', { variables, macros })).toThrow(/variable format ":nope"/);
  });

  it('names the variables and macros a text refers to', () => {
    expect([...referencedNames('sum(rate(${metric}_bucket{job=~"$job"}[$__rate_interval])) [[env:pipe]] ${x.y}')]).toEqual([
      'metric',
      'job',
      '__rate_interval',
      'env',
      'x',
    ]);
  });
});
