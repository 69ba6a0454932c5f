/**
 * POST /v1/collect: metrics and events over HTTP, as JSON items or as statsd
 * lines. With a journal, a 2xx means the request is durable on disk: it is
 * replayed after a crash until a flush has put it into the sink queues.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Aggregator } from '../../aggregate/aggregator.js';
import type { ParsedEvent, ParsedServiceCheck } from '../../parse/dogstatsd-extras.js';
import type { ParseErrorReason } from '../../telemetry/parse-error-reasons.js';
import { CollectStats } from '../../telemetry/collect-stats.js';
import { StatsdParser, type LineSink, type ParsedLine } from '../../parse/statsd-line.js';
import { makeHostCheck, originAllowed, parseContentType } from './header-checks.js';
import { validateItem, type ItemLimits } from './json-items.js';
import type { CollectBodyType, CollectJournal } from './journal.js';
import { readBody } from './request-body.js';
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
  /** Write-ahead journal; absent, a 2xx means aggregated in memory only. */
  journal?: Pick<CollectJournal, 'append' | 'markApplied'>;
  /**
   * Why a request cannot be acknowledged durably now (the journal is not
   * open, a sink queue refuses flushes), and when to retry; undefined when
   * it can. Such requests are answered 503 with Retry-After, unread.
   */
  unavailable?: () => { reason: string; message: string; retryAfterSeconds: number } | undefined;
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
    readonly headers?: Record<string, string>,
  ) {}
}

export interface CollectHandler {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Applies a journaled body again (start-up replay): the same checks and counts as when it first came in. */
  replay(type: CollectBodyType, body: Buffer, receivedAtMs: number): { accepted: number; rejected: number };
  stats: CollectStats;
}

