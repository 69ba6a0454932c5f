import type { Logger } from 'pino';
import type { Resource } from '@opentelemetry/resources';
import type { EncodedRequest, FlushSnapshot, Sink } from '../sink.js';
import type { HistogramForm } from './family-units.js';
import { OtlpEncoder, type OtlpTemporality } from './otlp-encoder.js';
import type { OtlpSendOutcome } from './otlp-response.js';
import { OtlpSender } from './otlp-sender.js';
import type { OtlpCompression, OtlpEncoding } from './wire-format.js';

export interface OtlpSinkOptions {
  name: string;
  /** The collector's base URL, e.g. http://127.0.0.1:4318; /v1/metrics and /v1/logs are appended. */
  endpoint: string;
  encoding: OtlpEncoding;
  compression: OtlpCompression;
  temporality: OtlpTemporality;
  /** Timers, histograms and distributions with explicit buckets (default) or as exponential histograms where kept. */
  histograms?: HistogramForm;
  /** Extra headers on every request, added when sending (never stored in the spool). */
  headers?: Record<string, string>;
  timeoutMs: number;
  /** The agent's version, for the User-Agent. */
  version: string;
  /** From otlpResource(): merged over each snapshot's resource. */
  resource?: Resource;
  /** Ship events as log records to /v1/logs (default true). */
  events?: boolean;
  /** Largest body before compression; larger batches are split (default 8 MiB). */
  maxRequestBytes?: number;
  maxConnections?: number;
  /** For partial-success warnings. */
  logger?: Logger;
}

/** A Sink whose outcomes may carry an OTLP partial success, and that takes summaries beside the metrics. */
export interface OtlpSink extends Sink {
  encode(snapshot: FlushSnapshot): Promise<EncodedRequest[]>;
  send(request: EncodedRequest, signal: AbortSignal): Promise<OtlpSendOutcome>;
  close(): Promise<void>;
}

/** The built-in OTLP/HTTP push sink: encoding per otlp-encoder.ts, delivery per otlp-sender.ts. */
export function createOtlpSink(opts: OtlpSinkOptions): OtlpSink {
  const encoder = new OtlpEncoder({
    encoding: opts.encoding,
    compression: opts.compression,
    temporality: opts.temporality,
    histograms: opts.histograms,
    resource: opts.resource,
    events: opts.events,
    maxRequestBytes: opts.maxRequestBytes,
    scope: { name: 'tally-agent', version: opts.version },
  });
  const sender = new OtlpSender({
    name: opts.name,
    endpoint: opts.endpoint,
    headers: opts.headers,
    timeoutMs: opts.timeoutMs,
    userAgent: `tally-agent/${opts.version}`,
    maxConnections: opts.maxConnections,
    logger: opts.logger,
  });
  return {
    name: opts.name,
    encode: (snapshot: FlushSnapshot) => encoder.encode(snapshot),
    abandon: () => encoder.abandon(),
    send: (request, signal) => sender.send(request, signal),
    close: () => sender.close(),
  };
}
