// UDP ingest benchmark: offers statsd load from bench/bin/udp-sender (C,
// sendmmsg) to a bare Node.js socket, tally-agent and Etsy statsd 0.9 in turn,
// and prints a Markdown table of loss, CPU and RSS. See bench/README.md.
//
//   npm run bench -- [--rates 500000,1000000,2000000] [--duration 10]
//                    [--targets bare,tally,tally-dgram,statsd] [--metrics-per-packet 10]
//                    [--series 1000] [--batch 32] [--rcvbuf 33554432]
//                    [--quiet-timeout 300] [--retries 2] [--mapping FILE]
//
// --mapping FILE starts the agent with --statsd-exporter-mapping FILE.
//
// Receivers run pinned to CPU 0 and the sender (and this harness) to CPU 1, so
// each receiver has exactly one core and the load does not compete with it.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { coreTimes, fail, freePort, jsonLine, readSysctl, sum, settle, start, stop, tmpDir, tuneRmemMax, udpSocketStats, waitLine } from './lib.mjs';
import { parsePromText } from '../scripts/prom-text.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const benchDir = join(root, 'bench');
const senderSrc = join(benchDir, 'udp-sender.c');
const senderBin = join(benchDir, 'bin', 'udp-sender');
const agentMain = join(root, 'dist', 'agent', 'main.js');
const etsyMain = join(root, 'node_modules', 'statsd', 'stats.js');

const DEFAULTS = {
  rates: '500000,1000000,2000000',
  duration: '10',
  targets: 'bare,tally,statsd',
  'metrics-per-packet': '10',
  series: '1000',
  batch: '32',
  rcvbuf: '33554432',
};
// At 200,000 packets/s the default 208 KiB receive buffer holds about 1 ms of
// traffic (each ~530-byte datagram costs over 1 KiB of skb truesize), so any
// pause of the receiver longer than that (a GC, a flush) drops packets. The
// kernel caps SO_RCVBUF at net.core.rmem_max, so that must be raised first.
const RMEM_MAX_WANTED = 33554432;
const TARGET_LABEL = {
  bare: 'bare Node.js socket',
  tally: 'tally-agent',
  'tally-dgram': 'tally-agent, node:dgram receiver',
  statsd: 'Etsy statsd 0.9.0',
};
// The issue's goal with 1,000 glob + 50 regex mapping rules on is 1M metrics/s.
const GOAL = { target: 'tally', rate: 2_000_000, maxLossPct: 0.1 };

const { values: opts } = parseArgs({
  options: {
    rates: { type: 'string', default: DEFAULTS.rates },
    duration: { type: 'string', default: DEFAULTS.duration },
    targets: { type: 'string', default: DEFAULTS.targets },
    'metrics-per-packet': { type: 'string', default: DEFAULTS['metrics-per-packet'] },
    series: { type: 'string', default: DEFAULTS.series },
    batch: { type: 'string', default: DEFAULTS.batch },
    rcvbuf: { type: 'string', default: DEFAULTS.rcvbuf },
    'quiet-timeout': { type: 'string', default: '300' },
    retries: { type: 'string', default: '2' },
    mapping: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opts.help) {
  console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(0, 14).join('\n'));
  process.exit(0);
}

const rates = opts.rates.split(',').map((s) => Number(s.trim()));
const duration = Number(opts.duration);
const targets = opts.targets.split(',').map((s) => s.trim());
const mpp = Number(opts['metrics-per-packet']);
const seriesCount = Number(opts.series);
const batch = Number(opts.batch);
const rcvbuf = Number(opts.rcvbuf);
const quietTimeoutS = Number(opts['quiet-timeout']);
const retries = Number(opts.retries);
for (const [name, v] of [['duration', duration], ['metrics-per-packet', mpp], ['series', seriesCount], ['batch', batch]]) {
  if (!(v > 0)) fail(`--${name} must be a positive number`);
}
if (!rates.every((r) => r > 0)) fail('--rates must be a comma-separated list of positive metrics/s');
if (opts.mapping) GOAL.rate = 1_000_000;
for (const t of targets) if (!TARGET_LABEL[t]) fail(`unknown target "${t}" (use ${Object.keys(TARGET_LABEL).join(',')})`);
if (!(rcvbuf >= 0)) fail('--rcvbuf must be a byte count');


// ---------------------------------------------------------------- children

// Children and temp dirs are tracked by lib.mjs, which kills and removes them however the harness ends.
process.on('uncaughtException', (err) => {
  console.error('bench: uncaught', err);
  process.exit(1);
});
process.on('unhandledRejection', (err) => {
  console.error('bench: unhandled rejection', err);
  process.exit(1);
});





async function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, t]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------- /proc

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the line; fields[] starts at 3.
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** utime+stime (s) of every process, so CPU taken by others during a run can be named. */
function allProcessCpu() {
  const out = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replaceAll('\0', ' ').trim() || stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      out.set(Number(d), { cpu: (Number(f[11]) + Number(f[12])) / CLK_TCK, cmd });
    } catch {}
  }
  return out;
}

