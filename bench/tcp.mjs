// TCP statsd ingest benchmark. See bench/README.md.
//
//   node bench/tcp.mjs [--rates 500000,1000000,2000000] [--duration 10] [--connections 4]
//                      [--series 1000] [--lines-per-write 100]
//
// Agent (statsd.tcp on) pinned to CPU 0; bench/bin/tcp-sender (C) pinned to
// CPU 1 writes newline-delimited lines at each rate over --connections
// connections. TCP does not drop: when the agent falls behind, the sender
// blocks, so the figure is the rate achieved (received metrics/s), not loss.
import { parseArgs } from 'node:util';
import {
  buildC, commandLine, cpuSeconds, fail, fmt, fmtInt, jsonLine, machineFacts, memory, pinSelf, scrape, settle, start,
  startAgent, stop, sum, waitLine, writeResult,
} from './lib.mjs';
import { setTimeout as sleep } from 'node:timers/promises';

const { values: o } = parseArgs({
  options: {
    rates: { type: 'string', default: '500000,1000000,2000000' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '4' },
    series: { type: 'string', default: '1000' },
    'lines-per-write': { type: 'string', default: '100' },
  },
});
const rates = o.rates.split(',').map(Number);
const duration = Number(o.duration);
if (!rates.every((r) => r > 0) || !(duration > 0)) fail('--rates and --duration must be positive');
pinSelf();
const command = commandLine();
const sender = buildC('tcp-sender');

const counts = async (port) => {
  const s = await scrape(port);
  return {
    metrics: sum(s, (x) => x.name === 'tally_metrics_received_total'),
    aggregated: sum(s, (x) => x.name === 'tally_metrics_aggregated_total'),
    counterTotal: sum(s, (x) => /^tallybench_hits_\d+_total$/.test(x.name)),
    series: sum(s, (x) => x.name === 'tally_series'),
    errors: sum(s, (x) => x.name === 'tally_parse_errors_total' || x.name === 'tally_metrics_dropped_total'),
  };
};

const runs = [];
for (const rate of rates) {
  process.stderr.write(`bench: tcp at ${fmtInt(rate)} metrics/s for ${duration} s ... `);
  const run = { rate, notes: [] };
  let agent;
  let snd;
  try {
    agent = await startAgent([
      'statsd: { udp: { address: 127.0.0.1, port: 0 }, tcp: { enabled: true, address: 127.0.0.1, port: 0 } }',
      'http: { address: 127.0.0.1, port: 0 }',
      'aggregation: { flush_interval: 10s }',
      'log: { level: info }',
    ]);
    const pid = agent.child.pid;
    await settle(pid);
    const before = await counts(agent.ports.http);
    snd = start(sender, ['127.0.0.1', String(agent.ports.tcp), String(rate), String(duration), o.connections, o.series, o['lines-per-write']], { cpu: 1 });
    await waitLine(snd, jsonLine((x) => x.event === 'start'), 10000, 'tcp-sender start');
    const c0 = cpuSeconds(pid);
    const t0 = performance.now();
    const res = await waitLine(snd, jsonLine((x) => x.event === 'done'), duration * 4000 + 30000, 'tcp-sender');
    const c1 = cpuSeconds(pid);
    const secs = (performance.now() - t0) / 1000;
    run.sender = res;
    // Lines still in socket buffers are not lost: read until the count stops moving.
    let after = await counts(agent.ports.http);
    const drain0 = Date.now();
    for (let stable = 0; stable < 2 && Date.now() - drain0 < 60000; ) {
      await sleep(300);
      const next = await counts(agent.ports.http);
      stable = next.metrics === after.metrics ? stable + 1 : 0;
      after = next;
    }
    run.received = after.metrics - before.metrics;
    run.aggregated = after.aggregated - before.aggregated;
    run.counterTotal = after.counterTotal - before.counterTotal;
    run.series = after.series;
    run.errors = after.errors - before.errors;
    run.receivedPerS = run.received / res.seconds;
    run.cpuPct = ((c1 - c0) / secs) * 100;
    run.memory = memory(pid);
    if (res.actual_metrics_per_s < rate * 0.99) run.notes.push(`sender reached only ${fmtInt(res.actual_metrics_per_s)} metrics/s (blocked by TCP backpressure: the agent was the limit)`);
    if (run.received !== res.metrics_sent) run.notes.push(`received ${fmtInt(run.received)} ≠ sent ${fmtInt(res.metrics_sent)}`);
    if (run.counterTotal !== res.counter_sum) run.notes.push(`counter totals ${fmtInt(run.counterTotal)} ≠ expected ${fmtInt(res.counter_sum)}`);
    if (run.errors) run.notes.push(`parse errors/drops: ${run.errors}`);
    if (res.write_errno) run.notes.push(`write failed, errno ${res.write_errno}`);
    process.stderr.write(`${fmtInt(run.receivedPerS)} metrics/s\n`);
  } catch (err) {
    run.error = err.message;
    process.stderr.write(`failed: ${err.message}\n`);
  } finally {
    if (snd) await stop(snd);
    if (agent) await stop(agent.child);
  }
  runs.push(run);
}

let n = 0;
const lines = [
  `$ ${command}`,
  '',
  `Node.js ${process.version}; agent (statsd.tcp) on CPU 0, bench/bin/tcp-sender on CPU 1, ${o.connections} connection(s), ` +
    `${o['lines-per-write']} lines per write, ${o.series} series (same line shapes as udp-sender); ${duration} s per rate.`,
  '',
  '| offered metrics/s | sent | received | achieved metrics/s | agent CPU % | RSS MiB (peak / end) | notes |',
  '|--:|--:|--:|--:|--:|--:|---|',
  ...runs.map((r) =>
    r.error
      ? `| ${fmtInt(r.rate)} | – | – | – | – | – | error: ${r.error} |`
      : `| ${fmtInt(r.rate)} | ${fmtInt(r.sender.metrics_sent)} | ${fmtInt(r.received)} | ${fmtInt(r.receivedPerS)} | ${fmt(r.cpuPct, 1)} | ` +
        `${fmt(r.memory.hwmMiB, 1)} / ${fmt(r.memory.rssMiB, 1)} | ${r.notes.length ? `[${(r.index = ++n)}]` : ''} |`,
  ),
  '',
  'achieved = received / sender wall time; TCP never drops, an agent that cannot keep up slows the sender instead.',
  ...runs.filter((r) => r.index).map((r) => `[${r.index}] ${r.notes.join('; ')}`),
];
console.log(lines.join('\n'));
const file = writeResult('tcp', { command, machine: machineFacts(), options: o, runs });
console.log(`\nResults: ${file}`);
process.exit(runs.some((r) => r.error) ? 1 : 0);
