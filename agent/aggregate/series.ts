import { COUNTER, GAUGE, SET, type MetricKind } from '../parse/metric-kind.js';
import type { ExponentialOptions } from '../mapping/mapping-rules.js';
import type { CellPool, CountCells } from './bucket-arena.js';
import { ExponentialHistogram } from './exponential-histogram.js';
import { MemberSet } from './member-set.js';
import type { FamilyType } from './prometheus-names.js';
import type { SeriesColumns } from './series-columns.js';
import { SummaryWindow, type SummaryShape } from './summary-window.js';

/**
 * A series' labels: an ordinary object whose prototype has none, so no key
 * is inherited ("constructor" in labels is false). Object.create(null) gave
 * each series a dictionary of its own; these share one hidden class per
 * list of label names and keep the values in the object: 92 bytes less a
 * series, measured at 100,000 mixed series (bench/micro-flush.mjs).
 */
export const SeriesLabels = function SeriesLabels() {} as unknown as new () => Record<string, string>;
SeriesLabels.prototype = Object.create(null) as Record<string, string>;

/**
 * Per-bucket weights: whole counts as 32-bit integers from the family's
 * CellPool, or doubles once a count did not fit (see BucketArena).
 */
export type BucketCounts = Uint32Array | Float64Array;

/** The buckets of a series that has none: empty, so nothing can be written to it. */
export const NO_BUCKETS: BucketCounts = new Float64Array(0);

/** Whether series of this kind have bucket counts: only observers do. */
export function hasBuckets(kind: MetricKind): boolean {
  return kind !== COUNTER && kind !== GAUGE && kind !== SET;
}

/** One time series: its identity (fixed at creation) and its running state. */
export class Series {
  /**
   * Per-bucket (not cumulative) weights; the last cell is the +Inf bucket.
   * Empty for counters, gauges and sets. A view into the family's
   * CellPool, replaced by doubles of its own when a count does not fit,
   * and by a copy when the series expires, so a scrape that still renders it
   * reads its last counts: read it afresh, never keep it across a turn of
   * the event loop.
   */
  bucketCounts: BucketCounts;
  /**
   * A set's members, a summary's quantile window or a histogram's
   * exponential state: a series has at most one, by its family, so one field
   * holds it (8 bytes a series each field saved; the getters below read it).
   */
  private readonly state: MemberSet | SummaryWindow | ExponentialHistogram | null;
  aliases = 0;
  /** The flush interval (SeriesStore.epoch) of the latest sample. */
  lastEpoch: number;
  /** Where its numbers are (value, sum, count, times): a block of the store's columns, or a copy of its own once it expired. */
  private columns: SeriesColumns;
  private slot: number;
  /**
   * The flush interval in which a storing scraper first read the series; -1
   * until one did. Until that interval ends a counter or histogram is shown
   * at zero, because Prometheus' rate() and increase() take nothing from a
   * series' first sample: a feature used once would otherwise count no use.
   * An interval, not one read, so a scrape that times out after the agent
   * answered does not use the zero up.
   */
  firstScrapedEpoch = -1;

  constructor(
    /** Index in the series store's list; changes when expired series are compacted away. */
    public id: number,
    readonly kind: MetricKind,
    readonly family: Family,
    /** Shared with every series of the same labels: never written to. */
    readonly attributes: Record<string, string>,
    /** A block of the store's columns, which holds its start time already at `slot`. */
    columns: SeriesColumns,
    slot: number,
    /** The number of its label set (LabelSets), which with the family is its identity; `attributes` is that set's. */
    readonly labelSet: number,
    /** Idle time after which the series is dropped; 0 keeps it for as long as the agent runs. */
    readonly ttlMs: number,
    epoch: number,
    /** Zeroed, of the family's bounds plus one, for observers; NO_BUCKETS for the rest. */
    bucketCounts: BucketCounts,
    /** A set's members: given its first table, or null for other kinds. */
    members: MemberSet | null,
  ) {
    this.lastEpoch = epoch;
    this.columns = columns;
    this.slot = slot;
    this.bucketCounts = bucketCounts;
    this.state =
      members ??
      (family.summary !== undefined
        ? new SummaryWindow(family.summary, columns.startTimeMs[slot]!)
        : family.exponential !== undefined
          ? new ExponentialHistogram(family.exponential, family.exponentialCells)
          : null);
  }

