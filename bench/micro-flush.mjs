// In-process cost of one flush as series grow: the work a flush hands the
// push sinks (the OTLP encoder, the remote-write encoder, and the OpenTelemetry
// form a sink module would read) and one /metrics body, over an aggregator
// holding N series of the UDP benchmark's mix (40 % counters, 20 % gauges, 20 %
// timers on the default 128 timer buckets, 10 % histograms, 10 % sets,
// DogStatsD tags), each size in a fresh process. Every series received a
// sample in the interval, so the delta OTLP sink sends every one: the worst
// case. Prints the command line and a Markdown table.
//
//   node bench/micro-flush.mjs [--sizes 10000,100000] [--rounds 3] [--histograms classic|native]
//
// --histograms native: every histogram family keeps exponential state, the
// remote-write sink sends native histograms, the OTLP sink exponential ones,
// and the protobuf exposition (what Prometheus with native histograms on
// scrapes) is timed beside the text.
//
// Needs `npm run build` (reads dist/).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const { values: opts } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000' },
    rounds: { type: 'string', default: '3' },
    histograms: { type: 'string', default: 'classic' },
    child: { type: 'string' },
  },
});

if (opts.child !== undefined) {
  const n = Number(opts.child);
  console.log(JSON.stringify(await runChild(n, Number(opts.rounds), opts.histograms === 'native')));
} else {
  const self = fileURLToPath(import.meta.url);
  if (!['classic', 'native'].includes(opts.histograms)) throw new Error('--histograms is classic or native');
  console.log(`command: node bench/micro-flush.mjs --sizes ${opts.sizes} --rounds ${opts.rounds} --histograms ${opts.histograms}`);
  console.log(`node ${process.version}; each size in a fresh process (taskset -c 0 where available); median of ${opts.rounds} flushes\n`);
  console.log('| series | samples a flush | SDK form of the batch, for a sink module (longest block) | remote-write encode (longest block) | OTLP encode, delta (longest block) | remote write into its spool queue (longest block) | /metrics body | /metrics protobuf body | remote-write bytes (snappy) | RSS per series |');
  console.log('|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const size of opts.sizes.split(',').map(Number)) {
    const args = ['--expose-gc', '--max-old-space-size=16384', self, '--child', String(size), '--rounds', opts.rounds, '--histograms', opts.histograms];
    const pinned = existsSync('/usr/bin/taskset');
    const out = execFileSync(pinned ? 'taskset' : process.execPath, pinned ? ['-c', '0', process.execPath, ...args] : args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const r = JSON.parse(out.trim().split('\n').pop());
    const ms = (v) => (v === null ? '—' : `${v.toFixed(0)} ms`);
    const mb = (v) => `${(v / 1e6).toFixed(1)} MB`;
    console.log(
      `| ${r.series.toLocaleString('en')} | ${r.samples.toLocaleString('en')} | ${ms(r.collectMs)} (${ms(r.collectBlockMs)}) | ${ms(r.remoteWriteMs)} (${ms(r.remoteWriteBlockMs)}) | ${ms(r.otlpMs)} (${ms(r.otlpBlockMs)}) | ${ms(r.spoolMs)} (${ms(r.spoolBlockMs)}) | ${ms(r.scrapeMs)} | ${r.protobufMs === null ? '—' : `${ms(r.protobufMs)}, ${mb(r.protobufBytes)}`} | ${mb(r.remoteWriteBytes)} in ${r.remoteWriteRequests} requests | ${Math.round(r.rssPerSeries).toLocaleString('en')} B |`,
    );
  }
}

async function runChild(n, rounds, nativeHistograms) {
  const { pino } = await import('pino');
  const { benchAggregator, senderTags } = await import('./in-process.mjs');
  const { StatsdParser } = await import('../dist/agent/parse/statsd-line.js');
  const { toResourceMetrics } = await import('../dist/agent/export/aggregate-producer.js');
  const { otlpResource } = await import('../dist/agent/export/otlp/otlp-resource.js');
  const { createRemoteWriteSink } = await import('../dist/agent/export/remote-write/remote-write-sink.js');
  const { OtlpEncoder } = await import('../dist/agent/export/otlp/otlp-encoder.js');
  const { takeMetricsSnapshot } = await import('../dist/agent/export/metrics-snapshot.js');
  const { PushSinks } = await import('../dist/agent/export/push-sinks.js');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { expositionChunks } = await import('../dist/agent/export/exposition-writer.js');
  const { protobufExpositionChunks } = await import('../dist/agent/export/exposition-protobuf.js');

  const agg = await benchAggregator({ exponential: nativeHistograms ? 'all' : 'rules' });
  // The UDP sender's mix (bench/udp-sender.c): series per type in tenths, ten tag sets per name.
  const types = [
    ['hits', 'c', 4],
    ['queue_depth', 'g', 2],
    ['latency', 'ms', 2],
    ['payload_size', 'h', 1],
    ['users', 's', 1],
  ];
  const plan = [];
  for (const [name, code, weight] of types) {
    const count = Math.floor((n * weight) / 10);
    for (let s = 0; s < count; s++) plan.push([name, code, s]);
  }
  let x = 12345;
  const rand = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
  const value = (code) => (code === 'ms' ? (1 + (rand() % 500)) + '.' + (rand() % 10) : code === 's' ? 'u' + (rand() % 5000) : String(rand() % 4096));
  const parser = new StatsdParser();
  const feed = () => {
    for (let i = 0; i < plan.length; i += 10) {
      const lines = [];
      for (let j = i; j < Math.min(plan.length, i + 10); j++) {
        const [name, code, s] = plan[j];
        lines.push(`tallybench.${name}_${Math.floor(s / 10)}:${value(code)}|${code}|#${senderTags(s % 10)}`);
      }
      parser.parsePacket(Buffer.from(lines.join('\n')), agg);
    }
  };
  global.gc();
  const rss0 = process.memoryUsage().rss;
  feed();
  global.gc();
  const rssPerSeries = (process.memoryUsage().rss - rss0) / n;

  const resource = otlpResource({ version: 'bench', attributes: {} });
  let batchTimeMs = 0;
  const rw = createRemoteWriteSink({ name: 'rw', url: 'http://127.0.0.1:9/api/v1/write', version: 'bench', timeoutMs: 10_000, externalLabels: { job: 'tally-agent', instance: 'bench' }, nativeHistograms });
  const otlp = new OtlpEncoder({ encoding: 'protobuf', compression: 'gzip', temporality: 'delta', resource, histograms: nativeHistograms ? 'exponential' : 'explicit' });
  const spoolDir = mkdtempSync(join(tmpdir(), 'tally-micro-flush-'));
  const queue = await PushSinks.open({
    dataDir: spoolDir,
    segmentBytes: 64 << 20,
    maxRecordBytes: 16 << 20,
    logger: pino({ level: 'silent' }),
    sinks: [
      {
        // Hands the queue the requests already encoded above, and delivers nothing: only the append is measured.
        sink: { name: 'rw', encode: (b) => b.rwRequests, send: (_r, signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve({ kind: 'retry', error: 'stopped' }))) },
        maxBytes: 64 * 2 ** 30,
        whenFull: 'drop_oldest',
        maxInFlight: 1,
        backoff: { initialMs: 1000, maxMs: 1000, maxRetryAfterMs: 1000 },
        stallTimeoutMs: 1e9,
      },
    ],
  });
  const runs = [];
  for (let r = 0; r < rounds; r++) {
    feed();
    agg.flush();
    batchTimeMs = Date.now() + r * 10_000;
    // Each step timed from start to end, with the longest stretch it held the event loop (it may yield between slices).
    const timed = async (fn) => {
      const blocks = monitorEventLoopDelay({ resolution: 1 });
      blocks.enable();
      // The histogram takes its first reading at its first tick: a block before that would go unseen.
      await new Promise((resolve) => setTimeout(resolve, 5));
      const t = performance.now();
      const out = await fn();
      const ms = performance.now() - t;
      blocks.disable();
      return [out, ms, blocks.max / 1e6];
    };
    const families = takeMetricsSnapshot(agg, false, batchTimeMs);
    // The SDK's form of the whole batch, which the agent makes only for a sink module (needsSdkForm): timed, not kept. The OTLP
    // sink makes its own a run of series at a time, inside its encode.
    const [, collectMs, collectBlockMs] = await timed(() => toResourceMetrics(families, resource, { name: 'tally-agent', version: 'bench' }));
    const batch = { batchId: `b${r}`, timeMs: batchTimeMs, metrics: { resource, scopeMetrics: [] }, families, events: agg.takeEvents() };
    const [rwRequests, remoteWriteMs, remoteWriteBlockMs] = await timed(() => rw.encode(batch));
    const [, otlpMs, otlpBlockMs] = await timed(() => otlp.encode(batch));
    // The remote-write requests into a sink queue on disk, as the agent appends them (durable before the promise settles).
    const [, spoolMs, spoolBlockMs] = await timed(() => queue.push({ ...batch, rwRequests }));
    const t3 = performance.now();
    let lines = 0;
    for (const chunk of expositionChunks(takeMetricsSnapshot(agg, false), resource.attributes)) {
      for (let i = chunk.indexOf('\n'); i !== -1; i = chunk.indexOf('\n', i + 1)) lines++;
    }
    const t4 = performance.now();
    let protobufBytes = 0;
    if (nativeHistograms) for (const piece of protobufExpositionChunks(takeMetricsSnapshot(agg, false), resource.attributes)) protobufBytes += piece.length;
    const t5 = performance.now();
    runs.push({
      collectMs,
      collectBlockMs,
      remoteWriteMs,
      remoteWriteBlockMs,
      otlpMs,
      otlpBlockMs,
      spoolMs,
      spoolBlockMs,
      scrapeMs: t4 - t3,
      protobufMs: nativeHistograms ? t5 - t4 : null,
      protobufBytes,
      remoteWriteBytes: rwRequests.reduce((a, q) => a + q.body.length, 0),
      remoteWriteRequests: rwRequests.length,
      lines,
    });
  }
  await queue.stop().catch(() => {});
  rmSync(spoolDir, { recursive: true, force: true });
  const median = (k) => runs.map((q) => q[k]).sort((a, b) => a - b)[runs.length >> 1];
  return {
    series: agg.seriesCount,
    samples: runs[0].lines,
    collectMs: median('collectMs'),
    collectBlockMs: median('collectBlockMs'),
    otlpBlockMs: median('otlpBlockMs'),
    spoolMs: median('spoolMs'),
    spoolBlockMs: median('spoolBlockMs'),
    remoteWriteMs: median('remoteWriteMs'),
    remoteWriteBlockMs: median('remoteWriteBlockMs'),
    otlpMs: median('otlpMs'),
    scrapeMs: median('scrapeMs'),
    protobufMs: median('protobufMs'),
    protobufBytes: runs[runs.length - 1].protobufBytes,
    remoteWriteBytes: runs[runs.length - 1].remoteWriteBytes,
    remoteWriteRequests: runs[runs.length - 1].remoteWriteRequests,
    rssPerSeries,
  };
}
