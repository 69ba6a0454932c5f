import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Aggregator } from '../../agent/aggregate/aggregator.js';
import { DEFAULT_LIMITS, type AggregatorLimits } from '../../agent/aggregate/series-store.js';
import type { Family } from '../../agent/aggregate/series.js';
import { DEFAULT_BUCKETS } from '../../agent/aggregate/aggregation-config.js';
import { StatsdParser } from '../../agent/parse/statsd-line.js';
import { AggregationCounters } from '../../agent/telemetry/aggregation-counters.js';
import { IngestCounters } from '../../agent/telemetry/ingest-counters.js';
import { Mapper } from '../../agent/mapping/mapper.js';
import { parseMappingText } from '../../agent/mapping/mapping-config.js';

function setup(limits?: AggregatorLimits, mapper?: Mapper) {
  const counters = new IngestCounters();
  const aggregation = new AggregationCounters();
  const agg = new Aggregator({
    mapper,
    timerBuckets: DEFAULT_BUCKETS,
    histogramBuckets: [1, 10, 100],
    limits,
    counters,
    aggregation,
    logger: pino({ level: 'silent' }),
    now: () => 1_700_000_000_000,
  });
  const parser = new StatsdParser();
  const send = (text: string) => parser.parsePacket(Buffer.from(text), agg);
  const families = () => {
    const out = new Map<string, Family>();
    agg.forEachFamily((f) => out.set(f.name, f));
    return out;
  };
  return { agg, counters, aggregation, send, families };
}

