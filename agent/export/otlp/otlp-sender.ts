import type { Logger } from 'pino';
import { Pool } from 'undici';
import type { EncodedRequest } from '../sink.js';
import { classifyResponse, type OtlpSendOutcome } from './otlp-response.js';
import { MAX_RESPONSE_BYTES, RESERVED_HEADERS } from './wire-format.js';
import { WarnLimiter } from '../../shared/warn-limiter.js';

export interface OtlpSenderOptions {
  /** Sink name, for log lines. */
  name: string;
  /** Base URL; a request's path ("/v1/metrics") is appended to its path. user:password in it becomes basic auth. */
  endpoint: string;
  /** Sent with every request (e.g. authorization, or a User-Agent of your own); the body's own headers cannot be set. */
  headers?: Record<string, string>;
  /** Per attempt, from connecting to the last byte of the answer. */
  timeoutMs: number;
  userAgent: string;
  /** Connections the pool may open (default 4, the shipper's default requests in flight for OTLP). */
  maxConnections?: number;
  logger?: Logger;
  now?: () => number;
}

/**
 * Idle connections are kept this long. The spec asks clients to keep
 * connections alive; a flush every 10 s should find its connection still
 * open, and the OpenTelemetry Collector's HTTP server keeps idle ones longer.
 */
const KEEP_ALIVE_MS = 30_000;
/** Partial successes are logged at most this often; each is also in the outcome. */
const PARTIAL_LOG_INTERVAL_MS = 60_000;

/**
 * One sink's HTTP side: a keep-alive pool to the collector, one POST per
 * stored request, and the answer read into a SendOutcome. Never throws:
 * refused connections, resets and timeouts are `retry` ("If the client
 * cannot connect to the server, the client SHOULD retry"; "If the server
 * disconnects without returning a response, the client SHOULD retry").
 */
export class OtlpSender {
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly fixedHeaders: Record<string, string>;
  private readonly partialLogs = new WarnLimiter(PARTIAL_LOG_INTERVAL_MS, 0, 1);

  constructor(private readonly opts: OtlpSenderOptions) {
    const url = new URL(opts.endpoint);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`OTLP endpoint ${opts.endpoint} is not an http:// or https:// URL`);
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.pool = new Pool(url.origin, {
      connections: opts.maxConnections ?? 4,
      keepAliveTimeout: KEEP_ALIVE_MS,
      connect: { timeout: opts.timeoutMs },
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
    });
    this.fixedHeaders = { 'user-agent': opts.userAgent };
    if (url.username !== '') {
      this.fixedHeaders.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
    }
    for (const [k, v] of Object.entries(opts.headers ?? {})) {
      const name = k.toLowerCase();
      if (RESERVED_HEADERS.has(name)) throw new Error(`header ${k} is set by the OTLP sink itself and cannot be configured`);
      if (name === 'authorization' && url.username !== '') throw new Error('give either credentials in the endpoint URL or an Authorization header, not both');
      this.fixedHeaders[name] = v;
    }
  }

  async send(request: EncodedRequest, signal: AbortSignal): Promise<OtlpSendOutcome> {
    const timeout = AbortSignal.timeout(this.opts.timeoutMs);
    const both = AbortSignal.any([signal, timeout]);
    try {
      const res = await this.pool.request({
        path: this.basePath + request.path,
        method: 'POST',
        headers: { ...this.fixedHeaders, ...lowerCased(request.headers) },
        body: request.body,
        signal: both,
      });
      const { body, truncated } = await readAtMost(res.body, MAX_RESPONSE_BYTES);
      const outcome = classifyResponse({ status: res.statusCode, headers: res.headers, body, truncated }, request.path, (this.opts.now ?? Date.now)());
      if (outcome.kind === 'delivered' && outcome.partialSuccess !== undefined) this.logPartial(request.path, outcome.partialSuccess);
      return outcome;
    } catch (err) {
      if (timeout.aborted && !signal.aborted) return { kind: 'retry', error: `no complete answer within ${this.opts.timeoutMs} ms` };
      if (signal.aborted) return { kind: 'retry', error: 'attempt aborted: the agent is stopping' };
      return { kind: 'retry', error: describeError(err) };
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  private logPartial(path: string, p: { rejected: number; message: string }): void {
    const suppressed = this.partialLogs.allow('', (this.opts.now ?? Date.now)());
    if (suppressed === undefined) return;
    this.opts.logger?.warn({ sink: this.opts.name, path, rejected: p.rejected, message: p.message, suppressed }, 'OTLP receiver accepted the batch only in part (not retried, as the spec says)');
  }
}

function lowerCased(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}

/** Reads a response body up to `limit` bytes; past it, stops reading and drops the connection. */
async function readAtMost(body: AsyncIterable<Uint8Array> & { destroy(err?: Error): unknown }, limit: number): Promise<{ body: Uint8Array; truncated: boolean }> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    if (size + chunk.length > limit) {
      body.destroy();
      return { body: Buffer.concat(chunks), truncated: true };
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return { body: Buffer.concat(chunks), truncated: false };
}

/** "ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:4318", from whatever undici or the socket threw. */
function describeError(err: unknown): string {
  // Connecting to a name with several addresses fails with an AggregateError of the attempts.
  const e = (err instanceof AggregateError && err.errors.length > 0 ? err.errors[0] : err) as { code?: string; name?: string; message?: string; cause?: unknown };
  const cause = e?.cause as { code?: string; message?: string } | undefined;
  const code = e?.code ?? cause?.code ?? e?.name ?? 'Error';
  const message = e?.message || cause?.message || String(err);
  return `${code}: ${message}`;
}
