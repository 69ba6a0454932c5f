import { createSocket } from 'node:dgram';
import { get, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Aggregator } from '../../agent/aggregate/aggregator.js';
import { startHttpServer, type HttpServer } from '../../agent/http-server.js';
import { PROTOBUF_EXPOSITION_TYPE } from '../../agent/export/exposition-protobuf.js';
import { streamedMetricsHandler } from '../../agent/export/streamed-metrics.js';
import { StatsdParser } from '../../agent/parse/statsd-line.js';
import { IngestCounters } from '../../agent/telemetry/ingest-counters.js';
import { decodeDelimited } from '../support/prom-protobuf.js';
import { parsePromText, sampleValue } from '../support/prom-text.js';

const logger = pino({ level: 'silent' });
const resource = resourceFromAttributes({ 'service.name': 'tally-agent' });
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function serve(series = 0) {
  const aggregator = new Aggregator({
    timerBuckets: [0.1, 1],
    histogramBuckets: [10],
    limits: { maxSeries: 1_000_000, maxSeriesPerMetric: 1_000_000, maxTags: 64, maxTagValueBytes: 1024 },
    counters: new IngestCounters(),
    logger,
  });
  const parser = new StatsdParser();
  const send = (text: string) => parser.parsePacket(Buffer.from(text), aggregator);
  for (let i = 0; i < series; i += 1000) {
    const lines: string[] = [];
    for (let j = i; j < Math.min(series, i + 1000); j++) lines.push(`big.requests:1|c|#pod:pod-${j},route:/api/v1/items`);
    send(lines.join('\n'));
  }
  const selfReader = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true });
  const provider = new MeterProvider({ resource, readers: [selfReader] });
  provider.getMeter('tally-agent').createCounter('tally_test_self').add(5);
  const http = await startHttpServer({
    address: '127.0.0.1',
    port: 0,
    logger,
    metrics: streamedMetricsHandler({ aggregator, resource, selfMetrics: selfReader, logger }),
    ready: () => true,
  });
  cleanup.push(() => provider.shutdown(), () => http.close());
  return { aggregator, send, http };
}

interface Raw {
  res: IncomingMessage;
  body: Buffer;
  chunks: number;
}

