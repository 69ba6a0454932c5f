import type { EventRecord } from './sink.js';

/** A flush's batch as it waits for its turn: what the sinks get, and what else it carries (the journal mark it releases). */
export interface WaitingBatch<B extends { events: EventRecord[] }> {
  batch: B;
  /** Merges what a superseded batch carried beyond its events into this one (a journal mark: the later one covers it). */
  absorb?(older: WaitingBatch<B>): void;
}

export interface BatchLineOptions<B extends { events: EventRecord[] }> {
  /** Delivers one batch to the sink queues; the next starts when it settles. Must not reject. */
  deliver(waiting: WaitingBatch<B>): Promise<void>;
  /** A waiting batch was replaced by a newer one before its turn. */
  onSuperseded(superseded: WaitingBatch<B>, by: WaitingBatch<B>): void;
  /** Events carried from superseded batches at most; past it the oldest are dropped and counted here. */
  maxEvents: number;
  onEventsDropped(count: number): void;
}

/**
 * Batches go to the sinks one after another, in flush order, with at most
 * one waiting behind the one under way. A flush whose batch finds another
 * still waiting replaces it: the metrics are cumulative, so the newer batch
 * holds everything the older one did, and the older one's events are
 * carried over. Without this, a flush that takes longer than the flush
 * interval (at 300,000 mixed series remote write alone took longer) queued
 * batches without end, each holding the OpenTelemetry form of every series,
 * and shutting down waited for all of them.
 */
export class BatchLine<B extends { events: EventRecord[] }> {
  private waiting: WaitingBatch<B> | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly opts: BatchLineOptions<B>) {}

  offer(next: WaitingBatch<B>): void {
    const older = this.waiting;
    if (older !== undefined) {
      let events = older.batch.events.concat(next.batch.events);
      const over = events.length - this.opts.maxEvents;
      if (over > 0) {
        events = events.slice(over);
        this.opts.onEventsDropped(over);
      }
      next.batch.events = events;
      next.absorb?.(older);
      this.opts.onSuperseded(older, next);
    }
    this.waiting = next;
    this.running ??= this.run();
  }

  /** Settles once every batch offered so far is delivered. */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  private async run(): Promise<void> {
    try {
      for (let w = this.waiting; w !== undefined; w = this.waiting) {
        this.waiting = undefined;
        await this.opts.deliver(w);
      }
    } finally {
      this.running = undefined;
    }
  }
}
