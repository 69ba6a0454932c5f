// npm run demo: the three questions Tally exists for, answered in about a
// minute. Starts the agent, a Prometheus if one is on PATH, and a small shop
// (demo/app.mjs, written with the Tally client) as version 1.4 and then 1.5;
// then prints p50/p99 per version, memory per version, the most used
// features and when each was last used. Ctrl-C stops everything it started.
//
//   node demo/run.mjs [--seconds N] [--once] [--no-prometheus]
//     --seconds N      how long each version runs (default 20)
//     --once           exit after printing the answers instead of waiting for Ctrl-C
//     --no-prometheus  answer from the agent's /metrics alone, as without Prometheus installed
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { parsePromText } from '../scripts/prom-text.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf('--seconds') + 1] ?? 20) || 20;
const once = args.includes('--once');
const SERVICE = 'demo-shop';
const VERSIONS = ['1.4', '1.5'];

const children = new Set();
const dir = mkdtempSync(join(tmpdir(), 'tally-demo-'));
let stopping = false;

async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  await Promise.all(
    [...children].map(
      (c) =>
        new Promise((r) => {
          if (c.exitCode !== null || c.signalCode !== null) return r();
          c.once('exit', r);
          c.kill('SIGTERM');
          setTimeout(() => c.kill('SIGKILL'), 5000).unref();
        }),
    ),
  );
  rmSync(dir, { recursive: true, force: true });
  process.exit(code);
}
process.on('SIGINT', () => {
  console.log('\nStopping the agent, Prometheus and the shop.');
  void stopAll(0);
});
process.on('SIGTERM', () => void stopAll(0));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function onPath(bin) {
  for (const d of (process.env.PATH ?? '').split(delimiter)) if (d && existsSync(join(d, bin))) return join(d, bin);
  return undefined;
}

