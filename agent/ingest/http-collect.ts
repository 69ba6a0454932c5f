/**
 * POST /v1/collect: metrics and events over HTTP, as JSON items or as statsd
 * lines. A 202 means aggregated in memory (not yet durable).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { createGunzip } from 'node:zlib';
import type { Logger } from 'pino';
import type { Aggregator } from '../aggregate/aggregator.js';
import type { ParsedEvent, ParsedServiceCheck } from '../parse/dogstatsd-extras.js';
import type { ParseErrorReason } from '../parse/parse-error.js';
import { StatsdParser, type LineSink, type ParsedLine } from '../parse/statsd-line.js';
import { validateItem, type ItemLimits } from './collect-items.js';
import { JsonSyntaxError, parseStrictJson } from './strict-json.js';

export interface CollectOptions {
  aggregator: Aggregator;
  logger: Logger;
  /** The address the HTTP server listens on; a loopback one turns the Host check on. */
  listenAddress: string;
  maxBodyBytes: number;
  maxItems: number;
  maxJsonDepth: number;
  /** Empty: no token required. */
  bearerToken?: string;
  /** Empty: the listen address, localhost, 127.0.0.1 and [::1], on the port the request came in on. */
  allowedHosts: string[];
  limits: ItemLimits & { maxLineBytes: number };
}

/** Counts read by the self-metrics at scrape time. */
export class CollectStats {
  /** Responses by status code. */
  readonly requests = new Map<number, number>();
  /** Requests refused as a whole, by reason. */
  readonly requestErrors = new Map<string, number>();
  /** Items (JSON objects or statsd lines) by outcome and reason ("" when accepted). */
  readonly items = new Map<string, number>();
  itemsAccepted = 0;

  bump<K>(map: Map<K, number>, key: K, n = 1): void {
    map.set(key, (map.get(key) ?? 0) + n);
  }
}

interface BadItem {
  index: number;
  reason: string;
  message?: string;
}

/** What a refused request answers: a stable reason for programs, a message for people. */
class Refusal {
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly message: string,
    readonly headers: Record<string, string> = {},
  ) {}
}

export interface CollectHandler {
  handle(req: IncomingMessage, res: ServerResponse): void;
  stats: CollectStats;
}