function busiestOthers(before, after, seconds, ours) {
  const rows = [];
  for (const [pid, a] of after) {
    if (ours.has(pid)) continue;
    const used = a.cpu - (before.get(pid)?.cpu ?? 0);
    if (used > 0) rows.push({ pid, pct: (used / seconds) * 100, cmd: a.cmd.slice(0, 120) });
  }
  return rows.sort((x, y) => y.pct - x.pct).slice(0, 3);
}

/**
 * Other work on the machine takes cycles from the receiver's core or the
 * sender's and shows up as loss that is not the receiver's. Waits until
 * both cores are nearly idle before a run.
 */
async function waitQuiet(ours) {
  const deadline = Date.now() + quietTimeoutS * 1000;
  let announced = false;
  for (;;) {
    const p0 = allProcessCpu();
    await sleep(1000);
    const others = busiestOthers(p0, allProcessCpu(), 1, ours);
    const total = others.reduce((a, r) => a + r.pct, 0);
    if (total < 5) return null;
    if (Date.now() > deadline) {
      return `machine not quiet before the run: ${others.map((r) => `${r.cmd} ${r.pct.toFixed(0)} %`).join(', ')}`;
    }
    if (!announced) {
      process.stderr.write(`(waiting for other processes to go idle: ${others[0].cmd} at ${others[0].pct.toFixed(0)} %) `);
      announced = true;
    }
    await sleep(2000);
  }
}

function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { peakRssMiB: kb('VmHWM') / 1024, rssMiB: kb('VmRSS') / 1024 };
}

/** Identifies the agent build a run used, since dist/ can be rebuilt while the bench runs. */
function agentFingerprint() {
  const hash = createHash('sha1');
  let newest = 0;
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.js')) {
        hash.update(e.name).update(readFileSync(p));
        newest = Math.max(newest, statSync(p).mtimeMs);
      }
    }
  };
  walk(dirname(agentMain));
  return { sha1: hash.digest('hex').slice(0, 12), builtAt: new Date(newest).toISOString() };
}

// ---------------------------------------------------------------- helpers