function start(cmd, argv, opts = {}) {
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Resolves once a line of the child's stdout or stderr satisfies `test`; rejects if it exits first. */
function waitForLine(child, test, what) {
  return new Promise((resolve, reject) => {
    const out = [];
    const onLine = (line) => {
      out.push(line);
      if (test(line)) resolve(line);
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before it was ready:\n${out.slice(-20).join('\n')}`)));
  });
}

async function waitForHttp(url, timeoutMs) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > end) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const udpPort = await freePort();
const httpPort = await freePort();
const configFile = join(dir, 'tally.yaml');
writeFileSync(
  configFile,
  JSON.stringify({
    statsd: { udp: { port: udpPort } },
    http: { port: httpPort },
    aggregation: { flush_interval: '1s' },
    spool: { dir: join(dir, 'spool') },
    log: { level: 'warn' },
  }),
);
const agent = start(process.execPath, [join(root, 'dist', 'agent', 'main.js'), '--config', configFile]);
agent.stderr.pipe(process.stderr);
await waitForHttp(`http://127.0.0.1:${httpPort}/readyz`, 15_000);
const agentUrl = `http://127.0.0.1:${httpPort}`;

const prometheusBin = args.includes('--no-prometheus') ? undefined : onPath('prometheus');
let promUrl;
if (prometheusBin) {
  const promPort = await freePort();
  const promConfig = join(dir, 'prometheus.yml');
  writeFileSync(promConfig, `global: { scrape_interval: 1s }\nscrape_configs:\n  - job_name: tally\n    static_configs: [{ targets: ["127.0.0.1:${httpPort}"] }]\n`);
  start(prometheusBin, [`--config.file=${promConfig}`, `--storage.tsdb.path=${join(dir, 'prometheus')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=error']);
  promUrl = `http://127.0.0.1:${promPort}`;
  await waitForHttp(`${promUrl}/-/ready`, 20_000);
}

console.log(`Tally demo`);
console.log(`  agent:      statsd on udp 127.0.0.1:${udpPort}, ${agentUrl}/metrics`);
console.log(
  promUrl
    ? `  Prometheus: ${promUrl} (scraping the agent every second)`
    : '  Prometheus: not on PATH, so the answers come from the agent\'s /metrics alone.\n' +
        '              Install it (Debian: apt-get install prometheus) for percentiles over a time range and the graphs.',
);

for (const version of VERSIONS) {
  process.stdout.write(`Running ${SERVICE} version ${version} for ${seconds} s ... `);
  const app = start(process.execPath, [join(root, 'demo', 'app.mjs')], {
    cwd: root,
    env: {
      ...process.env,
      TALLY_HOST: '127.0.0.1',
      TALLY_PORT: String(udpPort),
      OTEL_SERVICE_NAME: SERVICE,
      OTEL_RESOURCE_ATTRIBUTES: `service.version=${version},deployment.environment.name=demo`,
      DEMO_VERSION: version,
      DEMO_DURATION_MS: String(seconds * 1000),
    },
  });
  app.stderr.pipe(process.stderr);
  const code = await new Promise((r) => app.once('exit', r));
  if (code !== 0) {
    console.error(`the shop exited with ${code}`);
    await stopAll(1);
  }
  console.log('done');
}
// Two flushes and two scrapes, so the last of it is in Prometheus.
await new Promise((r) => setTimeout(r, 3000));

const answers = promUrl ? await fromPrometheus(promUrl) : await fromMetrics(agentUrl);
printAnswers(answers, promUrl ? 'Prometheus' : "the agent's /metrics");

console.log('\nLook for yourself:');
if (promUrl) {
  const expr = `histogram_quantile(0.99, sum by (le, version) (rate(checkout_latency_seconds_bucket{service="${SERVICE}"}[10s])))`;
  console.log(`  p99 by version in Prometheus: ${promUrl}/graph?g0.expr=${encodeURIComponent(expr)}&g0.tab=0&g0.range_input=5m`);
}
console.log(`  the agent's own view:         ${agentUrl}/metrics`);
console.log('  Grafana: import dashboards/version-compare.json and dashboards/feature-usage.json (Dashboards → New → Import),');
console.log('           with this Prometheus as the data source; see docs/dashboards.md.');
if (once) await stopAll(0);
console.log('\nPress Ctrl-C to stop the agent' + (promUrl ? ' and Prometheus.' : '.'));

async function promQuery(url, expr) {
  const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
  const body = await res.json();
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
  return body.data.result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
}

async function fromPrometheus(url) {
  const sel = `service="${SERVICE}"`;
  const byVersion = async (expr) => Object.fromEntries((await promQuery(url, expr)).map((r) => [r.labels.version, r.value]));
  const q = (p) => `histogram_quantile(${p}, sum by (le, version) (increase(checkout_latency_seconds_bucket{${sel}}[10m])))`;
  const features = await promQuery(url, `round(sum by (value) (increase(feature_used_total{${sel}}[10m])))`);
  const last = Object.fromEntries(
    (await promQuery(url, `max by (value) (last_over_time(feature_used_last_seen_timestamp_seconds{${sel}}[10m]))`)).map((r) => [r.labels.value, r.value]),
  );
  return {
    p50: await byVersion(q(0.5)),
    p99: await byVersion(q(0.99)),
    memory: await byVersion(`max by (version) (max_over_time(runtime_memory_rss_bytes{${sel}}[10m]))`),
    features: features.map((f) => ({ name: f.labels.value, uses: f.value, lastSeen: last[f.labels.value] })),
  };
}

/** Without Prometheus: the agent's counters and buckets are cumulative since it started, which here is the whole demo. */
async function fromMetrics(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const { samples } = parsePromText(text);
  const of = (name) => samples.filter((s) => s.name === name && s.labels.service === SERVICE);
  const quantile = (p, version) => {
    const buckets = of('checkout_latency_seconds_bucket')
      .filter((s) => s.labels.version === version)
      .map((s) => ({ le: s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), n: s.value }))
      .sort((a, b) => a.le - b.le);
    const total = buckets.at(-1)?.n ?? 0;
    if (total === 0) return NaN;
    const rank = p * total;
    let prev = { le: 0, n: 0 };
    for (const b of buckets) {
      if (b.n >= rank) return b.le === Infinity ? prev.le : prev.le + (b.le - prev.le) * ((rank - prev.n) / (b.n - prev.n));
      prev = b;
    }
    return NaN;
  };
  const perVersion = (f) => Object.fromEntries(VERSIONS.map((v) => [v, f(v)]));
  const uses = new Map();
  for (const s of of('feature_used_total')) uses.set(s.labels.value, (uses.get(s.labels.value) ?? 0) + s.value);
  const last = new Map();
  for (const s of of('feature_used_last_seen_timestamp_seconds')) last.set(s.labels.value, Math.max(last.get(s.labels.value) ?? 0, s.value));
  return {
    p50: perVersion((v) => quantile(0.5, v)),
    p99: perVersion((v) => quantile(0.99, v)),
    memory: perVersion((v) => of('runtime_memory_rss_bytes').find((s) => s.labels.version === v)?.value ?? NaN),
    features: [...uses].map(([name, n]) => ({ name, uses: n, lastSeen: last.get(name) })).sort((a, b) => b.uses - a.uses),
  };
}

function printAnswers(a, source) {
  const [A, B] = VERSIONS;
  const s = (x) => (Number.isFinite(x) ? `${x.toFixed(3)} s` : 'n/a');
  console.log(`\nIs version ${B} slower than ${A}?  (checkout.latency, percentiles from ${source})`);
  console.log(`  version   p50        p99`);
  for (const v of VERSIONS) console.log(`  ${v.padEnd(8)}  ${s(a.p50[v]).padEnd(9)}  ${s(a.p99[v])}`);
  const ratio = a.p99[B] / a.p99[A];
  console.log(`  p99 ${B} / ${A}: ${ratio.toFixed(2)} → ${ratio > 1.1 ? `yes, ${B} is ${Math.round((ratio - 1) * 100)} % slower` : ratio < 0.9 ? `no, ${B} is faster` : 'about the same'}`);

  const mb = (x) => (Number.isFinite(x) ? `${(x / 2 ** 20).toFixed(0)} MB` : 'n/a');
  const dm = a.memory[B] - a.memory[A];
  console.log(`\nIs version ${B} using more memory than ${A}?  (resident memory, the client's collectRuntime())`);
  console.log(`  ${A}: ${mb(a.memory[A])}, ${B}: ${mb(a.memory[B])} → ${dm > 10 * 2 ** 20 ? `yes, ${mb(dm)} more` : dm < -10 * 2 ** 20 ? 'no, less' : 'about the same'}`);

  const now = Date.now() / 1000;
  console.log('\nWhich features are used most, and when was each last used?');
  a.features
    .sort((x, y) => y.uses - x.uses)
    .forEach((f, i) => {
      const ago = f.lastSeen === undefined ? 'unknown' : `${Math.max(0, Math.round(now - f.lastSeen))} s ago`;
      console.log(`  ${String(i + 1).padStart(2)}. ${f.name.padEnd(12)} ${String(Math.round(f.uses)).padStart(6)} use${Math.round(f.uses) === 1 ? ' ' : 's'}   last used ${ago}`);
    });
}
