import { CLIENT_OWNED_HEADERS } from '../batch-headers.js';
import { Pool } from 'undici';
import type { EncodedRequest, SendOutcome } from '../sink.js';
import { PROTOCOL_HEADERS } from './remote-write-encoder.js';
import { outcomeOf } from './response-outcome.js';

export interface RemoteWriteSenderOptions {
  /** The receiver's write URL, e.g. http://127.0.0.1:9090/api/v1/write. Credentials in it become basic auth. */
  url: string;
  /** Time allowed for one request, connect to end of response. */
  timeoutMs: number;
  /** Extra headers on every request (e.g. a tenant id); never the protocol's own. */
  headers?: Record<string, string>;
  basicAuth?: { username: string; password: string };
  bearerToken?: string;
  /** Connections kept to the receiver (default 8: the parts of one batch go out together). */
  connections?: number;
  /** How much of an error response is kept for the log and the dead-letter file (default 4 KiB). */
  maxResponseBodyBytes?: number;
  now?: () => number;
}

/**
 * Headers a user may not set: the spec's reserved ones (it forbids letting
 * users override them), the batch headers, and those the HTTP client owns.
 */
const RESERVED = new Set<string>([...PROTOCOL_HEADERS, ...CLIENT_OWNED_HEADERS]);

const DEFAULT_MAX_RESPONSE_BODY = 4096;

/**
 * One attempt per call to POST a stored request to the receiver, over one
 * keep-alive connection pool for the sink's lifetime. Configured headers
 * and credentials are added here, at send time, not stored with the
 * request: a token never lands in the spool, and a rotated one applies to
 * what is already queued.
 */
export class RemoteWriteSender {
  private readonly pool: Pool;
  private readonly url: URL;
  private readonly extraHeaders: Record<string, string>;
  private readonly maxBody: number;
  private readonly now: () => number;

  constructor(private readonly opts: RemoteWriteSenderOptions) {
    const url = new URL(opts.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`remote write URL ${url.protocol}// is not http or https`);
    if (!(opts.timeoutMs > 0)) throw new Error(`timeoutMs must be positive, not ${opts.timeoutMs}`);
    this.extraHeaders = {};
    for (const [name, value] of Object.entries(opts.headers ?? {})) {
      if (RESERVED.has(name.toLowerCase())) throw new Error(`header ${name} is set by the remote-write sink itself and cannot be configured`);
      this.extraHeaders[name] = value;
    }
    const hasAuthHeader = Object.keys(this.extraHeaders).some((k) => k.toLowerCase() === 'authorization');
    const basic = opts.basicAuth ?? (url.username !== '' ? { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) } : undefined);
    if ([hasAuthHeader, basic !== undefined, opts.bearerToken !== undefined].filter(Boolean).length > 1) {
      throw new Error('give one of an Authorization header, basic auth (or credentials in the URL) and a bearer token');
    }
    if (basic !== undefined) this.extraHeaders['Authorization'] = `Basic ${Buffer.from(`${basic.username}:${basic.password}`).toString('base64')}`;
    if (opts.bearerToken !== undefined) this.extraHeaders['Authorization'] = `Bearer ${opts.bearerToken}`;
    this.url = url;
    this.maxBody = opts.maxResponseBodyBytes ?? DEFAULT_MAX_RESPONSE_BODY;
    this.now = opts.now ?? Date.now;
    this.pool = new Pool(url.origin, {
      connections: opts.connections ?? 8,
      connect: { timeout: opts.timeoutMs },
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
    });
  }

  async send(request: EncodedRequest, signal: AbortSignal): Promise<SendOutcome> {
    // One controller per attempt for both the deadline and the caller's abort. Not AbortSignal.any():
    // combined with the caller's long-lived signal it grows a list per call on some Node versions.
    const attempt = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      attempt.abort(new Error(`no response within ${this.opts.timeoutMs} ms`));
    }, this.opts.timeoutMs);
    const onAbort = () => attempt.abort(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    try {
      const res = await this.pool.request({
        method: 'POST',
        path: request.path === '' ? this.url.pathname + this.url.search : this.url.pathname.replace(/\/$/, '') + request.path + this.url.search,
        headers: { ...request.headers, ...this.extraHeaders },
        body: request.body,
        signal: attempt.signal,
      });
      let body = '';
      if (res.statusCode >= 200 && res.statusCode < 300) {
        // The spec says the body should be empty and must be ignored; reading it frees the connection for the next request.
        await res.body.dump().catch(() => undefined);
      } else {
        body = await readPrefix(res.body, this.maxBody);
      }
      return outcomeOf({ status: res.statusCode, headers: res.headers, body }, this.now());
    } catch (err) {
      // Every failure to get a response is worth another try: the receiver may be restarting, the network back soon.
      if (timedOut) return { kind: 'retry', error: `no response within ${this.opts.timeoutMs} ms` };
      if (signal.aborted) return { kind: 'retry', error: `aborted: ${describe(signal.reason)}` };
      return { kind: 'retry', error: describe(err) };
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/** Up to `limit` bytes of the body as text, marked when cut; whatever arrived when reading fails. */
async function readPrefix(body: AsyncIterable<Buffer> & { destroy(): unknown }, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk);
      length += chunk.length;
      // Leaving the loop destroys the stream: a huge error page costs one connection, not the memory to hold it.
      if (length > limit) break;
    }
  } catch {
    // Keep what was read.
  }
  const text = Buffer.concat(chunks).subarray(0, limit).toString('utf8');
  return length > limit ? `${text}… (cut at ${limit} bytes)` : text;
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${typeof code === 'string' ? `${code}: ` : ''}${err.message}${cause}`;
  }
  return String(err);
}