  /** Cumulative sum (counter) or last value (gauge). */
  get value(): number {
    return this.columns.value[this.slot]!;
  }

  set value(v: number) {
    this.columns.value[this.slot] = v;
  }

  get sum(): number {
    return this.columns.sum[this.slot]!;
  }

  set sum(v: number) {
    this.columns.sum[this.slot] = v;
  }

  get count(): number {
    return this.columns.count[this.slot]!;
  }

  set count(v: number) {
    this.columns.count[this.slot] = v;
  }

  get startTimeMs(): number {
    return this.columns.startTimeMs[this.slot]!;
  }

  /** When a flush last found the series updated, kept for series with a ttl only; expiry counts from here. */
  get lastSeenMs(): number {
    return this.columns.lastSeenMs[this.slot]!;
  }

  set lastSeenMs(ms: number) {
    this.columns.lastSeenMs[this.slot] = ms;
  }

  /**
   * The series expired: its numbers move to a copy of their own, which a
   * scrape or push batch begun before still reads, and its slot goes back
   * to the store's columns for the next new series.
   */
  detach(): void {
    const store = this.columns;
    this.columns = store.copyOf(this.slot);
    store.give(this.slot);
    this.slot = 0;
  }

  /**
   * 52-bit hashes of the distinct members seen in the current interval: no
   * string per line, and a collision needs about 10^7 members in one interval
   * to become likely (birthday bound), far beyond what a set gauge is used for.
   */
  get members(): MemberSet | null {
    return this.kind === SET ? (this.state as MemberSet) : null;
  }

  /** The quantile window of a summary series; null for every other type. Its sum and count are the fields above. */
  get summary(): SummaryWindow | null {
    return this.family.summary === undefined ? null : (this.state as SummaryWindow);
  }

  /** Kept beside the explicit buckets (which /metrics and remote write need) when the family has exponential state. */
  get expo(): ExponentialHistogram | null {
    return this.family.exponential === undefined ? null : (this.state as ExponentialHistogram);
  }

  /** A set's distinct count of the last complete interval; -1 until one completed, and for other types. */
  get lastIntervalCount(): number {
    return this.kind === SET ? (this.state as MemberSet).lastCount : -1;
  }
}

/** All series sharing one exposition name and type. */
export interface Family {
  name: string;
  type: FamilyType;
  /** The statsd type that claimed the name first; h and d share a family. */
  kind: MetricKind;
  /** 's' for timers, converted from ms; '' when the sender's unit is unknown. */
  unit: string;
  bounds: number[];
  /** The `help:` of the rule that created the family; undefined for the default text. */
  help: string | undefined;
  /** Set for summaries only. */
  summary: SummaryShape | undefined;
  /** Set for histograms that also keep an exponential histogram per series. */
  exponential: ExponentialShape | undefined;
  /**
   * Only ever appended to; expiry assigns a new array instead of editing this
   * one, so a streamed scrape or a push batch that keeps it (metrics-snapshot.ts) still has
   * the series it began with, in their order.
   */
  series: Series[];
  /** Where its series' bucket counts come from and go back to; undefined for families without buckets. */
  cells: CellPool<Uint32Array> | undefined;
  /** Where its series' exponential histograms keep their counts; unread unless `exponential` is set. */
  exponentialCells: CountCells;
}


export interface ExponentialShape extends ExponentialOptions {
  /**
   * The mapping file asked for it (a rule, or the defaults for unmapped
   * names): every OTLP sink sends it. Otherwise only the sinks with
   * `histograms: exponential` do.
   */
  fromMapping: boolean;
}
