#!/usr/bin/env node
/**
 * Takes docs/dashboards/<dashboard>.png: two real agents (versions 1.4 and
 * 1.5 of the service "shop", as scripts/answer-workload.mjs expects), a real
 * Prometheus scraping them (and receiving one agent sink's remote write, so
 * the sink panels have a sink to show), the answer workload, then the preview
 * pages opened in Debian's chromium and captured full page.
 *
 *   node scripts/dashboard-screenshots.mjs [--out docs/dashboards] [--seconds 45] [--keep-preview DIR]
 *
 * Needs /usr/bin/prometheus and /usr/bin/chromium (Debian packages).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { agentTagsEnv, sendAnswerWorkload, VERSION_A, VERSION_B } from './answer-workload.mjs';
import { main as preview } from '../dashboards/preview/preview.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const AGENT_MAIN = join(ROOT, 'dist', 'agent', 'main.js');
const PROMETHEUS = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCRAPE_INTERVAL_S = 1;
const VIEWPORT = { width: 1600, height: 1000 };

function run(cmd, args) {
  return new Promise((resolveRun, rejectRun) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: 'inherit' });
    child.once('error', rejectRun);
    child.once('exit', (code) => (code === 0 ? resolveRun() : rejectRun(new Error(`${cmd} ${args.join(' ')} exited with ${code}`))));
  });
}

async function freePort() {
  const srv = createServer();
  await new Promise((r, j) => srv.once('error', j).listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

/** Stops a child: SIGTERM, then SIGKILL after 5 s. */
function stopper(child) {
  const exited = new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = new Promise((r) => setTimeout(r, 5000, 'timeout').unref());
      if ((await Promise.race([exited, timer])) === 'timeout') child.kill('SIGKILL');
    }
    await exited;
  };
}

