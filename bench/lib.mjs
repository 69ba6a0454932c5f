// Shared helpers for bench/http-collect.mjs, bench/mapping.mjs and bench/tcp.mjs:
// child processes that never outlive the harness, the agent started on a
// temporary config, /proc CPU accounting and /metrics scraping (read by
// scripts/prom-text.mjs, the tests' reader, so a malformed line fails the run).
import { execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parsePromText } from '../scripts/prom-text.mjs';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const benchDir = join(root, 'bench');
export const agentMain = join(root, 'dist', 'agent', 'main.js');
export const nproc = os.availableParallelism?.() ?? os.cpus().length;

const children = new Set();
const tmpDirs = [];

process.on('exit', () => {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {}
  }
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`bench: ${sig}, stopping`);
    process.exit(130);
  });
}

export function fail(msg) {
  console.error(`bench: ${msg}`);
  process.exit(2);
}

/** Moves this harness to CPU 1 so it does not compete with the agent on CPU 0. */
export function pinSelf() {
  if (nproc < 2) return;
  try {
    execFileSync('taskset', ['-pc', '1', String(process.pid)], { stdio: 'ignore' });
  } catch {}
}

export function tmpDir() {
  const d = mkdtempSync(join(os.tmpdir(), 'tally-bench-'));
  tmpDirs.push(d);
  return d;
}

export function start(cmd, args, { cpu } = {}) {
  const [file, argv] = cpu === undefined || nproc < 2 ? [cmd, args] : ['taskset', ['-c', String(cpu), cmd, ...args]];
  const child = spawn(file, argv, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  child.lines = [];
  child.stderrText = '';
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  createInterface({ input: child.stdout }).on('line', (line) => {
    child.lines.push(line);
    if (child.lines.length > 5000) child.lines.splice(0, 1000);
    child.emit('line', line);
  });
  child.stderr.on('data', (d) => {
    child.stderrText = (child.stderrText + d).slice(-8000);
  });
  return child;
}

export function waitLine(child, match, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    const done = (fn, v) => {
      clearTimeout(timer);
      child.off('line', onLine);
      child.off('exit', onExit);
      fn(v);
    };
    const onLine = (line) => {
      const v = match(line);
      if (v !== undefined) done(resolve, v);
    };
    const onExit = (code, signal) =>
      done(reject, new Error(`${what}: process exited (${signal ?? code}) first; stderr: ${child.stderrText.trim().slice(-2000)}`));
    const timer = setTimeout(() => done(reject, new Error(`${what}: no answer within ${timeoutMs} ms`)), timeoutMs);
    child.on('line', onLine);
    child.on('exit', onExit);
    for (const line of child.lines) {
      const v = match(line);
      if (v !== undefined) return done(resolve, v);
    }
  });
}

export function jsonLine(pred) {
  return (line) => {
    if (!line.startsWith('{')) return undefined;
    try {
      const obj = JSON.parse(line);
      return pred(obj) ? obj : undefined;
    } catch {
      return undefined;
    }
  };
}

export async function stop(child, timeoutMs = 3000) {
  if (child.exitCode !== null || child.signalCode !== null) return child.exited;
  child.kill('SIGTERM');
  const res = await Promise.race([child.exited, sleep(timeoutMs).then(() => null)]);
  if (res) return res;
  child.kill('SIGKILL');
  return Promise.race([child.exited, sleep(2000).then(() => ({ code: null, signal: 'unkillable' }))]);
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

export function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
}

/** Waits until the process is idle, so startup JIT and GC are not billed to the run. */
export async function settle(pid) {
  await sleep(1000);
  const deadline = Date.now() + 5000;
  let last = cpuSeconds(pid);
  while (Date.now() < deadline) {
    await sleep(250);
    const now = cpuSeconds(pid);
    if (now - last <= 1 / CLK_TCK) return;
    last = now;
  }
}

/**
 * Starts dist/agent/main.js on CPU 0 with `yamlLines` as its config; returns
 * { child, ports: { udp, tcp, http }, listening }.
 */
export async function startAgent(yamlLines, extraArgs = []) {
  const dir = tmpDir();
  const cfg = join(dir, 'tally.yaml');
  writeFileSync(cfg, yamlLines.join('\n') + '\n');
  const child = start(process.execPath, [agentMain, '--config', cfg, ...extraArgs], { cpu: 0 });
  const ready = await waitLine(child, jsonLine((o) => o.msg === 'tally-agent listening'), 30000, 'tally-agent');
  const port = (v) => (v && v !== 'off' ? Number(String(v).split(':').pop()) : null);
  return { child, ports: { udp: port(ready.udp), tcp: port(ready.tcp), http: port(ready.http) }, listening: ready, config: cfg };
}

