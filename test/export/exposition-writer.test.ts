import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Aggregator } from '../../agent/aggregate/aggregator.js';
import { AggregateProducer } from '../../agent/export/aggregate-producer.js';
import { expositionChunks } from '../../agent/export/exposition-writer.js';
import { takeMetricsSnapshot } from '../../agent/export/metrics-snapshot.js';
import { collectSummaries } from '../../agent/export/summary-data.js';
import { summariesToPrometheusText } from '../../agent/export/summary-text.js';
import { Mapper } from '../../agent/mapping/mapper.js';
import { loadMappingFile } from '../../agent/mapping/mapping-config.js';
import { StatsdParser } from '../../agent/parse/statsd-line.js';
import { IngestCounters } from '../../agent/telemetry/ingest-counters.js';
import { parsePromText } from '../support/prom-text.js';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '..', 'mapping', 'fixtures', 'valid', 'scale-summary-help.yaml');
const resource = resourceFromAttributes({ 'service.name': 'tally-agent', 'service.version': '1.2.3-"rc"\\x', 'odd.count': 3 });

// Every statsd type, mapped and unmapped names, a summary, help and units,
// label values needing each escape, a global tag a line overrides, and the
// names the SDK treats specially (a counter already ending in _total, a
// timer whose suffix meets an underscore).
const WORKLOAD = [
  'plain:1|c',
  'hits_total:2|c|#route:/a',
  'hits:3|c|@0.5|#route:/b,env:prod',
  'weird:1|c|#note:say "hi" \\ bye,nl:a\nb'.replace('\n', '\\n'),
  'queue.depth:42|g|#zone:eu',
  'queue.depth:-2|g|#zone:us',
  'temp:+3|g',
  'users:alice|s',
  'users:bob|s|#app:x',
  'rpc:12|ms|#route:/checkout',
  'rpc:450|ms|#route:/checkout',
  'rpc:5000|ms|#le:oops',
  'odd_:7|ms',
  'size:300|h|#route:/a',
  'size:3|d|#route:/a',
  'size:1e9|h',
  'api.home.latency:100|ms',
  'api.home.latency:300|ms',
  'db.query_us:1500|ms|#quantile:clash',
  'upload.kb:3|c',
  'mem.kb:2|g',
  'payload.a:5000|h',
  'visitors.x:4|c',
  'nan_gauge:NaN|g',
  '_:1|g',
  // An up-down counter (aggregation.up_down_counters): a gauge named without _total.
  'queue.depth:5|c|#q:a',
  'queue.depth:-2|c|#q:a',
];

function aggregatorWithWorkload(now: () => number) {
  const aggregator = new Aggregator({
    mapper: new Mapper(loadMappingFile(FIXTURE)),
    timerBuckets: [0.005, 0.1, 1, 2.5],
    histogramBuckets: [1e-7, 10, 1000, 1e21],
    globalTags: [['env', 'staging'], ['region', 'west "1"']],
    upDownCounters: (name) => name === 'queue.depth',
    counters: new IngestCounters(),
    logger: pino({ level: 'silent' }),
    now,
  });
  const parser = new StatsdParser();
  for (const line of WORKLOAD) parser.parsePacket(Buffer.from(line), aggregator);
  return aggregator;
}

const providers: MeterProvider[] = [];
afterEach(async () => {
  for (const p of providers.splice(0)) await p.shutdown();
});

/** What /metrics served before this writer: the SDK exporter over the AggregateProducer, then the summaries appended. */
async function sdkText(aggregator: Aggregator, zeroNewSeries: boolean, nowMs: number): Promise<string> {
  const exporter = new PrometheusExporter({
    preventServerStart: true,
    withoutScopeInfo: true,
    metricProducers: [new AggregateProducer({ aggregator, resource, scope: { name: 'tally-agent', version: '0' }, zeroNewSeries, now: () => nowMs })],
  });
  providers.push(new MeterProvider({ resource, readers: [exporter] }));
  const { resourceMetrics } = await exporter.collect();
  const text = new PrometheusSerializer(undefined, false, undefined, false, true).serialize(resourceMetrics);
  return text + summariesToPrometheusText(collectSummaries(aggregator, nowMs));
}

function writerText(aggregator: Aggregator, storing: boolean, nowMs: number, chunkChars?: number): string {
  return [...expositionChunks(takeMetricsSnapshot(aggregator, storing, nowMs), resource.attributes, chunkChars)].join('');
}

