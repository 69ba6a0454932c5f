// Cardinality benchmark (issue 13): one agent on CPU 0 holding N active
// series of mixed types (bench/bin/udp-sender, CPU 1), a real Prometheus
// scraping it, an OTLP sink and a remote-write sink receiving every flush.
// One table row per size. See bench/README.md.
//
//   npm run bench -- --only cardinality [--sizes 1000,10000,100000,1000000] [--duration 20]
//        [--rates 250000,500000,1000000,2000000,4000000] [--scrape-interval 15] [--flush-interval 10]
//        [--fresh-min 100000] [--rcvbuf 33554432] [--histograms classic|native]
//
// --histograms native: the agent keeps timers and histograms as native
// histograms too (http.native_histograms), Prometheus runs with
// --enable-feature=native-histograms and so scrapes the protobuf
// exposition, the remote-write sink sends native histograms and the OTLP
// sink exponential ones; a timer is then one series instead of 131.
//
// Per size: an idle agent's RSS; the N series created (the sender's ring at
// the lowest rate); RSS again; one /metrics scrape plain and one asking for
// gzip; the rate ladder (each rate for --duration s, and never less than a
// flush interval, so every rung holds a whole flush of the N series: at 1M
// series a flush keeps the core busy for seconds, and a shorter rung held or
// lost by where it fell; stopping at the first over 0.1 % loss); flush and
// encode times from the agent's own histograms over all of that; then, on a
// fresh agent per rate holding the same N series, a burst in which every
// line is a new series.
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  benchDir, buildC, coreTimes, cpuSeconds, fail, fmt, fmtInt, freePort, jsonLine, machineFacts, memory,
  pinSelf, settle, start, startAgent, stop, tmpDir, tuneRmemMax, udpSocketStats, waitLine, writeResult,
} from './lib.mjs';
import { parsePromText } from '../scripts/prom-text.mjs';
import { writeFileSync } from 'node:fs';

const { values: o } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000,100000,1000000' },
    duration: { type: 'string', default: '20' },
    rates: { type: 'string', default: '250000,500000,1000000,2000000,4000000' },
    'scrape-interval': { type: 'string', default: '15' },
    'flush-interval': { type: 'string', default: '10' },
    'fresh-min': { type: 'string', default: '100000' },
    rcvbuf: { type: 'string', default: '33554432' },
    histograms: { type: 'string', default: 'classic' },
  },
});
if (!['classic', 'native'].includes(o.histograms)) fail('--histograms is classic or native');
const native = o.histograms === 'native';
const PROTOBUF_ACCEPT = 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited';
const sizes = o.sizes.split(',').map(Number);
const rates = o.rates.split(',').map(Number).sort((a, b) => a - b);
const duration = Number(o.duration);
const scrapeInterval = Number(o['scrape-interval']);
const flushInterval = Number(o['flush-interval']);
const freshMin = Number(o['fresh-min']);
const rcvbuf = Number(o.rcvbuf);
if (!sizes.every((n) => n >= 10) || !rates.every((r) => r > 0) || !(duration > 0) || !(scrapeInterval > 0) || !(flushInterval > 0) || !(freshMin >= 0)) {
  fail('--sizes (≥ 10), --rates, --duration, --scrape-interval, --flush-interval and --fresh-min must be positive numbers');
}
const MAX_LOSS_PCT = 0.1;
/** Seconds a rung of the ladder runs: a rung shorter than a flush interval may miss the flush, or not. */
const rungSeconds = Math.max(duration, flushInterval);
const MPP = 10;
// Goals from issue 13, judged on the row they name.
const GOALS = { 1_000_000: { rate: 1_000_000 }, 100_000: { rate: 2_000_000 } };

