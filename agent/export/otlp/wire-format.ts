/** What the OTLP/HTTP specification fixes about requests (opentelemetry-proto docs/specification.md, "OTLP/HTTP"). */
import { CLIENT_OWNED_HEADERS } from '../batch-headers.js';

export type OtlpEncoding = 'protobuf' | 'json';
export type OtlpCompression = 'gzip' | 'none';

/** Default URL paths, appended to the sink's endpoint. */
export const METRICS_PATH = '/v1/metrics';
export const LOGS_PATH = '/v1/logs';

/** "The client and the server MUST set Content-Type: application/x-protobuf" (or application/json for JSON). */
export function contentTypeOf(encoding: OtlpEncoding): string {
  return encoding === 'json' ? 'application/json' : 'application/x-protobuf';
}

/** Headers the sink sets itself (or the HTTP client owns): configured headers may not replace them. */
export const RESERVED_HEADERS: ReadonlySet<string> = new Set(['content-type', 'content-encoding', ...CLIENT_OWNED_HEADERS]);

/**
 * The spec recommends clients keep a request body, before compression,
 * within 64 MiB; the OpenTelemetry Collector's HTTP receivers refuse past
 * 20 MiB by default (confighttp max_request_body_size). 8 MiB stays well
 * inside both and inside the spool's 16 MiB record limit.
 */
export const DEFAULT_MAX_REQUEST_BYTES = 8 * 1024 * 1024;

/** "The client MUST limit the size of the response body ... It is RECOMMENDED to use 4 MiB". */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
