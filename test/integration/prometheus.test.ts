/**
 * The end the agent exists for: a real Prometheus scrapes it, and PromQL over
 * the stored samples gives back what was sent (rates, gauge values, latency
 * quantiles). Needs the `prometheus` binary; CI installs it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOnPath, freeTcpPort, ROOT, startAgent, waitFor, type AgentHandle } from '../support/agent-process.js';
import { loadLatenciesMs, quantileErrors } from '../support/quantiles.js';

const prometheusBin = findOnPath('prometheus');
const inCI = process.env.CI === 'true';

if (!prometheusBin && !inCI) {
  console.warn(
    '\n' +
      '**********************************************************************\n' +
      '*  `prometheus` is not on PATH: SKIPPING the Prometheus scrape tests. *\n' +
      '*  Install it (apt-get install prometheus) to run them; CI does.      *\n' +
      '**********************************************************************\n',
  );
}

const COUNTER_PER_SEC = 200;
const TIMERS_PER_SEC = 100;
// Timer values cycle through 1..100 ms, so the true p99 is 99 ms and p50 is 50 ms.
const TIMER_VALUES_MS = Array.from({ length: 100 }, (_, i) => i + 1);
const TRUE_P99_S = 0.099;
// The default timer buckets are 9 % apart, so histogram_quantile reads any quantile from 1 ms to 60 s within 10 %.
const BUCKET_ERROR = 0.1;
const GAUGE_FINAL = 42;
// Its api.*.latency rule makes a summary with statsd_exporter's default quantiles (p99 to 0.001).
const MAPPING = join(ROOT, 'test', 'mapping', 'fixtures', 'valid', 'scale-summary-help.yaml');
const SUMMARY_SAMPLES_MS = loadLatenciesMs();
// Long enough that a 5 s rate window lies entirely within steady sending, with margin for scrape jitter.
const MIN_SEND_MS = 8_000;
const TICK_MS = 100;

interface PromVector {
  metric: Record<string, string>;
  value: [number, string];
}

describe('the test environment', () => {
  it.runIf(!prometheusBin && inCI)('has prometheus on PATH in CI', () => {
    throw new Error('`prometheus` is not on PATH, and CI=true requires it: .ci/run installs the prometheus package');
  });
});

describe.skipIf(!prometheusBin)('a real Prometheus scraping the agent', () => {
  let agent: AgentHandle | undefined;
  let prom: ChildProcess | undefined;
  let promExited: Promise<void> | undefined;
  let promOutput = '';
  let promPort = 0;
  let dir: string | undefined;
  let sender: NodeJS.Timeout | undefined;
  let sendStartedAt = 0;
  let sendError: unknown;

  async function query(promql: string): Promise<PromVector[]> {
    const url = `http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(promql)}`;
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: PromVector[] } };
    if (res.status !== 200 || body.status !== 'success') throw new Error(`query ${promql}: HTTP ${res.status}: ${JSON.stringify(body)}`);
    expect(body.data?.resultType).toBe('vector');
    return body.data!.result;
  }

  /** The single value of an instant query, or a thrown error saying what came back instead. */
  async function scalar(promql: string): Promise<number> {
    const result = await query(promql);
    if (result.length !== 1) throw new Error(`query ${promql} returned ${result.length} series: ${JSON.stringify(result)}`);
    return Number(result[0]!.value[1]);
  }

  async function startPrometheus(agentHttpPort: number): Promise<void> {
    dir = await mkdtemp(join(tmpdir(), 'tally-prom-'));
    const configFile = join(dir, 'prometheus.yml');
    await writeFile(
      configFile,
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        '  evaluation_interval: 1s',
        'scrape_configs:',
        '  - job_name: tally',
        '    static_configs:',
        `      - targets: ['127.0.0.1:${agentHttpPort}']`,
        '',
      ].join('\n'),
    );
    // freeTcpPort can race with another process; a lost race shows as an early exit, so try again.
    for (let attempt = 1; ; attempt++) {
      promPort = await freeTcpPort();
      promOutput = '';
      const child = spawn(
        prometheusBin!,
        [
          `--config.file=${configFile}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${promPort}`,
          '--log.level=warn',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      prom = child;
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (promOutput += d));
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (promOutput += d));
      let exited = false;
      promExited = new Promise<void>((r) => child.once('exit', () => r()));
      void promExited.then(() => (exited = true));
      try {
        await waitFor(async () => {
          if (exited) return 'exited';
          const res = await fetch(`http://127.0.0.1:${promPort}/-/ready`, { signal: AbortSignal.timeout(1_000) });
          await res.text();
          expect(res.status).toBe(200);
          return 'ready';
        }, 20_000, 200).then((state) => {
          if (state === 'exited') throw new Error(`prometheus exited during start-up:\n${promOutput}`);
        });
        return;
      } catch (err) {
        await stopPrometheus();
        if (attempt >= 3 || !/address already in use/i.test(promOutput)) throw err;
      }
    }
  }

  async function stopPrometheus(): Promise<void> {
    const child = prom;
    if (!child) return;
    prom = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timeout = new Promise<'timeout'>((r) => setTimeout(r, 5_000, 'timeout').unref());
      if ((await Promise.race([promExited, timeout])) === 'timeout') {
        child.kill('SIGKILL');
        await promExited;
      }
    }
  }

  function startSending(a: AgentHandle): void {
    let countersSent = 0;
    let timersSent = 0;
    sendStartedAt = Date.now();
    // What is owed is computed from elapsed time, so timer jitter does not change the average rate.
    const tick = () => {
      const elapsedS = (Date.now() - sendStartedAt) / 1000;
      const lines: string[] = [];
      const counterOwed = Math.floor(elapsedS * COUNTER_PER_SEC) - countersSent;
      if (counterOwed > 0) {
        lines.push(`it.requests:${counterOwed}|c|#route:/checkout`);
        countersSent += counterOwed;
      }
      const timersOwed = Math.floor(elapsedS * TIMERS_PER_SEC) - timersSent;
      for (let k = 0; k < timersOwed; k++) {
        lines.push(`it.latency:${TIMER_VALUES_MS[timersSent % TIMER_VALUES_MS.length]}|ms`);
        timersSent++;
      }
      if (lines.length > 0) a.sendUdp(lines.join('\n')).catch((err: unknown) => (sendError ??= err));
    };
    sender = setInterval(tick, TICK_MS);
  }

  beforeAll(async () => {
    agent = await startAgent({ config: { mappings_file: MAPPING, aggregation: { flush_interval: '1s' } } });
    await agent.sendUdp(['it.queue.depth:40|g', 'it.queue.depth:+3|g', 'it.queue.depth:-1|g'].join('\n'));
    for (let i = 0; i < SUMMARY_SAMPLES_MS.length; i += 50) {
      await agent.sendUdp(SUMMARY_SAMPLES_MS.slice(i, i + 50).map((ms) => `api.checkout.latency:${ms}|ms`).join('\n'));
    }
    await startPrometheus(agent.httpPort);
    startSending(agent);
  }, 45_000);

  afterAll(async () => {
    if (sender) clearInterval(sender);
    await stopPrometheus();
    await agent?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('scrapes the agent successfully (up == 1)', async () => {
    await waitFor(async () => expect(await scalar('up{job="tally"}')).toBe(1), 10_000, 250);
  });

  it('rate() of the counter matches the rate it was sent at', async () => {
    await new Promise((r) => setTimeout(r, Math.max(0, sendStartedAt + MIN_SEND_MS - Date.now())));
    // A few scrapes more may be needed before a full window of samples is stored.
    const rate = await waitFor(
      async () => {
        const v = await scalar('rate(it_requests_total{route="/checkout"}[5s])');
        expect(v).toBeGreaterThan(COUNTER_PER_SEC * 0.9);
        expect(v).toBeLessThan(COUNTER_PER_SEC * 1.1);
        return v;
      },
      8_000,
      500,
    );
    expect(sendError).toBeUndefined();
    expect(Math.abs(rate - COUNTER_PER_SEC) / COUNTER_PER_SEC).toBeLessThan(0.1);
  });

  it('the gauge reads the value the deltas left it at', async () => {
    expect(await scalar('it_queue_depth')).toBe(GAUGE_FINAL);
  });

  it("histogram_quantile(0.99) of the timer reads the true p99 within the buckets' 10 %", async () => {
    const p99 = await waitFor(
      async () => {
        const v = await scalar('histogram_quantile(0.99, sum by (le) (rate(it_latency_seconds_bucket[5s])))');
        expect(Math.abs(v / TRUE_P99_S - 1)).toBeLessThanOrEqual(BUCKET_ERROR);
        return v;
      },
      8_000,
      500,
    );
    expect(Math.abs(p99 - TRUE_P99_S)).toBeLessThan(0.01);
    // A lower quantile, in another bucket (true p40 = 40 ms), shows the ms → s conversion and bucket layout hold there too.
    const p40 = await scalar('histogram_quantile(0.4, sum by (le) (rate(it_latency_seconds_bucket[5s])))');
    expect(Math.abs(p40 / 0.04 - 1)).toBeLessThanOrEqual(BUCKET_ERROR);
  });

  it('stores the summary quantiles: x{quantile="0.99"} is within its error of the exact p99', async () => {
    const seconds = SUMMARY_SAMPLES_MS.map((ms) => ms / 1000);
    await waitFor(
      async () => expect(await scalar('api_latency_seconds_count{route="checkout"}')).toBe(seconds.length),
      8_000,
      250,
    );
    const p99 = await scalar('api_latency_seconds{route="checkout",quantile="0.99"}');
    const { relative, rank } = quantileErrors(seconds, 0.99, p99);
    expect(relative).toBeLessThanOrEqual(0.001);
    expect(rank).toBeLessThanOrEqual(0.001);
  });
});