describe('Aggregator', () => {
  it('sums counters divided by their sample rate, cumulatively', () => {
    const { send, families, counters, aggregation } = setup();
    send('logins:1|c\nlogins:1|c|@0.5\nlogins:3|c');
    const f = families().get('logins_total')!;
    expect(f.type).toBe('counter');
    expect(f.series).toHaveLength(1);
    expect(f.series[0]!.value).toBe(6);
    expect(counters.metricsReceived).toBe(3);
    expect(aggregation.metricsAggregated).toBe(3);
  });

  it('treats tag order as irrelevant and sanitizes names and tag keys into one series', () => {
    const { send, families, agg } = setup();
    send('req.count:1|c|#a:1,b:2\nreq.count:1|c|#b:2,a:1\nreq_count:1|c|#a:1,b:2\nreq.count_total:1|c|#b:2,a:1\nreq..count:1|c|#a:1,b:2');
    const f = families().get('req_count_total')!;
    expect(agg.seriesCount).toBe(1);
    expect(f.series[0]!.value).toBe(5);
    expect({ ...f.series[0]!.attributes }).toEqual({ a: '1', b: '2' });
  });

  it('gives each series labels that inherit no key, and buckets only to observers', () => {
    const { send, families } = setup();
    send('odd:1|c|#constructor:c,toString:t\nplain:1|c|#env:prod\nlevel:3|g\nusers:ann|s\nlat:5|ms');
    const odd = families().get('odd_total')!.series[0]!.attributes;
    expect({ ...odd }).toEqual({ constructor: 'c', toString: 't' });
    const plain = families().get('plain_total')!.series[0]!.attributes;
    expect('constructor' in plain).toBe(false);
    expect(plain['toString' as string]).toBeUndefined();
    expect(Object.keys(plain)).toEqual(['env']);
    expect(JSON.stringify(plain)).toBe('{"env":"prod"}');
    for (const name of ['plain_total', 'level', 'users']) expect(families().get(name)!.series[0]!.bucketCounts).toHaveLength(0);
    expect(families().get('lat_seconds')!.series[0]!.bucketCounts).toHaveLength(DEFAULT_BUCKETS.length + 1);
  });

  it('keeps gauges at their last value and applies signed deltas', () => {
    const { send, families } = setup();
    send('temp:10|g\ntemp:+5|g\ntemp:-3|g');
    expect(families().get('temp')!.series[0]!.value).toBe(12);
    send('temp:7|g');
    expect(families().get('temp')!.series[0]!.value).toBe(7);
  });

  it('puts timers in seconds into inclusive-upper-bound buckets, weighted by sample rate', () => {
    const { send, families } = setup();
    send('checkout.latency:120|ms\ncheckout.latency:5|ms\ncheckout.latency:100|ms|@0.5');
    const f = families().get('checkout_latency_seconds')!;
    expect(f.unit).toBe('s');
    const s = f.series[0]!;
    expect(s.count).toBe(4);
    expect(s.sum).toBeCloseTo(0.12 + 0.005 + 0.2, 12);
    const le = (bound: number) => s.bucketCounts[DEFAULT_BUCKETS.indexOf(bound)];
    expect(le(0.005)).toBe(1); // 5 ms is exactly on the bound: inclusive
    expect(le(0.1)).toBe(2);
    expect(le(0.25)).toBe(1);
  });

  it('keeps h and d values in the unit sent, in one family', () => {
    const { send, families } = setup();
    send('size:5|h\nsize:50|d\nsize:500|h\nsize:-1|h');
    const s = families().get('size')!.series[0]!;
    expect(Array.from(s.bucketCounts)).toEqual([1, 1, 1, 1]);
    expect(s.sum).toBe(554);
  });

  it('reads InfluxDB, Librato and SignalFx tags in names as the same series as DogStatsD tags', () => {
    const { send, families, agg, counters } = setup();
    send('req,env=prod:1|c\nreq#env=prod:1|c\nreq[env=prod]:1|c\nreq:1|c|#env:prod\nreq,env=prod:1|c|#code:200');
    const f = families().get('req_total')!;
    expect(agg.seriesCount).toBe(2);
    expect(f.series[0]!.value).toBe(4);
    expect({ ...f.series[1]!.attributes }).toEqual({ code: '200', env: 'prod' });
    expect(counters.metricsReceived).toBe(5);
  });

  it('counts every line whose name mixes or breaks tag styles, and keeps the rest of the packet', () => {
    const { send, counters, agg } = setup();
    send('a,b=1#c=2:1|c\nok:1|c\na,b=1#c=2:1|c\nbroken[x=1:1|c');
    expect(counters.parseErrors.get('bad_tag_style')).toBe(3);
    expect(counters.metricsReceived).toBe(1);
    expect(agg.seriesCount).toBe(1);
  });

  it('refuses new series past the per-metric and total limits, counting every refused line', () => {
    const { send, families, counters, agg, aggregation } = setup({ ...DEFAULT_LIMITS, maxSeriesPerMetric: 3, maxSeries: 5 });
    for (let i = 0; i < 5; i++) send(`a:1|c|#i:${i}`);
    expect(families().get('a_total')!.series).toHaveLength(3);
    expect(aggregation.seriesDropped.get('cardinality')).toBe(2);
    send('a:1|c|#i:0\na:1|c|#i:4');
    expect(families().get('a_total')!.series[0]!.value).toBe(2);
    expect(aggregation.seriesDropped.get('cardinality')).toBe(3);
    for (let i = 0; i < 4; i++) send(`b:1|g|#i:${i}`);
    expect(agg.seriesCount).toBe(5);
    expect(aggregation.seriesDropped.get('cardinality')).toBe(5);
    expect(counters.metricsReceived).toBe(aggregation.metricsAggregated);
  });

  it('a flood of distinct long names past max_series leaves nothing behind per name, and logs a line or two', () => {
    const lines: string[] = [];
    let nowMs = 1_700_000_000_000;
    const aggregation = new AggregationCounters();
    const agg = new Aggregator({
      timerBuckets: DEFAULT_BUCKETS,
      histogramBuckets: [1],
      limits: { ...DEFAULT_LIMITS, maxSeries: 5 },
      counters: new IngestCounters(),
      aggregation,
      logger: pino({ level: 'debug' }, { write: (l: string) => lines.push(l) }),
      now: () => nowMs,
    });
    const parser = new StatsdParser();
    for (let i = 0; i < 5; i++) parser.parsePacket(Buffer.from(`kept${i}:1|c`), agg);
    const pad = 'x'.repeat(4000);
    for (let i = 0; i < 5000; i++) {
      parser.parsePacket(Buffer.from(`flood.${i}.${pad}:1|c\nflood.${i}.${pad}:1|g|#a:${'y'.repeat(300)}`), agg);
      // Two minutes pass over the flood: a few warnings, not one per name.
      nowMs += 25;
    }
    let familyCount = 0;
    agg.forEachFamily(() => familyCount++);
    expect(familyCount).toBe(5);
    expect(aggregation.seriesDropped.get('cardinality')).toBe(10_000);
    const warnings = lines.map((l) => JSON.parse(l) as { level: number; metric?: string; suppressed?: number });
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings.length).toBeLessThanOrEqual(130);
    for (const l of lines) expect(l.length).toBeLessThan(1200);
    expect(warnings[1]!.suppressed).toBeGreaterThan(0);
  });

  it('type conflicts are warned about once a minute per metric, however many lines conflict', () => {
    const lines: string[] = [];
    const aggregation = new AggregationCounters();
    const agg = new Aggregator({
      timerBuckets: DEFAULT_BUCKETS,
      histogramBuckets: [1],
      counters: new IngestCounters(),
      aggregation,
      logger: pino({ level: 'warn' }, { write: (l: string) => lines.push(l) }),
      now: () => 1_700_000_000_000,
    });
    const parser = new StatsdParser();
    parser.parsePacket(Buffer.from('dual:1|c'), agg);
    for (let i = 0; i < 1000; i++) parser.parsePacket(Buffer.from(`dual_total:1|g|#i:${i}`), agg);
    expect(aggregation.metricsDropped.get('type_conflict')).toBe(1000);
    expect(lines).toHaveLength(1);
  });

  it('rejects lines with too many tags or too long a tag value, every time they arrive', () => {
    const { send, counters, agg } = setup({ ...DEFAULT_LIMITS, maxTags: 2, maxTagValueBytes: 4 });
    send('t:1|c|#a:1,b:2,c:3\nt:1|c|#a:1,b:2,c:3\nt,x=1:1|c|#a:1,b:2\nv:1|c|#a:12345\nv:1|c|#a:üü1\nok:1|c|#a:1234');
    expect(counters.parseErrors.get('too_many_tags')).toBe(3);
    expect(counters.parseErrors.get('tag_value_too_long')).toBe(2);
    expect(agg.seriesCount).toBe(1);
  });

  it('turns HTTP events into a per-value count and a last-seen time that never goes back', () => {
    const { families, agg, aggregation } = setup();
    const env = { pairs: [['env', 'prod']] as Array<[string, string]>, malformed: 0 };
    agg.recordEvent('feature-used', 'Export PDF', env, 1_700_000_100_000);
    agg.recordEvent('feature-used', 'Export PDF', env, 1_700_000_050_000);
    agg.recordEvent('feature-used', 'Import CSV', env, 1_700_000_200_000);
    const total = families().get('feature_used_total')!;
    expect(total.series.map((x) => [{ ...x.attributes }, x.value])).toEqual([
      [{ env: 'prod', value: 'Export PDF' }, 2],
      [{ env: 'prod', value: 'Import CSV' }, 1],
    ]);
    const seen = families().get('feature_used_last_seen_timestamp_seconds')!;
    expect(seen.type).toBe('gauge');
    expect(seen.series.map((x) => x.value)).toEqual([1700000100, 1700000200]);
    expect(aggregation.metricsAggregated).toBe(3);
  });

  it('keeps a line with a DogStatsD field it does not know, counting the field, on the hot path and off it', () => {
    const { send, families, counters, aggregation } = setup();
    send('hits:1|c|zz:new\nhits:1|c|zz:new\nhits:1|c|#a:1|card:low|e:ext');
    expect(families().get('hits_total')!.series.map((x) => x.value)).toEqual([2, 1]);
    expect(counters.parseErrors.get('unknown_field')).toBe(2);
    expect(aggregation.metricsAggregated).toBe(3);
  });

  it('counts DogStatsD events by title with their kind, never by their free text', () => {
    const { send, families, counters } = setup();
    send(
      '_e{6,17}:deploy|v1.4.0 rolled out|d:1700000100|t:info|p:low|s:ci|#env:prod\n' +
        '_e{6,17}:deploy|v1.4.1 rolled out|d:1700000200|t:info|p:low|s:ci|#env:prod\n' +
        '_e{6,5}:deploy|oops!|t:error|zz|#env:prod',
    );
    const total = families().get('deploy_total')!;
    expect(total.series.map((x) => [{ ...x.attributes }, x.value])).toEqual([
      [{ alert_type: 'info', env: 'prod', priority: 'low', source: 'ci' }, 2],
      [{ alert_type: 'error', env: 'prod' }, 1],
    ]);
    expect(families().get('deploy_last_seen_timestamp_seconds')!.series[0]!.value).toBe(1700000200);
    // The unreadable field is counted; the event is kept.
    expect(counters.parseErrors.get('unknown_field')).toBe(1);
  });

  it('turns service checks into service_check_status{check=...}', () => {
    const { send, families } = setup();
    send('_sc|db.up|0|#env:prod\n_sc|db.up|2|#env:prod\n_sc|cache.up|1');
    const f = families().get('service_check_status')!;
    expect(f.series.map((x) => [{ ...x.attributes }, x.value])).toEqual([
      [{ check: 'db.up', env: 'prod' }, 2],
      [{ check: 'cache.up' }, 1],
    ]);
  });

  it('applies statsd_exporter mapping rules: names, labels, buckets and drops', () => {
    const mapper = new Mapper(
      parseMappingText(
        [
          'mappings:',
          '  - match: "checkout.*.latency"',
          '    name: "checkout_step_latency"',
          '    labels: { step: "$1" }',
          '    observer_type: histogram',
          '    histogram_options: { buckets: [0.1, 0.5] }',
          '  - match: "noise.*"',
          '    action: drop',
          '    name: "dropped"',
          '  - match: "hits.*"',
          '    name: "hits"',
          '    labels: { page: "$1", env: "rule" }',
          '    honor_labels: true',
        ].join('\n'),
        'inline.yaml',
      ),
    );
    const { send, families, aggregation } = setup(undefined, mapper);
    send('checkout.pay.latency:200|ms|#env:prod\ncheckout.ship.latency:700|ms\nnoise.a:1|c\nnoise.a:1|c\nhits.home:1|c|#env:test\nother.thing:1|c');
    const lat = families().get('checkout_step_latency')!;
    expect(lat.unit).toBe('s');
    expect(lat.bounds).toEqual([0.1, 0.5]);
    expect(lat.series.map((x) => [{ ...x.attributes }, Array.from(x.bucketCounts)])).toEqual([
      [{ env: 'prod', step: 'pay' }, [0, 1, 0]],
      [{ step: 'ship' }, [0, 0, 1]],
    ]);
    expect(aggregation.metricsDropped.get('mapping_drop')).toBe(2);
    expect({ ...families().get('hits_total')!.series[0]!.attributes }).toEqual({ env: 'test', page: 'home' });
    expect(families().get('other_thing_total')!.series[0]!.value).toBe(1);
  });

  it('applies every sample of a DogStatsD value list', () => {
    const { send, families, counters, aggregation } = setup();
    send('lat:100:200:300|ms\nhits:1:2|c|@0.5\nlevel:5:+2:-1|g');
    const lat = families().get('lat_seconds')!.series[0]!;
    expect(lat.count).toBe(3);
    expect(lat.sum).toBeCloseTo(0.6, 12);
    expect(families().get('hits_total')!.series[0]!.value).toBe(6);
    expect(families().get('level')!.series[0]!.value).toBe(6);
    expect(counters.metricsReceived).toBe(8);
    expect(aggregation.metricsAggregated).toBe(8);
  });

  it('reports the distinct count of the last complete interval for sets', () => {
    const { send, families, agg } = setup();
    send('users:alice|s\nusers:bob|s\nusers:alice|s');
    const s = families().get('users')!.series[0]!;
    expect(s.members!.size).toBe(2);
    agg.flush();
    expect(s.lastIntervalCount).toBe(2);
    send('users:carol|s');
    expect(s.lastIntervalCount).toBe(2);
    agg.flush();
    expect(s.lastIntervalCount).toBe(1);
  });

  it('counts a type conflict per line and leaves the first family intact', () => {
    const { send, families, aggregation } = setup();
    send('dual:1|c\ndual_total:5|g\ndual_total:6|g\ndual:2|c');
    expect(families().get('dual_total')!.series[0]!.value).toBe(3);
    expect(aggregation.metricsDropped.get('type_conflict')).toBe(2);
    expect(aggregation.metricsAggregated).toBe(2);
  });

  it('treats a gauge and a set of one name as a conflict instead of mixing their state', () => {
    const { send, aggregation } = setup();
    send('mixed:1|g\nmixed:x|s');
    expect(aggregation.metricsDropped.get('type_conflict')).toBe(1);
  });

  it('counts malformed tags per line and keeps the metric', () => {
    const { send, families, counters } = setup();
    send('f:1|c|#flag,env:prod,:x\nf:1|c|#flag,env:prod,:x');
    expect(families().get('f_total')!.series[0]!.value).toBe(2);
    expect({ ...families().get('f_total')!.series[0]!.attributes }).toEqual({ env: 'prod' });
    expect(counters.parseErrors.get('malformed_tag')).toBe(4);
  });

  it('reads SignalFx brackets as statsd_exporter does: empty is no tags, entries not key=value are counted and skipped', () => {
    const { send, families, counters } = setup();
    send('foo.[]test:1|c\nfoo.[tag1,tag2]test:1|c\nfoo.[tag1,tag2]test:1|c\nfoo.[env=prod,flag]test:1|c');
    const f = families().get('foo_test_total')!;
    expect(f.series.map((s) => [{ ...s.attributes }, s.value])).toEqual([
      [{}, 3],
      [{ env: 'prod' }, 1],
    ]);
    expect(counters.parseErrors.get('malformed_tag')).toBe(5);
    expect(counters.parseErrors.get('bad_tag_style')).toBe(0);
  });

  it('survives names that are object keys in JavaScript', () => {
    const { send, families } = setup();
    send('__proto__:1|c|#__proto__:x,constructor:y\nconstructor:2|g\nhasOwnProperty:3|g');
    expect(families().get('_proto__total')!.series[0]!.attributes['_proto_']).toBe('x');
    expect(families().get('constructor')!.series[0]!.value).toBe(2);
  });

  it('counts parse errors by reason', () => {
    const { send, counters } = setup();
    send('a:x|c\n:1|c\nb:1|q\nok:1|c');
    expect(counters.parseErrors.get('bad_value')).toBe(1);
    expect(counters.parseErrors.get('empty_name')).toBe(1);
    expect(counters.parseErrors.get('unknown_type')).toBe(1);
    expect(counters.metricsReceived).toBe(1);
  });

  it('stays correct past the alias table growing and many tag orders of one series', () => {
    const { send, families, agg } = setup();
    for (let i = 0; i < 5000; i++) send(`s${i}:1|c|#k:${i}`);
    for (let i = 0; i < 5000; i++) send(`s${i}:1|c|#k:${i}`);
    expect(agg.seriesCount).toBe(5000);
    expect(families().get('s4999_total')!.series[0]!.value).toBe(2);
    const keys = ['a', 'b', 'c', 'd'];
    const perms = (xs: string[]): string[][] => (xs.length <= 1 ? [xs] : xs.flatMap((x, i) => perms([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p])));
    for (const p of perms(keys)) send(`perm:1|c|#${p.map((k) => `${k}:1`).join(',')}`);
    expect(families().get('perm_total')!.series[0]!.value).toBe(24);
  });
});
