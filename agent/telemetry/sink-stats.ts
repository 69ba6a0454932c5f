/** Why a batch left a queue without being delivered. Each is a `reason` label. */
export const QUEUE_DROP_REASONS = ['drop_oldest', 'too_large', 'encode_failed', 'events_overflow'] as const;
export type QueueDropReason = (typeof QUEUE_DROP_REASONS)[number];
/**
 * Why a queue could not take a flush. Nothing is lost by it: the flush's
 * data stays in the agent (and its HTTP requests in the journal) and goes
 * with the next flush the queue takes.
 */
export const QUEUE_REFUSE_REASONS = ['refuse_new', 'append_failed'] as const;
export type QueueRefuseReason = (typeof QUEUE_REFUSE_REASONS)[number];

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
  /** Flushes the queue could not take, by reason. */
  readonly refused = new Map<QueueRefuseReason, number>(QUEUE_REFUSE_REASONS.map((r) => [r, 0]));
  /** When the first request refused for good (dead-lettered) since the last delivery was; undefined when none. */
  refusedSinceMs: number | undefined;
  /** Dead-letter entries removed to keep the folder within its max_bytes. */
  deadLettersRemoved = 0;
  /** When data was last dropped (any reason); 0 before the first. */
  lastDropMs = 0;
  /** When a request was last delivered; 0 before the first. */
  lastDeliveryMs = 0;
  lastError: { message: string; atMs: number; status?: number } | undefined;

  constructor(
    readonly sink: string,
    private readonly now: () => number = Date.now,
  ) {}

  drop(reason: QueueDropReason, n = 1): void {
    this.dropped.set(reason, this.dropped.get(reason)! + n);
    this.lastDropMs = this.now();
  }

  deadLetterRemoved(n: number): void {
    this.deadLettersRemoved += n;
  }

  refuse(reason: QueueRefuseReason): void {
    this.refused.set(reason, this.refused.get(reason)! + 1);
  }
}
