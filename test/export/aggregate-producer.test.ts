import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, type ExponentialHistogram, type MetricData } from '@opentelemetry/sdk-metrics';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Aggregator } from '../../agent/aggregate/aggregator.js';
import type { ExponentialMode } from '../../agent/aggregate/series-store.js';
import { collectExponentialHistograms } from '../../agent/export/exponential-data.js';
import { takeMetricsSnapshot } from '../../agent/export/metrics-snapshot.js';
import { countTurns } from '../support/event-loop-turns.js';
import { collectSummaries, summariesOf } from '../../agent/export/summary-data.js';
import { Mapper } from '../../agent/mapping/mapper.js';
import { parseMappingText } from '../../agent/mapping/mapping-config.js';
import { AggregateProducer } from '../../agent/export/aggregate-producer.js';
import { NEW_SERIES_HOLD_MS } from '../../agent/export/zero-hold.js';
import { StatsdParser } from '../../agent/parse/statsd-line.js';
import { IngestCounters } from '../../agent/telemetry/ingest-counters.js';

function setup(mapper?: Mapper, exponential?: ExponentialMode) {
  const aggregator = new Aggregator({
    mapper,
    exponential,
    timerBuckets: [0.1, 1],
    histogramBuckets: [10],
    counters: new IngestCounters(),
    logger: pino({ level: 'silent' }),
    now: () => 1_700_000_000_000,
  });
  const parser = new StatsdParser();
  const producer = new AggregateProducer({
    aggregator,
    resource: resourceFromAttributes({}),
    scope: { name: 'test', version: '0' },
    now: () => 1_700_000_005_000,
  });
  const collect = async () => {
    const { resourceMetrics } = await producer.collect();
    return new Map<string, MetricData>(resourceMetrics.scopeMetrics[0]!.metrics.map((m) => [m.descriptor.name, m]));
  };
  return { aggregator, producer, send: (t: string) => parser.parsePacket(Buffer.from(t), aggregator), collect };
}