try {
  execFileSync('prometheus', ['--version'], { stdio: 'ignore' });
} catch {
  fail('prometheus is not on PATH (a real Prometheus scrapes the agent during the run)');
}
pinSelf();
const rmem = tuneRmemMax(rcvbuf);
const senderBin = buildC('udp-sender');
const command =
  `npm run bench -- --only cardinality --sizes ${sizes.join(',')} --duration ${duration} --rates ${rates.join(',')} ` +
  `--scrape-interval ${scrapeInterval} --flush-interval ${flushInterval} --fresh-min ${freshMin} --rcvbuf ${rcvbuf} --histograms ${o.histograms}`;

// ---------------------------------------------------------------- HTTP

/** GET that never holds the body: times it to the last byte, counts bytes (and lines), hands chunks to onChunk. */
function get(port, path, headers = {}, { onChunk, countLines = false, timeoutMs = 300_000 } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get({ host: '127.0.0.1', port, path, headers, timeout: timeoutMs }, (res) => {
      let bytes = 0;
      let lines = 0;
      res.on('data', (c) => {
        bytes += c.length;
        if (countLines) for (let i = c.indexOf(10); i !== -1; i = c.indexOf(10, i + 1)) lines++;
        onChunk?.(c);
      });
      res.on('end', () => resolve({ status: res.statusCode, encoding: res.headers['content-encoding'] ?? null, bytes, lines, seconds: (performance.now() - t0) / 1000 }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/**
 * The agent's own metrics. The whole exposition is read (there is no filter)
 * but only tally_* and process_* lines are kept: at 1M series the body is
 * gigabytes of text.
 */
async function selfMetrics(port) {
  const kept = [];
  let tail = '';
  await get(port, '/metrics', {}, {
    onChunk: (c) => {
      const parts = (tail + c.toString('latin1')).split('\n');
      tail = parts.pop();
      for (const l of parts) if (l.startsWith('tally_') || l.startsWith('process_')) kept.push(l);
    },
  });
  const { samples } = parsePromText(kept.join('\n'));
  const one = (name, labels = {}) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
  const hist = (name, labels = {}) => ({
    sum: one(`${name}_sum`, labels),
    count: one(`${name}_count`, labels),
    buckets: samples.filter((s) => s.name === `${name}_bucket` && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).map((s) => [Number(s.labels.le), s.value]),
  });
  return {
    received: one('tally_metrics_received_total'),
    series: one('tally_series'),
    seriesDropped: one('tally_series_dropped_total'),
    kernelDrops: one('tally_packets_dropped_total', { listener: 'udp' }),
    block: one('tally_event_loop_block_max_seconds'),
    flush: hist('tally_flush_duration_seconds'),
    encode: { otlp: hist('tally_sink_encode_duration_seconds', { sink: 'otlp' }), remote_write: hist('tally_sink_encode_duration_seconds', { sink: 'remote_write' }) },
    sinkSent: { otlp: one('tally_sink_sent_total', { sink: 'otlp' }), remote_write: one('tally_sink_sent_total', { sink: 'remote_write' }) },
  };
}

/** The agent's metrics once a flush after `before` has run and both sinks delivered one; noted in the row if that takes too long. */
async function flushedSince(port, before, row) {
  const deadline = Date.now() + (2 * flushInterval + 120) * 1000;
  for (;;) {
    const now = await selfMetrics(port);
    const sent = now.sinkSent.otlp > before.sinkSent.otlp && now.sinkSent.remote_write > before.sinkSent.remote_write;
    if (now.flush.count > before.flush.count && sent) return now;
    if (Date.now() > deadline) {
      row.notes.push('RSS per series read before both sinks had delivered a flush of the series');
      return now;
    }
    await sleep(2000);
  }
}

/** Mean over the interval between two readings of a histogram, and the bucket bound the longest one is under. */
function histDelta(a, b) {
  const count = b.count - a.count;
  if (count <= 0) return null;
  const before = new Map(a.buckets);
  const le = b.buckets.sort((x, y) => x[0] - y[0]).find(([bound, n]) => n - (before.get(bound) ?? 0) >= count)?.[0];
  return { count, mean: (b.sum - a.sum) / count, maxUnder: le };
}

// ---------------------------------------------------------------- processes

async function startSinkReceiver() {
  const child = start(process.execPath, [join(benchDir, 'sink-receiver.mjs'), '0'], { cpu: 1 });
  const { port } = await waitLine(child, jsonLine((x) => x.event === 'listening'), 10_000, 'sink receiver');
  return {
    child,
    port,
    /** Requests and bytes taken so far; it prints them on SIGUSR2. */
    counts() {
      return new Promise((resolve) => {
        const onLine = (line) => {
          const c = jsonLine((x) => x.event === 'counts')(line);
          if (!c) return;
          child.off('line', onLine);
          resolve(c);
        };
        child.on('line', onLine);
        child.kill('SIGUSR2');
      });
    },
  };
}

async function startPrometheus(agentPort) {
  const port = await freePort('tcp');
  const dir = tmpDir();
  const cfg = join(dir, 'prometheus.yml');
  writeFileSync(
    cfg,
    [
      `global: { scrape_interval: ${scrapeInterval}s, scrape_timeout: ${Math.min(10, scrapeInterval)}s }`,
      'scrape_configs:',
      `  - { job_name: tally, static_configs: [ { targets: ['127.0.0.1:${agentPort}'] } ] }`,
      '',
    ].join('\n'),
  );
  const child = start(
    'prometheus',
    [
      `--config.file=${cfg}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=warn',
      ...(native ? ['--enable-feature=native-histograms'] : []),
    ],
    { cpu: 1 },
  );
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/-/ready`)).ok) break;
    } catch {}
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`prometheus did not become ready: ${child.stderrText.slice(-1000)}`);
    await sleep(200);
  }
  return {
    child,
    async query(expr) {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = await res.json();
      const v = body.data?.result?.[0]?.value?.[1];
      return v === undefined ? null : Number(v);
    },
  };
}

async function startTally(size, sinkPort) {
  // Room for the N series, a fresh burst as large again, and the agent's own.
  const limit = 2 * Math.max(size, freshMin) + 10_000;
  const dir = tmpDir();
  return startAgent([
    `statsd: { udp: { address: 127.0.0.1, port: 0, receive_buffer_bytes: ${rcvbuf} } }`,
    `http: { address: 127.0.0.1, port: 0, collect: { enabled: false }, native_histograms: ${native} }`,
    `aggregation: { flush_interval: ${flushInterval}s }`,
    `limits: { max_series: ${limit}, max_series_per_metric: ${limit} }`,
    `spool: { dir: ${join(dir, 'spool')} }`,
    'sinks:',
    `  - { name: otlp, type: otlp, endpoint: "http://127.0.0.1:${sinkPort}", histograms: ${native ? 'exponential' : 'explicit'} }`,
    `  - { name: remote_write, type: prometheus_remote_write, endpoint: "http://127.0.0.1:${sinkPort}/api/v1/write", histograms: ${o.histograms} }`,
    'log: { level: info }',
  ]);
}

/** Waits until the agent has read everything the kernel queued for it. */
async function drain(udpPort) {
  const t0 = Date.now();
  for (let empty = 0; empty < 2 && Date.now() - t0 < 120_000; ) {
    await sleep(100);
    empty = udpSocketStats(udpPort).rxQueueBytes === 0 ? empty + 1 : 0;
  }
}

/**
 * One sender run against the agent, loss judged by the agent's own count of
 * lines received against the lines the kernel took from the sender.
 */
async function offer(agent, { rate, seconds, series, mode, before }) {
  const pid = agent.child.pid;
  const sock0 = udpSocketStats(agent.ports.udp);
  const snd = start(senderBin, ['127.0.0.1', String(agent.ports.udp), String(rate), String(seconds), String(MPP), String(series), '32', mode], { cpu: 1 });
  await waitLine(snd, jsonLine((x) => x.event === 'start'), 30_000, 'udp-sender start');
  const c0 = cpuSeconds(pid);
  const core0 = coreTimes(0);
  const t0 = performance.now();
  const res = await waitLine(snd, jsonLine((x) => x.event === 'done'), seconds * 2000 + 60_000, 'udp-sender');
  const wall = (performance.now() - t0) / 1000;
  const cpuPct = ((cpuSeconds(pid) - c0) / wall) * 100;
  const core1 = coreTimes(0);
  await stop(snd);
  await drain(agent.ports.udp);
  const after = await selfMetrics(agent.ports.http);
  const received = after.received - before.received;
  const run = {
    rate,
    mode,
    sender: res,
    received,
    lossPct: (1 - received / res.metrics_sent) * 100,
    kernelDrops: udpSocketStats(agent.ports.udp).drops - sock0.drops,
    cpuPct,
    core0BusyPct: ((core1.busy - core0.busy) / (core1.total - core0.total || 1)) * 100,
    seriesAfter: after.series,
    notes: [],
  };
  if (res.actual_metrics_per_s < rate * 0.99) run.notes.push(`sender reached ${fmtInt(res.actual_metrics_per_s)}/s`);
  if (res.packets_failed) run.notes.push(`${fmtInt(res.packets_failed)} sends failed`);
  if (run.core0BusyPct - cpuPct > 10) run.notes.push(`CPU 0 ${fmt(run.core0BusyPct, 0)} % busy, agent ${fmt(cpuPct, 0)} %: shared machine`);
  const lostPackets = res.packets_sent - received / MPP;
  if (Math.abs(lostPackets - run.kernelDrops) > 0.5) run.notes.push(`sent − received = ${fmtInt(lostPackets)} packets, kernel drops ${fmtInt(run.kernelDrops)}`);
  return { run, after };
}

// ---------------------------------------------------------------- one size

async function measureSize(size) {
  const row = { size, notes: [], blocks: [], ladder: [], fresh: [] };
  const sinks = await startSinkReceiver();
  let agent;
  let prom;
  try {
    agent = await startTally(size, sinks.port);
    const pid = agent.child.pid;
    await settle(pid);
    let m = await selfMetrics(agent.ports.http);
    // "Idle" is an agent that has already taken traffic for 10 series, so
    // the receive path's buffers and compiled code are not billed to the series.
    m = (await offer(agent, { rate: rates[0], seconds: 1, series: 10, mode: 'ring', before: m })).after;
    await settle(pid);
    row.idleRssMiB = memory(pid).rssMiB;
    prom = await startPrometheus(agent.ports.http);
    const t0 = Date.now();
    const block = (phase, m) => row.blocks.push({ phase, seconds: m.block });
    const start0 = m;

    // Every series shows up once per pass of the sender's ring, which takes about `size` lines.
    const popRate = rates[0];
    const popSeconds = Math.max(2, Math.ceil((2 * size) / popRate));
    process.stderr.write(`bench: ${fmtInt(size)} series: creating them (${fmtInt(popRate)}/s for ${popSeconds} s) ... `);
    let r = await offer(agent, { rate: popRate, seconds: popSeconds, series: size, mode: 'ring', before: m });
    m = r.after;
    row.populate = r.run;
    block('create', m);
    if (m.series !== r.run.sender.series_in_ring) row.notes.push(`tally_series = ${fmtInt(m.series)} after creating ${fmtInt(r.run.sender.series_in_ring)}`);
    // Read once a flush of the series has run and both sinks took it: what a flush needs stays in the process, and a
    // reading before the first flush came out hundreds of bytes a series lower than one after it.
    m = await flushedSince(agent.ports.http, m, row);
    await settle(pid);
    row.rssMiB = memory(pid).rssMiB;
    row.rssPerSeriesBytes = ((row.rssMiB - row.idleRssMiB) * 1048576) / size;

    // The ladder runs while Prometheus scrapes: wait for its first scrape of the N series.
    const scrapeDeadline = Date.now() + (scrapeInterval + 15) * 1000;
    while ((await prom.query('up{job="tally"}')) === null && Date.now() < scrapeDeadline) await sleep(500);
    process.stderr.write('scrapes ... ');
    row.scrapePlain = await get(agent.ports.http, '/metrics', {}, { countLines: true });
    row.scrapeGzip = await get(agent.ports.http, '/metrics', { 'accept-encoding': 'gzip' });
    // What Prometheus with native histograms on fetches.
    if (native) row.scrapeProtobuf = await get(agent.ports.http, '/metrics', { accept: PROTOBUF_ACCEPT, 'accept-encoding': 'gzip' });
    m = await selfMetrics(agent.ports.http);
    block('scrape', m);

    for (const rate of rates) {
      process.stderr.write(`${fmtInt(rate)}/s ... `);
      r = await offer(agent, { rate, seconds: rungSeconds, series: size, mode: 'ring', before: m });
      m = r.after;
      row.ladder.push(r.run);
      block(`${fmtInt(rate)}/s`, m);
      process.stderr.write(`loss ${fmt(r.run.lossPct, 3)} %; `);
      if (!(r.run.lossPct <= MAX_LOSS_PCT)) break;
    }
    row.held = row.ladder.filter((x) => x.lossPct <= MAX_LOSS_PCT).at(-1)?.rate ?? null;
    row.flush = histDelta(start0.flush, m.flush);
    row.encode = { otlp: histDelta(start0.encode.otlp, m.encode.otlp), remote_write: histDelta(start0.encode.remote_write, m.encode.remote_write) };
    row.sinkSent = m.sinkSent;
    row.sinkReceiver = await sinks.counts();
    const span = `${Math.ceil((Date.now() - t0) / 1000)}s`;
    row.prometheus = {
      scrapes: await prom.query(`count_over_time(up{job="tally"}[${span}])`),
      upMin: await prom.query(`min_over_time(up{job="tally"}[${span}])`),
      longestScrapeSeconds: await prom.query(`max_over_time(scrape_duration_seconds{job="tally"}[${span}])`),
      samplesScraped: await prom.query(`scrape_samples_scraped{job="tally"}`),
    };
    if (!row.prometheus.scrapes) row.notes.push('Prometheus did not scrape during the row (make the row longer than --scrape-interval)');
    if (!row.flush) row.notes.push('no flush during the row');
  } catch (err) {
    // A row that fails says how the agent was then: a scrape cut off by an agent that died reads only "aborted".
    const c = agent?.child;
    const ended = c === undefined ? 'agent not started' : c.exitCode !== null || c.signalCode !== null ? `agent exited (${c.exitCode ?? c.signalCode})` : 'agent running';
    const last = c?.stderrText.trim().split('\n').slice(-3).join(' / ');
    throw new Error(`${err.message}; ${ended}${last ? `; its stderr ends: ${last}` : ''}`, { cause: err });
  } finally {
    if (prom) await stop(prom.child);
    if (agent) await stop(agent.child);
  }

  // A fresh agent per rate, so each burst meets exactly N existing series.
  const lines = Math.max(size, freshMin);
  for (const rate of rates) {
    process.stderr.write(`new series ${fmtInt(rate)}/s ... `);
    let a;
    try {
      a = await startTally(size, sinks.port);
      await settle(a.child.pid);
      let m = await selfMetrics(a.ports.http);
      const pop = await offer(a, { rate: rates[0], seconds: Math.max(2, Math.ceil((2 * size) / rates[0])), series: size, mode: 'ring', before: m });
      m = pop.after;
      await settle(a.child.pid);
      const { run, after } = await offer(a, { rate, seconds: lines / rate, series: size, mode: 'fresh', before: m });
      run.created = after.series - m.series;
      run.seriesDropped = after.seriesDropped - m.seriesDropped;
      run.burstSeconds = run.sender.seconds;
      row.fresh.push(run);
      row.blocks.push({ phase: `new series ${fmtInt(rate)}/s`, seconds: after.block });
      process.stderr.write(`loss ${fmt(run.lossPct, 3)} %; `);
      if (!(run.lossPct <= MAX_LOSS_PCT && run.created === run.received)) break;
    } finally {
      if (a) await stop(a.child);
    }
  }
  await stop(sinks.child);
  const ok = row.fresh.filter((x) => x.lossPct <= MAX_LOSS_PCT && x.created === x.received).at(-1);
  row.freshHeld = ok ? { rate: ok.rate, lines: ok.sender.metrics_sent, seconds: ok.burstSeconds } : null;
  const worst = row.blocks.reduce((a, b) => (b.seconds > (a?.seconds ?? -1) ? b : a), null);
  row.longestBlock = worst;
  process.stderr.write('done\n');
  return row;
}

// ---------------------------------------------------------------- output

const ms = (s) => (s == null ? '–' : s >= 1 ? `${fmt(s, 2)} s` : `${fmt(s * 1000, s < 0.01 ? 2 : 0)} ms`);
const mb = (b) => `${fmt(b / 1e6, b < 1e7 ? 2 : 0)} MB`;
const hcell = (h) => (h == null ? '–' : `${ms(h.mean)} mean, ${h.count} × (${h.maxUnder === Infinity ? '> 10 s' : `≤ ${ms(h.maxUnder)}`})`);

function table(rows) {
  const out = [
    '| series | held metrics/s (loss ≤ 0.1 %) | RSS per series | /metrics plain | /metrics gzip | /metrics protobuf, gzip | flush | OTLP encode | remote-write encode | longest event-loop block | new series/s | Prometheus scrapes | notes |',
    '|--:|--:|--:|---|---|---|---|---|---|---|---|---|---|',
  ];
  let n = 0;
  for (const r of rows) {
    if (r.error) {
      out.push(`| ${fmtInt(r.size)} | error: ${r.error.split('\n')[0].replaceAll('|', '\\|')} | | | | | | | | | | | |`);
      continue;
    }
    const ladderNotes = r.ladder.flatMap((x) => x.notes.map((t) => `${fmtInt(x.rate)}/s: ${t}`));
    const freshNotes = r.fresh.flatMap((x) => [
      ...x.notes.map((t) => `new series ${fmtInt(x.rate)}/s: ${t}`),
      ...(x.created !== x.received ? [`new series ${fmtInt(x.rate)}/s: ${fmtInt(x.created)} created of ${fmtInt(x.received)} lines received (${fmtInt(x.seriesDropped)} refused by limits)`] : []),
    ]);
    const notes = [...r.notes, ...(r.populate?.notes ?? []).map((t) => `creating: ${t}`), ...ladderNotes, ...freshNotes];
    const mark = notes.length ? `[${(r.index = ++n)}]` : '';
    r.allNotes = notes;
    const top = r.ladder.at(-1);
    const held = r.held == null ? `none (${fmtInt(r.ladder[0]?.rate)}/s lost ${fmt(r.ladder[0]?.lossPct, 3)} %)` : fmtInt(r.held) + (top && top.rate !== r.held ? ` (${fmtInt(top.rate)}/s lost ${fmt(top.lossPct, 3)} %)` : ' (top of the ladder)');
    const p = r.scrapePlain;
    const g = r.scrapeGzip;
    const gz = g.encoding === 'gzip' ? `${ms(g.seconds)}, ${mb(g.bytes)}` : `not gzipped: the agent ignores Accept-Encoding (${ms(g.seconds)}, ${mb(g.bytes)})`;
    const fr = r.freshHeld
      ? `${fmtInt(r.freshHeld.rate)} (${fmtInt(r.freshHeld.lines)} new in ${ms(r.freshHeld.seconds)})`
      : `none (${fmtInt(r.fresh[0]?.rate)}/s lost ${fmt(r.fresh[0]?.lossPct, 3)} %)`;
    const pr = r.prometheus;
    const pb = r.scrapeProtobuf === undefined ? '–' : `${ms(r.scrapeProtobuf.seconds)}, ${mb(r.scrapeProtobuf.bytes)}`;
    out.push(
      `| ${fmtInt(r.size)} | ${held} | ${fmtInt(r.rssPerSeriesBytes)} B | ${ms(p.seconds)}, ${mb(p.bytes)}, ${fmtInt(p.lines)} lines | ${gz} | ${pb} | ${hcell(r.flush)} | ${hcell(r.encode.otlp)} | ${hcell(r.encode.remote_write)} | ` +
        `${ms(r.longestBlock?.seconds)} (${r.longestBlock?.phase}) | ${fr} | ${fmtInt(pr.scrapes)}, up min ${pr.upMin ?? '–'}, longest ${ms(pr.longestScrapeSeconds)} | ${mark} |`,
    );
  }
  return out.join('\n');
}

const rows = [];
for (const size of sizes) {
  try {
    rows.push(await measureSize(size));
  } catch (err) {
    process.stderr.write(`failed: ${err.message}\n`);
    rows.push({ size, error: err.message });
  }
}
const tbl = table(rows);
const out = [
  '',
  `$ ${command}`,
  '',
  `Node.js ${process.version}, nproc ${machineFacts().nproc}; agent on CPU 0; udp-sender, Prometheus (scrape every ${scrapeInterval} s), the sink receiver ` +
    `(OTLP and remote write, every ${flushInterval} s flush) and this harness on CPU 1; ${native ? 'native histograms (scraped as protobuf, remote write native, OTLP exponential)' : 'classic histograms'}; ${MPP} lines per datagram, counters/gauges/timers/histograms/sets ` +
    `4:2:2:1:1 with DogStatsD tags; ${rungSeconds} s per rate (--duration, at least one flush interval); net.core.rmem_max ${rmem.after}${rmem.note ? ` (${rmem.note})` : ''}.`,
  '',
  tbl,
  '',
  'held: highest rate of the ladder with loss ≤ 0.1 % (the ladder stops at the first rate over it). RSS per series: (RSS once the series exist and a flush of them reached both sinks − RSS of the idle agent) / series. ' +
    '/metrics: one scrape each after the series exist, time to the last byte. flush, encode: tally_flush_duration_seconds and tally_sink_encode_duration_seconds over the row (mean, count, bucket of the longest). ' +
    'longest block: tally_event_loop_block_max_seconds, the highest read after each phase. new series/s: highest rate at which a burst of max(series, --fresh-min) lines, every one a new series, ' +
    'was taken with loss ≤ 0.1 % and every series created, on an agent already holding the row\'s series. Prometheus: scrapes of the agent during the row, lowest `up`, longest scrape_duration_seconds.',
  ...rows.filter((r) => r.index).map((r) => `[${r.index}] ${r.allNotes.join('; ')}`),
];
for (const [size, goal] of Object.entries(GOALS)) {
  const r = rows.find((x) => x.size === Number(size) && !x.error);
  if (!r) continue;
  out.push(
    `Goal at ${fmtInt(Number(size))} series (≥ ${fmtInt(goal.rate)} metrics/s at loss ≤ 0.1 %, RSS ≤ 512 B/series, no block over 50 ms, ≥ 500,000 new series/s): ` +
      [
        `ingest ${r.held >= goal.rate ? 'met' : 'NOT met'}`,
        `RSS ${r.rssPerSeriesBytes <= 512 ? 'met' : 'NOT met'}`,
        `blocks ${r.longestBlock?.seconds <= 0.05 ? 'met' : 'NOT met'}`,
        `new series ${r.freshHeld?.rate >= 500_000 ? 'met' : 'NOT met'}`,
      ].join(', '),
  );
}
console.log(out.join('\n'));
const file = writeResult('cardinality', { command, machine: machineFacts(), tuning: rmem, options: o, rows });
console.log(`\nResults: ${file}`);
process.exit(rows.some((r) => r.error) ? 1 : 0);
