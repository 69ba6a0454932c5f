/**
 * Real metrics stores for end-to-end tests: Prometheus 2.42 and
 * VictoriaMetrics (Debian packages), each on a free loopback port with its own
 * temporary storage, stopped (and its storage removed) by `stop()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort, waitFor } from './agent-process.js';

const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

export interface MetricsBackend {
  kind: 'prometheus' | 'victoriametrics';
  port: number;
  /** http://127.0.0.1:PORT */
  url: string;
  /** Everything the process printed so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

interface ProcessSpec {
  kind: MetricsBackend['kind'];
  bin: string;
  args(port: number, dir: string): string[];
  readyPath: string;
}

/**
 * Starts the process on a port free a moment ago; a lost race for the port
 * shows as an early exit naming the address in use, and is tried again.
 * `port` reserves the port when the caller had to name it in advance (in an
 * agent's sink endpoint, say).
 */
async function startProcess(spec: ProcessSpec, dir: string, port?: number): Promise<MetricsBackend> {
  for (let attempt = 1; ; attempt++) {
    const p = port ?? (await freeTcpPort());
    let output = '';
    const child: ChildProcess = spawn(spec.bin, spec.args(p, dir), { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
    const exited = new Promise<void>((r) => {
      child.once('exit', () => r());
      child.once('error', (err) => {
        output += String(err);
        r();
      });
    });
    let hasExited = false;
    void exited.then(() => (hasExited = true));
    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timeout = new Promise<'timeout'>((r) => setTimeout(r, STOP_TIMEOUT_MS, 'timeout').unref());
          if ((await Promise.race([exited, timeout])) === 'timeout') {
            child.kill('SIGKILL');
            await exited;
          }
        }
      })();
      return stopping;
    };
    const onExit = () => child.kill('SIGKILL');
    process.once('exit', onExit);
    try {
      await waitFor(
        async () => {
          if (hasExited) throw new Error(`${spec.kind} exited during start-up:\n${output.slice(-3000)}`);
          const res = await fetch(`http://127.0.0.1:${p}${spec.readyPath}`, { signal: AbortSignal.timeout(1_000) });
          await res.text();
          if (res.status !== 200) throw new Error(`${spec.readyPath}: HTTP ${res.status}`);
          return true;
        },
        START_TIMEOUT_MS,
        200,
      );
    } catch (err) {
      await stop();
      process.removeListener('exit', onExit);
      if (port === undefined && attempt < 3 && /address already in use/i.test(output)) continue;
      throw err;
    }
    return {
      kind: spec.kind,
      port: p,
      url: `http://127.0.0.1:${p}`,
      output: () => output,
      async stop() {
        await stop();
        process.removeListener('exit', onExit);
      },
    };
  }
}

export interface ScrapeTarget {
  job: string;
  targets: string[];
  /** Keep only series whose name matches this regex (metric_relabel_configs keep). */
  keepNames?: string;
}

function scrapeConfigYaml(scrapeIntervalS: number, jobs: ScrapeTarget[]): string {
  const lines = ['global:', `  scrape_interval: ${scrapeIntervalS}s`, `  scrape_timeout: ${scrapeIntervalS}s`, 'scrape_configs:'];
  for (const j of jobs) {
    lines.push(`  - job_name: ${JSON.stringify(j.job)}`, '    static_configs:', `      - targets: ${JSON.stringify(j.targets)}`);
    if (j.keepNames) {
      lines.push(
        '    metric_relabel_configs:',
        '      - source_labels: [__name__]',
        `        regex: ${JSON.stringify(j.keepNames)}`,
        '        action: keep',
      );
    }
  }
  return lines.join('\n') + '\n';
}

export interface PrometheusOptions {
  bin: string;
  scrapeIntervalS: number;
  jobs: ScrapeTarget[];
  /** Accept remote write on /api/v1/write (Prometheus' --web.enable-remote-write-receiver). */
  remoteWriteReceiver?: boolean;
  /** What `--enable-feature` turns on (e.g. native-histograms). */
  features?: string[];
  port?: number;
}