async function waitUdpBound(port, child, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (udpSocketStats(port).sockets === 0) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what}: exited before binding udp ${port}`);
    if (Date.now() > deadline) throw new Error(`${what}: udp port ${port} not bound within ${timeoutMs} ms`);
    await sleep(50);
  }
}

function statsdMgmt(port, command, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const sock = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`statsd mgmt "${command}": no END within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${command}\n`));
    sock.on('data', (d) => {
      buf += d;
      if (buf.includes('END\n\n')) {
        clearTimeout(timer);
        sock.end('quit\n');
        resolve(buf);
      }
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

// ---------------------------------------------------------------- targets
//
// Each target: start() -> { child, udpPort, counts(), info }, where counts()
// returns { packets, metrics, aggregated, counterTotal, ... } cumulative.

const COUNTER_NAME = /tallybench.hits_\d+/;

const TARGETS = {
  async bare() {
    const child = start(process.execPath, [join(benchDir, 'bare-udp.mjs'), '--rcvbuf', String(rcvbuf)], { cpu: 0 });
    const ready = await waitLine(child, jsonLine((o) => o.event === 'listening'), 15000, 'bare socket');
    const udpPort = Number(ready.udp.split(':').pop());
    return {
      child,
      udpPort,
      info: { rcvbufReported: ready.rcvbuf },
      async counts() {
        // Its own timer reports every 250 ms; take the next report, which
        // covers everything received up to now.
        const next = new Promise((resolve, reject) => {
          const onLine = (line) => {
            const c = jsonLine((o) => o.event === 'counts')(line);
            if (!c) return;
            child.off('line', onLine);
            resolve(c);
          };
          child.on('line', onLine);
          child.exited.then(() => reject(new Error('bare socket exited')));
        });
        const c = await withTimeout(next, 3000, 'bare socket counts');
        return { packets: c.packets, metrics: c.packets * mpp, aggregated: null, bytes: c.bytes, counterTotal: null };
      },
    };
  },

  tally: () => startTally('auto'),
  'tally-dgram': () => startTally('dgram'),

  async statsd() {
    const [udpPort, mgmtPort] = [await freePort('udp'), await freePort('tcp')];
    const dir = tmpDir();
    const cfg = join(dir, 'statsd-config.js');
    // No backends, and no flush during the run: statsd resets its
    // packets_received/metrics_received counters at every flush.
    writeFileSync(
      cfg,
      `{ port: ${udpPort}, address: "127.0.0.1", mgmt_port: ${mgmtPort}, mgmt_address: "127.0.0.1",\n` +
        `  backends: [], flushInterval: 3600000, automaticConfigReload: false }\n`,
    );
    const child = start(process.execPath, [etsyMain, cfg], { cpu: 0 });
    const deadline = Date.now() + 20000;
    for (;;) {
      try {
        await statsdMgmt(mgmtPort, 'counters', 1000);
        break;
      } catch (err) {
        if (child.exitCode !== null || Date.now() > deadline)
          throw new Error(`Etsy statsd did not start: ${err.message}; stderr: ${child.stderrText.slice(-2000)}`);
        await sleep(100);
      }
    }
    return {
      child,
      udpPort,
      info: { mgmtPort },
      async counts() {
        const text = await statsdMgmt(mgmtPort, 'counters', 10000);
        const counters = {};
        for (const m of text.matchAll(/(?:'([^']*)'|([A-Za-z_$][\w$]*)):\s*(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)/g)) {
          counters[m[1] ?? m[2]] = Number(m[3]);
        }
        const metrics = counters['statsd.metrics_received'] ?? NaN;
        const bad = counters['statsd.bad_lines_seen'] ?? 0;
        const hits = Object.entries(counters).filter(([k]) => COUNTER_NAME.test(k));
        return {
          packets: counters['statsd.packets_received'] ?? NaN,
          metrics,
          // statsd has no separate count; lines it rejected are not aggregated.
          aggregated: metrics - bad,
          parseErrors: { bad_lines_seen: bad },
          counterTotal: hits.length ? hits.reduce((a, [, v]) => a + v, 0) : null,
          counterSeries: hits.length,
        };
      },
    };
  },
};

// The agent with the given statsd.udp.receiver.
async function startTally(receiver) {
  if (!existsSync(agentMain)) throw new Error(`${relative(root, agentMain)} not found (npm run build)`);
  const dir = tmpDir();
  const cfg = join(dir, 'tally.yaml');
  writeFileSync(
    cfg,
    [
      `statsd: { udp: { address: 127.0.0.1, port: 0, receive_buffer_bytes: ${rcvbuf}, receiver: ${receiver} } }`,
      'http: { address: 127.0.0.1, port: 0 }',
      'aggregation: { flush_interval: 10s }',
      'log: { level: info }',
      '',
    ].join('\n'),
  );
  const mapArgs = opts.mapping ? ['--statsd-exporter-mapping', opts.mapping] : [];
  const child = start(process.execPath, [agentMain, '--config', cfg, ...mapArgs], { cpu: 0 });
  const ready = await waitLine(child, jsonLine((o) => o.msg === 'tally-agent listening'), 20000, 'tally-agent');
  const udpPort = Number(String(ready.udp).split(':').pop());
  const httpPort = Number(String(ready.http).split(':').pop());
  const url = `http://127.0.0.1:${httpPort}/metrics`;
  const logs = () =>
    child.lines
      .map((l) => jsonLine(() => true)(l))
      .filter((o) => o && (o.level >= 40 || /buffer|rcvbuf/i.test(JSON.stringify(o))));
  return {
    child,
    udpPort,
    info: { httpPort, listening: ready, logs },
    async counts() {
      const res = await fetch(url, { signal: AbortSignal.timeout(10000) });
      if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
      const { samples } = parsePromText(await res.text());
      const named = (n) => (s) => s.name === n;
      const packetSamples = samples.filter(named('tally_packets_received_total'));
      const udpOnly = packetSamples.filter((s) => s.labels.listener === 'udp');
      const parseErrors = {};
      for (const s of samples.filter(named('tally_parse_errors_total'))) {
        parseErrors[s.labels.reason ?? ''] = (parseErrors[s.labels.reason ?? ''] ?? 0) + s.value;
      }
      for (const s of samples.filter(named('tally_metrics_dropped_total'))) {
        const key = `dropped:${s.labels.reason ?? ''}`;
        parseErrors[key] = (parseErrors[key] ?? 0) + s.value;
      }
      const counterSamples = samples.filter((s) => COUNTER_NAME.test(s.name) && s.name.endsWith('_total'));
      return {
        packets: sum(udpOnly.length ? udpOnly : packetSamples, () => true),
        metrics: sum(samples, named('tally_metrics_received_total')),
        aggregated: sum(samples, named('tally_metrics_aggregated_total')),
        parseErrors,
        series: samples.some(named('tally_series')) ? sum(samples, named('tally_series')) : null,
        counterTotal: counterSamples.length ? sum(counterSamples, () => true) : null,
        counterSeries: counterSamples.length,
        // Samples carrying a label only bench/mapping-rules.mjs rules add.
        mappedSamples: samples.filter((s) => s.labels.team === 'bench' || s.labels.shard !== undefined).length,
      };
    },
  };
}

