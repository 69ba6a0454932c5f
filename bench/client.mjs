// `npm run bench -- --only client`: the cost of a metrics call in the
// application, Tally's client (tally-agent/client, UDP) against hot-shots doing
// the same work in the same run: the same four calls (counter, timer, gauge,
// histogram) with the same names, prefix, per-call tags and global tags, sent
// as UDP to a socket in another process that drains it.
//
//   node bench/client.mjs [--duration 3] [--repeat 3] [--batch 1000] [--alloc-calls 200000] [--alloc-window 100] [--targets tally,hot-shots,hot-shots-buffered]
//
// Each measurement runs in a fresh child process (CPU 0; the drain on CPU 1):
// - calls/s: batches of --batch calls with a setImmediate between batches (an
//   application yields; the sends complete), for --duration seconds after a
//   1 s warm-up, default V8 flags;
// - bytes allocated per call: --alloc-calls calls in windows of --alloc-window
//   steps (4 calls each) with a setImmediate after each, so sends and their
//   callbacks fall inside; per window, the growth of V8 heap used plus
//   ArrayBuffer memory (Buffers). A window in which a GC started (a GC
//   observer tells) frees what it allocated and is left out; the sum over
//   the other windows divided by their calls is the figure.
// Prints the command line, a Markdown table (median of --repeat runs, min–max)
// and writes bench/out/client-<timestamp>.json.
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setImmediate as yieldLoop } from 'node:timers/promises';
import { PerformanceObserver } from 'node:perf_hooks';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const nproc = os.availableParallelism?.() ?? os.cpus().length;

function flag(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && process.argv[i + 1] !== undefined) return process.argv[i + 1];
  const eq = process.argv.find((a) => a.startsWith(`--${name}=`));
  return eq ? eq.slice(name.length + 3) : def;
}

const NAMES = { hits: 'checkout.hits', latency: 'checkout.latency', depth: 'queue.depth', size: 'payload.bytes' };
const GLOBAL = { service: 'shop', version: '1.4.0', env: 'prod' };
const ROUTES = ['/cart', '/checkout', '/search', '/item'];
const TAGS = ROUTES.map((route) => ({ route, method: 'GET' }));

/** The same work for every target: 4 calls per step. */
function workload(kind, client) {
  if (kind === 'tally') {
    return (i) => {
      const tags = TAGS[i & 3];
      client.count(NAMES.hits, 1, tags);
      client.timer(NAMES.latency, 12.5 + (i & 63), tags);
      client.gauge(NAMES.depth, i & 1023, tags);
      client.histogram(NAMES.size, 512 + (i & 255), tags);
    };
  }
  return (i) => {
    const tags = TAGS[i & 3];
    client.increment(NAMES.hits, 1, tags);
    client.timing(NAMES.latency, 12.5 + (i & 63), tags);
    client.gauge(NAMES.depth, i & 1023, tags);
    client.histogram(NAMES.size, 512 + (i & 255), tags);
  };
}
const CALLS_PER_STEP = 4;

async function makeClient(kind, port) {
  if (kind === 'tally') {
    const { createClient } = await import('tally-agent/client');
    return createClient({ host: '127.0.0.1', port, prefix: 'bench.', ...GLOBAL });
  }
  const { default: StatsD } = await import('hot-shots');
  const opts = { host: '127.0.0.1', port, prefix: 'bench.', globalTags: GLOBAL, errorHandler: () => {} };
  // Buffered: several lines per datagram, as the Tally client sends them, flushed as often.
  if (kind === 'hot-shots-buffered') Object.assign(opts, { maxBufferSize: 1432, bufferFlushInterval: 5 });
  return new StatsD(opts);
}

async function closeClient(kind, client) {
  if (kind === 'tally') await client.close();
  else await new Promise((r) => client.close(() => r()));
}

