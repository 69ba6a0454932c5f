/**
 * Runs the built agent (dist/agent/main.js) as a child process, the way an
 * operator would, so integration tests exercise the real CLI, config loading,
 * sockets and HTTP server rather than in-process wiring.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { accessSync, constants as fsConstants, existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const AGENT_MAIN = join(ROOT, 'dist', 'agent', 'main.js');

const DEFAULT_START_TIMEOUT_MS = 10_000;
const DEFAULT_STOP_TIMEOUT_MS = 5_000;
const HTTP_TIMEOUT_MS = 5_000;

export interface StartAgentOptions {
  /**
   * An object is merged over loopback listeners on port 0 and written as
   * JSON (which is YAML); a string is written verbatim, so it must choose its
   * own ports.
   */
  config?: object | string;
  /** Extra arguments after `--config FILE`. */
  args?: string[];
  /** Start without `--config` (args must then choose the ports), as a swapped-in statsd_exporter command line does. */
  noConfig?: boolean;
  /** Added to (and overriding) the test process's environment. */
  env?: NodeJS.ProcessEnv;
  startTimeoutMs?: number;
}

export interface AgentHandle {
  /** The agent's process id (for reading /proc/<pid>/status and the like). */
  pid: number;
  udpPort: number;
  httpPort: number;
  /** Every stdout line so far (pino JSON), in order. */
  stdout: string[];
  stderr: string[];
  /** Settles when the process exits, with its exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  get(path: string): Promise<Response>;
  metricsText(): Promise<string>;
  /** Sends one datagram to the agent's statsd port and resolves once the kernel took it. */
  sendUdp(lines: string | Buffer): Promise<void>;
  /** SIGTERM, then SIGKILL if it lingers; resolves with the exit code. Safe to call twice. */
  stop(): Promise<number | null>;
  /** kill -9: no flush, no fsync, no cleanup (a crash); resolves once the process is gone. */
  crash(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort when a test forgot to stop an agent or the worker is torn down:
  // never leave an agent holding ports after the test process is gone.
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}

/** Loopback only and ephemeral ports, so parallel runs and CI never collide on 8125/9102. */
export const TEST_BASE_CONFIG = {
  statsd: { udp: { enabled: true, address: '127.0.0.1', port: 0 } },
  http: { address: '127.0.0.1', port: 0 },
  log: { level: 'info' },
};

export function renderConfig(config: object | string | undefined): string {
  if (typeof config === 'string') return config;
  return JSON.stringify(deepMerge(TEST_BASE_CONFIG, (config ?? {}) as Record<string, unknown>), null, 2) + '\n';
}

export interface TempConfig {
  dir: string;
  file: string;
  remove(): Promise<void>;
}

export async function writeTempConfig(config: object | string | undefined, name = 'tally.yaml'): Promise<TempConfig> {
  const dir = await mkdtemp(join(tmpdir(), 'tally-test-'));
  const file = join(dir, name);
  await writeFile(file, renderConfig(config));
  return { dir, file, remove: () => rm(dir, { recursive: true, force: true }) };
}

function assertBuilt(): void {
  if (!existsSync(AGENT_MAIN)) {
    throw new Error(`${AGENT_MAIN} does not exist: run \`npm run build\` (npm test does it through pretest)`);
  }
}

function portOf(hostPort: unknown, what: string): number {
  if (hostPort === 'off') return 0;
  const m = typeof hostPort === 'string' ? /:(\d+)$/.exec(hostPort) : null;
  if (!m) throw new Error(`listening line has no usable ${what} address: ${JSON.stringify(hostPort)}`);
  return Number(m[1]);
}

function tail(lines: string[], n = 20): string {
  return lines.slice(-n).join('\n');
}

export async function startAgent(opts: StartAgentOptions = {}): Promise<AgentHandle> {
  assertBuilt();
  installExitHook();
  const cfg = await writeTempConfig(opts.config);
  const child = spawn(process.execPath, [AGENT_MAIN, ...(opts.noConfig ? [] : ['--config', cfg.file]), ...(opts.args ?? [])], {
    cwd: ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const exited = new Promise<number | null>((resolveExit) => {
    child.once('exit', (code) => resolveExit(code));
    // A spawn failure emits 'error' and possibly no 'exit'.
    child.once('error', () => resolveExit(null));
  });
  let udp: Socket | undefined;
  let stopping: Promise<number | null> | undefined;

  const stop = (): Promise<number | null> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = new Promise<'timeout'>((r) => setTimeout(r, DEFAULT_STOP_TIMEOUT_MS, 'timeout').unref());
        if ((await Promise.race([exited, timer])) === 'timeout') {
          child.kill('SIGKILL');
          await exited;
        }
      }
      const code = await exited;
      if (udp) await new Promise<void>((r) => udp!.close(() => r()));
      udp = undefined;
      await cfg.remove();
      live.delete(child);
      return code;
    })();
    return stopping;
  };
  live.add(child);

  const lines = createInterface({ input: child.stdout! });
  const errLines = createInterface({ input: child.stderr! });
  errLines.on('line', (l) => stderr.push(l));

  let ports: { udp: number; http: number };
  try {
    ports = await new Promise<{ udp: number; http: number }>((resolveStart, rejectStart) => {
      const timer = setTimeout(
        () =>
          rejectStart(
            new Error(
              `agent did not log "tally-agent listening" within ${opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS} ms\n` +
                `stdout:\n${tail(stdout)}\nstderr:\n${tail(stderr)}`,
            ),
          ),
        opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
      );
      lines.on('line', (line) => {
        stdout.push(line);
        let rec: Record<string, unknown>;
        try {
          rec = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return;
        }
        if (rec.msg !== 'tally-agent listening') return;
        clearTimeout(timer);
        try {
          resolveStart({ udp: portOf(rec.udp, 'udp'), http: portOf(rec.http, 'http') });
        } catch (err) {
          rejectStart(err);
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        // Let readline deliver what the process printed before it died.
        setImmediate(() =>
          rejectStart(
            new Error(`agent exited with code ${code} before listening\nstdout:\n${tail(stdout)}\nstderr:\n${tail(stderr)}`),
          ),
        );
      });
    });
  } catch (err) {
    await stop();
    throw err;
  }

  const get = (path: string) =>
    fetch(`http://127.0.0.1:${ports.http}${path}`, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });

  return {
    pid: child.pid!,
    udpPort: ports.udp,
    httpPort: ports.http,
    stdout,
    stderr,
    exited,
    get,
    async metricsText() {
      const res = await get('/metrics');
      const body = await res.text();
      if (res.status !== 200) throw new Error(`GET /metrics: HTTP ${res.status}: ${body.slice(0, 500)}`);
      return body;
    },
    sendUdp(payload) {
      if (ports.udp === 0) return Promise.reject(new Error('the agent has no UDP listener'));
      udp ??= createSocket('udp4');
      const sock = udp;
      const buf = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
      return new Promise<void>((resolveSend, rejectSend) =>
        sock.send(buf, ports.udp, '127.0.0.1', (err) => (err ? rejectSend(err) : resolveSend())),
      );
    },
    stop,
    async crash() {
      child.kill('SIGKILL');
      await stop();
    },
  };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Runs the agent CLI to completion (for --help, check-config, start-up
 * failures). A run that outlives timeoutMs is killed and reported as timedOut.
 */