describe('AggregateProducer', () => {
  it('hands counters, gauges and histograms to the SDK as cumulative data', async () => {
    const { send, collect } = setup();
    send('hits:2|c|#a:1\nhits:3|c|#a:1\ntemp:7|g\nlat:250|ms\nlat:50|ms');
    const m = await collect();
    const hits = m.get('hits')!;
    expect(hits.dataPointType).toBe(DataPointType.SUM);
    expect(hits.dataPoints).toHaveLength(1);
    expect(hits.dataPoints[0]!.value).toBe(5);
    expect({ ...hits.dataPoints[0]!.attributes }).toEqual({ a: '1' });
    expect(hits.dataPoints[0]!.startTime).toEqual([1_700_000_000, 0]);
    expect(hits.dataPoints[0]!.endTime).toEqual([1_700_000_005, 0]);
    expect(m.get('temp')!.dataPoints[0]!.value).toBe(7);
    const lat = m.get('lat_seconds')!;
    expect(lat.descriptor.unit).toBe('s');
    expect(lat.dataPoints[0]!.value).toEqual({ buckets: { boundaries: [0.1, 1], counts: [1, 1, 0] }, sum: 0.3, count: 2 });
  });

  it('shows a set only once its first interval has completed', async () => {
    const { send, collect, aggregator } = setup();
    send('users:a|s\nusers:b|s');
    expect((await collect()).get('users')).toBeUndefined();
    aggregator.flush();
    expect((await collect()).get('users')!.dataPoints[0]!.value).toBe(2);
    send('users:c|s');
    expect((await collect()).get('users')!.dataPoints[0]!.value).toBe(2);
  });

  it("describes a family by its rule's help, else by its statsd type and name", async () => {
    const mapper = new Mapper(parseMappingText('mappings:\n- match: hits.*\n  name: hits\n  help: Hits per page\n', 'i.yaml'));
    const { send, collect } = setup(mapper);
    send('hits.home:1|c\ntemp:7|g');
    const m = await collect();
    expect(m.get('hits')!.descriptor.description).toBe('Hits per page');
    expect(m.get('temp')!.descriptor.description).toBe('statsd gauge temp');
  });

  it('leaves summaries to collectSummaries, which gives them in an OTLP Summary shape', async () => {
    const mapper = new Mapper(
      parseMappingText('mappings:\n- match: rpc.*\n  name: rpc_seconds\n  observer_type: summary\n  labels: { method: $1 }\n', 'i.yaml'),
    );
    const { send, collect, aggregator } = setup(mapper);
    send('rpc.get:250|ms\nrpc.get:50|ms|@0.5\nlat:1|ms');
    const m = await collect();
    expect(m.get('rpc_seconds')).toBeUndefined();
    expect(m.get('lat_seconds')).toBeDefined();
    const summaries = collectSummaries(aggregator, 1_700_000_005_000);
    expect(summaries).toHaveLength(1);
    const [rpc] = summaries;
    expect(rpc!.descriptor).toMatchObject({ name: 'rpc_seconds', description: 'statsd summary rpc_seconds', unit: 's' });
    expect(rpc!.dataPoints).toHaveLength(1);
    const point = rpc!.dataPoints[0]!;
    expect({ ...point.attributes }).toEqual({ method: 'get' });
    expect(point.startTime).toEqual([1_700_000_000, 0]);
    expect(point.endTime).toEqual([1_700_000_005, 0]);
    expect(point.value.count).toBe(3);
    expect(point.value.sum).toBeCloseTo(0.35, 12);
    expect(point.value.quantileValues.map((q) => q.quantile)).toEqual([0.5, 0.9, 0.99]);
    // Two of three samples' worth are 50 ms (one line at @0.5): the median is 50 ms.
    expect(point.value.quantileValues[0]!.value).toBeCloseTo(0.05, 4);
    expect(point.value.quantileValues[2]!.value).toBeCloseTo(0.25, 3);
  });

  it('hands exponential histograms apart, each under the descriptor of the HISTOGRAM it stands in for, which stays as it was', async () => {
    const mapper = new Mapper(
      parseMappingText('mappings:\n- match: ruled.*\n  name: ruled\n  help: Ruled sizes\n  histogram_options:\n    native_histogram_bucket_factor: 2\n', 'i.yaml'),
    );
    const { send, collect, aggregator } = setup(mapper, 'all');
    send('lat:250|ms|#a:1\nlat:50|ms|#a:1\nlat:20|ms|#a:2\nruled.x:3|h\nhits:1|c\ntemp:2|g');
    const m = await collect();
    // The explicit form is untouched: /metrics and remote write read it.
    expect(m.get('lat_seconds')!.dataPointType).toBe(DataPointType.HISTOGRAM);
    expect(m.get('lat_seconds')!.dataPoints[0]!.value).toEqual({ buckets: { boundaries: [0.1, 1], counts: [1, 1, 0] }, sum: 0.3, count: 2 });
    const twins = await collectExponentialHistograms(takeMetricsSnapshot(aggregator, false, 1_700_000_005_000));
    expect(twins.map((t) => [t.metric.descriptor.name, t.fromMapping])).toEqual([
      ['lat_seconds', false],
      ['ruled', true],
    ]);
    for (const { metric } of twins) {
      const explicit = m.get(metric.descriptor.name)!;
      expect(metric.descriptor).toEqual(explicit.descriptor);
      expect(metric.dataPointType).toBe(DataPointType.EXPONENTIAL_HISTOGRAM);
      expect(metric.aggregationTemporality).toBe(AggregationTemporality.CUMULATIVE);
      expect(metric.dataPoints.map((p) => [{ ...p.attributes }, p.startTime, p.endTime])).toEqual(
        explicit.dataPoints.map((p) => [{ ...p.attributes }, p.startTime, p.endTime]),
      );
    }
    expect(twins[1]!.metric.descriptor.description).toBe('Ruled sizes');
    const lat = twins[0]!.metric.dataPoints[0]!.value as ExponentialHistogram;
    expect(lat).toMatchObject({ count: 2, zeroCount: 0, min: 0.05, max: 0.25 });
    expect(lat.sum).toBeCloseTo(0.3, 12);
    // 0.05 and 0.25 are 2.3 octaves apart: 160 buckets fit them at scale 6 (64 a octave), not 7.
    expect(lat.scale).toBe(6);
    expect(lat.positive.bucketCounts.reduce((a, b) => a + b, 0)).toBe(2);
    // The rule's factor of 2 is scale 0: 3 is in (2, 4], index 1.
    expect(twins[1]!.metric.dataPoints[0]!.value).toMatchObject({ scale: 0, count: 1, sum: 3, positive: { offset: 1, bucketCounts: [1] } });
  });

  it('reads the exponential histograms of many series in slices, yielding to the event loop', async () => {
    const { send, aggregator } = setup(undefined, 'all');
    // Six families of 10,000 series, the default limit per metric.
    for (let i = 0; i < 60_000; i += 1_000) send(Array.from({ length: 1_000 }, (_, j) => `lat${Math.floor(i / 10_000)}:${(i + j) % 700}|ms|#pod:p${i + j}`).join('\n'));
    const { result, turns } = await countTurns(() => collectExponentialHistograms(takeMetricsSnapshot(aggregator, false)));
    expect(turns).toBeGreaterThan(0);
    expect(result.map((r) => r.metric.dataPoints.length)).toEqual(new Array(6).fill(10_000));
  });

  it('reads summaries in slices too, yielding to the event loop, with the values collectSummaries gives', async () => {
    const { send, aggregator } = setup(new Mapper(parseMappingText('defaults:\n  observer_type: summary\n', 's.yaml')));
    for (let i = 0; i < 60_000; i += 1_000) send(Array.from({ length: 1_000 }, (_, j) => `lat${Math.floor(i / 10_000)}:${(i + j) % 700}|ms|#pod:p${i + j}`).join('\n'));
    const snapshot = takeMetricsSnapshot(aggregator, false, 1_700_000_005_000);
    const { result, turns } = await countTurns(() => summariesOf(snapshot));
    expect(turns).toBeGreaterThan(0);
    expect(result.map((r) => r.dataPoints.length)).toEqual(new Array(6).fill(10_000));
    expect(result).toEqual(collectSummaries(aggregator, 1_700_000_005_000));
  });

  it('hands out no exponential histograms when no family keeps one', async () => {
    const { send, aggregator } = setup();
    send('lat:250|ms\nsize:3|h');
    expect(await collectExponentialHistograms(takeMetricsSnapshot(aggregator, false))).toEqual([]);
  });
});

