import {
  JsonLogsSerializer,
  JsonMetricsSerializer,
  ProtobufLogsSerializer,
  ProtobufMetricsSerializer,
} from '@opentelemetry/otlp-transformer';
import { parseRetryAfter } from '../retry-after.js';
import type { SendOutcome } from '../sink.js';
import { decodeRpcStatus } from './rpc-status.js';
import { LOGS_PATH, MAX_RESPONSE_BYTES } from './wire-format.js';

/** A 2xx whose body carried `partial_success`: the server kept the rest of the request. */
export interface PartialSuccess {
  /** rejected_data_points (metrics) or rejected_log_records (logs); 0 for a warning. */
  rejected: number;
  message: string;
}

/** SendOutcome, with what an OTLP receiver said about a partial success (additive: still a SendOutcome). */
export type OtlpSendOutcome = Exclude<SendOutcome, { kind: 'delivered' }> | { kind: 'delivered'; status: number; partialSuccess?: PartialSuccess };

export interface OtlpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** At most MAX_RESPONSE_BYTES of it. */
  body: Uint8Array;
  /** The server sent more than MAX_RESPONSE_BYTES. */
  truncated: boolean;
}

/** Statuses that "SHOULD be retried. All other 4xx or 5xx response status codes MUST NOT be retried." */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/** How much of a refusal's explanation is kept for the log and the dead-letter file. */
const MAX_ERROR_TEXT = 2048;

/**
 * What one OTLP/HTTP answer means, per opentelemetry-proto
 * docs/specification.md ("OTLP/HTTP Response"):
 * - 2xx: delivered. A populated `partial_success` is reported, never retried
 *   ("The client MUST NOT retry the request when it receives a partial
 *   success response").
 * - 429, 502, 503, 504: retry, after the Retry-After (seconds or HTTP-date)
 *   when there is one ("Retryable Response Codes", "OTLP/HTTP Throttling").
 * - Any other status, 500 included: permanent, with the google.rpc.Status
 *   message from the body. A 3xx is one too: a redirect of a POST is a wrong
 *   endpoint, which retrying would not fix.
 * - A body past 4 MiB: "the client MUST treat the response as a non-retryable
 *   error". For a 2xx the data was taken, so it still counts as delivered.
 */
export function classifyResponse(res: OtlpResponse, requestPath: string, nowMs: number): OtlpSendOutcome {
  const contentType = headerValue(res.headers['content-type']);
  if (res.status >= 200 && res.status < 300) {
    const partialSuccess = res.truncated ? undefined : readPartialSuccess(res.body, contentType, requestPath);
    return partialSuccess === undefined ? { kind: 'delivered', status: res.status } : { kind: 'delivered', status: res.status, partialSuccess };
  }
  if (res.truncated) {
    return { kind: 'permanent', status: res.status, error: `HTTP ${res.status} with a response body over ${MAX_RESPONSE_BYTES} bytes` };
  }
  const explanation = explain(res.body, contentType);
  const error = `HTTP ${res.status}${explanation ? `: ${explanation}` : ''}`.slice(0, MAX_ERROR_TEXT);
  if (RETRYABLE_STATUSES.has(res.status)) {
    const retryAfterMs = parseRetryAfter(res.headers['retry-after'], nowMs);
    return retryAfterMs === undefined ? { kind: 'retry', status: res.status, error } : { kind: 'retry', status: res.status, error, retryAfterMs };
  }
  if (res.status >= 300 && res.status < 400) {
    const location = headerValue(res.headers.location);
    return { kind: 'permanent', status: res.status, error: `HTTP ${res.status}: redirected${location ? ` to ${location}` : ''}; set the sink's endpoint to where the collector is` };
  }
  return { kind: 'permanent', status: res.status, error, ...(explanation ? { responseBody: explanation } : {}) };
}

/** The Status message (with its code when the server set one), else the body as text, shortened. */
function explain(body: Uint8Array, contentType: string | undefined): string {
  const status = decodeRpcStatus(body, contentType);
  if (status !== undefined) {
    const parts = [status.message ?? ''];
    if (status.code !== undefined && status.code !== 0) parts.push(`(code ${status.code})`);
    if (status.details > 0) parts.push(`(${status.details} detail${status.details === 1 ? '' : 's'})`);
    return parts.filter((p) => p !== '').join(' ').slice(0, MAX_ERROR_TEXT);
  }
  return Buffer.from(body.subarray(0, MAX_ERROR_TEXT * 2))
    .toString('utf8')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, MAX_ERROR_TEXT);
}

function readPartialSuccess(body: Uint8Array, contentType: string | undefined, path: string): PartialSuccess | undefined {
  if (body.length === 0) return undefined;
  const json = (contentType ?? '').toLowerCase().includes('json');
  try {
    if (path.endsWith(LOGS_PATH)) {
      const p = (json ? JsonLogsSerializer : ProtobufLogsSerializer).deserializeResponse(body).partialSuccess;
      return populated(p?.rejectedLogRecords, p?.errorMessage);
    }
    const p = (json ? JsonMetricsSerializer : ProtobufMetricsSerializer).deserializeResponse(body).partialSuccess;
    return populated(p?.rejectedDataPoints, p?.errorMessage);
  } catch {
    // An unreadable 2xx body is still a 2xx: the data was accepted.
    return undefined;
  }
}

function populated(rejected: unknown, message: unknown): PartialSuccess | undefined {
  // JSON may carry int64 as a string.
  const n = typeof rejected === 'string' ? Number(rejected) : typeof rejected === 'number' ? rejected : 0;
  const m = typeof message === 'string' ? message : '';
  if (!(n > 0) && m === '') return undefined;
  return { rejected: Number.isFinite(n) && n > 0 ? n : 0, message: m.slice(0, MAX_ERROR_TEXT) };
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
