/**
 * A real Prometheus as a remote-write receiver (`--web.enable-remote-write-receiver`,
 * no scrape targets), on a free loopback port with a temporary TSDB, and
 * the PromQL calls the tests make against it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort, waitFor } from '../../support/agent-process.js';

export interface PromVector {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PrometheusReceiver {
  /** The remote-write endpoint, http://127.0.0.1:PORT/api/v1/write. */
  writeUrl: string;
  /** An instant query evaluated at `timeMs`. */
  query(promql: string, timeMs: number): Promise<PromVector[]>;
  /** Everything Prometheus has logged so far, for failure messages. */
  output(): string;
  /** Stops the Prometheus process (SIGTERM), keeping its TSDB and port for restart(). */
  pause(): Promise<void>;
  /** Starts Prometheus again on the same port and TSDB; resolves once it is ready. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** `features`: what `--enable-feature` turns on (e.g. native-histograms). */
export async function startPrometheusReceiver(bin: string, features: readonly string[] = []): Promise<PrometheusReceiver> {
  const dir = await mkdtemp(join(tmpdir(), 'tally-prom-rw-'));
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, 'global:\n  evaluation_interval: 1m\n');
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';
  const stopChild = async () => {
    const c = child;
    child = undefined;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    c.kill('SIGTERM');
    const timeout = new Promise<'timeout'>((r) => setTimeout(r, 5_000, 'timeout').unref());
    if ((await Promise.race([exited, timeout])) === 'timeout') {
      c.kill('SIGKILL');
      await exited;
    }
  };
  // freeTcpPort can race with another process; a lost race shows as an early exit, so try again.
  const launch = (port: number, dataDir: string) => {
    const c = spawn(
      bin,
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${dataDir}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--web.enable-remote-write-receiver',
        ...(features.length > 0 ? [`--enable-feature=${features.join(',')}`] : []),
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = c;
    c.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
    c.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
    let gone = false;
    exited = new Promise<void>((r) => c.once('exit', () => r()));
    void exited.then(() => (gone = true));
    return async () => {
      const state = await waitFor(
        async () => {
          if (gone) return 'exited';
          const res = await fetch(`http://127.0.0.1:${port}/-/ready`, { signal: AbortSignal.timeout(1_000) });
          await res.text();
          if (res.status !== 200) throw new Error(`/-/ready answered ${res.status}`);
          return 'ready';
        },
        20_000,
        200,
      );
      if (state === 'exited') throw new Error(`prometheus exited during start-up:\n${output}`);
    };
  };
  for (let attempt = 1; ; attempt++) {
    const port = await freeTcpPort();
    const dataDir = join(dir, `data-${attempt}`);
    output = '';
    try {
      await launch(port, dataDir)();
      const base = `http://127.0.0.1:${port}`;
      return {
        writeUrl: `${base}/api/v1/write`,
        output: () => output,
        async query(promql, timeMs) {
          const url = `${base}/api/v1/query?query=${encodeURIComponent(promql)}&time=${(timeMs / 1000).toFixed(3)}`;
          const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
          const body = (await res.json()) as { status: string; data?: { resultType: string; result: PromVector[] } };
          if (res.status !== 200 || body.status !== 'success' || body.data?.resultType !== 'vector') {
            throw new Error(`query ${promql}: HTTP ${res.status}: ${JSON.stringify(body)}`);
          }
          return body.data.result;
        },
        pause: stopChild,
        async restart() {
          await stopChild();
          await launch(port, dataDir)();
        },
        async stop() {
          await stopChild();
          await rm(dir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      await stopChild();
      if (attempt >= 3 || !/address already in use/i.test(output)) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }
}
