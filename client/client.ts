/**
 * The client an application holds: one method per kind of call, collect()
 * guessing the kind as POST /v1/collect does, time()/timed() around code,
 * and the transport chosen from options or the environment.
 */
import { resolveGlobalTags, type GlobalTagOptions } from './global-tags.js';
import { HttpTransport, type HttpTransportOptions } from './http-transport.js';
import { startRuntimeMetrics, type RuntimeOptions } from './runtime-metrics.js';
import type { ClientStats, DropListener, Duration, Kind, Tags, TimeUnit, Transport } from './types.js';
import { UdpTransport, type UdpTransportOptions } from './udp-transport.js';
import { defaultUnixgramPath, UnixgramTransport, type UnixgramTransportOptions } from './unixgram-transport.js';

export interface ClientOptions extends GlobalTagOptions {
  /**
   * `udp` (default, or `TALLY_TRANSPORT`): statsd datagrams, never blocking,
   * lossy when the agent is away. `unixgram`: the same over the agent's Unix
   * datagram socket; needs the native package `unix-dgram` installed by the
   * application (see client/README.md). `http`: JSON to /v1/collect,
   * acknowledged, retried, bounded.
   */
  transport?: 'udp' | 'unixgram' | 'http';
  /** UDP: agent host (default `TALLY_HOST`, else 127.0.0.1). */
  host?: string;
  /** UDP: agent statsd port (default `TALLY_PORT`, else 8125). */
  port?: number;
  /**
   * Unix socket: the agent's `statsd.unixgram.path` (default `TALLY_SOCKET`,
   * else the agent's default, dsd.sock in $XDG_RUNTIME_DIR/tally-agent or in
   * tally-agent-<uid> in the temp directory).
   */
  path?: string;
  /** HTTP: agent base URL (default `TALLY_URL`, else http://127.0.0.1:9102, or `TALLY_HOST` with port 9102). */
  url?: string;
  /** Put before every name except the runtime metrics' (e.g. `shop.`). */
  prefix?: string;
  /**
   * Default sample rate for counters, timers and histograms (0 < r ≤ 1): that
   * share of calls is sent, marked `|@r` so the agent scales counts back up.
   * UDP and Unix socket only: the HTTP transport, there for calls that must not be lost, sends all.
   */
  sampleRate?: number;
  /** false: send no service/version/env tags (default true). */
  globalTags?: boolean;
  /** Start collectRuntime() at once (true, or its options). */
  runtime?: boolean | RuntimeOptions;
  /** Told of every call that will not reach the agent, with why. */
  onDrop?: DropListener;
  udp?: Pick<UdpTransportOptions, 'maxDatagramBytes' | 'flushIntervalMs' | 'maxQueuedBytes'>;
  unixgram?: Pick<UnixgramTransportOptions, 'maxDatagramBytes' | 'flushIntervalMs' | 'maxQueuedBytes'>;
  http?: Omit<HttpTransportOptions, 'url' | 'prefix' | 'globalTags' | 'onDrop'>;
}

export interface CollectOptions {
  /** A time unit makes a number a timer, as `unit` does in POST /v1/collect. */
  unit?: TimeUnit;
  sampleRate?: number;
}

const TO_MS: Record<TimeUnit, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1e3, min: 60e3, h: 3600e3 };

type AnyFunction = (...args: any[]) => any;

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

function envPort(text: string | undefined, fallback: number): number {
  const n = Number(text);
  return text !== undefined && text !== '' && Number.isInteger(n) && n > 0 && n < 65536 ? n : fallback;
}

export class Client {
  private readonly transport: Transport;
  private readonly rate: number;
  private readonly stops = new Set<() => void>();
  /** The tags every call carries (service, version, env, and `tags`). */
  readonly globalTags: Readonly<Record<string, string>>;