/** In a child: one measurement, printed as one JSON line. */
async function child(kind, mode, port) {
  const batch = Number(flag('batch', 1000));
  const client = await makeClient(kind, port);
  const step = workload(kind, client);
  let i = 0;
  if (mode === 'rate') {
    const durationMs = Number(flag('duration', 3)) * 1000;
    const warmEnd = performance.now() + 1000;
    while (performance.now() < warmEnd) {
      for (let k = 0; k < batch; k++) step(i++);
      await yieldLoop();
    }
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let steps = 0;
    while (performance.now() - t0 < durationMs) {
      for (let k = 0; k < batch; k++) step(i++);
      steps += batch;
      await yieldLoop();
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const stats = kind === 'tally' ? client.stats() : undefined;
    await closeClient(kind, client);
    console.log(JSON.stringify({ calls: steps * CALLS_PER_STEP, totalCalls: i * CALLS_PER_STEP, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, stats }));
    return;
  }
  // Allocation: warm up (JIT, name caches, socket bound), then a window with no GC.
  for (let w = 0; w < 50; w++) {
    for (let k = 0; k < batch; k++) step(i++);
    await yieldLoop();
  }
  await new Promise((r) => setTimeout(r, 50));
  // Windows of one batch each; a window in which a GC started is discarded (a GC frees what the window allocated).
  const gcTimes = [];
  const obs = new PerformanceObserver((l) => gcTimes.push(...l.getEntries().map((e) => e.startTime)));
  obs.observe({ entryTypes: ['gc'] });
  const calls = Number(flag('alloc-calls', 200000));
  const windows = [];
  globalThis.gc();
  await new Promise((r) => setTimeout(r, 20));
  const win = Number(flag('alloc-window', 100));
  for (let done = 0; done < calls; done += win * CALLS_PER_STEP) {
    const t0 = performance.now();
    const m0 = process.memoryUsage();
    for (let k = 0; k < win; k++) step(i++);
    await yieldLoop();
    const m1 = process.memoryUsage();
    const t1 = performance.now();
    windows.push({ t0, t1, heap: m1.heapUsed - m0.heapUsed, buffers: m1.arrayBuffers - m0.arrayBuffers });
  }
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  const clean = windows.filter((w) => w.heap >= 0 && w.buffers >= 0 && !gcTimes.some((t) => t >= w.t0 - 1 && t <= w.t1 + 1));
  const heapBytes = clean.reduce((n, w) => n + w.heap, 0);
  const bufferBytes = clean.reduce((n, w) => n + w.buffers, 0);
  const measured = clean.length * win * CALLS_PER_STEP;
  await closeClient(kind, client);
  console.log(JSON.stringify({ calls: measured, windows: windows.length, cleanWindows: clean.length, heapBytes, bufferBytes, bytesPerCall: (heapBytes + bufferBytes) / measured, gcs: windows.length - clean.length }));
}

function taskset(cpu, argv) {
  return nproc >= 2 && spawnSync('taskset', ['--version']).status === 0 ? ['taskset', ['-c', String(cpu), ...argv]] : [argv[0], argv.slice(1)];
}

function runChild(kind, mode, port) {
  const nodeFlags = mode === 'alloc' ? ['--expose-gc', '--max-semi-space-size=64'] : [];
  const argv = [process.execPath, ...nodeFlags, fileURLToPath(import.meta.url), '--child', kind, '--mode', mode, '--port', String(port), ...process.argv.slice(2)];
  const [cmd, args] = taskset(0, argv);
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${kind} ${mode} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

/** The drain: another process reading the socket as fast as it can, counting datagrams and lines. */
function startDrain() {
  const src = `
    const s = require('node:dgram').createSocket('udp4');
    let packets = 0, lines = 0;
    s.on('message', (m) => { packets++; for (let i = 0; i < m.length; i++) if (m[i] === 10) lines++; lines++; });
    s.bind(0, '127.0.0.1', () => { try { s.setRecvBufferSize(32 << 20); } catch {} process.stdout.write(JSON.stringify({ port: s.address().port }) + '\\n'); });
    process.on('message', () => { process.send({ packets, lines }); packets = 0; lines = 0; });
  `;
  const [cmd, args] = taskset(1, [process.execPath, '-e', src]);
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const port = new Promise((resolve, reject) => {
    p.stdout.once('data', (d) => resolve(JSON.parse(String(d)).port));
    p.once('exit', (c) => reject(new Error(`drain exited ${c}`)));
  });
  const counts = () => new Promise((resolve) => {
    p.once('message', resolve);
    p.send('count');
  });
  return { port, counts, stop: () => p.kill('SIGKILL') };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

async function main() {
  const targets = flag('targets', 'tally,hot-shots,hot-shots-buffered').split(',');
  const repeat = Number(flag('repeat', 3));
  const drain = startDrain();
  process.on('exit', () => drain.stop());
  const port = await drain.port;
  const rows = [];
  console.log(`command: node bench/client.mjs ${process.argv.slice(2).join(' ')}`.trim());
  console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'}, nproc ${nproc}; workload per step: count+timer+gauge+histogram, 2 tags per call + 3 global tags, prefix "bench."\n`);
  for (const kind of targets) {
    const runs = [];
    for (let r = 0; r < repeat; r++) {
      const rate = runChild(kind, 'rate', port);
      await new Promise((res) => setTimeout(res, 200));
      const received = await drain.counts();
      const alloc = runChild(kind, 'alloc', port);
      await drain.counts();
      runs.push({ rate, alloc, received });
    }
    const cps = runs.map((x) => x.rate.calls / x.rate.seconds);
    const bpc = runs.map((x) => x.alloc.bytesPerCall);
    const cpuPerCall = runs.map((x) => (x.rate.cpuSeconds / x.rate.calls) * 1e9);
    const perCpuSecond = runs.map((x) => x.rate.calls / x.rate.cpuSeconds);
    const delivered = runs.map((x) => x.received.lines / x.rate.totalCalls);
    const gcRuns = runs.filter((x) => x.alloc.cleanWindows < x.alloc.windows / 4).length;
    const linesPerPacket = runs.map((x) => x.received.lines / Math.max(1, x.received.packets));
    rows.push({ kind, cps, perCpuSecond, bpc, cpuPerCall, delivered, linesPerPacket, gcRuns, runs });
  }
  drain.stop();
  const range = (xs, d = 0) => (xs.length > 1 ? ` (${fmt(Math.min(...xs), d)}–${fmt(Math.max(...xs), d)})` : '');
  console.log('| client | calls/s (wall) | calls per CPU-second | CPU ns/call | bytes allocated/call | lines/datagram | lines received / calls |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.kind} | ${fmt(median(r.cps))}${range(r.cps)} | ${fmt(median(r.perCpuSecond))}${range(r.perCpuSecond)} | ${fmt(median(r.cpuPerCall))} | ` +
        `${fmt(median(r.bpc), 1)}${range(r.bpc, 1)}${r.gcRuns ? ` ⚠ few windows without GC in ${r.gcRuns} run(s)` : ''} | ${fmt(median(r.linesPerPacket), 1)} | ${fmt(median(r.delivered) * 100, 1)} % |`,
    );
  }
  console.log(
    '\ncalls/s is wall-clock and moves with whatever else runs on CPU 0; calls per CPU-second (the client process\'s ' +
      'user+system time) is the steadier figure and the one the goal is judged on. Lines received / calls below 100 % ' +
      'is loss between the client and the drain (socket buffers), not calls refused by the client.',
  );
  const tally = rows.find((r) => r.kind === 'tally');
  const others = rows.filter((r) => r.kind !== 'tally');
  if (tally && others.length) {
    const fastest = Math.max(...others.map((r) => median(r.perCpuSecond)));
    const leanest = Math.min(...others.map((r) => median(r.bpc)));
    const ok = median(tally.perCpuSecond) >= fastest && median(tally.bpc) < leanest;
    console.log(
      `\ngoal (at least as fast as hot-shots, fewer bytes per call): ${ok ? 'met' : 'NOT met'}: ` +
        `${fmt(median(tally.perCpuSecond))} calls per CPU-second vs ${fmt(fastest)} for the best hot-shots; ` +
        `${fmt(median(tally.bpc), 1)} B/call vs ${fmt(leanest, 1)}`,
    );
  }
  const out = join(root, 'bench', 'out');
  mkdirSync(out, { recursive: true });
  const file = join(out, `client-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ argv: process.argv.slice(2), node: process.version, rows }, null, 2));
  console.log(`\nfull record: ${relative(root, file)}`);
}

if (process.argv.includes('--child')) {
  await child(flag('child'), flag('mode'), Number(flag('port')));
  process.exit(0);
} else {
  await main();
}
