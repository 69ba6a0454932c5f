/**
 * Shared by the client-library tests (test/integration/clients/): one agent
 * with every statsd listener on (UDP, TCP, a Unix stream and a Unix datagram
 * socket), and the skip-or-fail rule for clients installed from Debian.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startAgent, waitFor, type AgentHandle } from './agent-process.js';
import { findSample, parsePromText, sampleValue, type Exposition, type Labels } from './prom-text.js';

export const TIMER_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
// Not latencies: h/d values keep the sender's unit, so bounds far from the timer ones show which set was used.
export const HISTOGRAM_BUCKETS = [1, 10, 100, 1000];
// Sets publish a value only once a flush interval closes: two 1 s intervals and some slack.
export const SET_WAIT_MS = 3_500;
export const LAND_WAIT_MS = 3_000;
/**
 * Names the tests' agent keeps as up-down counters, so each client's
 * decrement() can be shown both ways: refused on an ordinary counter, kept
 * on a declared one (docs/protocol-differences.md, "Negative count").
 */
export const UP_DOWN_COUNTERS = ['*.inflight'];

export interface ClientAgent {
  agent: AgentHandle;
  tcpPort: number;
  /** The Unix stream socket (statsd.unix), newline-delimited statsd. */
  unixPath: string;
  /** The Unix datagram socket (statsd.unixgram), as DogStatsD clients' "uds" transport uses it. */
  unixgramPath: string;
  scrape(): Promise<Exposition>;
  /**
   * Resolves just after the agent closed a flush interval, so that sends
   * made at once land in one interval: for clients that send each set
   * member in a datagram of its own and cannot batch them.
   */
  justFlushed(): Promise<void>;
  stop(): Promise<void>;
}

export async function startClientAgent(): Promise<ClientAgent> {
  // A folder of our own: the agent uses a path it is given as is, and a name in /tmp itself could be taken by anyone.
  const dir = await mkdtemp(join(tmpdir(), 'tally-clients-'));
  const unixPath = join(dir, 'statsd.sock');
  const unixgramPath = join(dir, 'dsd.sock');
  let agent: AgentHandle;
  try {
    agent = await startAgent({
      config: {
        statsd: {
          tcp: { enabled: true, address: '127.0.0.1', port: 0 },
          unix: { enabled: true, path: unixPath },
          unixgram: { enabled: true, path: unixgramPath },
        },
        aggregation: {
          flush_interval: '1s',
          timer_buckets: TIMER_BUCKETS,
          histogram_buckets: HISTOGRAM_BUCKETS,
          up_down_counters: UP_DOWN_COUNTERS,
        },
      },
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const listening = agent.stdout
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l.msg === 'tally-agent listening');
  const tcp = /:(\d+)$/.exec(String(listening?.tcp));
  if (!tcp || listening?.unix !== unixPath || listening.unixgram !== unixgramPath) {
    await agent.stop();
    await rm(dir, { recursive: true, force: true });
    throw new Error(`the agent did not report all listeners: ${JSON.stringify(listening)}`);
  }
  const scrape = async () => parsePromText(await agent.metricsText());
  // No sample until the first flush.
  const flushes = async () => findSample(await scrape(), 'tally_flush_duration_seconds_count') ?? 0;
  return {
    agent,
    scrape,
    async justFlushed() {
      const start = await flushes();
      await waitFor(async () => expect(await flushes()).toBeGreaterThan(start), 3_000, 10);
    },
    tcpPort: Number(tcp[1]),
    unixPath,
    unixgramPath,
    async stop() {
      await agent.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface ClientAgentFixture {
  /** The agent of this test file; only valid inside tests and hooks. */
  readonly h: ClientAgent;
  /** Errors the clients reported to their handlers: none is allowed, or a lost send would show up only as a missing sample. */
  errors: Error[];
}

/** One agent for the whole test file, started before its tests and stopped after them. */
export function useClientAgent(): ClientAgentFixture {
  let h: ClientAgent | undefined;
  const errors: Error[] = [];
  beforeAll(async () => {
    h = await startClientAgent();
  });
  afterAll(async () => {
    await h?.stop();
    expect(errors).toEqual([]);
  });
  return {
    get h() {
      if (h === undefined) throw new Error('the agent is not started (used outside a test?)');
      return h;
    },
    errors,
  };
}

/** tally_parse_errors_total for one reason, 0 while the agent has counted none. */
export function parseErrors(exp: Exposition, reason: string): number {
  return findSample(exp, 'tally_parse_errors_total', { reason }) ?? 0;
}

/** Cumulative counts per `le` for the given observations, as Prometheus should serve them. */
export function expectBuckets(exp: Exposition, family: string, labels: Labels, bounds: number[], observed: number[]): void {
  for (const le of bounds) {
    const want = observed.filter((v) => v <= le).length;
    expect(sampleValue(exp, `${family}_bucket`, { ...labels, le: String(le) }), `${family} le=${le}`).toBe(want);
  }
  expect(sampleValue(exp, `${family}_bucket`, { ...labels, le: '+Inf' })).toBe(observed.length);
  expect(sampleValue(exp, `${family}_count`, labels)).toBe(observed.length);
  expect(sampleValue(exp, `${family}_sum`, labels)).toBeCloseTo(
    observed.reduce((a, b) => a + b, 0),
    9,
  );
}

/**
 * Debian's Python: packages from apt live in the system interpreter, not in
 * whatever python3 comes first on PATH (often pyenv's).
 */
export const DEBIAN_PYTHON = '/usr/bin/python3';

/** Runs a program to completion; rejects with its output when it fails or outlives timeoutMs. */
export function run(file: string, args: string[], timeoutMs = 15_000): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { timeout: timeoutMs }, (err, stdout, stderr) =>
      err ? reject(new Error(`${file} failed: ${err.message}\nstdout:\n${stdout}\nstderr:\n${stderr}`)) : resolve({ stdout, stderr }),
    ),
  );
}

/** True when `file` exists and `file args…` exits 0 (e.g. an interpreter importing a module). */
export async function probe(file: string, args: string[]): Promise<boolean> {
  if (!existsSync(file)) return false;
  return run(file, args, 10_000).then(
    () => true,
    () => false,
  );
}

/**
 * A client from a Debian package that is not installed is a loud skip on a
 * developer's machine and a failing test under CI=true, where .ci/run
 * installs it. Call inside a describe; returns whether its tests should run.
 */
export function debianClient(available: boolean, what: string, aptPackage: string): boolean {
  const inCI = process.env.CI === 'true';
  if (!available && !inCI) console.warn(`\n*** ${what} is not installed: skipping (apt-get install ${aptPackage}) ***\n`);
  it.runIf(!available && inCI)(`${what} is installed (CI=true requires it)`, () => {
    throw new Error(`${what} is not installed: .ci/run installs ${aptPackage}`);
  });
  return available;
}