describe('expositionChunks', () => {
  it('writes byte for byte what the SDK exporter and the summary text wrote, for every type', async () => {
    let clock = 1_700_000_000_000;
    const aggregator = aggregatorWithWorkload(() => clock);
    aggregator.flush(); // the sets' first interval completes
    new StatsdParser().parsePacket(Buffer.from('users:carol|s\nlate.set:x|s\nplain:4|c'), aggregator);
    clock += 1000;

    const expected = await sdkText(aggregator, false, clock);
    expect(writerText(aggregator, false, clock)).toBe(expected);
    // The families the workload asked for are all there, and the text parses.
    const exp = parsePromText(expected);
    for (const name of ['plain_total', 'hits_total', 'weird_total', 'queue_depth', 'users', 'rpc_seconds', 'odd_seconds', 'size', 'api_latency_seconds', 'db_query_seconds', 'upload_bytes_total', 'payload_kilobytes', 'target_info']) {
      expect(exp.families.has(name), name).toBe(true);
    }
    expect(expected).toContain('region="west \\"1\\""');
    expect(expected).toContain('note="say \\"hi\\" \\\\ bye"');
    expect(expected).toContain('le="1e+21"');
    expect(expected).toContain('exported_le="oops"');
    expect(expected).not.toContain('late_set');
  });

  it('splits the same text into pieces of about the size asked for', () => {
    const aggregator = aggregatorWithWorkload(() => 1_700_000_000_000);
    const chunks = [...expositionChunks(takeMetricsSnapshot(aggregator, false, 1_700_000_000_000), resource.attributes, 200)];
    expect(chunks.length).toBeGreaterThan(10);
    for (const c of chunks.slice(0, -1)) expect(c.length).toBeGreaterThanOrEqual(200);
    expect(chunks.join('')).toBe(writerText(aggregator, false, 1_700_000_000_000));
  });

  it('holds new counters and histograms at zero for a storing scraper as the SDK path did, through the interval of the first read', async () => {
    let clock = 1_700_000_000_000;
    const ours = aggregatorWithWorkload(() => clock);
    const theirs = aggregatorWithWorkload(() => clock);
    clock += 1000;
    const first = writerText(ours, true, clock);
    expect(first).toBe(await sdkText(theirs, true, clock));
    expect(first).toMatch(/^plain_total\{[^}]*\} 0$/m);
    expect(first).toMatch(/^size_count\{env="staging",region="west \\"1\\"",route="\/a"\} 0$/m);
    // Still within the interval of the first read: still zero, on both paths.
    expect(writerText(ours, true, clock)).toBe(first);
    ours.flush();
    theirs.flush();
    const second = writerText(ours, true, clock);
    expect(second).toBe(await sdkText(theirs, true, clock));
    expect(second).toMatch(/^plain_total\{[^}]*\} 1$/m);
  });

  it('renders the series and set counts the scrape began with, whatever a flush changes meanwhile', () => {
    let clock = 1_700_000_000_000;
    const aggregator = new Aggregator({ timerBuckets: [1], histogramBuckets: [1], seriesTtlMs: 1000, counters: new IngestCounters(), logger: pino({ level: 'silent' }), now: () => clock });
    const parser = new StatsdParser();
    const send = (text: string) => parser.parsePacket(Buffer.from(text), aggregator);
    send('old:1|c\nseen:a|s\nseen:b|s');
    aggregator.flush();
    clock += 2000;
    send('fresh:1|c\nseen:c|s');
    const snapshot = takeMetricsSnapshot(aggregator, false, clock);
    const before = [...expositionChunks(snapshot, {})].join('');
    // A flush that expires `old`, completes a set interval of one member, and a new series, all after the scrape began.
    aggregator.flush();
    send('newer:1|c');
    const during = [...expositionChunks(snapshot, {})].join('');
    expect(during).toBe(before);
    expect(during).toMatch(/^old_total 1$/m);
    expect(during).toMatch(/^seen 2$/m);
    expect(during).not.toContain('newer');
    // The next scrape sees the flush whole.
    const after = writerText(aggregator, false, clock);
    expect(after).not.toContain('old_total');
    expect(after).toMatch(/^seen 1$/m);
    expect(after).toMatch(/^newer_total 1$/m);
  });
});
