import type { SendOutcome } from '../sink.js';
import { parseRetryAfter } from '../retry-after.js';

export interface ResponseSummary {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The start of the body, already cut to the size worth logging; "" when not read. */
  body: string;
}

/**
 * What one remote-write response means, as the spec's "Retries & Backoff"
 * section says: 2xx is written; 5xx must be retried, and 429 may be (Tally
 * does, with the receiver's Retry-After, so a throttled batch waits rather
 * than vanishes); every other status must not be retried, and the body, a
 * message for people that senders must not interpret, goes with it to the
 * dead-letter log. Redirects are not followed (a POST body would have to be
 * re-sent to a place nobody configured), so they are permanent too, as in
 * Prometheus' own sender, with the Location named.
 */
export function outcomeOf(r: ResponseSummary, nowMs: number): SendOutcome {
  const { status } = r;
  if (status >= 200 && status < 300) return { kind: 'delivered', status };
  const message = firstLine(r.body);
  const error = `HTTP ${status}${message === '' ? '' : `: ${message}`}`;
  if (status >= 500 || status === 429) {
    const retryAfterMs = parseRetryAfter(r.headers['retry-after'], nowMs);
    return retryAfterMs === undefined ? { kind: 'retry', status, error } : { kind: 'retry', status, error, retryAfterMs };
  }
  const location = r.headers['location'];
  const redirect = status >= 300 && status < 400 && location !== undefined ? ` (redirect to ${String(location)} not followed: configure that URL)` : '';
  return { kind: 'permanent', status, error: error + redirect, responseBody: r.body };
}

function firstLine(body: string): string {
  const line = body.trim().split('\n', 1)[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