async function startAgent(version, promPort, dir) {
  const config = {
    statsd: { udp: { enabled: true, address: '127.0.0.1', port: 0 } },
    http: { address: '127.0.0.1', port: 0 },
    aggregation: { flush_interval: '1s' },
    log: { level: 'info' },
    // One small sink per agent so the agent dashboard's sink panels have something to show.
    sinks: [
      {
        name: 'prometheus',
        type: 'prometheus_remote_write',
        endpoint: `http://127.0.0.1:${promPort}/api/v1/write`,
        match: { names: ['runtime_memory_*'] },
      },
    ],
  };
  const file = join(dir, 'tally.yaml');
  await writeFile(file, JSON.stringify(config, null, 2));
  const child = spawn(process.execPath, [AGENT_MAIN, '--config', file], {
    cwd: ROOT,
    env: { ...process.env, TALLY_TAGS: agentTagsEnv(version) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = stopper(child);
  const output = [];
  child.stderr.setEncoding('utf8').on('data', (d) => output.push(d));
  const ports = await new Promise((resolveStart, rejectStart) => {
    const timer = setTimeout(() => rejectStart(new Error(`agent ${version} did not start:\n${output.join('')}`)), 15_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      output.push(line + '\n');
      let rec;
      try {
        rec = JSON.parse(line);
      } catch {
        return;
      }
      if (rec.msg !== 'tally-agent listening') return;
      clearTimeout(timer);
      resolveStart({ udpPort: Number(/:(\d+)$/.exec(rec.udp)[1]), httpPort: Number(/:(\d+)$/.exec(rec.http)[1]) });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      rejectStart(new Error(`agent ${version} exited with ${code}:\n${output.join('')}`));
    });
  }).catch(async (err) => {
    await stop();
    throw err;
  });
  return { ...ports, stop };
}

async function startPrometheus(port, targets, dir) {
  const config = join(dir, 'prometheus.yml');
  await writeFile(
    config,
    [
      'global:',
      `  scrape_interval: ${SCRAPE_INTERVAL_S}s`,
      `  scrape_timeout: ${SCRAPE_INTERVAL_S}s`,
      'scrape_configs:',
      '  - job_name: shop',
      '    static_configs:',
      `      - targets: ${JSON.stringify(targets)}`,
      '',
    ].join('\n'),
  );
  const child = spawn(
    PROMETHEUS,
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--web.enable-remote-write-receiver', '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const stop = stopper(child);
  let output = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (output += d));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited:\n${output}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/-/ready`, { signal: AbortSignal.timeout(1000) });
      await res.text();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready after 20 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url: `http://127.0.0.1:${port}`, stop };
}

async function instant(url, expr) {
  const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`, { signal: AbortSignal.timeout(5000) });
  const body = await res.json();
  if (body.status !== 'success') throw new Error(`${expr}: ${JSON.stringify(body)}`);
  return body.data.result;
}

async function waitUntil(what, fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A few lines the agent rejects or drops, so the error panels show what they look like. */
async function sendFaults(udpPort) {
  const { createSocket } = await import('node:dgram');
  const sock = createSocket('udp4');
  const lines = ['shop.bad:abc|c', 'shop.bad:1|q', 'shop.conflict:1|c', 'shop.conflict:2|g'];
  await new Promise((r, j) => sock.send(Buffer.from(lines.join('\n')), udpPort, '127.0.0.1', (e) => (e ? j(e) : r())));
  await new Promise((r) => sock.close(r));
}

export async function takeScreenshots({ outDir, seconds, keepPreview }) {
  await run(process.execPath, [join(ROOT, 'scripts', 'build-if-needed.mjs')]);
  const { chromium } = await import('playwright-core');
  const work = await mkdtemp(join(tmpdir(), 'tally-shots-'));
  const stops = [];
  try {
    const promPort = await freePort();
    const agents = {};
    for (const [key, version] of [['a', VERSION_A], ['b', VERSION_B]]) {
      const dir = join(work, `agent-${version}`);
      await mkdir(dir);
      const agent = await startAgent(version, promPort, dir);
      stops.push(agent.stop);
      agents[key] = agent;
    }
    const promDir = join(work, 'prometheus');
    await mkdir(promDir);
    const prom = await startPrometheus(promPort, [`127.0.0.1:${agents.a.httpPort}`, `127.0.0.1:${agents.b.httpPort}`], promDir);
    stops.push(prom.stop);
    await waitUntil('both agents scraped', async () => (await instant(prom.url, 'sum(up{job="shop"})'))[0]?.value[1] === '2', 20_000);

    console.log(`sending the answer workload for ${seconds} s ...`);
    const faults = setTimeout(() => void sendFaults(agents.a.udpPort), (seconds * 1000) / 2);
    const truth = await sendAnswerWorkload(agents, { durationMs: seconds * 1000 });
    clearTimeout(faults);
    // The last flush (1 s) and a scrape or two after it.
    await new Promise((r) => setTimeout(r, 4000));

    const previewDir = keepPreview ? resolve(keepPreview) : join(work, 'preview');
    const fromS = Math.floor(truth.startedAtS);
    // Ending with the workload shows it in steady state (instant queries and rates taken while it ran).
    const toS = Math.floor(truth.endedAtS);
    const result = await preview([
      prom.url,
      '--out', previewDir,
      '--from', String(fromS),
      '--to', String(toS),
      '--var', `version_a=${truth.versionA}`,
      '--var', `version_b=${truth.versionB}`,
      '--var', `metric=${truth.timer.metric}`,
    ]);
    if (result.exitCode !== 0) throw new Error(`the preview failed (exit ${result.exitCode})`);

    await mkdir(outDir, { recursive: true });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ viewport: VIEWPORT, deviceScaleFactor: 1 });
      for (const d of result.dashboards) {
        await page.goto(pathToFileURL(d.page).href);
        await page.waitForSelector('body[data-rendered="true"]', { timeout: 15_000 });
        const png = join(outDir, `${basename(d.file, '.json')}.png`);
        await page.screenshot({ path: png, fullPage: true });
        console.log(`${png}: ${d.counts.ok}/${d.counts.panels} panels with data`);
      }
    } finally {
      await browser.close();
    }
    return result;
  } finally {
    for (const stop of stops.reverse()) await stop();
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, seconds: { type: 'string' }, 'keep-preview': { type: 'string' } },
  });
  takeScreenshots({
    outDir: resolve(values.out ?? join(ROOT, 'docs', 'dashboards')),
    seconds: Number(values.seconds ?? 45),
    keepPreview: values['keep-preview'],
  }).then(
    () => undefined,
    (err) => {
      console.error(err.stack ?? err);
      process.exitCode = 1;
    },
  );
}