export async function runAgent(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {},
): Promise<RunResult> {
  assertBuilt();
  installExitHook();
  const child = spawn(process.execPath, [AGENT_MAIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs ?? DEFAULT_START_TIMEOUT_MS);
  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolveRun, rejectRun) => {
      child.once('error', rejectRun);
      // 'close' rather than 'exit': it waits for stdout/stderr to be drained.
      child.once('close', (c, s) => resolveRun([c, s]));
    });
    return { code, signal, stdout, stderr, timedOut };
  } finally {
    clearTimeout(timer);
    live.delete(child);
  }
}

/**
 * Polls fn until it returns without throwing (and not exactly `false`), and
 * returns its result. On timeout it throws fn's last error, so an `expect`
 * inside fn reports what was last seen.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs: number, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = new Error(`condition still false after ${timeoutMs} ms`);
  for (;;) {
    try {
      const v = await fn();
      if (v !== false) return v;
      lastError = new Error(`condition still false after ${timeoutMs} ms`);
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      if (lastError instanceof Error) lastError.message = `waitFor timed out after ${timeoutMs} ms: ${lastError.message}`;
      throw lastError;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The absolute path of an executable on PATH, or undefined. */
export function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, command);
    try {
      accessSync(p, fsConstants.X_OK);
      return p;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * A TCP port that was free a moment ago on 127.0.0.1. For programs that cannot
 * report the port they bound to port 0 (Prometheus); there is a small window
 * in which another process could take it.
 */
export async function freeTcpPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r, j) => {
    srv.once('error', j);
    srv.listen(0, '127.0.0.1', () => r());
  });
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
