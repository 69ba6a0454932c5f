// HTTP load generator for bench/http-collect.mjs; run it in its own process
// (pinned to a core the agent does not use).
//
//   node bench/http-load.mjs --port P --mode open --rate 10000 --duration 10 --connections 64
//   node bench/http-load.mjs --port P --mode closed --concurrency 64 --duration 10
//
// open:   open-loop / fixed rate. Request i is scheduled at t0 + i/rate and its
//         latency is measured from that intended start, so a stall in the
//         server (or in this client) shows up in the percentiles instead of
//         silently delaying the requests behind it (coordinated omission).
//         Requests wait in the http.Agent queue when all sockets are busy.
// closed: `concurrency` loops, each sends the next request when the previous
//         answer arrived; measures maximum throughput.
//
// stdout: one JSON line with counts, status codes, errors and percentiles (ms).
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values: o } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    path: { type: 'string', default: '/v1/collect' },
    mode: { type: 'string', default: 'open' },
    rate: { type: 'string', default: '10000' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '64' },
    concurrency: { type: 'string', default: '64' },
    warmup: { type: 'string', default: '1' },
    body: { type: 'string', default: '{"name":"feature-used","value":"Export PDF"}' },
  },
});
const port = Number(o.port);
const rate = Number(o.rate);
const durationS = Number(o.duration);
const warmupS = Number(o.warmup);
const body = Buffer.from(o.body);
const maxSockets = o.mode === 'open' ? Number(o.connections) : Number(o.concurrency);
const agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'fifo' });
const headers = { 'content-type': 'application/json', 'content-length': String(body.length) };

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

const stats = { warm202: 0, sent: 0, completed: 0, status: {}, errors: {}, lat: [], lag: [] };
let measuring = false;

function send(intendedMs, done) {
  const rec = measuring;
  if (rec) stats.sent++;
  const req = http.request({ host: o.host, port, path: o.path, method: 'POST', agent, headers }, (res) => {
    res.on('data', () => {});
    res.on('end', () => {
      if (!rec && res.statusCode === 202) stats.warm202++;
      if (rec) {
        stats.completed++;
        stats.status[res.statusCode] = (stats.status[res.statusCode] ?? 0) + 1;
        stats.lat.push(nowMs() - intendedMs);
      }
      done?.();
    });
  });
  req.on('error', (err) => {
    if (rec) stats.errors[err.code ?? err.message] = (stats.errors[err.code ?? err.message] ?? 0) + 1;
    done?.();
  });
  req.end(body);
}

function pct(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function openLoop() {
  // Warm-up at the same rate (JIT, sockets), not recorded.
  for (const [secs, rec] of [[warmupS, false], [durationS, true]]) {
    if (secs <= 0) continue;
    measuring = rec;
    const total = Math.round(rate * secs);
    const t0 = nowMs();
    let issued = 0;
    await new Promise((resolve) => {
      const tick = () => {
        const now = nowMs();
        const due = Math.min(total, Math.floor(((now - t0) * rate) / 1000) + 1);
        while (issued < due) {
          const intended = t0 + (issued * 1000) / rate;
          if (rec) stats.lag.push(now - intended);
          send(intended);
          issued++;
        }
        if (issued >= total) return resolve();
        setImmediate(tick);
      };
      tick();
    });
    stats.elapsedS = rec ? (nowMs() - t0) / 1000 : stats.elapsedS;
  }
  await drain();
}

async function closedLoop() {
  for (const [secs, rec] of [[warmupS, false], [durationS, true]]) {
    if (secs <= 0) continue;
    measuring = rec;
    const t0 = nowMs();
    const end = t0 + secs * 1000;
    let active = 0;
    await new Promise((resolve) => {
      const loop = () => {
        if (nowMs() >= end) {
          if (--active === 0) resolve();
          return;
        }
        const start = nowMs();
        send(start, loop);
      };
      for (let i = 0; i < maxSockets; i++) {
        active++;
        loop();
      }
    });
    if (rec) stats.elapsedS = (nowMs() - t0) / 1000;
  }
}

async function drain() {
  const deadline = nowMs() + 30000;
  while (stats.completed + Object.values(stats.errors).reduce((a, b) => a + b, 0) < stats.sent && nowMs() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
}

if (o.mode === 'open') await openLoop();
else await closedLoop();

const lat = Float64Array.from(stats.lat).sort();
const lag = Float64Array.from(stats.lag).sort();
const r3 = (v) => (v == null ? null : Math.round(v * 1000) / 1000);
console.log(
  JSON.stringify({
    mode: o.mode,
    rate: o.mode === 'open' ? rate : null,
    connections: maxSockets,
    durationS,
    elapsedS: stats.elapsedS,
    warmup202: stats.warm202,
    sent: stats.sent,
    completed: stats.completed,
    status: stats.status,
    errors: stats.errors,
    reqPerS: stats.completed / stats.elapsedS,
    latencyMs: { p50: r3(pct(lat, 50)), p90: r3(pct(lat, 90)), p99: r3(pct(lat, 99)), p999: r3(pct(lat, 99.9)), max: r3(lat[lat.length - 1]) },
    // How late this generator issued requests against their schedule; a
    // large figure means the generator, not the agent, limited the run.
    issueLagMs: o.mode === 'open' ? { p50: r3(pct(lag, 50)), p99: r3(pct(lag, 99)), max: r3(lag[lag.length - 1]) } : null,
  }),
);
agent.destroy();
process.exit(0);