  constructor(opts: ClientOptions = {}) {
    const env = opts.environment ?? process.env;
    const rate = opts.sampleRate ?? 1;
    if (!(rate > 0 && rate <= 1)) throw new RangeError(`tally client: sampleRate must be in (0, 1], got ${rate}`);
    this.rate = rate;
    const kind = opts.transport ?? env.TALLY_TRANSPORT ?? 'udp';
    if (kind !== 'udp' && kind !== 'unixgram' && kind !== 'http') {
      throw new RangeError(`tally client: transport must be "udp", "unixgram" or "http", got "${kind}"` + (kind === 'unix' || kind === 'uds' ? ' (the Unix datagram socket is "unixgram")' : ''));
    }
    this.globalTags = Object.freeze(opts.globalTags === false ? { ...opts.tags } : resolveGlobalTags(opts));
    const host = opts.host ?? (env.TALLY_HOST || '127.0.0.1');
    if (kind === 'udp') {
      this.transport = new UdpTransport({
        ...opts.udp,
        host,
        port: opts.port ?? envPort(env.TALLY_PORT, 8125),
        prefix: opts.prefix,
        globalTags: this.globalTags,
        onDrop: opts.onDrop,
      });
    } else if (kind === 'unixgram') {
      this.transport = new UnixgramTransport({
        ...opts.unixgram,
        path: opts.path ?? (env.TALLY_SOCKET || defaultUnixgramPath(env)),
        prefix: opts.prefix,
        globalTags: this.globalTags,
        onDrop: opts.onDrop,
      });
    } else {
      const url = opts.url ?? (env.TALLY_URL || `http://${host.includes(':') ? `[${host}]` : host}:9102`);
      this.transport = new HttpTransport({ ...opts.http, url, prefix: opts.prefix, globalTags: this.globalTags, onDrop: opts.onDrop });
    }
    if (opts.runtime) this.collectRuntime(opts.runtime === true ? {} : opts.runtime);
  }

  /**
   * The one call, with POST /v1/collect's defaults: a string is an event (a
   * feature used, counted per value), a number a counter, `{ ms }` / `{ s }`
   * (or a number with a time `unit`) a timer. Returns false when the call
   * was dropped (see stats()).
   */
  collect(name: string, value: string | number | Duration, tags?: Tags, opts?: CollectOptions): boolean {
    if (typeof value === 'string') return this.transport.send('e', name, value, tags, 1, undefined, false);
    if (typeof value === 'number') {
      if (opts?.unit !== undefined) return this.send('ms', name, value * (TO_MS[opts.unit] ?? NaN), tags, opts.sampleRate, undefined);
      return this.send('c', name, value, tags, opts?.sampleRate, undefined);
    }
    return this.timer(name, value, tags, opts?.sampleRate);
  }

  /** A counter: `name_total` goes up by `value` (default 1). */
  count(name: string, value = 1, tags?: Tags, sampleRate?: number): boolean {
    return this.send('c', name, value, tags, sampleRate, undefined);
  }

  /** A gauge: the latest value wins. */
  gauge(name: string, value: number, tags?: Tags): boolean {
    return this.transport.send('g', name, value, tags, 1, undefined, false);
  }

  /** A timer: milliseconds, or `{ ms }` / `{ s }`; served as the histogram `name_seconds`. */
  timer(name: string, duration: number | Duration, tags?: Tags, sampleRate?: number): boolean {
    const ms = typeof duration === 'number' ? duration : 'ms' in duration ? duration.ms : duration.s * 1000;
    return this.send('ms', name, ms, tags, sampleRate, undefined);
  }

  /** A histogram in the unit sent (the agent's `histogram_buckets`). */
  histogram(name: string, value: number, tags?: Tags, sampleRate?: number): boolean {
    return this.send('h', name, value, tags, sampleRate, undefined);
  }

  /** A DogStatsD distribution: kept by the agent as a histogram too. */
  distribution(name: string, value: number, tags?: Tags, sampleRate?: number): boolean {
    return this.send('d', name, value, tags, sampleRate, undefined);
  }

