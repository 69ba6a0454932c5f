import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { EventRecord } from '../aggregate/event-record.js';
import type { ExponentialMetricData } from './exponential-data.js';
import type { MetricsSnapshot } from './metrics-snapshot.js';
import type { SummaryMetricData } from './summary-data.js';

export type { EventRecord };

/**
 * What one flush hands to every push sink: the agent's metrics at that
 * moment (cumulative, as the Prometheus endpoint shows them) and the events
 * of the interval. Timestamps are fixed here, so a batch replayed from the
 * spool rewrites the same samples.
 */
export interface FlushSnapshot {
  /** Unique per batch (a UUID); sinks send it so a receiver can de-duplicate. */
  batchId: string;
  timeMs: number;
  /**
   * The OpenTelemetry SDK's form of the metrics, for sink modules: made only
   * when one is configured, else it holds no metric. Its resource is the
   * resource of the push either way.
   */
  metrics: ResourceMetrics;
  /**
   * Tally's own form of the same families, taken when the flush cut the
   * batch, which remote write renders as /metrics does and OTLP turns into
   * the SDK's form a run of series at a time. Values are read
   * when a sink reads them; which series and the set counts are fixed.
   */
  families: MetricsSnapshot;
  /** Summary families (observer_type: summary), which the OpenTelemetry SDK's MetricData cannot hold; beside `metrics`, for sink modules. */
  summaries?: readonly SummaryMetricData[];
  /**
   * Exponential histograms of the histogram families that keep them, beside
   * the explicit-bucket HISTOGRAM of the same name in `metrics` (which stays,
   * for sinks that want buckets); beside `metrics`, for sink modules.
   */
  exponential?: ExponentialMetricData[];
  events: EventRecord[];
}

/**
 * One request as it is stored in the sink's spool queue: encoded once when
 * the batch is made, sent as it is on every attempt.
 */
export interface EncodedRequest {
  /** Appended to the sink's endpoint, e.g. "/v1/metrics"; "" for the endpoint itself. */
  path: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** What came back from one attempt. */
export type SendOutcome =
  | { kind: 'delivered'; status: number }
  /** Try again later; retryAfterMs from a Retry-After header, when there was one. */
  | { kind: 'retry'; status?: number; error: string; retryAfterMs?: number }
  /** Never deliverable as it is (a 4xx the protocol calls permanent): dead-letter it. */
  | { kind: 'permanent'; status?: number; error: string; responseBody?: string };

/**
 * A push sink: built-in (OTLP/HTTP, Prometheus remote write) or a user's
 * module named in the config. The agent gives every sink the same spool
 * queue, retry, backoff and telemetry; a sink only encodes and sends.
 */
export interface Sink {
  readonly name: string;
  /**
   * Turns a flush into the requests to store. Called once per flush, in
   * flush order; may keep state between calls (delta temporality does).
   * An empty array means nothing to send for this flush. A sink with much
   * to encode may return a promise and yield to the event loop meanwhile;
   * the next flush waits for it.
   */
  encode(snapshot: FlushSnapshot): EncodedRequest[] | Promise<EncodedRequest[]>;
  /**
   * The batch last encoded could not be queued (a full disk, a full
   * refuse_new queue): state kept across batches goes back to before it, so
   * the next batch covers its interval too. Its events come again with the
   * next batch.
   */
  abandon?(batchId: string): void;
  /** One attempt to deliver one stored request; must not throw for transport errors (return retry). */
  send(request: EncodedRequest, signal: AbortSignal): Promise<SendOutcome>;
  /** Releases connections; called once at shutdown. */
  close?(): Promise<void>;
}
