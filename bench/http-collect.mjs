// HTTP POST /v1/collect benchmark. See bench/README.md.
//
//   node bench/http-collect.mjs [--rate 10000] [--duration 5] [--warmup 1] [--repeat 3]
//                               [--connections 64] [--concurrency 64] [--variants 8]
//                               [--targets bare,tally,tally-memory] [--quiet-timeout 60] [--retries 1]
//   (or: npm run bench -- --only http [same flags])
//
// Each target (a bare node:http server, bench/bare-http.mjs; the agent on its
// defaults; the agent with http.collect.durable off, so a 202 means
// aggregated in memory without the journal's fsync) runs pinned to CPU 0; the load comes from bench/bin/http-load (C, epoll,
// built from bench/http-load.c), a separate process pinned to CPU 1, as is
// this harness. Per target and repeat: open loop at --rate over --connections
// keep-alive connections (latency from each request's intended send time),
// then closed loop over --concurrency connections (max req/s). Afterwards the
// agent's feature_used_total (all values) and its 202 count must equal the
// 202 answers the generator received, warm-up included.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  benchDir, buildC, commandLine, cpuSeconds, fail, fmt, fmtInt, jsonLine, machineFacts, memory, nproc, pinSelf, scrape,
  settle, start, startAgent, stop, sum, waitLine, writeResult,
} from './lib.mjs';