  /** An event: `name_total{value}` counts uses, `name_last_seen_timestamp_seconds{value}` says when last. */
  event(name: string, value: string, tags?: Tags): boolean {
    return this.transport.send('e', name, value, tags, 1, undefined, false);
  }

  /**
   * Runs fn and reports how long it took as a timer tagged outcome=ok or
   * outcome=error; an async fn is timed until its promise settles. What fn
   * throws or rejects with is passed on unchanged.
   */
  time<T>(name: string, fn: () => T, tags?: Tags): T {
    const t0 = performance.now();
    let result: T;
    try {
      result = fn();
    } catch (err) {
      this.send('ms', name, performance.now() - t0, tags, undefined, 'error');
      throw err;
    }
    if (isThenable(result)) {
      return Promise.resolve(result).then(
        (v) => {
          this.send('ms', name, performance.now() - t0, tags, undefined, 'ok');
          return v;
        },
        (err: unknown) => {
          this.send('ms', name, performance.now() - t0, tags, undefined, 'error');
          throw err;
        },
      ) as T;
    }
    this.send('ms', name, performance.now() - t0, tags, undefined, 'ok');
    return result;
  }

  /**
   * time() for a function kept and called later: `timed(name, fn)` returns fn
   * timed on every call (with its `this`), and `timed(name)` is a method
   * decorator (TypeScript 5 decorators, or called on a function).
   */
  timed<F extends AnyFunction>(name: string, fn: F, tags?: Tags): F;
  timed(name: string, tags?: Tags): <F extends AnyFunction>(method: F, context?: unknown) => F;
  timed<F extends AnyFunction>(name: string, fnOrTags?: F | Tags, tags?: Tags): F | (<G extends AnyFunction>(method: G, context?: unknown) => G) {
    if (typeof fnOrTags === 'function') return this.wrap(name, fnOrTags, tags);
    const t = fnOrTags;
    return <G extends AnyFunction>(method: G) => this.wrap(name, method, t);
  }

  /** Sends runtime.* gauges and counters every few seconds until the returned function or close() is called. */
  collectRuntime(opts: RuntimeOptions = {}): () => void {
    const stop = startRuntimeMetrics((kind, name, value) => this.transport.send(kind, name, value, undefined, 1, undefined, true), opts);
    const remove = () => {
      stop();
      this.stops.delete(remove);
    };
    this.stops.add(remove);
    return remove;
  }

  /** Resolves when what was sent before reached the kernel (UDP, Unix socket) or was answered 2xx (HTTP). */
  flush(opts?: { timeoutMs?: number }): Promise<void> {
    return this.transport.flush(opts);
  }

  /** Stops runtime metrics, flushes and closes; later calls are dropped as `closed`. */
  close(opts?: { timeoutMs?: number }): Promise<void> {
    for (const stop of [...this.stops]) stop();
    return this.transport.close(opts);
  }

  /** What was sent, sampled out and dropped (by reason), and what is still held. */
  stats(): ClientStats {
    return this.transport.stats();
  }

  private send(kind: Kind, name: string, value: number, tags: Tags | undefined, sampleRate: number | undefined, outcome: string | undefined): boolean {
    const rate = sampleRate ?? this.rate;
    if (!(rate > 0 && rate <= 1)) return this.transport.send(kind, name, NaN, tags, 1, outcome, false);
    return this.transport.send(kind, name, value, tags, rate, outcome, false);
  }

  private wrap<F extends AnyFunction>(name: string, fn: F, tags: Tags | undefined): F {
    const client = this;
    return function (this: unknown, ...args: unknown[]) {
      return client.time(name, () => fn.apply(this, args), tags);
    } as F;
  }
}

export function createClient(opts: ClientOptions = {}): Client {
  return new Client(opts);
}