export async function scrape(httpPort) {
  const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(15000) });
  if (!res.ok) throw new Error(`GET /metrics: HTTP ${res.status}`);
  return parsePromText(await res.text()).samples;
}

export const sum = (samples, pred) => samples.filter(pred).reduce((a, s) => a + s.value, 0);

export function commandLine() {
  const args = process.argv.slice(2).map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`));
  return `node ${relative(root, process.argv[1])}${args.length ? ' ' + args.join(' ') : ''}`;
}

export function writeResult(kind, data) {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const outDir = join(benchDir, 'out');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${kind}-${stamp}.json`);
  writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
  return relative(root, file);
}

export function machineFacts() {
  return { node: process.version, nproc, cpu: os.cpus()[0]?.model, kernel: os.release() };
}

export const fmtInt = (n) => (n == null || Number.isNaN(n) ? '–' : Math.round(n).toLocaleString('en-US'));
export const fmt = (n, d = 2) => (n == null || Number.isNaN(n) ? '–' : n.toFixed(d));

/** Builds bench/bin/NAME from bench/NAME.c when missing or older than its source. */
export function buildC(name) {
  const src = join(benchDir, `${name}.c`);
  const bin = join(benchDir, 'bin', name);
  let stale = true;
  try {
    stale = statSync(bin).mtimeMs < statSync(src).mtimeMs;
  } catch {}
  if (stale) {
    mkdirSync(join(benchDir, 'bin'), { recursive: true });
    execFileSync('cc', ['-O2', '-o', bin, src], { stdio: 'inherit' });
  }
  return bin;
}

/** A port free right now on 127.0.0.1 ('udp' or 'tcp'). */
export function freePort(kind) {
  return new Promise((resolve, reject) => {
    if (kind === 'udp') {
      const s = dgram.createSocket('udp4');
      s.on('error', reject);
      s.bind(0, '127.0.0.1', () => {
        const { port } = s.address();
        s.close(() => resolve(port));
      });
    } else {
      const s = net.createServer();
      s.on('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const { port } = s.address();
        s.close(() => resolve(port));
      });
    }
  });
}

/** Jiffies of one CPU from /proc/stat: busy (incl. irq/softirq) and steal. */
export function coreTimes(cpu) {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `));
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return { busy: user + nice + system + irq + softirq, softirq, steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
}

/** Kernel's view of the UDP socket(s) bound to port: queue, drops, buffer size. */
export function udpSocketStats(port) {
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  let drops = 0;
  let rxQueue = 0;
  let found = 0;
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 13 || !f[1].endsWith(`:${portHex}`)) continue;
      found++;
      rxQueue += parseInt(f[4].split(':')[1], 16);
      drops += Number(f[12]);
    }
  }
  let rcvbuf = null;
  try {
    const out = execFileSync('ss', ['-u', '-a', '-n', '-m', `sport = :${port}`], { timeout: 5000 }).toString();
    const rb = /\brb(\d+)/.exec(out);
    if (rb) rcvbuf = Number(rb[1]);
  } catch {}
  return { sockets: found, drops, rxQueueBytes: rxQueue, rcvbuf };
}

export function readSysctl(name) {
  try {
    return Number(readFileSync(`/proc/sys/${name.replaceAll('.', '/')}`, 'utf8').trim());
  } catch {
    return null;
  }
}

/**
 * As root, raises net.core.rmem_max to `wanted` (the kernel caps every
 * SO_RCVBUF request at it); says what it did or why it could not.
 */
export function tuneRmemMax(wanted) {
  const before = readSysctl('net.core.rmem_max');
  const facts = { before, after: before, wanted, note: null };
  if (before !== null && before >= wanted) return facts;
  if (process.getuid?.() !== 0) {
    facts.note = `not root: could not raise net.core.rmem_max from ${before} to ${wanted}; SO_RCVBUF requests are capped at ${before}`;
    return facts;
  }
  try {
    execFileSync('sysctl', ['-w', `net.core.rmem_max=${wanted}`], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 5000 });
  } catch (err) {
    facts.note = `sysctl -w net.core.rmem_max=${wanted} failed (${String(err.stderr ?? err.message).trim()}); SO_RCVBUF requests are capped at ${before}`;
  }
  facts.after = readSysctl('net.core.rmem_max');
  if (!facts.note && facts.after !== before) facts.note = `raised net.core.rmem_max from ${before} to ${facts.after} (sysctl -w)`;
  return facts;
}
