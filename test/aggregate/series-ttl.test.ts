import { describe, expect, it } from 'vitest';
import { aggregatorHarness } from '../support/aggregator-harness.js';
import type { Family } from '../../agent/aggregate/series.js';
import { Mapper } from '../../agent/mapping/mapper.js';
import { parseMappingText } from '../../agent/mapping/mapping-config.js';

function setup(opts: { seriesTtlMs?: number; mapper?: Mapper }) {
  const h = aggregatorHarness({ timerBuckets: [1], histogramBuckets: [1], ...opts });
  return {
    ...h,
    values: () => {
      const out: Record<string, number> = {};
      h.agg.forEachFamily((f: Family) => {
        for (const s of f.series) out[`${f.name}${JSON.stringify({ ...s.attributes })}`] = s.value;
      });
      return out;
    },
  };
}

describe('series expiry', () => {
  it('drops series idle past the ttl, keeps busy ones, and starts a returning series afresh', () => {
    const { send, advance, values, agg, aggregation } = setup({ seriesTtlMs: 30_000 });
    send('pod:1|c|#pod:a\npod:1|c|#pod:b\nup:1|g');
    for (let i = 0; i < 3; i++) {
      advance(10_000);
      send('pod:1|c|#pod:b');
    }
    // A series counts as seen at the flush that closes the interval of its last sample: pod:a and
    // up at the first one (10 s in), so the flush at 40 s expires them; pod:b stays busy.
    expect(values()).toEqual({ 'pod_total{"pod":"a"}': 1, 'pod_total{"pod":"b"}': 4, 'up{}': 1 });
    advance(10_000);
    expect(values()).toEqual({ 'pod_total{"pod":"b"}': 4 });
    expect(aggregation.seriesExpired).toBe(2);
    expect(agg.seriesCount).toBe(1);
    // The alias table was renumbered: lines land on the right series after compaction.
    send('pod:2|c|#pod:b\npod:5|c|#pod:a');
    expect(values()).toEqual({ 'pod_total{"pod":"b"}': 6, 'pod_total{"pod":"a"}': 5 });
  });

  it('lets an expired histogram series keep its counts for a scrape still rendering it, while a new series takes its cells', () => {
    const { send, advance, seriesWith } = setup({ seriesTtlMs: 20_000 });
    send('lat:0.5|h|#pod:a\nlat:5|h|#pod:a\nlat:5|h|#pod:a');
    const old = seriesWith('lat', { pod: 'a' })!;
    advance(10_000);
    advance(10_000);
    advance(10_000);
    expect(seriesWith('lat', { pod: 'a' })).toBeUndefined();
    // The new series is made after the expiry, from the cells the old one gave back.
    send('lat:0.5|h|#pod:b');
    const fresh = seriesWith('lat', { pod: 'b' })!;
    expect([...fresh.bucketCounts]).toEqual([1, 0]);
    expect([...old.bucketCounts]).toEqual([1, 2]);
  });

  it('lets an expired series keep its value, sum, count and start time while a new series takes its place in the columns', () => {
    const { send, advance, seriesWith } = setup({ seriesTtlMs: 20_000 });
    send('hits:3|c|#pod:a\nlat:0.5|h|#pod:a\nlat:5|h|#pod:a');
    const hits = seriesWith('hits_total', { pod: 'a' })!;
    const lat = seriesWith('lat', { pod: 'a' })!;
    const started = hits.startTimeMs;
    for (let i = 0; i < 3; i++) advance(10_000);
    expect(seriesWith('hits_total', { pod: 'a' })).toBeUndefined();
    send('hits:40|c|#pod:b\nlat:70|h|#pod:b');
    expect(seriesWith('hits_total', { pod: 'b' })!.value).toBe(40);
    expect(seriesWith('lat', { pod: 'b' })!.sum).toBe(70);
    expect([hits.value, hits.startTimeMs, lat.sum, lat.count]).toEqual([3, started, 5.5, 2]);
  });

  it('does the same for an expired series\' exponential histogram: it keeps its counts, a new series takes its cells, zeroed', () => {
    const h = aggregatorHarness({ timerBuckets: [1], histogramBuckets: [1], seriesTtlMs: 20_000, exponential: 'all' });
    h.send('lat:0.5|h|#pod:a\nlat:5|h|#pod:a\nlat:5|h|#pod:a');
    const old = h.seriesWith('lat', { pod: 'a' })!;
    const before = old.expo!.positiveSpan();
    expect(before.counts.reduce((a, b) => a + b, 0)).toBe(3);
    for (let i = 0; i < 3; i++) h.advance(10_000);
    expect(h.seriesWith('lat', { pod: 'a' })).toBeUndefined();
    h.send('lat:7|h|#pod:b\nlat:0.25|h|#pod:b');
    const fresh = h.seriesWith('lat', { pod: 'b' })!;
    expect(fresh.expo!.positiveSpan().counts.reduce((a, b) => a + b, 0)).toBe(2);
    expect(old.expo!.positiveSpan()).toEqual(before);
  });

  it('gives an expired set\'s member table to the next new set, empty', () => {
    const { send, advance, seriesWith } = setup({ seriesTtlMs: 20_000 });
    send('users:u1|s|#pod:a\nusers:u2|s|#pod:a\nusers:u3|s|#pod:a');
    const old = seriesWith('users', { pod: 'a' })!;
    const table = old.members!.home;
    advance(10_000);
    advance(10_000);
    advance(10_000);
    expect(seriesWith('users', { pod: 'a' })).toBeUndefined();
    send('users:u9|s|#pod:b');
    const fresh = seriesWith('users', { pod: 'b' })!;
    expect(fresh.members!.home).toBe(table);
    expect(fresh.members!.size).toBe(1);
    advance(10_000);
    expect(fresh.lastIntervalCount).toBe(1);
  });

  it('frees an expired label set: the same labels come back as a new series, under any name', () => {
    const { send, advance, values, agg } = setup({ seriesTtlMs: 20_000 });
    send('a:1|c|#pod:x\nb:1|c|#pod:x');
    advance(10_000);
    send('a:1|c|#pod:x');
    advance(10_000);
    advance(10_000);
    expect(values()).toEqual({ 'a_total{"pod":"x"}': 2 });
    send('b:3|c|#pod:x\nc:4|c|#pod:x');
    expect(values()).toEqual({ 'a_total{"pod":"x"}': 2, 'b_total{"pod":"x"}': 3, 'c_total{"pod":"x"}': 4 });
    expect(agg.seriesCount).toBe(3);
  });

  it('rolls over the sets that remain after an expiry, and none that expired', () => {
    const { send, advance, agg } = setup({ seriesTtlMs: 30_000 });
    const distinct = () => {
      const out: Record<string, number> = {};
      agg.forEachFamily((f: Family) => {
        for (const s of f.series) if (s.members !== null) out[s.attributes.pod!] = s.lastIntervalCount;
      });
      return out;
    };
    send('users:u1|s|#pod:a\nusers:u1|s|#pod:b\nusers:u2|s|#pod:b');
    advance(10_000);
    expect(distinct()).toEqual({ a: 1, b: 2 });
    for (let i = 0; i < 3; i++) {
      send(`users:u${i}|s|#pod:b`);
      advance(10_000);
    }
    expect(distinct()).toEqual({ b: 1 });
    send('users:x|s|#pod:b\nusers:y|s|#pod:b\nusers:z|s|#pod:c');
    advance(10_000);
    expect(distinct()).toEqual({ b: 2, c: 1 });
    advance(10_000);
    expect(distinct()).toEqual({ b: 0, c: 0 });
  });

  it('events find their series again after an expiry renumbered them, and an expired event starts afresh', () => {
    const { advance, values, agg } = setup({ seriesTtlMs: 30_000 });
    const event = (name: string, value: string) => agg.recordEvent(name, value, { pairs: [['env', 'prod']], malformed: 0 }, 1_000);
    event('gone', 'x');
    event('kept', 'y');
    for (let i = 0; i < 4; i++) {
      advance(10_000);
      event('kept', 'y');
    }
    // `gone` expired and `kept` was renumbered; the event memo must not point at old ids.
    expect(values()['gone_total{"env":"prod","value":"x"}']).toBeUndefined();
    event('kept', 'y');
    event('gone', 'x');
    expect(values()['kept_total{"env":"prod","value":"y"}']).toBe(6);
    expect(values()['gone_total{"env":"prod","value":"x"}']).toBe(1);
    expect(values()['kept_last_seen_timestamp_seconds{"env":"prod","value":"y"}']).toBe(1);
  });

  it("compacts a large table: 199,999 live series survive an expiry", () => {
    const { send, advance, agg } = setup({ seriesTtlMs: 30_000 });
    send('gone:1|c');
    advance(10_000);
    const batch: string[] = [];
    for (let i = 0; i < 199_999; i++) {
      batch.push(`live${i % 100}:1|c|#i:${i}`);
      if (batch.length === 5_000) {
        send(batch.join('\n'));
        batch.length = 0;
      }
    }
    send(batch.join('\n'));
    advance(30_000);
    expect(agg.seriesCount).toBe(199_999);
    send('live98:1|c|#i:199998');
  });

  it('never expires without a ttl', () => {
    const { send, advance, agg } = setup({});
    send('a:1|c');
    for (let i = 0; i < 10; i++) advance(3_600_000);
    expect(agg.seriesCount).toBe(1);
  });

  it('takes the ttl of the mapping rule, and the mapping defaults for unmapped names', () => {
    const mapper = new Mapper(
      parseMappingText(
        ['defaults:', '  ttl: 1m', 'mappings:', '  - match: "short.*"', '    name: "short"', '    labels: { key: "$1" }', '    ttl: 10s'].join('\n'),
        'ttl.yaml',
      ),
    );
    const { send, advance, values } = setup({ mapper });
    send('short.x:1|c\nother:1|c');
    advance(1_000);
    advance(9_000);
    expect(Object.keys(values()).sort()).toEqual(['other_total{}', 'short_total{"key":"x"}']);
    advance(1_000);
    expect(Object.keys(values())).toEqual(['other_total{}']);
    advance(50_000);
    expect(values()).toEqual({});
  });
});
