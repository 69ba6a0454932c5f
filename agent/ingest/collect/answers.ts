/**
 * What POST /v1/collect answers: JSON bodies with their headers, each
 * response counted by status in the CollectStats the handler is given.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CollectStats } from '../../telemetry/collect-stats.js';

/** What a refused request answers: a stable reason for programs, a message for people. */
export interface Refusal {
  readonly ok: false;
  readonly status: number;
  readonly reason: string;
  readonly message: string;
  readonly headers?: Record<string, string>;
}

export function refusal(status: number, reason: string, message: string, headers?: Record<string, string>): Refusal {
  return { ok: false, status, reason, message, headers };
}

/** One item (a JSON object, a statsd line by its 0-based number) that was not taken, as the 400 lists it. */
export interface BadItem {
  index: number;
  reason: string;
  message?: string;
}

/** What applying a body did: the items taken and those that were not. */
export interface Applied {
  accepted: number;
  bad: BadItem[];
}

export class CollectAnswers {
  constructor(private readonly counters: CollectStats) {}

  /** 202 when every item was taken, else 400 bad_items listing those that were not. */
  applied(res: ServerResponse, r: Applied): void {
    const { accepted, bad } = r;
    if (bad.length === 0) {
      this.accepted(res, accepted);
      return;
    }
    this.respond(res, 400, {
      error: 'bad_items',
      message: `${bad.length} item(s) rejected; the other ${accepted} were accepted`,
      accepted,
      rejected: bad.length,
      errors: bad,
    });
  }

  /** A request refused as a whole, counted by its reason. */
  refuse(req: IncomingMessage, res: ServerResponse, r: Refusal): void {
    this.counters.bump(this.counters.requestErrors, r.reason);
    // The body may still be arriving; closing is cheaper than reading what will be thrown away.
    const close = !req.complete ? { connection: 'close' } : undefined;
    this.respond(res, r.status, { error: r.reason, message: r.message }, r.headers === undefined && close === undefined ? undefined : { ...r.headers, ...close });
  }

  /** A bug or an internal failure: the caller logs it. */
  internalError(res: ServerResponse): void {
    this.respond(res, 500, { error: 'internal', message: 'internal error' });
  }

  // Every good request ends here: the body is built by hand, the headers come ready-made.
  private accepted(res: ServerResponse, accepted: number): void {
    this.counters.bump(this.counters.requests, 202);
    if (res.headersSent || res.destroyed) return;
    const text = `{"accepted":${accepted}}\n`;
    res.writeHead(202, acceptedHeaders(text.length)).end(text);
  }

  private respond(res: ServerResponse, status: number, body: object, headers?: Record<string, string>): void {
    this.counters.bump(this.counters.requests, status);
    if (res.headersSent || res.destroyed) return;
    const text = JSON.stringify(body) + '\n';
    res.writeHead(status, { ...JSON_HEADER_FIELDS, ...headers, 'content-length': String(Buffer.byteLength(text)) }).end(text);
  }
}

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
