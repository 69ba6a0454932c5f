import { COUNTER, GAUGE } from '../parse/metric-kind.js';
import type { ParsedEvent } from '../parse/dogstatsd-extras.js';
import type { AggregationCounters } from '../telemetry/aggregation-counters.js';
import type { EventRecord } from './event-record.js';
import type { SeriesStore } from './series-store.js';

/** DogStatsD event fields that say what kind of event it is, and the labels they become. */
const EVENT_FIELD_LABELS: ReadonlyArray<readonly [string, string]> = [
  ['alert_type', 'alert_type'],
  ['priority', 'priority'],
  ['source_type_name', 'source'],
];

/** Event spellings remembered at most; past it the memo starts afresh (it is only a shortcut). */
const EVENT_SERIES_CACHE = 65_536;

/**
 * A DogStatsD event's labels: its tags, and its alert type, priority and
 * source. Its text is free prose (a deploy message, a stack trace), which as
 * a label would make a series per message.
 */
export function eventLabels(e: ParsedEvent, tags: ReadonlyArray<[string, string]>): Array<[string, string]> {
  const labels: Array<[string, string]> = [...tags];
  for (const [field, label] of EVENT_FIELD_LABELS) {
    const v = e.fields[field];
    if (v !== undefined && v !== '') labels.push([label, v]);
  }
  return labels;
}

/**
 * What an event leaves behind: `<name>_total` counts it, `<name>_last_seen_timestamp_seconds`
 * keeps its latest time, and the event itself is kept for the sinks that
 * ship events as log records, at most `maxPending` per flush interval.
 */
export class EventSeries {
  /** Event spelling (name and labels as sent) → its `_total` and `_last_seen` series ids. */
  private readonly ids = new Map<string, [number, number]>();
  private pending: EventRecord[] = [];

  constructor(
    private readonly store: SeriesStore,
    private readonly aggregation: AggregationCounters,
    private readonly maxPending: number,
  ) {}

  /** One event, already admitted (tags counted and within limits). */
  record(name: string, pairs: Array<[string, string]>, record: EventRecord): void {
    if (this.maxPending > 0) {
      if (this.pending.length < this.maxPending) this.pending.push(record);
      else this.aggregation.metricDrop('event_buffer_full');
    }
    // The same event as sent before finds its two series without building their canonical keys again.
    let cacheKey = name;
    for (const [k, v] of pairs) cacheKey += `\u0001${k}\u0002${v}`;
    let ids = this.ids.get(cacheKey);
    if (ids === undefined) {
      const count = this.store.seriesFor(COUNTER, name, pairs);
      const seen = count < 0 ? count : this.store.seriesFor(GAUGE, `${name}_last_seen_timestamp_seconds`, pairs);
      if (count < 0 || seen < 0) return;
      ids = [count, seen];
      if (this.ids.size >= EVENT_SERIES_CACHE) this.ids.clear();
      this.ids.set(cacheKey, ids);
    }
    const [count, seen] = ids;
    const epoch = this.store.epoch;
    const total = this.store.series[count]!;
    total.value += 1;
    total.lastEpoch = epoch;
    const last = this.store.series[seen]!;
    last.lastEpoch = epoch;
    // A late or replayed event never moves "last seen" backwards.
    last.value = Math.max(last.value, record.timeMs / 1000);
    this.aggregation.metricsAggregated++;
  }

  /** The events kept since the last call, oldest first; the buffer starts empty again. */
  take(): EventRecord[] {
    const taken = this.pending;
    this.pending = [];
    return taken;
  }

  /** Series ids were renumbered (an expiry): the memo of them is void. */
  forgetIds(): void {
    this.ids.clear();
  }
}
