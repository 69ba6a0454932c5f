// Spool replay: how fast a sink queue filled during an outage drains into a
// local receiver once it is back. Batches are cut in-process from a real
// Aggregator (statsd lines → series → AggregateProducer) and queued through
// the same PushSinks the agent uses while the receiver is down; then a
// receiver (bench/sink-receiver.mjs, another process, on the other core)
// comes up and the clock runs until the queue is empty.
//
//   node bench/replay.mjs [--series 20000] [--batches 100] [--sinks otlp,remote_write]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { benchDir, fail, freePort, pinSelf, root, start, waitLine } from './lib.mjs';

const { values: opts } = parseArgs({
  options: {
    series: { type: 'string', default: '20000' },
    batches: { type: 'string', default: '100' },
    sinks: { type: 'string', default: 'otlp,remote_write' },
  },
});
const seriesCount = Number(opts.series);
const batches = Number(opts.batches);
const kinds = opts.sinks.split(',');

const dist = (p) => import(join(root, 'dist', 'agent', p));
const { Aggregator } = await dist('aggregate/aggregator.js');
const { StatsdParser } = await dist('parse/statsd-line.js');
const { AggregateProducer } = await dist('export/aggregate-producer.js');
const { takeMetricsSnapshot } = await dist('export/metrics-snapshot.js');
const { PushSinks } = await dist('export/push-sinks.js');
const { createOtlpSink } = await dist('export/otlp/otlp-sink.js');
const { createRemoteWriteSink } = await dist('export/remote-write/remote-write-sink.js');
const { IngestCounters } = await dist('telemetry/ingest-counters.js');
const { resourceFromAttributes } = await import('@opentelemetry/resources');

pinSelf();

/** BENCH_PROFILE=1: a CPU profile of the replay phase alone, written to the working directory. */
async function startProfile() {
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async (file) => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  };
}
const logger = pino({ level: 'silent' });

async function runOne(kind) {
  const port = await freePort('tcp');
  const url = kind === 'otlp' ? `http://127.0.0.1:${port}` : `http://127.0.0.1:${port}/api/v1/write`;
  const sink =
    kind === 'otlp'
      ? createOtlpSink({ name: kind, endpoint: url, encoding: 'protobuf', compression: 'none', temporality: 'cumulative', timeoutMs: 10_000, version: 'bench', logger })
      : createRemoteWriteSink({ name: kind, url, timeoutMs: 10_000, version: 'bench', logger });
  const dir = mkdtempSync(join(tmpdir(), 'tally-replay-'));
  const push = await PushSinks.open({
    dataDir: dir,
    segmentBytes: 64 << 20,
    maxRecordBytes: 16 << 20,
    sinks: [{ sink, maxBytes: 8 * 2 ** 30, whenFull: 'drop_oldest', maxInFlight: 1, backoff: { initialMs: 50, maxMs: 50, maxRetryAfterMs: 50 }, stallTimeoutMs: 1e9 }],
    logger,
  });
  const aggregator = new Aggregator({ timerBuckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], histogramBuckets: [1, 10, 100], counters: new IngestCounters(), logger });
  const parser = new StatsdParser();
  let batchTime = Date.now() - batches * 1000;
  const producer = new AggregateProducer({ aggregator, resource: resourceFromAttributes({ 'service.name': 'bench' }), scope: { name: 'bench', version: '0' }, now: () => batchTime });
  // A mix like the UDP bench: counters, gauges and timers with tags.
  const lines = [];
  for (let i = 0; i < seriesCount; i++) {
    const kindChar = i % 3;
    lines.push(kindChar === 0 ? `replay.c${i % 500}:1|c|#shard:${i}` : kindChar === 1 ? `replay.g${i % 500}:${i}|g|#shard:${i}` : `replay.t${i % 100}:${i % 300}|ms|#shard:${i}`);
  }
  const packet = Buffer.from(lines.join('\n'));
  const tFill = performance.now();
  for (let b = 0; b < batches; b++) {
    parser.parsePacket(packet, aggregator);
    aggregator.flush();
    batchTime += 1000;
    const families = takeMetricsSnapshot(aggregator, false, batchTime);
    const { resourceMetrics } = await producer.collect();
    await push.push({ batchId: `b${b}`, timeMs: batchTime, metrics: resourceMetrics, families, events: [] });
  }
  const fillS = (performance.now() - tFill) / 1000;
  const queued = push.views()[0].queue;
  if (process.env.BENCH_DEBUG) console.error(kind, JSON.stringify({ queued, enq: push.views()[0].stats.enqueued, dropped: [...push.views()[0].stats.dropped] }));
  const profile = process.env.BENCH_PROFILE ? await startProfile() : undefined;
  const recv = start(process.execPath, [join(benchDir, 'sink-receiver.mjs'), String(port)], { cpu: 0 });
  await waitLine(recv, (l) => l.includes('listening'), 10_000, 'receiver');
  // From the moment the backend is back (the shipper may still be in a 50 ms backoff) to an empty queue.
  const t0 = performance.now();
  while (push.views()[0].queue.records > 0) await new Promise((r) => setTimeout(r, 5));
  const replayS = (performance.now() - t0) / 1000;
  if (profile) await profile(`replay-${kind}.cpuprofile`);
  const { stats } = push.views()[0];
  await push.stop();
  recv.kill();
  rmSync(dir, { recursive: true, force: true });
  return {
    sink: kind,
    batches,
    seriesPerBatch: seriesCount,
    queuedRecords: queued.records,
    queuedMB: queued.bytes / 1e6,
    fillS,
    replayS,
    mbPerS: queued.bytes / 1e6 / replayS,
    requestsPerS: stats.sent / replayS,
    sent: stats.sent,
  };
}

const rows = [];
for (const kind of kinds) {
  if (kind !== 'otlp' && kind !== 'remote_write') fail(`unknown sink ${kind}`);
  rows.push(await runOne(kind));
}
console.log(`\nCommand: npm run bench -- --only replay --series ${seriesCount} --batches ${batches} --sinks ${kinds.join(',')}`);
console.log('Queue filled while the receiver is down, then drained into a local receiver (another process on CPU 0; this one on CPU 1); max_in_flight 1.\n');
console.log('| sink | batches | series/batch | queued requests | queued MB | replay s | MB/s | requests/s |');
console.log('|---|--:|--:|--:|--:|--:|--:|--:|');
for (const r of rows) {
  console.log(`| ${r.sink} | ${r.batches} | ${r.seriesPerBatch} | ${r.queuedRecords} | ${r.queuedMB.toFixed(1)} | ${r.replayS.toFixed(2)} | ${r.mbPerS.toFixed(1)} | ${r.requestsPerS.toFixed(0)} |`);
}
const worst = Math.min(...rows.map((r) => r.mbPerS));
console.log(`\nGoal (replay ≥ 50 MB/s to a local receiver): ${worst >= 50 ? 'met' : 'NOT met'} — slowest ${worst.toFixed(1)} MB/s`);