export function createCollectHandler(opts: CollectOptions): CollectHandler {
  const stats = new CollectStats();
  // One parser per handler: its scratch buffer is reused, and a body is parsed in one synchronous call.
  const parser = new StatsdParser({ maxLineBytes: opts.limits.maxLineBytes, maxEventTextBytes: opts.limits.maxEventTextBytes });
  const tokenDigest = opts.bearerToken !== undefined && opts.bearerToken !== '' ? sha256(opts.bearerToken) : undefined;
  const hostCheck = makeHostCheck(opts.listenAddress, opts.allowedHosts);

  const respond = (res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}) => {
    stats.bump(stats.requests, status);
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }).end(JSON.stringify(body) + '\n');
  };
  const refuse = (req: IncomingMessage, res: ServerResponse, r: Refusal) => {
    stats.bump(stats.requestErrors, r.reason);
    // The body may still be arriving; closing is cheaper than reading what will be thrown away.
    const close: Record<string, string> = !req.complete ? { connection: 'close' } : {};
    respond(res, r.status, { error: r.reason, message: r.message }, { ...r.headers, ...close });
  };

  const checkRequest = (req: IncomingMessage): Refusal | { json: boolean; gzip: boolean } => {
    if (hostCheck !== undefined) {
      if (!hostCheck(req.headers.host, req.socket.localPort)) {
        return new Refusal(421, 'host_not_allowed', 'Host header not allowed (see http.collect.allowed_hosts)');
      }
      // A browser sends Origin on every cross-site POST, even text/plain ones that need no CORS preflight.
      const origin = req.headers.origin;
      if (origin !== undefined && !originAllowed(origin, hostCheck, req.socket.localPort)) {
        return new Refusal(403, 'origin_not_allowed', 'requests from web pages are not accepted');
      }
    }
    if (tokenDigest !== undefined) {
      const m = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
      // Digests make the comparison constant-time and of equal length whatever was sent.
      if (m === null || !timingSafeEqual(sha256(m[1]!), tokenDigest)) {
        return new Refusal(401, 'unauthorized', 'a valid bearer token is required', { 'www-authenticate': 'Bearer' });
      }
    }
    const ct = parseContentType(req.headers['content-type']);
    if (ct === undefined) return new Refusal(415, 'unsupported_media_type', 'Content-Type must be application/json or text/plain (charset utf-8)');
    const enc = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (enc !== 'identity' && enc !== 'gzip') return new Refusal(415, 'unsupported_encoding', 'Content-Encoding must be gzip or absent');
    const declared = req.headers['content-length'];
    if (enc === 'identity' && declared !== undefined && Number(declared) > opts.maxBodyBytes) {
      return new Refusal(413, 'body_too_large', `body larger than ${opts.maxBodyBytes} bytes`);
    }
    return { json: ct === 'json', gzip: enc === 'gzip' };
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const checked = checkRequest(req);
    if (checked instanceof Refusal) {
      refuse(req, res, checked);
      return;
    }
    readBody(req, checked.gzip, opts.maxBodyBytes, (result) => {
      if (result instanceof Refusal) {
        refuse(req, res, result);
        return;
      }
      if (result === undefined) {
        // The client went away mid-body: nobody to answer.
        stats.bump(stats.requestErrors, 'aborted');
        return;
      }
      try {
        if (checked.json) handleJson(res, result);
        else handleText(res, result);
      } catch (e) {
        if (e instanceof Refusal) refuse(req, res, e);
        else {
          opts.logger.error({ err: e }, 'HTTP collect failed');
          respond(res, 500, { error: 'internal', message: 'internal error' });
        }
      }
    });
  };

  const finish = (res: ServerResponse, accepted: number, bad: BadItem[]) => {
    stats.itemsAccepted += accepted;
    for (const b of bad) stats.bump(stats.items, b.reason);
    if (bad.length === 0) {
      respond(res, 202, { accepted });
    } else {
      respond(res, 400, {
        error: 'bad_items',
        message: `${bad.length} item(s) rejected; the other ${accepted} were accepted`,
        accepted,
        rejected: bad.length,
        errors: bad,
      });
    }
  };

  const handleJson = (res: ServerResponse, body: Buffer) => {
    let text: string;
    try {
      text = UTF8.decode(body);
    } catch {
      throw new Refusal(400, 'invalid_utf8', 'body is not valid UTF-8');
    }
    let parsed;
    try {
      parsed = parseStrictJson(text, { maxDepth: opts.maxJsonDepth, maxTopLevelItems: opts.maxItems });
    } catch (e) {
      if (!(e instanceof JsonSyntaxError)) throw e;
      if (e.reason === 'too_many_items') throw new Refusal(413, 'too_many_items', `more than ${opts.maxItems} items in one request`);
      throw new Refusal(400, e.reason, e.message);
    }
    const { value, duplicates } = parsed;
    const items = Array.isArray(value) ? value : [value];
    const bad: BadItem[] = [];
    let accepted = 0;
    const agg = opts.aggregator;
    for (let i = 0; i < items.length; i++) {
      const item = validateItem(items[i]!, duplicates, opts.limits);
      if ('reason' in item) {
        bad.push({ index: i, reason: item.reason, message: item.message });
        continue;
      }
      if (item.kind === 'event') agg.recordEvent(item.name, item.value, item.tags, item.timestampMs ?? Date.now());
      else agg.recordSample(item.kind, item.name, item.value, item.tags);
      accepted++;
    }
    finish(res, accepted, bad);
  };

  const handleText = (res: ServerResponse, body: Buffer) => {
    const sink = new CountingSink(opts.aggregator, body);
    parser.parsePacket(body, sink);
    finish(res, sink.accepted, sink.bad);
  };

  return { handle, stats };
}

/** The configured token; an empty or unreadable token file stops start-up rather than leaving the API open. */
export function readBearerToken(token: string | undefined, file: string | undefined): string | undefined {
  if (file === undefined) return token;
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new Error(`http.collect.bearer_token_file: cannot read ${file}: ${(err as Error).message}`);
  }
  if (text === '') throw new Error(`http.collect.bearer_token_file: ${file} is empty`);
  return text;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Passes lines on to the aggregator and keeps, for the response, how many
 * parsed and which (by 0-based line number) did not.
 */
class CountingSink implements LineSink {
  accepted = 0;
  readonly bad: BadItem[] = [];
  private scanned = 0;
  private line_ = 0;

  constructor(
    private readonly next: LineSink,
    private readonly body: Buffer,
  ) {}