export async function startPrometheus(opts: PrometheusOptions): Promise<MetricsBackend> {
  const dir = await mkdtemp(join(tmpdir(), 'tally-prom-'));
  const config = join(dir, 'prometheus.yml');
  await writeFile(config, scrapeConfigYaml(opts.scrapeIntervalS, opts.jobs));
  try {
    const backend = await startProcess(
      {
        kind: 'prometheus',
        bin: opts.bin,
        readyPath: '/-/ready',
        args: (port, d) => [
          `--config.file=${config}`,
          `--storage.tsdb.path=${join(d, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--log.level=warn',
          ...(opts.remoteWriteReceiver ? ['--web.enable-remote-write-receiver'] : []),
          ...(opts.features !== undefined && opts.features.length > 0 ? [`--enable-feature=${opts.features.join(',')}`] : []),
        ],
      },
      dir,
      opts.port,
    );
    return withCleanup(backend, dir);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

export interface VictoriaMetricsOptions {
  bin: string;
  scrapeIntervalS: number;
  jobs: ScrapeTarget[];
  port?: number;
}

export async function startVictoriaMetrics(opts: VictoriaMetricsOptions): Promise<MetricsBackend> {
  const dir = await mkdtemp(join(tmpdir(), 'tally-vm-'));
  const config = join(dir, 'scrape.yml');
  await writeFile(config, scrapeConfigYaml(opts.scrapeIntervalS, opts.jobs));
  try {
    const backend = await startProcess(
      {
        kind: 'victoriametrics',
        bin: opts.bin,
        readyPath: '/health',
        args: (port, d) => [
          `-httpListenAddr=127.0.0.1:${port}`,
          `-storageDataPath=${join(d, 'data')}`,
          '-retentionPeriod=1d',
          `-promscrape.config=${config}`,
          // Fresh samples are hidden for 30 s by default (they might still be incomplete); a test reads them at once.
          '-search.latencyOffset=0s',
          '-search.disableCache',
          '-loggerLevel=WARN',
        ],
      },
      dir,
      opts.port,
    );
    return withCleanup(backend, dir);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

function withCleanup(backend: MetricsBackend, dir: string): MetricsBackend {
  return {
    ...backend,
    async stop() {
      await backend.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface PromSeries {
  metric: Record<string, string>;
  value?: [number, string];
  values?: Array<[number, string]>;
  /** An instant query's native histogram sample, in place of `value`. */
  histogram?: [number, { count: string; sum: string }];
}

export interface PromResult {
  resultType: 'vector' | 'matrix' | 'scalar' | 'string';
  result: PromSeries[];
}

/** Prometheus' HTTP query API (VictoriaMetrics serves the same). Anything but `success` throws with the answer. */
export async function promQuery(
  baseUrl: string,
  kind: 'instant' | 'range',
  params: { query: string; time?: number; start?: number; end?: number; step?: number },
): Promise<PromResult> {
  const path = kind === 'instant' ? '/api/v1/query' : '/api/v1/query_range';
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) search.set(k, String(v));
  const res = await fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: search.toString(),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let body: { status?: string; error?: string; data?: PromResult };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new Error(`${path} ${params.query}: HTTP ${res.status}, not JSON: ${text.slice(0, 500)}`);
  }
  if (res.status !== 200 || body.status !== 'success' || !body.data) {
    throw new Error(`${path} ${params.query}: HTTP ${res.status}: ${text.slice(0, 1000)}`);
  }
  if (body.data.resultType === 'scalar') {
    // A scalar answer is one value without labels; treat it as a one-series vector.
    const v = body.data.result as unknown as [number, string];
    return { resultType: 'vector', result: [{ metric: {}, value: v }] };
  }
  return body.data;
}
