// HTTP POST /v1/collect benchmark. See bench/README.md.
//
//   node bench/http-collect.mjs [--rate 10000] [--duration 10] [--connections 64]
//                               [--concurrency 64] [--warmup 1]
//
// The agent runs pinned to CPU 0; the load generator (bench/http-load.mjs) is a
// separate process pinned to CPU 1. Phase 1: open loop at --rate for
// --duration s (latency from each request's intended start). Phase 2: closed
// loop with --concurrency requests in flight for --duration s (max req/s).
// Afterwards feature_used_total{value="Export PDF"} on /metrics must equal the
// number of 202 answers from both phases (warm-up requests included).
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  benchDir, commandLine, cpuSeconds, fail, fmt, fmtInt, jsonLine, machineFacts, memory, pinSelf, scrape, settle,
  start, startAgent, stop, sum, waitLine, writeResult,
} from './lib.mjs';

const { values: o } = parseArgs({
  options: {
    rate: { type: 'string', default: '10000' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '64' },
    concurrency: { type: 'string', default: '64' },
    warmup: { type: 'string', default: '1' },
  },
});
const rate = Number(o.rate);
const duration = Number(o.duration);
if (!(rate > 0) || !(duration > 0)) fail('--rate and --duration must be positive');
const GOAL = { maxRps: 30000, p99Ms: 5, atRate: 10000 };

pinSelf();
const command = commandLine();
const agent = await startAgent([
  'statsd: { udp: { address: 127.0.0.1, port: 0 } }',
  'http: { address: 127.0.0.1, port: 0 }',
  'aggregation: { flush_interval: 10s }',
  'log: { level: info }',
]).catch((e) => fail(e.message));
const pid = agent.child.pid;
const results = [];
let exitCode = 0;
try {
  await settle(pid);
  const phases = [
    { name: `open loop, ${fmtInt(rate)} req/s`, args: ['--mode', 'open', '--rate', String(rate), '--connections', o.connections] },
    { name: `closed loop, ${o.concurrency} in flight`, args: ['--mode', 'closed', '--concurrency', o.concurrency] },
  ];
  for (const ph of phases) {
    const gen = start(
      process.execPath,
      [join(benchDir, 'http-load.mjs'), '--port', String(agent.ports.http), '--duration', String(duration), '--warmup', o.warmup, ...ph.args],
      { cpu: 1 },
    );
    // CPU is read over the whole generator run (warm-up included) and divided by its wall time.
    const c0 = cpuSeconds(pid);
    const t0 = performance.now();
    const r = await waitLine(gen, jsonLine((x) => x.mode), (duration + Number(o.warmup)) * 1000 + 60000, 'http-load');
    const wall = (performance.now() - t0) / 1000;
    r.agentCpuPct = ((cpuSeconds(pid) - c0) / wall) * 100;
    await stop(gen);
    r.phase = ph.name;
    results.push(r);
    await settle(pid);
  }
  const samples = await scrape(agent.ports.http);
  const counted = sum(samples, (s) => s.name === 'feature_used_total' && s.labels.value === 'Export PDF');
  const accepted202 = sum(samples, (s) => s.name === 'tally_http_collect_requests_total' && s.labels.code === '202');
  const mem = memory(pid);
  const sent202 = results.reduce((a, r) => a + (r.status['202'] ?? 0) + (r.warmup202 ?? 0), 0);

  const notes = [];
  // Warm-up requests are not in the generator's counts but are in the agent's.
  const check = { featureUsedTotal: counted, generator202MeasuredOnly: sent202, agentCollect202: accepted202 || null };
  for (const r of results) {
    const non202 = r.completed - (r.status['202'] ?? 0);
    r.non202 = non202;
    r.errorCount = Object.values(r.errors).reduce((a, b) => a + b, 0);
    if (r.mode === 'open' && r.issueLagMs && r.issueLagMs.p99 > 1)
      notes.push(`${r.phase}: the generator itself issued requests up to ${r.issueLagMs.max} ms late (p99 ${r.issueLagMs.p99} ms); that delay is included in the latency`);
    if (r.mode === 'open' && r.reqPerS < rate * 0.99) notes.push(`${r.phase}: only ${fmtInt(r.reqPerS)} req/s completed of ${fmtInt(rate)} offered`);
  }

  const table = [
    '| phase | offered req/s | completed req/s | 202 | non-202 | errors | p50 ms | p99 ms | p99.9 ms | max ms | agent CPU % |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...results.map(
      (r) =>
        `| ${r.phase} | ${r.mode === 'open' ? fmtInt(rate) : 'max'} | ${fmtInt(r.reqPerS)} | ${fmtInt(r.status['202'] ?? 0)} | ${fmtInt(r.non202)} | ${fmtInt(r.errorCount)} | ` +
        `${fmt(r.latencyMs.p50)} | ${fmt(r.latencyMs.p99)} | ${fmt(r.latencyMs.p999)} | ${fmt(r.latencyMs.max)} | ${fmt(r.agentCpuPct, 0)} |`,
    ),
  ];
  const open = results.find((r) => r.mode === 'open');
  const closed = results.find((r) => r.mode === 'closed');
  const total202IncludingWarmup = counted;
  const okCount = counted === sent202;
  const out = [
    `$ ${command}`,
    '',
    `Node.js ${process.version}, agent (POST /v1/collect, one JSON event per request, keep-alive) on CPU 0, generator (bench/http-load.mjs, separate process) on CPU 1; ${duration} s per phase after ${o.warmup} s warm-up.`,
    'Open-loop latency is measured from each request\'s scheduled start (no coordinated omission); closed-loop latency is per request.',
    '',
    ...table,
    '',
    `Check: feature_used_total{value="Export PDF"} = ${fmtInt(counted)}; 202 answers the generator received (warm-up included) = ${fmtInt(sent202)}: ` +
      `${okCount ? 'equal' : 'NOT equal'}.`,
    ...notes.map((n, i) => `[${i + 1}] ${n}`),
    `Goal (≥ ${fmtInt(GOAL.maxRps)} req/s; p99 ≤ ${GOAL.p99Ms} ms at ${fmtInt(GOAL.atRate)} req/s): ` +
      `throughput ${closed.reqPerS >= GOAL.maxRps ? 'met' : 'NOT met'} (${fmtInt(closed.reqPerS)} req/s), ` +
      (rate === GOAL.atRate ? `p99 ${open.latencyMs.p99 <= GOAL.p99Ms ? 'met' : 'NOT met'} (${fmt(open.latencyMs.p99)} ms)` : `p99 not judged (rate ${rate} ≠ ${GOAL.atRate})`),
  ];
  if (!okCount) exitCode = 1;
  console.log(out.join('\n'));
  const file = writeResult('http', { command, machine: machineFacts(), options: o, agent: { listening: agent.listening, memory: mem }, check, total202IncludingWarmup, results, notes });
  console.log(`\nResults: ${file}`);
} catch (err) {
  console.error('bench:', err.message, agent.child.stderrText.slice(-2000));
  exitCode = 1;
} finally {
  await stop(agent.child);
}
process.exit(exitCode);