  line(p: ParsedLine): void {
    this.accepted++;
    this.next.line(p);
  }
  event(e: ParsedEvent): void {
    this.accepted++;
    this.next.event(e);
  }
  serviceCheck(c: ParsedServiceCheck): void {
    this.accepted++;
    this.next.serviceCheck(c);
  }
  error(reason: ParseErrorReason, buf: Uint8Array, start: number, end: number): void {
    // The parser works on a copy of the body at the same offsets, and reports in order.
    const body = this.body;
    for (let nl = body.indexOf(10, this.scanned); nl !== -1 && nl < start; nl = body.indexOf(10, nl + 1)) {
      this.line_++;
      this.scanned = nl + 1;
    }
    this.bad.push({ index: this.line_, reason });
    this.next.error(reason, buf, start, end);
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function parseContentType(header: string | undefined): 'json' | 'text' | undefined {
  if (header === undefined) return undefined;
  const [type, ...params] = header.split(';').map((p) => p.trim().toLowerCase());
  for (const p of params) {
    const [k, v] = p.split('=', 2).map((x) => x.trim());
    if (k === 'charset' && v !== 'utf-8' && v !== 'utf8' && v !== '"utf-8"' && (type !== 'text/plain' || v !== 'us-ascii')) return undefined;
  }
  return type === 'application/json' ? 'json' : type === 'text/plain' ? 'text' : undefined;
}

/**
 * Reads the body up to `limit` bytes after decoding; a gzip body is inflated
 * as it streams in, so a small bomb is cut off at the limit rather than
 * inflated whole. Calls back once: the body, a Refusal, or undefined when the
 * client went away.
 */
function readBody(req: IncomingMessage, gzip: boolean, limit: number, done: (r: Buffer | Refusal | undefined) => void): void {
  let settled = false;
  const settle = (r: Buffer | Refusal | undefined) => {
    if (settled) return;
    settled = true;
    done(r);
  };
  const chunks: Buffer[] = [];
  let size = 0;
  const tooLarge = () => {
    req.pause();
    req.removeAllListeners('data');
    if (gzip) (source as ReturnType<typeof createGunzip>).destroy();
    settle(new Refusal(413, 'body_too_large', `body larger than ${limit} bytes${gzip ? ' once decompressed' : ''}`));
  };
  const source = gzip ? createGunzip() : req;
  let raw = 0;
  if (gzip) {
    const gunzip = source as ReturnType<typeof createGunzip>;
    req.on('data', (c: Buffer) => {
      raw += c.length;
      // Compressed input larger than the limit cannot be worth inflating.
      if (raw > limit) {
        tooLarge();
        return;
      }
      if (!gunzip.write(c)) req.pause();
    });
    gunzip.on('drain', () => req.resume());
    req.on('end', () => gunzip.end());
    gunzip.on('error', () => settle(new Refusal(400, 'bad_gzip', 'body is not valid gzip')));
  }
  source.on('data', (c: Buffer) => {
    size += c.length;
    if (size > limit) {
      tooLarge();
      return;
    }
    chunks.push(c);
  });
  source.on('end', () => settle(Buffer.concat(chunks, size)));
  req.on('aborted', () => settle(undefined));
  req.on('error', () => settle(undefined));
  req.on('close', () => {
    if (!req.complete) settle(undefined);
  });
}

type HostCheck = (host: string | undefined, localPort: number | undefined) => boolean;

/**
 * The Host check that stops DNS rebinding: a page on evil.example that
 * resolves its name to 127.0.0.1 still sends Host: evil.example. On by
 * default only for a loopback listener; an explicit allowed_hosts list
 * turns it on for any listener.
 */
function makeHostCheck(listenAddress: string, allowed: string[]): HostCheck | undefined {
  const anyPort = new Set<string>();
  const withPort = new Set<string>();
  if (allowed.length > 0) {
    for (const entry of allowed) {
      const hp = splitHostPort(entry.toLowerCase());
      if (hp === undefined) continue;
      if (hp.port === undefined) anyPort.add(hp.host);
      else withPort.add(`${hp.host}:${hp.port}`);
    }
  } else {
    if (!isLoopback(listenAddress)) return undefined;
    for (const h of ['localhost', '127.0.0.1', '::1', listenAddress.toLowerCase()]) withPort.add(`${h}:*`);
  }
  return (host, localPort) => {
    if (host === undefined) return false;
    const hp = splitHostPort(host.toLowerCase());
    if (hp === undefined) return false;
    const port = hp.port ?? 80;
    return anyPort.has(hp.host) || withPort.has(`${hp.host}:${port}`) || (port === localPort && withPort.has(`${hp.host}:*`));
  };
}

function originAllowed(origin: string, check: HostCheck, localPort: number | undefined): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
  return check(`${url.hostname}:${port}`, localPort);
}

/** "host", "host:port", "[v6]" or "[v6]:port", with the brackets removed. */
function splitHostPort(s: string): { host: string; port: number | undefined } | undefined {
  const m = /^(?:\[([0-9a-f:.]+)\]|([^:[\]\s]+))(?::(\d{1,5}))?$/.exec(s.trim());
  if (m === null) return undefined;
  return { host: m[1] ?? m[2]!, port: m[3] === undefined ? undefined : Number(m[3]) };
}

function isLoopback(address: string): boolean {
  const a = address.toLowerCase();
  if (a === 'localhost' || a === '::1') return true;
  return isIP(a) === 4 && a.startsWith('127.');
}
