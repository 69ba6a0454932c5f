/**
 * The built agent pushing to a backend that goes away: an OTLP receiver that
 * decodes with the OpenTelemetry protos (not Tally's encoder), and a real
 * Prometheus 2.42 receiving remote write behind a proxy. Each backend is
 * stopped (connection refused) for a while, and answers 503 with
 * Retry-After for a while (the proxy, for Prometheus, which never does);
 * afterwards every batch the agent queued has arrived, in order, and the
 * backend's totals equal the agent's own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOnPath, startAgent, waitFor, type AgentHandle } from '../support/agent-process.js';
import { startFlakyProxy, type FlakyProxy } from '../support/flaky-proxy.js';
import { logRecords, metricPoints, OtlpReceiver } from '../support/otlp-receiver.js';
import { parsePromText, sampleValue, type Exposition } from '../support/prom-text.js';
import { decodeBody } from '../export/remote-write/helpers.js';
import { startPrometheusReceiver, type PrometheusReceiver } from '../export/remote-write/prometheus-receiver.js';

const prometheusBin = findOnPath('prometheus');
const inCI = process.env.CI === 'true';
const PHASE_MS = 1_500;

const sinkTiming = { retry: { initial_backoff: '100ms', max_backoff: '400ms', max_retry_after: '2s' } };

async function scrape(agent: AgentHandle): Promise<Exposition> {
  return parsePromText(await agent.metricsText());
}

/** Sends counter increments and HTTP events through the phases; resolves with what was sent and acknowledged. */
async function drive(agent: AgentHandle, prefix: string, phases: Array<() => Promise<void>>) {
  let hits = 0;
  const acked: string[] = [];
  let n = 0;
  for (const enter of phases) {
    await enter();
    const until = Date.now() + PHASE_MS;
    while (Date.now() < until) {
      await agent.sendUdp(`${prefix}.hits:1|c|#phase:x`);
      hits++;
      const id = `e${n++}`;
      const res = await fetch(`http://127.0.0.1:${agent.httpPort}/v1/collect`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: `${prefix}_evt`, value: id }),
      });
      if (res.status === 202) acked.push(id);
      await res.text();
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { hits, acked };
}

describe('OTLP/HTTP sink through an outage', () => {
  let receiver: OtlpReceiver;
  let agent: AgentHandle;
  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    agent = await startAgent({
      config: {
        aggregation: { flush_interval: '250ms' },
        sinks: [{ name: 'collector', type: 'otlp', endpoint: receiver.url, ...sinkTiming }],
      },
    });
  });
  afterAll(async () => {
    await agent?.stop();
    await receiver?.close();
  });

  it('delivers every queued batch, in order, with delta sums that add up to the total', async () => {
    const sent = await drive(agent, 'otlpo', [
      async () => undefined,
      () => receiver.down(),
      async () => {
        await receiver.up();
        receiver.respond({ status: 503, retryAfter: '1' }, { forMs: PHASE_MS });
      },
      async () => receiver.reset(),
    ]);
    const exp = await waitFor(async () => {
      const e = await scrape(agent);
      expect(sampleValue(e, 'otlpo_hits_total', { phase: 'x' })).toBe(sent.hits);
      expect(sampleValue(e, 'tally_queue_records', { sink: 'collector' })).toBe(0);
      // A flush after the last hit has been delivered too.
      expect(sumOfDeltas()).toBe(sent.hits);
      // And the one holding the last event, which was posted after the last hit and may be cut a flush later.
      const delivered = new Set(receiver.accepted('logs').flatMap((r) => logRecords(r.message)).filter((l) => l.eventName === 'otlpo_evt').map((l) => String(l.body)));
      expect(sent.acked.filter((id) => !delivered.has(id))).toEqual([]);
      // Flushes go on meanwhile: a scrape can fall between a request leaving the queue and its count as sent.
      expect(sampleValue(e, 'tally_sink_sent_total', { sink: 'collector' })).toBe(sampleValue(e, 'tally_sink_enqueued_total', { sink: 'collector' }));
      return e;
    }, 15_000);
    const enqueued = sampleValue(exp, 'tally_sink_enqueued_total', { sink: 'collector' })!;
    expect(sampleValue(exp, 'tally_sink_retries_total', { sink: 'collector' })).toBeGreaterThan(0);
    expect(sampleValue(exp, 'tally_sink_dead_lettered_total', { sink: 'collector' })).toBe(0);
    expect(receiver.requests.some((r) => r.status === 503)).toBe(true);

    // Every queued request arrived once (none lost, no gaps), and batches arrived in the order they were cut.
    const accepted = receiver.accepted();
    const batchKeys = accepted.map((r) => `${String(r.headers['x-tally-batch-id'])} ${r.path}`);
    // Flushes go on after the scrape, so a few more may have arrived since; none twice.
    expect(new Set(batchKeys).size).toBe(batchKeys.length);
    expect(batchKeys.length).toBeGreaterThanOrEqual(enqueued);
    const batchTimes = receiver.accepted('metrics').map((r) => metricPoints(r.message).map((p) => p.timeUnixNano).reduce((a, b) => (a > b ? a : b), 0n));
    expect(batchTimes).toEqual([...batchTimes].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));

    // Every acknowledged event arrived as a log record.
    const events = receiver.accepted('logs').flatMap((r) => logRecords(r.message)).filter((l) => l.eventName === 'otlpo_evt');
    const ids = new Set(events.map((l) => String(l.body)));
    expect(sent.acked.length).toBeGreaterThan(10);
    expect(sent.acked.filter((id) => !ids.has(id))).toEqual([]);

    function sumOfDeltas(): number {
      return receiver
        .accepted('metrics')
        .flatMap((r) => metricPoints(r.message))
        .filter((p) => p.metric === 'otlpo_hits')
        .reduce((a, p) => a + Number(p.value), 0);
    }
  }, 40_000);
});