const { values: o } = parseArgs({
  options: {
    rate: { type: 'string', default: '10000' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    repeat: { type: 'string', default: '3' },
    connections: { type: 'string', default: '64' },
    concurrency: { type: 'string', default: '64' },
    variants: { type: 'string', default: '8' },
    targets: { type: 'string', default: 'bare,tally,tally-memory' },
    'quiet-timeout': { type: 'string', default: '60' },
    retries: { type: 'string', default: '1' },
  },
});
const rate = Number(o.rate);
const duration = Number(o.duration);
const warmup = Number(o.warmup);
const repeat = Number(o.repeat);
const targets = o.targets.split(',').map((s) => s.trim());
if (!(rate > 0) || !(duration > 0) || !(warmup >= 0) || !(repeat >= 1)) fail('--rate, --duration and --repeat must be positive, --warmup ≥ 0');
const quietTimeoutS = Number(o['quiet-timeout']);
const retries = Number(o.retries);
const LABEL = { bare: 'bare node:http', tally: 'tally-agent', 'tally-memory': 'tally-agent, durable off' };
for (const t of targets) if (!LABEL[t]) fail(`unknown target "${t}" (use ${Object.keys(LABEL).join(',')})`);
const GOAL = { maxRps: 30000, p99Ms: 5, atRate: 10000 };
const AGENT_CONFIG = [
  'statsd: { udp: { address: 127.0.0.1, port: 0 } }',
  'http: { address: 127.0.0.1, port: 0 }',
  'aggregation: { flush_interval: 10s }',
  'log: { level: info }',
];

pinSelf();
const command = commandLine();
const generator = buildC('http-load');

/** Busy and total jiffies of one CPU, from /proc/stat. */
function coreTimes(cpu) {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `));
  if (line === undefined) return { busy: 0, total: 1 };
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return { busy: user + nice + system + irq + softirq, steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
}
const busyPct = (a, b) => ((b.busy - a.busy) / (b.total - a.total || 1)) * 100;
const stealPct = (a, b) => ((b.steal - a.steal) / (b.total - a.total || 1)) * 100;

/** Whole-machine busy % over one second, from /proc/stat. */
async function machineBusyPct() {
  const all = () => {
    const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { busy: user + nice + system + irq + softirq + steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
  };
  const a = all();
  await new Promise((r) => setTimeout(r, 1000));
  return busyPct(a, all());
}

/**
 * Other work on this 2-CPU machine takes cycles from the server's core or the
 * generator's and shows up as latency that is not the server's: waits (up to
 * --quiet-timeout s) until both cores are nearly idle. Returns a note when
 * they never were.
 */
async function waitQuiet() {
  const deadline = Date.now() + quietTimeoutS * 1000;
  let busy;
  while ((busy = await machineBusyPct()) > 10) {
    if (Date.now() > deadline) return `machine ${fmt(busy, 0)} % busy before the run (other processes)`;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return undefined;
}

async function startTarget(target) {
  if (target !== 'bare') {
    const extra = target === 'tally-memory' ? ['http: { address: 127.0.0.1, port: 0, collect: { durable: false } }'] : [];
    const cfg = [...AGENT_CONFIG.filter((l) => !(extra.length && l.startsWith('http:'))), ...extra];
    const agent = await startAgent(cfg);
    return { child: agent.child, port: agent.ports.http, info: agent.listening };
  }
  const child = start(process.execPath, [join(benchDir, 'bare-http.mjs')], { cpu: 0 });
  const ready = await waitLine(child, jsonLine((x) => x.event === 'listening'), 10000, 'bare-http');
  return { child, port: Number(ready.http.split(':').pop()), info: ready };
}

/** One generator run against `port`; the server's CPU is read over the measured phase only. */
async function runLoad(pid, port, mode) {
  const before = await waitQuiet();
  const args = ['--port', String(port), '--mode', mode, '--duration', String(duration), '--warmup', String(warmup), '--variants', o.variants];
  args.push(...(mode === 'open' ? ['--rate', String(rate), '--connections', o.connections] : ['--connections', o.concurrency]));
  const gen = start(generator, args, { cpu: 1 });
  try {
    await waitLine(gen, jsonLine((x) => x.event === 'measuring'), (warmup + 30) * 1000, 'http-load');
    const c0 = cpuSeconds(pid);
    const k0 = [coreTimes(0), coreTimes(1)];
    const t0 = performance.now();
    const r = await waitLine(gen, jsonLine((x) => x.mode !== undefined), (duration + 60) * 1000, 'http-load');
    const wall = (performance.now() - t0) / 1000;
    const k1 = [coreTimes(0), coreTimes(1)];
    r.serverCpuPct = ((cpuSeconds(pid) - c0) / wall) * 100;
    r.core0BusyPct = busyPct(k0[0], k1[0]);
    r.core1BusyPct = busyPct(k0[1], k1[1]);
    r.stealPct = [stealPct(k0[0], k1[0]), stealPct(k0[1], k1[1])];
    r.notQuietBefore = before;
    r.non202 = Object.entries(r.status).reduce((a, [k, v]) => a + (k === '202' ? 0 : v), 0);
    r.errorCount = Object.values(r.errors).reduce((a, b) => a + b, 0);
    return r;
  } finally {
    await stop(gen);
  }
}

/** Other work shared a core, or the generator itself fell behind its schedule. */
function disturbed(r) {
  return r.core0BusyPct - r.serverCpuPct > 15 || r.notQuietBefore !== undefined || (r.mode === 'open' && r.issueLagMs.p99 > 0.5);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const runs = [];
const checks = [];
const notes = [];
let exitCode = 0;
for (const target of targets) {
  process.stderr.write(`bench: ${LABEL[target]} `);
  let server;
  try {
    server = await startTarget(target);
  } catch (e) {
    notes.push(`${LABEL[target]} not run: ${e.message.split('\n')[0]}`);
    process.stderr.write('not run\n');
    exitCode = 1;
    continue;
  }
  const pid = server.child.pid;
  const mine = [];
  try {
    await settle(pid);
    for (let rep = 1; rep <= repeat; rep++) {
      for (const mode of ['open', 'closed']) {
        let r = await runLoad(pid, server.port, mode);
        // A run that other work cut into says little about the server: repeat it, keeping the discarded one.
        const discarded = [];
        while (disturbed(r) && discarded.length < retries) {
          discarded.push(r);
          await settle(pid);
          r = await runLoad(pid, server.port, mode);
        }
        r.discarded = discarded;
        Object.assign(r, { target, rep });
        mine.push(r);
        process.stderr.write(`${mode} ${fmtInt(r.reqPerS)}/s p99 ${fmt(r.latencyMs.p99)} ms; `);
        await settle(pid);
      }
    }
    const all = mine.flatMap((r) => [r, ...r.discarded]);
    const got202 = all.reduce((a, r) => a + (r.status['202'] ?? 0) + r.warmup202, 0);
    if (target !== 'bare') {
      const samples = await scrape(server.port);
      const counted = sum(samples, (s) => s.name === 'feature_used_total');
      const agent202 = sum(samples, (s) => s.name === 'tally_http_requests_total' && s.labels.code === '202');
      const ok = counted === got202 && agent202 === got202;
      checks.push(
        `${LABEL[target]}: feature_used_total (all values) = ${fmtInt(counted)}, tally_http_requests_total{code="202"} = ${fmtInt(agent202)}, ` +
          `202s the generator received (warm-up included) = ${fmtInt(got202)}: ${ok ? 'equal' : 'NOT equal'}`,
      );
      if (!ok) exitCode = 1;
    }
    const mem = memory(pid);
    const exit = await stop(server.child);
    if (target === 'bare') {
      const fin = server.child.lines.map(jsonLine((x) => x.event === 'final')).find(Boolean);
      // The bare server answers every request it reads, so both counts must agree.
      if (fin && fin.requests !== got202) {
        checks.push(`${LABEL[target]}: answered ${fmtInt(fin.requests)} requests, generator received ${fmtInt(got202)} 202s: NOT equal`);
        exitCode = 1;
      }
    }
    for (const r of mine) r.memory = mem;
    if (exit.signal === 'unkillable') notes.push(`${LABEL[target]} did not exit after SIGKILL`);
  } catch (err) {
    console.error(`bench: ${LABEL[target]}:`, err.message, server.child.stderrText.slice(-2000));
    exitCode = 1;
    await stop(server.child);
  }
  runs.push(...mine);
  process.stderr.write('\n');
}

// Notes that make a doubtful row visible rather than quietly tabulated.
for (const r of runs) {
  const n = [];
  if (r.mode === 'open' && r.issueLagMs.p999 > 1) n.push(`generator issued requests late: p99.9 ${fmt(r.issueLagMs.p999)} ms, max ${fmt(r.issueLagMs.max)} ms (included in the latency)`);
  if (r.mode === 'open' && r.reqPerS < rate * 0.99) n.push(`only ${fmtInt(r.reqPerS)} req/s completed of ${fmtInt(rate)} offered`);
  if (r.non202 || r.errorCount) n.push(`non-202: ${JSON.stringify(r.status)}, errors: ${JSON.stringify(r.errors)}`);
  if (r.core0BusyPct - r.serverCpuPct > 15) n.push(`CPU 0 was ${fmt(r.core0BusyPct, 0)} % busy, the server used ${fmt(r.serverCpuPct, 0)} %: other work shared its core`);
  if (r.notQuietBefore) n.push(r.notQuietBefore);
  if (r.discarded.length) n.push(`repeated: ${r.discarded.length} earlier attempt(s) disturbed by other work (kept in the JSON)`);
  if (Math.max(...r.stealPct) > 5) n.push(`hypervisor steal ${r.stealPct.map((s) => fmt(s, 0)).join(' / ')} % on CPU 0 / 1`);
  if (n.length) {
    notes.push(`${LABEL[r.target]} ${r.mode} #${r.rep}: ${n.join('; ')}`);
    r.note = notes.length;
  }
}

