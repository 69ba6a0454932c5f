// `npm run bench -- --only scrape`: what one GET /metrics costs the agent at
// high cardinality, the OpenTelemetry SDK exporter (how /metrics was served
// before issue 13: PrometheusExporter over the AggregateProducer, summaries
// appended to its single res.end) against Tally's streamed writer (what
// pipeline.ts serves now), over the same aggregator state; `protobuf` is the
// streamed handler asked for the protobuf exposition, as Prometheus with
// native histograms asks for it.
//
//   node bench/scrape.mjs [--series 10000,100000] [--writers sdk,streamed,protobuf] [--timeout 120]
//
// Each (series, writer) pair runs in a fresh child process, so RSS figures
// do not carry over: it fills an Aggregator with that many counter series
// (`bench.requests:1|c|#pod:pod-N,route:/api/v1/items`), serves /metrics on
// 127.0.0.1 through the real http-server.ts, and scrapes itself with
// node:http, counting the body's bytes without keeping them. Two scrapes:
// plain, then `Accept-Encoding: gzip`. Per scrape:
// - time: request sent → last byte read;
// - body bytes as sent (the gzip one compressed; the SDK exporter never compresses);
// - peak RSS growth: VmHWM after the scrape minus VmRSS before it, with
//   VmHWM reset through /proc/self/clear_refs (5) after a full GC;
// - longest event-loop block: perf_hooks.monitorEventLoopDelay's maximum
//   (1 ms resolution) during the scrape, which is how long a datagram or a
//   flush could have waited.
// A pair that does not finish within --timeout seconds is reported as such.
// Prints the command line and a Markdown table; needs `npm run build`.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join, relative } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const dist = (p) => join(root, 'dist', 'agent', p);

function flag(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && process.argv[i + 1] !== undefined) return process.argv[i + 1];
  const eq = process.argv.find((a) => a.startsWith(`--${name}=`));
  return eq ? eq.slice(name.length + 3) : def;
}

if (flag('child') !== undefined) {
  await child(flag('child'), Number(flag('n')));
} else {
  parent();
}

function parent() {
  const series = flag('series', '10000,100000').split(',').map(Number);
  const writers = flag('writers', 'sdk,streamed').split(',');
  const timeoutS = Number(flag('timeout', '120'));
  console.log(`command: node ${relative(process.cwd(), fileURLToPath(import.meta.url))} ${process.argv.slice(2).join(' ')}`.trim());
  console.log(`node ${process.version}, ${process.platform}/${process.arch}\n`);
  console.log('| series | writer | plain: time | plain: body | plain: peak RSS growth | plain: longest block | gzip: time | gzip: body | gzip: peak RSS growth | gzip: longest block |');
  console.log('|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const n of series) {
    for (const w of writers) {
      const r = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=8192', fileURLToPath(import.meta.url), '--child', w, '--n', String(n)], {
        encoding: 'utf8',
        timeout: timeoutS * 1000,
      });
      const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
      if (line === undefined) {
        const why = r.error?.code === 'ETIMEDOUT' ? `did not finish within ${timeoutS} s` : `failed: ${(r.stderr || '').trim().split('\n').pop()}`;
        console.log(`| ${n.toLocaleString('en')} | ${w} | ${why} | | | | | | | |`);
        continue;
      }
      const { plain, gzip } = JSON.parse(line);
      const cells = (s) => [`${(s.ms / 1000).toFixed(2)} s`, mib(s.bytes), mib(s.rssGrowth), `${s.maxBlockMs.toFixed(0)} ms`];
      console.log(`| ${n.toLocaleString('en')} | ${w} | ${[...cells(plain), ...cells(gzip)].join(' | ')} |`);
    }
  }
}

function mib(bytes) {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(0)} KiB`;
}

async function child(writer, n) {
  const { pino } = await import('pino');
  const { resourceFromAttributes } = await import('@opentelemetry/resources');
  const { MeterProvider } = await import('@opentelemetry/sdk-metrics');
  const { PrometheusExporter } = await import('@opentelemetry/exporter-prometheus');
  const { Aggregator } = await import(dist('aggregate/aggregator.js'));
  const { StatsdParser } = await import(dist('parse/statsd-line.js'));
  const { IngestCounters } = await import(dist('telemetry/ingest-counters.js'));
  const { startHttpServer } = await import(dist('http-server.js'));
  const { AggregateProducer } = await import(dist('export/aggregate-producer.js'));
  const { appendToExposition } = await import(dist('export/append-exposition.js'));
  const { summariesToPrometheusText } = await import(dist('export/summary-text.js'));
  const { collectSummaries } = await import(dist('export/summary-data.js'));
  const { streamedMetricsHandler } = await import(dist('export/streamed-metrics.js'));

  const logger = pino({ level: 'silent' });
  const aggregator = new Aggregator({
    timerBuckets: [0.1, 1],
    histogramBuckets: [10],
    limits: { maxSeries: n, maxSeriesPerMetric: n, maxTags: 64, maxTagValueBytes: 1024 },
    counters: new IngestCounters(),
    logger,
  });
  const parser = new StatsdParser();
  for (let i = 0; i < n; i += 1000) {
    let lines = '';
    for (let j = i; j < Math.min(n, i + 1000); j++) lines += `bench.requests:1|c|#pod:pod-${j},route:/api/v1/items\n`;
    parser.parsePacket(Buffer.from(lines), aggregator);
  }
  const resource = resourceFromAttributes({ 'service.name': 'tally-agent', 'service.version': 'bench' });
  const scope = { name: 'tally-agent', version: 'bench' };
  // Both as pipeline.ts wires them, the SDK one as it did before issue 13 (the plain reader).
  let metrics;
  let provider;
  if (writer === 'sdk') {
    const exporter = new PrometheusExporter({
      preventServerStart: true,
      withoutScopeInfo: true,
      metricProducers: [new AggregateProducer({ aggregator, resource, scope })],
    });
    provider = new MeterProvider({ resource, readers: [exporter] });
    metrics = appendToExposition(
      (req, res) => exporter.getMetricsRequestHandler(req, res),
      () => summariesToPrometheusText(collectSummaries(aggregator)),
    );
  } else {
    const selfReader = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true });
    provider = new MeterProvider({ resource, readers: [selfReader] });
    metrics = streamedMetricsHandler({ aggregator, resource, selfMetrics: selfReader, logger });
  }
  const http = await startHttpServer({ address: '127.0.0.1', port: 0, logger, metrics, ready: () => true, requestTimeoutMs: 600_000 });
  const accept = writer === 'protobuf' ? { accept: 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited' } : {};
  const plain = await scrape(http.port, accept);
  const gzip = await scrape(http.port, { ...accept, 'accept-encoding': 'gzip' });
  await http.close();
  await provider.shutdown();
  console.log(JSON.stringify({ writer, n, plain, gzip }));
}

function status(field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return Number(m[1]) * 1024;
}

async function scrape(port, headers) {
  globalThis.gc();
  writeFileSync('/proc/self/clear_refs', '5');
  const rss0 = status('VmRSS');
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const t0 = performance.now();
  const bytes = await new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics', headers }, (res) => {
      let count = 0;
      res.on('data', (b) => (count += b.length));
      res.on('end', () => resolve(count));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
  const ms = performance.now() - t0;
  delay.disable();
  return { ms, bytes, rssGrowth: status('VmHWM') - rss0, maxBlockMs: delay.max / 1e6 };
}