// ---------------------------------------------------------------- one run

async function runOne(target, rate) {
  const run = { target, label: TARGET_LABEL[target], rate, notes: [] };
  let recv;
  let sender;
  try {
    if (target.startsWith('tally') && existsSync(agentMain)) run.agentBuild = agentFingerprint();
    recv = await TARGETS[target]();
    // The receiver the agent reports, not the one asked for: auto falls back to node:dgram where the addon is not built.
    if (target.startsWith('tally')) run.label = `tally-agent, ${recv.info.listening.udp_receiver} receiver`;
    const pid = recv.child.pid;
    await waitUdpBound(recv.udpPort, recv.child, 10000, target);
    await settle(pid);
    const before = await withTimeout(recv.counts(), 15000, `${target} counts`);
    const sockBefore = udpSocketStats(recv.udpPort);
    if (target.startsWith('tally')) await settle(pid);
    const quietNote = await waitQuiet(new Set([pid, process.pid]));
    if (quietNote) run.notes.push(quietNote);

    sender = start(
      senderBin,
      ['127.0.0.1', String(recv.udpPort), String(rate), String(duration), String(mpp), String(seriesCount), String(batch)],
      { cpu: nproc >= 2 ? 1 : undefined },
    );
    await waitLine(sender, jsonLine((o) => o.event === 'start'), 10000, 'udp-sender start');
    const procs0 = allProcessCpu();
    const cpu0 = cpuSeconds(pid);
    const core0 = coreTimes(0);
    const t0 = process.hrtime.bigint();
    const result = await waitLine(sender, jsonLine((o) => o.event === 'done'), duration * 1000 * 2 + 30000, 'udp-sender');
    const cpu1 = cpuSeconds(pid);
    const core1 = coreTimes(0);
    const t1 = process.hrtime.bigint();
    const procs1 = allProcessCpu();
    const senderExit = await withTimeout(sender.exited, 5000, 'udp-sender exit');
    if (senderExit.code !== 0) run.notes.push(`sender exited ${senderExit.signal ?? senderExit.code}: ${sender.stderrText.trim()}`);
    run.sender = result;

    // Packets still queued in the socket buffer are not lost: keep reading
    // until the receiver's count stops moving.
    const drainStart = Date.now();
    let counts = await withTimeout(recv.counts(), 15000, `${target} counts`);
    for (let stable = 0; stable < 2 && Date.now() - drainStart < 60000; ) {
      await sleep(300);
      const next = await withTimeout(recv.counts(), 15000, `${target} counts`);
      stable = next.packets === counts.packets && next.metrics === counts.metrics ? stable + 1 : 0;
      counts = next;
    }
    run.drainMs = Date.now() - drainStart;
    const sockAfter = udpSocketStats(recv.udpPort);
    run.memory = memory(pid);
    run.cpuSecondsInclDrain = cpuSeconds(pid) - cpu0;

    const delta = (k) => (counts[k] == null ? null : counts[k] - (before[k] ?? 0));
    run.received = {
      packets: delta('packets'),
      metrics: delta('metrics'),
      aggregated: delta('aggregated'),
      counterTotal: delta('counterTotal'),
      bytes: delta('bytes'),
      parseErrors: counts.parseErrors,
      series: counts.series,
      counterSeries: counts.counterSeries,
      mappedSamples: counts.mappedSamples,
    };
    if (opts.mapping && target.startsWith('tally') && !counts.mappedSamples) run.notes.push('mapping on, but no sample carries a label from bench/mapping-rules.mjs rules');
    run.socket = { rcvbuf: sockAfter.rcvbuf, kernelDrops: sockAfter.drops - sockBefore.drops, rxQueueBytesAtEnd: sockAfter.rxQueueBytes };
    run.runSeconds = Number(t1 - t0) / 1e9;
    run.cpuPct = ((cpu1 - cpu0) / run.runSeconds) * 100;
    // Whole-core view of CPU 0, which also shows softirq and hypervisor steal
    // that the receiver's own utime+stime leave out.
    const coreTotal = core1.total - core0.total || 1;
    run.core0 = {
      busyPct: ((core1.busy - core0.busy) / coreTotal) * 100,
      softirqPct: ((core1.softirq - core0.softirq) / coreTotal) * 100,
      stealPct: ((core1.steal - core0.steal) / coreTotal) * 100,
    };
    run.otherProcesses = busiestOthers(procs0, procs1, run.runSeconds, new Set([pid, sender.pid, process.pid]));
    run.lossPct = (1 - run.received.metrics / result.metrics_sent) * 100;
    run.packetLossPct = (1 - run.received.packets / result.packets_sent) * 100;
    check(run, recv);
    if (target.startsWith('tally')) run.agentLogs = recv.info.logs();
    if (target === 'bare') run.rcvbufReported = recv.info.rcvbufReported;
  } catch (err) {
    run.error = err.message;
    if (recv?.child?.stderrText) run.stderr = recv.child.stderrText.slice(-2000);
  } finally {
    if (sender) await stop(sender);
    if (recv?.child) {
      const exit = await stop(recv.child);
      if (!run.error && exit.signal === 'unkillable') run.notes.push('receiver did not exit after SIGKILL');
    }
  }
  return run;
}