const row = (r) =>
  `| ${LABEL[r.target]} | ${r.mode === 'open' ? `open, ${r.connections} conns` : `closed, ${r.connections} conns`} | ${r.rep}${r.note ? ` [${r.note}]` : ''} | ` +
  `${r.mode === 'open' ? fmtInt(rate) : 'max'} | ${fmtInt(r.reqPerS)} | ${fmtInt(r.status['202'] ?? 0)} | ${fmtInt(r.non202)} | ${fmtInt(r.errorCount)} | ` +
  `${fmt(r.latencyMs.p50)} | ${fmt(r.latencyMs.p99)} | ${fmt(r.latencyMs.p999)} | ${fmt(r.latencyMs.max)} | ${fmt(r.serverCpuPct, 0)} | ${fmt(cpuPerRequestUs(r), 1)} | ${fmt(r.generatorCpuPct, 0)} |`;
/** Server CPU per answered request: steadier than req/s when the load or the machine varies. */
const cpuPerRequestUs = (r) => (r.serverCpuPct / 100) * 1e6 / r.reqPerS;
const table = [
  '| server | load | run | offered req/s | achieved req/s | 202 | non-202 | errors | p50 ms | p99 ms | p99.9 ms | max ms | server CPU % | server CPU µs/req | generator CPU % |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...['open', 'closed'].flatMap((mode) => targets.flatMap((t) => runs.filter((r) => r.target === t && r.mode === mode).map(row))),
];
const medians = {};
for (const t of targets) {
  const open = runs.filter((r) => r.target === t && r.mode === 'open');
  const closed = runs.filter((r) => r.target === t && r.mode === 'closed');
  medians[t] = {
    openP99: open.length ? median(open.map((r) => r.latencyMs.p99)) : null,
    openP99Spread: open.length ? [Math.min(...open.map((r) => r.latencyMs.p99)), Math.max(...open.map((r) => r.latencyMs.p99))] : null,
    closedRps: closed.length ? median(closed.map((r) => r.reqPerS)) : null,
    closedRpsSpread: closed.length ? [Math.min(...closed.map((r) => r.reqPerS)), Math.max(...closed.map((r) => r.reqPerS))] : null,
    closedCpuUs: closed.length ? median(closed.map(cpuPerRequestUs)) : null,
  };
}
const summary = (t) => {
  const m = medians[t];
  if (!m?.closedRps || m.openP99 == null) return `${LABEL[t]}: not run`;
  return (
    `${LABEL[t]}: closed loop ${fmtInt(m.closedRps)} req/s (${fmtInt(m.closedRpsSpread[0])}–${fmtInt(m.closedRpsSpread[1])}), ` +
    `${fmt(m.closedCpuUs, 1)} µs CPU/req; open loop p99 ${fmt(m.openP99)} ms (${fmt(m.openP99Spread[0])}–${fmt(m.openP99Spread[1])})`
  );
};
const goal = (t) => {
  const m = medians[t];
  if (!m?.closedRps || m.openP99 == null) return undefined;
  return (
    `Goal for ${LABEL[t]} (≥ ${fmtInt(GOAL.maxRps)} req/s closed loop; p99 ≤ ${GOAL.p99Ms} ms at ${fmtInt(GOAL.atRate)} req/s): ` +
    `throughput ${m.closedRps >= GOAL.maxRps ? 'met' : 'NOT met'} (${fmtInt(m.closedRps)} req/s), ` +
    (rate === GOAL.atRate ? `p99 ${m.openP99 <= GOAL.p99Ms ? 'met' : 'NOT met'} (${fmt(m.openP99)} ms)` : `p99 not judged (rate ${rate} ≠ ${GOAL.atRate})`) +
    (medians.bare?.closedRps ? `; bare node:http in the same run: ${fmtInt(medians.bare.closedRps)} req/s, p99 ${fmt(medians.bare.openP99)} ms` : '')
  );
};

