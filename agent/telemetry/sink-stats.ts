/** Why a batch left a queue without being delivered. Each is a `reason` label. */
export const QUEUE_DROP_REASONS = ['drop_oldest', 'refuse_new', 'too_large', 'append_failed', 'encode_failed'] as const;
export type QueueDropReason = (typeof QUEUE_DROP_REASONS)[number];

/**
 * One push sink's counts, plain numbers bumped by its queue and shipper and
 * read by the self-telemetry callbacks at scrape time.
 */
export class SinkStats {
  /** Requests appended to the queue. */
  enqueued = 0;
  /** Requests delivered (2xx). */
  sent = 0;
  /** Attempts that failed in a way worth retrying. */
  retries = 0;
  /** Requests moved to the dead-letter folder. */
  deadLettered = 0;
  /** Requests that left the queue undelivered, by reason. */
  readonly dropped = new Map<QueueDropReason, number>(QUEUE_DROP_REASONS.map((r) => [r, 0]));
  /** When a request was last delivered; 0 before the first. */
  lastDeliveryMs = 0;
  lastError: { message: string; atMs: number; status?: number } | undefined;

  constructor(readonly sink: string) {}

  drop(reason: QueueDropReason, n = 1): void {
    this.dropped.set(reason, this.dropped.get(reason)! + n);
  }
}