function fetchRaw(http: HttpServer, headers: Record<string, string> = {}, method = 'GET'): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: http.port, path: '/metrics', method, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('end', () => resolve({ res, body: Buffer.concat(parts), chunks: parts.length }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('streamed /metrics', () => {
  it('serves gzip when the request accepts it, and plain text otherwise, with the same exposition', async () => {
    const { send, http } = await serve();
    send('hits:1|c|#route:/a\nrpc:120|ms\nusers:alice|s\nqueue:3|g');
    const plain = await fetchRaw(http);
    expect(plain.res.statusCode).toBe(200);
    expect(plain.res.headers['content-type']).toBe('text/plain');
    expect(plain.res.headers['content-encoding']).toBeUndefined();
    const text = plain.body.toString('utf8');
    const exp = parsePromText(text);
    expect(sampleValue(exp, 'hits_total', { route: '/a' })).toBe(1);
    expect(sampleValue(exp, 'rpc_seconds_count')).toBe(1);
    // The agent's own metrics follow the aggregator's families, without a second target_info.
    expect(sampleValue(exp, 'tally_test_self_total')).toBe(5);
    expect(text.indexOf('tally_test_self_total')).toBeGreaterThan(text.indexOf('queue'));
    expect(text.match(/^# TYPE target_info /gm)).toHaveLength(1);

    const zipped = await fetchRaw(http, { 'accept-encoding': 'deflate, gzip;q=0.8, br' });
    expect(zipped.res.headers['content-encoding']).toBe('gzip');
    expect(zipped.res.headers.vary).toBe('accept, accept-encoding');
    expect(gunzipSync(zipped.body).toString('utf8')).toBe(text);

    expect((await fetchRaw(http, { 'accept-encoding': 'gzip;q=0, deflate' })).res.headers['content-encoding']).toBeUndefined();
    const head = await fetchRaw(http, { 'accept-encoding': 'gzip' }, 'HEAD');
    expect(head.res.statusCode).toBe(200);
    expect(head.body.length).toBe(0);
  });

  it('serves the protobuf exposition to a scraper that prefers it, gzipped when asked, the agent\'s own metrics last', async () => {
    const { send, http } = await serve();
    send('hits:1|c|#route:/a\nrpc:120|ms\nqueue:3|g');
    const accept = 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
    for (const encoding of ['', 'gzip']) {
      const raw = await fetchRaw(http, { accept, ...(encoding === '' ? {} : { 'accept-encoding': encoding }) });
      expect(raw.res.statusCode).toBe(200);
      expect(raw.res.headers['content-type']).toBe(PROTOBUF_EXPOSITION_TYPE);
      const families = decodeDelimited(encoding === '' ? raw.body : gunzipSync(raw.body));
      expect(families.map((f) => f.name)).toEqual(['target_info', 'hits_total', 'rpc_seconds', 'queue', 'tally_test_self_total']);
      expect(families[1]!.metric[0]).toMatchObject({ label: [{ name: 'route', value: '/a' }], counter: { value: 1 } });
      expect(families[2]!.metric[0]!.histogram).toMatchObject({ sampleCount: 1, sampleSum: 0.12 });
      expect(families[4]).toMatchObject({ type: 'COUNTER', metric: [{ counter: { value: 5 } }] });
    }
    // A scraper that ranks text first gets text.
    expect((await fetchRaw(http, { accept: 'text/plain;q=0.9,application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5' })).res.headers['content-type']).toBe('text/plain');
  });

  it('streams a 200k-series scrape in many chunks while timers, datagrams and a flush keep running', async () => {
    const SERIES = 200_000;
    const { aggregator, send, http } = await serve(SERIES);
    // Ingest as the agent does it: datagrams read by a socket on the same event loop.
    const server = createSocket('udp4');
    const client = createSocket('udp4');
    cleanup.push(() => new Promise<void>((r) => server.close(() => r())), () => new Promise<void>((r) => client.close(() => r())));
    let received = 0;
    let receivedDuringScrape = 0;
    let scraping = false;
    server.on('message', (msg) => {
      received++;
      if (scraping) receivedDuringScrape++;
      send(msg.toString());
    });
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    const sender = setInterval(() => client.send('during.scrape:1|c', port, '127.0.0.1'), 2);
    cleanup.push(() => clearInterval(sender));
    await new Promise<void>((resolve) => {
      const waitForFirst = () => (received > 0 ? resolve() : setTimeout(waitForFirst, 5));
      waitForFirst();
    });

    let timerFiredDuringScrape = false;
    let flushedDuringScrape = false;
    let chunks = 0;
    const parts: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      scraping = true;
      get({ host: '127.0.0.1', port: http.port, path: '/metrics' }, (res) => {
        res.once('data', () => {
          // Set once the body has begun: it can only fire before the end if the scrape yields to the event loop.
          setTimeout(() => {
            timerFiredDuringScrape = scraping;
            // The last series is written last: a scrape that yields shows this line, one rendered whole at the start would not.
            send(`big.requests:1000|c|#pod:pod-${SERIES - 1},route:/api/v1/items`);
            aggregator.flush();
            flushedDuringScrape = scraping;
          }, 20);
        });
        res.on('data', (b: Buffer) => {
          chunks++;
          parts.push(b);
        });
        res.on('end', () => {
          scraping = false;
          resolve();
        });
        res.on('error', reject);
      }).on('error', reject);
    });

    expect(timerFiredDuringScrape).toBe(true);
    expect(flushedDuringScrape).toBe(true);
    expect(receivedDuringScrape).toBeGreaterThan(0);
    expect(chunks).toBeGreaterThan(10);
    // Every series the scrape began with, once, whole: the flush during it changed nothing it showed.
    const exp = parsePromText(Buffer.concat(parts).toString('utf8'));
    const big = exp.samples.filter((s) => s.name === 'big_requests_total');
    expect(big).toHaveLength(SERIES);
    expect(new Set(big.map((s) => s.labels.pod)).size).toBe(SERIES);
    expect(big.slice(0, -1).every((s) => s.value === 1)).toBe(true);
    expect(big.at(-1)!.value).toBe(1001);
  }, 60_000);

  it('stops making the body when the client leaves, and serves the next scrape', async () => {
    const { http } = await serve(50_000);
    await new Promise<void>((resolve, reject) => {
      const req = get({ host: '127.0.0.1', port: http.port, path: '/metrics' }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? resolve() : reject(err)));
    });
    const next = await fetchRaw(http, { 'accept-encoding': 'gzip' });
    const exp = parsePromText(gunzipSync(next.body).toString('utf8'));
    expect(exp.samples.filter((s) => s.name === 'big_requests_total')).toHaveLength(50_000);
  }, 30_000);
});