const out = [
  `$ ${command}`,
  `  (same as: npm run bench -- --only http${process.argv.length > 2 ? ' ' + command.split(' ').slice(2).join(' ') : ''})`,
  '',
  `Node.js ${process.version}, nproc ${nproc}. Server on CPU 0; load from bench/bin/http-load (C, epoll, separate process) on CPU 1. ` +
    `POST /v1/collect, one JSON event per request (${o.variants} value/version variants), HTTP/1.1 keep-alive, one request in flight per connection; ` +
    `${duration} s per run after ${warmup} s warm-up at the same load.`,
  'Open loop: latency from each request\'s intended send time (no coordinated omission). Closed loop: each connection sends again on each answer. ' +
    'Server CPU % = utime+stime over the measured phase, % of one core.',
  '',
  ...table,
  '',
  ...checks.map((c) => `Check: ${c}.`),
  ...notes.map((n, i) => `[${i + 1}] ${n}`),
  '',
  `Median of ${repeat} run(s) (min–max):`,
  ...targets.map((t) => `- ${summary(t)}`),
  ...targets.filter((t) => t !== 'bare').map(goal).filter(Boolean),
];
console.log(out.join('\n'));
const file = writeResult('http', { command, machine: machineFacts(), options: o, checks, notes, medians, runs });
console.log(`\nResults: ${file}`);
process.exit(exitCode);