describe('AggregateProducer for a storing scraper (zeroNewSeries)', () => {
  function scrapeSetup(startMs: number, nowMs: number) {
    let clock = startMs;
    const aggregator = new Aggregator({
      timerBuckets: [0.1, 1],
      histogramBuckets: [10],
      counters: new IngestCounters(),
      logger: pino({ level: 'silent' }),
      now: () => clock,
    });
    const parser = new StatsdParser();
    const producer = new AggregateProducer({ aggregator, resource: resourceFromAttributes({}), scope: { name: 't', version: '0' }, now: () => nowMs, zeroNewSeries: true });
    const plain = new AggregateProducer({ aggregator, resource: resourceFromAttributes({}), scope: { name: 't', version: '0' }, now: () => nowMs });
    const read = async (p: AggregateProducer) => {
      const { resourceMetrics } = await p.collect();
      return new Map<string, MetricData>(resourceMetrics.scopeMetrics[0]!.metrics.map((m) => [m.descriptor.name, m]));
    };
    return {
      send: (t: string) => parser.parsePacket(Buffer.from(t), aggregator),
      read: () => read(producer),
      readPlain: () => read(plain),
      flush: () => aggregator.flush(),
      setClock: (ms: number) => (clock = ms),
    };
  }

  it('shows a new counter and histogram at zero until the flush after their first scrape, then as they are; gauges and the plain reader never', async () => {
    const t = scrapeSetup(1_700_000_000_000, 1_700_000_005_000);
    t.send('feature:1|c\nlat:250|ms\ntemp:7|g');
    expect((await t.readPlain()).get('feature')!.dataPoints[0]!.value).toBe(1);
    const first = await t.read();
    expect(first.get('feature')!.dataPoints[0]!.value).toBe(0);
    expect(first.get('lat_seconds')!.dataPoints[0]!.value).toMatchObject({ count: 0, sum: 0, buckets: { counts: [0, 0, 0] } });
    expect(first.get('temp')!.dataPoints[0]!.value).toBe(7);
    // A scrape that timed out after the agent answered must not use the zero up: it holds through the interval.
    expect((await t.read()).get('feature')!.dataPoints[0]!.value).toBe(0);
    t.flush();
    const after = await t.read();
    expect(after.get('feature')!.dataPoints[0]!.value).toBe(1);
    expect(after.get('lat_seconds')!.dataPoints[0]!.value).toMatchObject({ count: 1, sum: 0.25, buckets: { counts: [0, 1, 0] } });
    // A series created later gets its own zero interval, from its own first scrape.
    t.send('feature:1|c|#v:2');
    t.flush();
    expect((await t.read()).get('feature')!.dataPoints.map((p) => p.value)).toEqual([1, 0]);
    t.flush();
    expect((await t.read()).get('feature')!.dataPoints.map((p) => p.value)).toEqual([1, 1]);
  });

  it('does not hold a series older than the staleness window: a scraper that starts late sees the values', async () => {
    const t = scrapeSetup(1_700_000_000_000, 1_700_000_000_000 + NEW_SERIES_HOLD_MS + 1);
    t.send('feature:3|c');
    expect((await t.read()).get('feature')!.dataPoints[0]!.value).toBe(3);
  });
});