export function createCollectHandler(opts: CollectOptions): CollectHandler {
  const stats = new CollectStats();
  // One parser per handler: its scratch buffer is reused, and a body is parsed in one synchronous call.
  const parser = new StatsdParser({ maxLineBytes: opts.limits.maxLineBytes, maxEventTextBytes: opts.limits.maxEventTextBytes });
  const tokenDigest = opts.bearerToken !== undefined && opts.bearerToken !== '' ? sha256(opts.bearerToken) : undefined;
  const hostCheck = makeHostCheck(opts.listenAddress, opts.allowedHosts);
  const jsonLimits = { maxDepth: opts.maxJsonDepth, maxTopLevelItems: opts.maxItems };

  const respond = (res: ServerResponse, status: number, body: object, headers?: Record<string, string>) => {
    stats.bump(stats.requests, status);
    if (res.headersSent || res.destroyed) return;
    const text = JSON.stringify(body) + '\n';
    res.writeHead(status, { ...JSON_HEADER_FIELDS, ...headers, 'content-length': String(Buffer.byteLength(text)) }).end(text);
  };
  // Every good request ends here: the body is built by hand, the headers come ready-made.
  const accepted202 = (res: ServerResponse, accepted: number) => {
    stats.bump(stats.requests, 202);
    if (res.headersSent || res.destroyed) return;
    const text = `{"accepted":${accepted}}\n`;
    res.writeHead(202, acceptedHeaders(text.length)).end(text);
  };
  const refuse = (req: IncomingMessage, res: ServerResponse, r: Refusal) => {
    stats.bump(stats.requestErrors, r.reason);
    // The body may still be arriving; closing is cheaper than reading what will be thrown away.
    const close = !req.complete ? { connection: 'close' } : undefined;
    respond(res, r.status, { error: r.reason, message: r.message }, r.headers === undefined && close === undefined ? undefined : { ...r.headers, ...close });
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
    // statsd-client's HTTP transport PUTs statsd lines with no Content-Type; a PUT is never a browser's simple request, so reading it as text opens nothing to pages.
    const ct = req.method === 'PUT' && req.headers['content-type'] === undefined ? 'text' : parseContentType(req.headers['content-type']);
    if (ct === undefined) return new Refusal(415, 'unsupported_media_type', 'Content-Type must be application/json or text/plain (charset utf-8)');
    const rawEnc = req.headers['content-encoding'];
    const enc = rawEnc === undefined ? 'identity' : rawEnc.trim().toLowerCase();
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
    const down = opts.unavailable?.();
    if (down !== undefined) {
      refuse(req, res, new Refusal(503, down.reason, down.message, { 'retry-after': String(down.retryAfterSeconds) }));
      return;
    }
    readBody(req, checked.gzip, opts.maxBodyBytes, (result) => {
      if (result === 'too_large') {
        refuse(req, res, new Refusal(413, 'body_too_large', `body larger than ${opts.maxBodyBytes} bytes${checked.gzip ? ' once decompressed' : ''}`));
        return;
      }
      if (result === 'bad_gzip') {
        refuse(req, res, new Refusal(400, 'bad_gzip', 'body is not valid gzip'));
        return;
      }
      if (result === undefined) {
        // The client went away mid-body: nobody to answer.
        stats.bump(stats.requestErrors, 'aborted');
        return;
      }
      try {
        if (checked.json) handleJson(res, result);
        else durably(res, 'text', result, () => applyText(result));
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
      accepted202(res, accepted);
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

  /**
   * Journals the body, then applies it and answers. Nothing is applied and
   * the client is told to retry when the journal cannot take the request.
   */
  const durably = (res: ServerResponse, type: CollectBodyType, body: Buffer, apply: (receivedAtMs: number) => Applied) => {
    const receivedAtMs = Date.now();
    const journal = opts.journal;
    if (journal === undefined) {
      const r = apply(receivedAtMs);
      finish(res, r.accepted, r.bad);
      return;
    }
    journal.append(type, body, receivedAtMs).then(
      (seq) => {
        let r: Applied;
        try {
          r = apply(receivedAtMs);
        } catch (err) {
          opts.logger.error({ err }, 'HTTP collect failed');
          respond(res, 500, { error: 'internal', message: 'internal error' });
          return;
        } finally {
          journal.markApplied(seq);
        }
        finish(res, r.accepted, r.bad);
      },
      (err: unknown) => {
        stats.bump(stats.requestErrors, 'journal_unavailable');
        opts.logger.error({ err }, 'HTTP collect: could not journal the request; answered 503');
        respond(res, 503, { error: 'journal_unavailable', message: 'the request could not be stored durably; retry later' }, { 'retry-after': '1' });
      },
    );
  };

  const parseJson = (body: Buffer) => {
    let text: string;
    try {
      text = UTF8.decode(body);
    } catch {
      throw new Refusal(400, 'invalid_utf8', 'body is not valid UTF-8');
    }
    let parsed;
    try {
      parsed = parseStrictJson(text, jsonLimits);
    } catch (e) {
      if (!(e instanceof JsonSyntaxError)) throw e;
      if (e.reason === 'too_many_items') throw new Refusal(413, 'too_many_items', `more than ${opts.maxItems} items in one request`);
      throw new Refusal(400, e.reason, e.message);
    }
    return parsed;
  };

  const applyJson = (parsed: ReturnType<typeof parseStrictJson>, receivedAtMs: number): Applied => {
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
      if (item.kind === 'event') agg.recordEvent(item.name, item.value, item.tags, item.timestampMs ?? receivedAtMs);
      else agg.recordSample(item.kind, item.name, item.value, item.tags);
      accepted++;
    }
    return { accepted, bad };
  };

  // A body that is not JSON is refused before it reaches the journal.
  const handleJson = (res: ServerResponse, body: Buffer) => {
    const parsed = parseJson(body);
    durably(res, 'json', body, (receivedAtMs) => applyJson(parsed, receivedAtMs));
  };

  const applyText = (body: Buffer): Applied => {
    const sink = new CountingSink(opts.aggregator, body);
    parser.parsePacket(body, sink);
    return { accepted: sink.accepted, bad: sink.bad };
  };

  const replay = (type: CollectBodyType, body: Buffer, receivedAtMs: number) => {
    let r: Applied;
    try {
      r = type === 'json' ? applyJson(parseJson(body), receivedAtMs) : applyText(body);
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      r = { accepted: 0, bad: [{ index: 0, reason: e.reason }] };
    }
    stats.itemsAccepted += r.accepted;
    for (const b of r.bad) stats.bump(stats.items, b.reason);
    return { accepted: r.accepted, rejected: r.bad.length };
  };

  return { handle, replay, stats };
}

interface Applied {
  accepted: number;
  bad: BadItem[];
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

const JSON_HEADER_FIELDS = { 'content-type': 'application/json', 'cache-control': 'no-store' };

/**
 * The headers of a 202, by body length. writeHead builds the header block at
 * once, before end() has the body, so without a Content-Length Node would
 * frame every answer in chunked encoding: more bytes, and more buffers for
 * the one writev. writeHead also takes a flat [name, value, ...] list, so
 * one per length (the count's digits) is made once and reused.
 */
const ACCEPTED_HEADERS: string[][] = [];
function acceptedHeaders(length: number): string[] {
  return (ACCEPTED_HEADERS[length] ??= [...Object.entries(JSON_HEADER_FIELDS).flat(), 'content-length', String(length)]);
}

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

