import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Aggregator } from '../../agent/aggregate/aggregator.js';
import { AggregateProducer } from '../../agent/export/aggregate-producer.js';
import { appendToExposition } from '../../agent/export/append-exposition.js';
import { startHttpServer, type HttpServer } from '../../agent/http-server.js';
import { collectSummaries } from '../../agent/export/summary-data.js';
import { summariesToPrometheusText } from '../../agent/export/summary-text.js';
import { Mapper } from '../../agent/mapping/mapper.js';
import { loadMappingFile } from '../../agent/mapping/mapping-config.js';
import { StatsdParser } from '../../agent/parse/statsd-line.js';
import { IngestCounters } from '../../agent/telemetry/ingest-counters.js';
import { familyType, parsePromText, sampleValue } from '../support/prom-text.js';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '..', 'mapping', 'fixtures', 'valid', 'scale-summary-help.yaml');

// The exporter as pipeline.ts builds it, behind the same wrapper, in process.
async function serve(more?: () => string) {
  const aggregator = new Aggregator({
    mapper: new Mapper(loadMappingFile(FIXTURE)),
    timerBuckets: [0.1, 1],
    histogramBuckets: [10],
    counters: new IngestCounters(),
    logger: pino({ level: 'silent' }),
  });
  const resource = resourceFromAttributes({});
  const exporter = new PrometheusExporter({
    preventServerStart: true,
    withoutScopeInfo: true,
    metricProducers: [new AggregateProducer({ aggregator, resource, scope: { name: 'test', version: '0' } })],
  });
  const provider = new MeterProvider({ resource, readers: [exporter] });
  const http = await startHttpServer({
    address: '127.0.0.1',
    port: 0,
    logger: pino({ level: 'silent' }),
    metrics: appendToExposition(
      (req, res) => exporter.getMetricsRequestHandler(req, res),
      more ?? (() => summariesToPrometheusText(collectSummaries(aggregator))),
    ),
    ready: () => true,
  });
  const parser = new StatsdParser();
  running.push({ http, provider });
  return {
    send: (text: string) => parser.parsePacket(Buffer.from(text), aggregator),
    scrape: async () => {
      const res = await fetch(`http://127.0.0.1:${http.port}/metrics`);
      expect(res.status).toBe(200);
      return res.text();
    },
  };
}

const running: Array<{ http: HttpServer; provider: MeterProvider }> = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    await r.http.close();
    await r.provider.shutdown();
  }
});

describe('/metrics with summaries, scale and help', () => {
  it('serves summaries after the exporter families, with the rule help, and scaled values', async () => {
    const { send, scrape } = await serve();
    send('api.home.latency:100|ms\napi.home.latency:300|ms\nupload.kb:3|c\nmem.kb:2|g\npayload.a:5000|h\nplain:1|c');
    const text = await scrape();
    const exp = parsePromText(text);

    expect(familyType(exp, 'api_latency_seconds')).toBe('summary');
    expect(exp.families.get('api_latency_seconds')!.help).toBe('API latency by route');
    expect(sampleValue(exp, 'api_latency_seconds', { route: 'home', quantile: '0.5' })).toBeCloseTo(0.1, 3);
    expect(sampleValue(exp, 'api_latency_seconds', { route: 'home', quantile: '0.99' })).toBeCloseTo(0.3, 3);
    expect(sampleValue(exp, 'api_latency_seconds_sum', { route: 'home' })).toBeCloseTo(0.4, 12);
    expect(sampleValue(exp, 'api_latency_seconds_count', { route: 'home' })).toBe(2);
    // Summaries are not also handed to the SDK: one family, after the exporter's text.
    expect(text.match(/^# TYPE api_latency_seconds /gm)).toHaveLength(1);
    expect(text.indexOf('# TYPE api_latency_seconds summary')).toBeGreaterThan(text.indexOf('# TYPE plain_total counter'));

    expect(sampleValue(exp, 'upload_bytes_total')).toBe(3 * 1024);
    expect(sampleValue(exp, 'mem_bytes')).toBe(2048);
    expect(sampleValue(exp, 'payload_kilobytes_sum')).toBe(5);
    // The rule's help, escaped by the OpenTelemetry serializer; other families keep the default text.
    expect(text).toContain('# HELP upload_bytes_total Bytes uploaded: "quoted", back\\\\slash and a line\\nbreak\n');
    expect(exp.families.get('mem_bytes')!.help).toBe('statsd gauge mem_bytes');
  });

  it('still serves the exporter text, with a comment, when the summaries cannot be made', async () => {
    const { send, scrape } = await serve(() => {
      throw new Error('boom\nsecond line');
    });
    send('plain:1|c');
    const text = await scrape();
    expect(sampleValue(parsePromText(text), 'plain_total')).toBe(1);
    expect(text.endsWith('\n# failed to export summaries: Error: boom second line\n')).toBe(true);
  });
});