/** Cross-checks that make a wrong number visible instead of quietly tabulated. */
function check(run, recv) {
  const s = run.sender;
  const r = run.received;
  if (s.actual_metrics_per_s < run.rate * 0.99) {
    run.notes.push(`sender reached only ${fmtInt(s.actual_metrics_per_s)} metrics/s of ${fmtInt(run.rate)}`);
  }
  const behindMs = (s.max_behind_packets / s.actual_packets_per_s) * 1000;
  if (behindMs > 10) run.notes.push(`sender fell up to ${behindMs.toFixed(0)} ms behind schedule (then caught up in bursts)`);
  const foreignCore0 = run.core0.busyPct - run.cpuPct;
  const others = run.otherProcesses.filter((o) => o.pct >= 5);
  if (foreignCore0 > 10 || others.length) {
    run.shared = true;
    run.notes.push(
      `shared machine: CPU 0 was ${run.core0.busyPct.toFixed(0)} % busy but the receiver used ${run.cpuPct.toFixed(0)} %` +
        (others.length ? `; other processes: ${others.map((o) => `${o.cmd} ${o.pct.toFixed(0)} %`).join(', ')}` : '') +
        ' — rerun on a quiet machine',
    );
  }
  if (s.packets_failed > 0) run.notes.push(`sender: ${s.packets_failed} packets failed to send ${JSON.stringify(s.send_errors)}`);
  if (r.metrics > s.metrics_sent || r.packets > s.packets_sent) run.notes.push('receiver counted more than was sent');
  // Every packet carries the same scaled counter sum, so the expected total
  // follows from the receiver's own packet count even under loss.
  if (s.counter_sum_per_packet != null && run.target !== 'bare') {
    const expected = r.packets * s.counter_sum_per_packet;
    run.counterCheck = { expected, actual: r.counterTotal, sentTotal: s.counter_sum };
    if (r.counterTotal == null) run.notes.push(`no tallybench hits counters found to check totals against ${fmtInt(expected)}`);
    else if (Math.abs(r.counterTotal - expected) > 1e-9 * expected)
      run.notes.push(`counter totals mismatch: ${fmtInt(r.counterTotal)} summed vs ${fmtInt(expected)} expected (${fmtInt(r.packets)} packets × ${s.counter_sum_per_packet})`);
  }
  if (run.target !== 'bare' && r.metrics !== r.packets * mpp) {
    run.notes.push(`metrics received ${fmtInt(r.metrics)} ≠ packets received ${fmtInt(r.packets)} × ${mpp}`);
  }
  if (r.aggregated != null && r.aggregated !== r.metrics) {
    run.notes.push(`aggregated ${fmtInt(r.aggregated)} ≠ received ${fmtInt(r.metrics)}`);
  }
  const errs = Object.entries(r.parseErrors ?? {}).filter(([, v]) => v > 0);
  if (errs.length) run.notes.push(`parse errors/drops: ${errs.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  if (run.target.startsWith('tally') && r.series != null && r.series !== s.series_in_ring) {
    run.notes.push(`tally_series = ${r.series}, sender used ${s.series_in_ring} distinct series (tag order varies)`);
  }
  const lostPackets = s.packets_sent - r.packets;
  if (lostPackets !== run.socket.kernelDrops) {
    run.notes.push(`packets sent − received = ${fmtInt(lostPackets)}, kernel socket drops = ${fmtInt(run.socket.kernelDrops)}`);
  }
}

// ---------------------------------------------------------------- output

const fmtInt = (n) => (n == null || Number.isNaN(n) ? '—' : Math.round(n).toLocaleString('en-US'));
const fmtPct = (n, d) => (n == null || Number.isNaN(n) ? '—' : n.toFixed(d));
const fmtBytes = (n) => (n == null ? '?' : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(0)} MiB` : `${(n / 1024).toFixed(0)} KiB`);

function table(runs) {
  const rows = [
    '| target | offered metrics/s | sent | received | aggregated | loss % | CPU % | RSS MiB (peak / end) |',
    '|---|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const r of runs) {
    if (r.error) {
      rows.push(`| ${r.label} | ${fmtInt(r.rate)} | not run: ${r.error.split('\n')[0].replaceAll('|', '\\|')} | | | | | |`);
      continue;
    }
    const mark = r.notes.length ? ` [${r.index}]` : '';
    rows.push(
      `| ${r.label}${mark} | ${fmtInt(r.rate)} | ${fmtInt(r.sender.metrics_sent)} | ${fmtInt(r.received.metrics)} | ` +
        `${r.received.aggregated == null ? '—' : fmtInt(r.received.aggregated)} | ${fmtPct(r.lossPct, 3)} | ${fmtPct(r.cpuPct, 1)} | ` +
        `${r.memory.peakRssMiB.toFixed(1)} / ${r.memory.rssMiB.toFixed(1)} |`,
    );
  }
  return rows.join('\n');
}

// ---------------------------------------------------------------- main

const nproc = os.availableParallelism();

function buildSender() {
  const stale = !existsSync(senderBin) || statSync(senderBin).mtimeMs < statSync(senderSrc).mtimeMs;
  if (!stale) return 'up to date';
  mkdirSync(dirname(senderBin), { recursive: true });
  execFileSync('cc', ['-O2', '-o', senderBin, senderSrc], { stdio: 'inherit', cwd: root });
  return 'built';
}

async function main() {
  const senderBuild = buildSender();
  const rmem = tuneRmemMax(Math.max(RMEM_MAX_WANTED, rcvbuf));
  const cpuModel = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.arch();
  const machine = {
    node: process.version,
    nproc,
    cpu: cpuModel,
    kernel: os.release(),
    rmemMax: rmem.after,
    rmemMaxBefore: rmem.before,
    rmemDefault: readSysctl('net.core.rmem_default'),
    loadavgAtStart: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  };
  if (nproc >= 2) {
    // Keeps the harness's own wake-ups off the receivers' core.
    execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  } else {
    console.error('bench: fewer than 2 CPUs; sender and receiver will share a core and results understate receivers');
  }

  const command =
    `npm run bench -- --rates ${rates.join(',')} --duration ${duration} --targets ${targets.join(',')} ` +
    `--metrics-per-packet ${mpp} --series ${seriesCount} --batch ${batch} --rcvbuf ${rcvbuf}` +
    (opts.mapping ? ` --mapping ${opts.mapping}` : '');
  if (opts.mapping) console.log(`Mapping on: tally-agent --statsd-exporter-mapping ${opts.mapping}`);
  console.log(`udp-sender: ${senderBuild}; ${rmem.note ?? `net.core.rmem_max = ${rmem.after}`}`);

  const runs = [];
  for (const rate of rates) {
    for (const target of targets) {
      process.stderr.write(`bench: ${TARGET_LABEL[target]} at ${fmtInt(rate)} metrics/s for ${duration} s ... `);
      let run = await runOne(target, rate);
      const discarded = [];
      // A run another process cut into says little about the receiver.
      while (run.shared && discarded.length < retries) {
        discarded.push(run);
        process.stderr.write(`shared machine, repeating ... `);
        run = await runOne(target, rate);
      }
      if (discarded.length) run.discardedAttempts = discarded;
      runs.push(run);
      process.stderr.write(run.error ? `error: ${run.error.split('\n')[0]}\n` : `loss ${fmtPct(run.lossPct, 3)} %\n`);
    }
  }

  const builds = new Map();
  for (const r of runs) if (r.agentBuild) builds.set(r.agentBuild.sha1, r.agentBuild);
  if (builds.size > 1) {
    for (const r of runs) if (r.agentBuild && !r.error) r.notes.push(`agent build ${r.agentBuild.sha1}: dist/ was rebuilt during the bench, rows mix builds`);
  }
  let n = 0;
  for (const r of runs) if (!r.error && r.notes.length) r.index = ++n;
  const bufs = {};
  for (const r of runs) if (!r.error && r.socket.rcvbuf != null) bufs[r.label] = r.socket.rcvbuf;

  const out = [];
  out.push('');
  out.push(`Command: ${command}`);
  out.push(
    `Machine: node ${machine.node}, nproc ${machine.nproc} (${machine.cpu}), Linux ${machine.kernel}, ` +
      `net.core.rmem_max ${machine.rmemMax}${machine.rmemMaxBefore !== machine.rmemMax ? ` (was ${machine.rmemMaxBefore})` : ''}, ` +
      `rmem_default ${machine.rmemDefault}, loadavg ${machine.loadavgAtStart}`,
  );
  if (rmem.note && rmem.before !== rmem.after) out.push(`Tuning: ${rmem.note}`);
  else if (rmem.note) out.push(`Tuning NOT applied: ${rmem.note}`);
  if (builds.size) {
    out.push(`tally-agent build: ${[...builds.values()].map((b) => `dist/ sha1 ${b.sha1} (built ${b.builtAt})`).join(', ')}`);
  }
  out.push(
    `Load: ${mpp} metrics/packet, ${seriesCount} series (c/g/ms/h/s, tags in varying order), sendmmsg batches of ${batch}; ` +
      `receiver pinned to CPU 0, sender to CPU 1; ${duration} s per run.`,
  );
  out.push(
    `Receive buffers (SO_RCVBUF as the kernel reports it, twice the request): ` +
      (Object.entries(bufs).map(([k, v]) => `${k} ${fmtBytes(v)}`).join(', ') || 'unknown'),
  );
  out.push('');
  out.push(table(runs));
  out.push('');
  out.push(
    'sent/received are metrics (lines); loss % = 1 − received/sent; CPU % = receiver utime+stime over the sender\'s run, ' +
      '% of one core; bare socket "received" = packets × metrics/packet.',
  );
  for (const r of runs) if (r.index) out.push(`[${r.index}] ${r.notes.join('; ')}`);
  const goal = runs.find((r) => r.target === GOAL.target && r.rate === GOAL.rate && !r.error);
  const bareAtGoal = runs.find((r) => r.target === 'bare' && r.rate === GOAL.rate && !r.error);
  if (goal) {
    const met = goal.lossPct <= GOAL.maxLossPct && goal.sender.actual_metrics_per_s >= GOAL.rate * 0.99;
    out.push(
      `Goal (tally-agent, ${fmtInt(GOAL.rate)} metrics/s, loss ≤ ${GOAL.maxLossPct} %): ${met ? 'met' : 'NOT met'} — ` +
        `loss ${fmtPct(goal.lossPct, 3)} %` +
        (bareAtGoal ? `; bare socket in the same run: ${fmtPct(bareAtGoal.lossPct, 3)} %` : ''),
    );
  }
  console.log(out.join('\n'));

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const outDir = join(benchDir, 'out');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `udp-${stamp}.json`);
  writeFileSync(
    file,
    JSON.stringify({ command, machine, tuning: rmem, agentBuilds: [...builds.values()], options: { rates, duration, targets, mpp, seriesCount, batch, rcvbuf }, runs }, null, 2) + '\n',
  );
  console.log(`\nResults: ${relative(root, file)}`);
  return runs;
}

main().then(
  (runs) => process.exit(runs.some((r) => r.error) ? 1 : 0),
  (err) => {
    console.error('bench:', err);
    process.exit(1);
  },
);