if (!prometheusBin && !inCI) console.warn('SKIPPED: remote-write outage test, `prometheus` is not on PATH');

describe.skipIf(!prometheusBin && !inCI)('Prometheus remote write through an outage', () => {
  let prom: PrometheusReceiver;
  let proxy: FlakyProxy;
  let agent: AgentHandle;
  beforeAll(async () => {
    if (!prometheusBin) throw new Error('`prometheus` is not on PATH, and CI=true requires it');
    prom = await startPrometheusReceiver(prometheusBin);
    proxy = await startFlakyProxy(prom.writeUrl);
    agent = await startAgent({
      config: {
        aggregation: { flush_interval: '250ms' },
        sinks: [{ name: 'prom', type: 'prometheus_remote_write', endpoint: proxy.url(), ...sinkTiming }],
      },
    });
  });
  afterAll(async () => {
    await agent?.stop();
    await proxy?.stop();
    await prom?.stop();
  });

  it('delivers every queued batch in order, and PromQL then shows what /metrics shows', async () => {
    const sent = await drive(agent, 'rwo', [
      async () => undefined,
      // Prometheus itself stops; the proxy goes down with it, so the agent sees a refused connection.
      async () => {
        await proxy.setMode('down');
        await prom.pause();
      },
      async () => {
        await prom.restart();
        await proxy.setMode('503');
      },
      () => proxy.setMode('up'),
    ]);
    const exp = await waitFor(async () => {
      const e = await scrape(agent);
      expect(sampleValue(e, 'rwo_hits_total', { phase: 'x' })).toBe(sent.hits);
      expect(sampleValue(e, 'tally_queue_records', { sink: 'prom' })).toBe(0);
      expect(lastPushed()).toBe(sent.hits);
      // The last event may land in a flush after the last hit's.
      expect(eventSeriesPushed()).toBe(sent.acked.length);
      // Flushes go on meanwhile: a scrape can fall between a request leaving the queue and its count as sent (seen once in CI).
      expect(sampleValue(e, 'tally_sink_sent_total', { sink: 'prom' })).toBe(sampleValue(e, 'tally_sink_enqueued_total', { sink: 'prom' }));
      return e;
    }, 15_000);
    const enqueued = sampleValue(exp, 'tally_sink_enqueued_total', { sink: 'prom' })!;
    expect(sampleValue(exp, 'tally_sink_dead_lettered_total', { sink: 'prom' })).toBe(0);
    expect(proxy.refused503).toBeGreaterThan(0);

    // In order, and each batch exactly once: the sample times of the counter rise with every request.
    const ok = proxy.forwarded.filter((f) => f.status >= 200 && f.status < 300);
    // Flushes go on after the scrape, so a few more may have arrived since (none twice: the times below rise strictly).
    expect(ok.length).toBeGreaterThanOrEqual(enqueued);
    const times = ok.flatMap((f) => decodeBody(f.body).filter((s) => s.labels.some(([k, v]) => k === '__name__' && v === 'rwo_hits_total')).flatMap((s) => s.samples.map((x) => x.timestamp)));
    expect(times.length).toBeGreaterThan(5);
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThan(times[i - 1]!);

    // Prometheus holds one sample per batch, the last equal to the agent's own counter.
    const last = times[times.length - 1]!;
    const [v] = await prom.query('rwo_hits_total{phase="x"}', last);
    expect(Number(v!.value[1])).toBe(sent.hits);
    const [c] = await prom.query('count_over_time(rwo_hits_total{phase="x"}[10m])', last);
    expect(Number(c!.value[1])).toBe(times.length);
    // Events arrive as their two metrics.
    const newest = Math.max(...ok.flatMap((f) => decodeBody(f.body).flatMap((x) => x.samples.map((y) => y.timestamp))));
    const [e] = await prom.query('count(rwo_evt_total)', newest);
    expect(Number(e!.value[1])).toBe(sent.acked.length);

    function eventSeriesPushed(): number {
      const ids = new Set<string>();
      for (const f of proxy.forwarded.filter((x) => x.status < 300)) {
        for (const series of decodeBody(f.body)) {
          if (series.labels.some(([k, val]) => k === '__name__' && val === 'rwo_evt_total')) ids.add(JSON.stringify(series.labels));
        }
      }
      return ids.size;
    }

    function lastPushed(): number | undefined {
      const series = proxy.forwarded
        .filter((f) => f.status < 300)
        .flatMap((f) => decodeBody(f.body))
        .filter((s) => s.labels.some(([k, val]) => k === '__name__' && val === 'rwo_hits_total'));
      return series.at(-1)?.samples.at(-1)?.value;
    }
  }, 40_000);
});
