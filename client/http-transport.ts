/**
 * HTTP collect: calls that must not be lost go as JSON batches to the
 * agent's POST /v1/collect, one request at a time, in order, retried with
 * backoff until the agent answers. Memory is bounded: past `maxBufferedItems`
 * held (queued or in flight) a call is refused, counted and told, and the
 * buffer does not grow. flush() and close() resolve once every call made
 * before them was answered 2xx (or refused for good by the agent: a bad item).
 * Delivery is at least once: an answer lost with the connection is retried.
 */
import { Agent, request, type IncomingMessage } from 'node:http';
import { emptyStats, type ClientStats, type DropListener, type DropReason, type Kind, type Tags, type Transport } from './types.js';

export interface HttpTransportOptions {
  /** http://host:port of the agent (the path /v1/collect is added). */
  url: string;
  prefix?: string;
  globalTags?: Record<string, string>;
  /** Items held at most, queued and in flight (default 10,000). */
  maxBufferedItems?: number;
  /** Items per request at most (default 1,000; the agent takes up to 10,000). */
  maxBatchItems?: number;
  /** How long a batch waits for more items after its first (default 10 ms). */
  flushIntervalMs?: number;
  /** First retry delay, doubled per failure up to maxBackoffMs (defaults 100 ms, 5 s). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Per attempt (default 10 s). */
  requestTimeoutMs?: number;
  /** Sent as `Authorization: Bearer …` when the agent has `bearer_token` set. */
  bearerToken?: string;
  onDrop?: DropListener;
}

interface Item {
  name: string;
  value: number | string;
  type: string;
  unit?: string;
  tags?: Record<string, string | number | boolean>;
}

const TYPES: Record<Kind, string> = { c: 'counter', g: 'gauge', ms: 'timer', h: 'histogram', d: 'distribution', e: 'event' };
const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);

interface Waiter {
  seq: number;
  resolve: () => void;
}

export class HttpTransport implements Transport {
  private readonly counters = emptyStats('http');
  private readonly url: URL;
  private readonly prefix: string;
  private readonly globalTags: Record<string, string>;
  private readonly hasGlobals: boolean;
  private readonly maxBuffered: number;
  private readonly maxBatch: number;
  private readonly flushIntervalMs: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  private readonly onDrop: DropListener | undefined;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });
  private queue: Item[] = [];
  /** The batch being sent, and the seq of its last item. */
  private inFlight: Item[] | undefined;
  private inFlightLast = 0;
  /** seq of the last item taken, and of the last one answered. */
  private taken = 0;
  private settled = 0;
  private waiters: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private backoffMs = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private urgent = false;
  private closed = false;

  constructor(opts: HttpTransportOptions) {
    this.url = new URL('/v1/collect', opts.url);
    this.prefix = opts.prefix ?? '';
    this.globalTags = { ...opts.globalTags };
    this.hasGlobals = Object.keys(this.globalTags).length > 0;
    this.maxBuffered = opts.maxBufferedItems ?? 10_000;
    this.maxBatch = Math.max(1, Math.min(opts.maxBatchItems ?? 1000, this.maxBuffered));
    this.flushIntervalMs = opts.flushIntervalMs ?? 10;
    this.initialBackoffMs = opts.initialBackoffMs ?? 100;
    this.maxBackoffMs = opts.maxBackoffMs ?? 5000;
    this.timeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.onDrop = opts.onDrop;
    this.headers = { 'content-type': 'application/json' };
    if (opts.bearerToken) this.headers.authorization = `Bearer ${opts.bearerToken}`;
  }

  send(kind: Kind, name: string, value: number | string, tags: Tags | undefined, _rate: number, outcome: string | undefined, raw: boolean): boolean {
    this.counters.calls++;
    if (this.closed) return this.drop('closed', 1);
    if (name === '') return this.drop('invalid', 1);
    if (kind !== 'e' && (typeof value !== 'number' || !Number.isFinite(value) || ((kind === 'c' || kind === 'ms') && value < 0))) {
      return this.drop('invalid', 1);
    }
    if (this.held() >= this.maxBuffered) return this.drop('buffer_full', 1);
    const item: Item = { name: raw ? name : this.prefix + name, value: kind === 'e' ? String(value) : value, type: TYPES[kind] };
    if (kind === 'ms') item.unit = 'ms';
    if (tags !== undefined || outcome !== undefined || this.hasGlobals) {
      // A tag on the call wins over a global one.
      const t: Record<string, string | number | boolean> = { ...this.globalTags, ...tags };
      if (outcome !== undefined && (tags === undefined || tags.outcome === undefined)) t.outcome = outcome;
      item.tags = t;
    }
    this.queue.push(item);
    this.taken++;
    if (this.queue.length >= this.maxBatch) this.pump();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, this.flushIntervalMs);
    }
    return true;
  }

  flush(opts: { timeoutMs?: number } = {}): Promise<void> {
    const seq = this.taken;
    if (this.settled >= seq) return Promise.resolve();
    this.urgent = true;
    // Someone now waits for the retries: they must keep the process alive.
    this.retryTimer?.ref();
    this.pump();
    const done = new Promise<void>((resolve) => this.waiters.push({ seq, resolve }));
    if (opts.timeoutMs === undefined) return done;
    return new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        reject(new Error(`tally client: ${seq - this.settled} calls still unacknowledged after ${opts.timeoutMs} ms (${this.url.href})`));
      }, opts.timeoutMs);
      done.then(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  async close(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush(opts);
    } finally {
      this.closed = true;
      if (this.timer) clearTimeout(this.timer);
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.agent.destroy();
    }
  }

  stats(): ClientStats {
    const c = this.counters;
    return { ...c, dropped: { ...c.dropped }, pending: this.held() };
  }

  private held(): number {
    return this.queue.length + (this.inFlight?.length ?? 0);
  }

  private drop(reason: DropReason, n: number, error?: Error): false {
    this.counters.dropped[reason] += n;
    if (this.onDrop) {
      try {
        this.onDrop(reason, n, error);
      } catch {
        // A listener's own failure must not reach the call that dropped.
      }
    }
    return false;
  }

  /** Starts the next request when none is running and no retry is waiting. */
  private pump(): void {
    if (this.inFlight !== undefined || this.retryTimer !== undefined || this.queue.length === 0) return;
    if (this.timer !== undefined && !this.urgent && this.queue.length < this.maxBatch) return;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.queue.length <= this.maxBatch ? this.queue : this.queue.slice(0, this.maxBatch);
    this.queue = batch === this.queue ? [] : this.queue.slice(this.maxBatch);
    this.inFlight = batch;
    this.inFlightLast = this.taken - this.queue.length;
    this.attempt(Buffer.from(JSON.stringify(batch)));
  }

  private attempt(body: Buffer): void {
    const req = request(this.url, {
      method: 'POST',
      agent: this.agent,
      headers: { ...this.headers, 'content-length': String(body.length) },
      timeout: this.timeoutMs,
    });
    let finished = false;
    const fail = (err: Error, retryAfterMs?: number) => {
      if (finished) return;
      finished = true;
      this.retry(body, err, retryAfterMs);
    };
    req.on('timeout', () => req.destroy(new Error(`no answer from ${this.url.href} within ${this.timeoutMs} ms`)));
    req.on('error', (err) => fail(err));
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => fail(err));
      // A connection cut mid-answer: the request may or may not have been taken, so it is sent again.
      res.on('close', () => {
        if (!res.complete) fail(new Error(`answer from ${this.url.href} cut off`));
      });
      res.on('end', () => {
        if (finished) return;
        const status = res.statusCode ?? 0;
        const text = Buffer.concat(chunks).toString('utf8');
        if (status >= 200 && status < 300) {
          finished = true;
          this.answered(this.inFlight!.length, 0, undefined);
        } else if (RETRY_STATUS.has(status)) {
          fail(new Error(`HTTP ${status} from ${this.url.href}: ${text.slice(0, 200)}`), retryAfter(res.headers['retry-after']));
        } else {
          finished = true;
          this.refused(status, text);
        }
      });
    });
    req.end(body);
  }

  /** A 4xx that retrying cannot mend. A bad_items answer took the good items of the batch. */
  private refused(status: number, text: string): void {
    const n = this.inFlight!.length;
    let accepted = 0;
    if (status === 400) {
      try {
        const body = JSON.parse(text) as { error?: string; accepted?: unknown };
        if (body.error === 'bad_items' && typeof body.accepted === 'number') accepted = body.accepted;
      } catch {
        // Not the agent's JSON: the whole batch counts as refused.
      }
    }
    this.answered(accepted, n - accepted, new Error(`HTTP ${status} from ${this.url.href}: ${text.slice(0, 500)}`));
  }

  private answered(acked: number, rejected: number, err: Error | undefined): void {
    this.counters.sent += acked;
    if (acked > 0) this.counters.packets++;
    if (rejected > 0) this.drop('rejected', rejected, err);
    this.inFlight = undefined;
    this.backoffMs = 0;
    this.settled = this.inFlightLast;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.seq <= this.settled) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
    if (still.length === 0) this.urgent = false;
    if (this.queue.length > 0) {
      if (this.urgent || this.queue.length >= this.maxBatch) this.pump();
      else if (this.timer === undefined) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, this.flushIntervalMs);
      }
    }
  }

  private retry(body: Buffer, err: Error, retryAfterMs: number | undefined): void {
    this.counters.retries++;
    this.backoffMs = this.backoffMs === 0 ? this.initialBackoffMs : Math.min(this.backoffMs * 2, this.maxBackoffMs);
    // Jitter keeps many clients restarted together from retrying in step.
    const wait = retryAfterMs ?? this.backoffMs * (0.5 + Math.random() / 2);
    if (this.onRetry) this.onRetry(err, wait);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.closed) return;
      this.attempt(body);
    }, wait);
    // An application that ends while the agent is away is not held open by the retries; close() waits for them.
    if (this.waiters.length === 0) this.retryTimer.unref();
  }

  /** For tests and logging: each failed attempt, before its retry. */
  onRetry: ((err: Error, waitMs: number) => void) | undefined;
}

/** Retry-After in seconds or as an HTTP date, in ms; undefined when absent or unreadable. */
export function retryAfter(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+$/.test(v.trim())) return Math.min(Number(v.trim()) * 1000, 300_000);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.min(at - Date.now(), 300_000));
}
