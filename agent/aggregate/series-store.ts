import type { Logger } from 'pino';
import { DISTRIBUTION, GAUGE, HISTOGRAM, KIND_NAMES, SET, TIMER, type MetricKind } from '../parse/metric-kind.js';
import type { ExponentialOptions } from '../mapping/mapping-rules.js';
import type { AggregationCounters } from '../telemetry/aggregation-counters.js';
import { DEFAULT_MAX_SCALE, DEFAULT_MAX_SIZE } from '../shared/exponential-scale.js';
import { familyNameOf, familyTypeOf, sanitizeLabelName, sanitizeMetricName, type FamilyType } from './prometheus-names.js';
import { PLAIN, type SeriesShape } from './series-decision.js';
import { BucketArena } from './bucket-arena.js';
import { hasBuckets, NO_BUCKETS, Series, type ExponentialShape, type Family } from './series.js';
import { LabelSets } from './label-sets.js';
import { ColumnBlocks } from './series-columns.js';
import { MemberSet } from './member-set.js';
import { summaryShape } from './summary-window.js';
import { clip, WarnLimiter } from '../shared/warn-limiter.js';

export interface AggregatorLimits {
  maxSeriesPerMetric: number;
  maxSeries: number;
  maxTags: number;
  maxTagValueBytes: number;
}

export const DEFAULT_LIMITS: AggregatorLimits = {
  maxSeriesPerMetric: 10_000,
  maxSeries: 200_000,
  maxTags: 64,
  maxTagValueBytes: 1024,
};

/**
 * Which histogram families also keep a base-2 exponential histogram, for
 * the OTLP sinks: none (no sink could send one), those a mapping rule (or
 * the mapping defaults) asks for, or all of them (an OTLP sink takes
 * `histograms: exponential`).
 */
export type ExponentialMode = 'off' | 'rules' | 'all';

/** A name of a family of another type: refused, counted in tally_metrics_dropped_total{reason="type_conflict"}. */
export const CONFLICT = -2;
/** Refused and counted by the store (cardinality) or before it (a name that cannot be read). */
export const REJECTED = -3;

export interface SeriesStoreOptions {
  timerBuckets: number[];
  histogramBuckets: number[];
  exponential: ExponentialMode;
  /** Idle time after which a series whose shape gives no ttl expires; 0 = never. */
  defaultTtlMs: number;
  /** Labels every series carries, under names already sanitized; a later pair of the same name wins. */
  globalTags: ReadonlyArray<readonly [string, string]>;
  limits: AggregatorLimits;
  aggregation: AggregationCounters;
  logger: Logger;
  now: () => number;
}

/** What an expiry changed: read by whoever keeps series ids (the alias table, the routes). */
export interface Compaction {
  /** Old id → new id, -1 for a series that expired. */
  readonly remap: Int32Array;
  readonly dead: ReadonlySet<Series>;
}

/** Series a family holds before it is indexed by label set rather than scanned. */
const BY_SCAN = 16;

/**
 * The series and their families: identity (name and sorted labels), naming,
 * type checks, the cardinality limits and expiry. Everything that makes
 * strings happens here, once per new series.
 */
export class SeriesStore {
  /** By id. Read on the hot path; expiry assigns a new array. */
  series: Series[] = [];
  /** Counts flushes; a series remembers the interval of its latest sample instead of a clock reading per line. */
  epoch = 0;
  /**
   * The set series, whose members roll over at every flush, and how many
   * series have a ttl: a flush then touches only those. Walking all series
   * held the event loop 15 ms a flush at 100,000 mixed series, none of them
   * with a ttl (timed per callback against a CPU profile).
   */
  private sets: Series[] = [];
  private seriesWithTtl = 0;
  private readonly families = new Map<string, Family>();
  /**
   * A large family's series by label set: a series' identity is its family
   * and the number of its label set. A family of fewer than BY_SCAN series
   * is scanned instead: a Map each cost the 10-series families of
   * bench/micro-memory.mjs 48 bytes a series.
   */
  private readonly byLabelSet = new Map<Family, Map<number, Series>>();
  private readonly labelSets = new LabelSets();
  private readonly buckets = new BucketArena();
  private readonly columns = new ColumnBlocks();
  /** A metric warns about its cardinality once a minute, and all of them together once a second. */
  private readonly cardinalityWarnings = new WarnLimiter(60_000, 1000, 1024);
  private readonly conflictWarnings = new WarnLimiter(60_000, 1000, 1024);

  constructor(private readonly opts: SeriesStoreOptions) {}

  /** Series of the family that holds the most: how near max_series_per_metric the agent runs. */
  largestFamilySeries(): number {
    let most = 0;
    for (const f of this.families.values()) if (f.series.length > most) most = f.series.length;
    return most;
  }

  /** A read-only view for exporters; only a family's `series` array may be kept past the call (see Family.series). */
  forEachFamily(fn: (family: Family) => void): void {
    for (const f of this.families.values()) fn(f);
  }

  /**
   * Finds or creates the series for a statsd name and its tags: the one place
   * that names, sanitizes, checks types and applies the cardinality limits.
   * Returns CONFLICT or REJECTED (both counted) instead of an id.
   */
  seriesFor(kind: MetricKind, rawName: string, pairs: Array<[string, string]>, shape: SeriesShape = PLAIN): number {
    const type: FamilyType = shape.summary !== undefined ? 'summary' : shape.upDown ? 'up_down_counter' : familyTypeOf(kind);
    // A mapped name is the user's choice: only the counter suffix the exposition format requires is added.
    const base = sanitizeMetricName(rawName);
    const familyName = shape.mapped
      ? type === 'counter' && !base.endsWith('_total')
        ? `${base}_total`
        : base
      : familyNameOf(type === 'up_down_counter' ? GAUGE : kind, base);
    // Global tags first, so the line's tags (and the rule's labels, which come after them) replace them.
    const labels = new Map<string, string>(this.opts.globalTags);
    for (const [k, v] of pairs) labels.set(sanitizeLabelName(k), v);
    // The exposition adds `le` to buckets and `quantile` to quantiles; a tag of
    // that name would repeat the label and break the scrape, so it is renamed
    // the way Prometheus renames a clashing target label.
    const reserved = type === 'histogram' ? 'le' : type === 'summary' ? 'quantile' : undefined;
    if (reserved !== undefined && labels.has(reserved)) {
      labels.set(`exported_${reserved}`, labels.get(reserved)!);
      labels.delete(reserved);
    }
    const sorted = [...labels.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const labelKey = JSON.stringify(sorted);
    const { limits, aggregation } = this.opts;

    let family = this.families.get(familyName);
    if (family !== undefined && (!compatible(family.kind, kind) || family.type !== type)) {
      const suppressed = this.conflictWarnings.allow(familyName, this.opts.now());
      if (suppressed !== undefined) {
        this.opts.logger.warn(
          { metric: clip(familyName), has: KIND_NAMES[family.kind], sent: KIND_NAMES[kind], has_type: family.type, sent_type: type, raw: clip(rawName), suppressed },
          'metric type conflict: lines of the second type are dropped and counted in tally_metrics_dropped_total',
        );
      }
      aggregation.metricDrop('type_conflict');
      return CONFLICT;
    }
    // A refused name must leave nothing behind: no family is made for a series that cannot be.
    if (family === undefined && this.series.length >= limits.maxSeries) {
      this.refuseSeries(familyName);
      return REJECTED;
    }
    if (family === undefined) {
      family = this.createFamily(familyName, type, kind, shape);
      this.families.set(familyName, family);
    }
    const known = this.labelSets.find(labelKey);
    const found = known === -1 ? undefined : this.inFamily(family, known);
    if (found !== undefined) return found.id;
    if (this.series.length >= limits.maxSeries || family.series.length >= limits.maxSeriesPerMetric) {
      this.refuseSeries(familyName);
      return REJECTED;
    }
    const labelSet = this.labelSets.acquire(labelKey, sorted);
    const id = this.series.length;
    const counts = family.cells?.take() ?? NO_BUCKETS;
    const ttlMs = shape.ttlMs ?? this.opts.defaultTtlMs;
    const members = kind === SET ? new MemberSet(this.buckets.memberTables.take()) : null;
    const columns = this.columns.withRoom();
    const slot = columns.take(this.opts.now());
    const created = new Series(id, kind, family, this.labelSets.attributesOf(labelSet), columns, slot, labelSet, ttlMs, this.epoch, counts, members);
    this.series.push(created);
    family.series.push(created);
    const index = this.byLabelSet.get(family);
    if (index !== undefined) index.set(labelSet, created);
    else if (family.series.length >= BY_SCAN) this.byLabelSet.set(family, new Map(family.series.map((x) => [x.labelSet, x])));
    if (created.members !== null) this.sets.push(created);
    if (created.ttlMs > 0) this.seriesWithTtl++;
    return id;
  }

  /** The family's series of this label set, if it has one. */
  private inFamily(family: Family, labelSet: number): Series | undefined {
    const index = this.byLabelSet.get(family);
    if (index !== undefined) return index.get(labelSet);
    for (const s of family.series) if (s.labelSet === labelSet) return s;
    return undefined;
  }

  /**
   * Closes an interval: sets report the distinct count of the interval just
   * ended, and series idle past their ttl expire. Returns the compaction
   * when any did, for the holders of series ids to follow.
   */
  flush(): Compaction | undefined {
    for (const s of this.sets) s.members!.endInterval();
    const now = this.opts.now();
    let expired = 0;
    if (this.seriesWithTtl > 0) {
      for (const s of this.series) {
        if (s.ttlMs === 0) continue;
        if (s.lastEpoch === this.epoch) s.lastSeenMs = now;
        else if (now - s.lastSeenMs >= s.ttlMs) expired++;
      }
    }
    this.epoch++;
    return expired > 0 ? this.expire(now) : undefined;
  }

  private createFamily(name: string, type: FamilyType, kind: MetricKind, shape: SeriesShape): Family {
    const { timerBuckets, histogramBuckets } = this.opts;
    const bounds = type !== 'histogram' ? [] : shape.bounds !== undefined ? [...shape.bounds] : kind === TIMER ? timerBuckets : histogramBuckets;
    return {
      name,
      type,
      kind,
      unit: kind === TIMER ? 's' : '',
      bounds,
      help: shape.help,
      summary: shape.summary === undefined ? undefined : summaryShape(shape.summary.quantiles, shape.summary.maxAgeMs, shape.summary.ageBuckets),
      exponential: type === 'histogram' ? this.exponentialShape(shape.exponential) : undefined,
      series: [],
      // Only observers have buckets: a typed array costs some 250 bytes however short (measured), on every counter, gauge and set.
      cells: hasBuckets(kind) ? this.buckets.poolFor(bounds.length + 1) : undefined,
      exponentialCells: this.buckets.exponentialCells,
    };
  }

  /** Whether a new histogram family keeps exponential state, and at what resolution. */
  private exponentialShape(asked: ExponentialOptions | undefined): ExponentialShape | undefined {
    const mode = this.opts.exponential;
    // Nothing could send it: no memory or time is spent on it.
    if (mode === 'off') return undefined;
    if (asked !== undefined) return { maxScale: asked.maxScale, maxSize: asked.maxSize, fromMapping: true };
    if (mode === 'rules') return undefined;
    // The OpenTelemetry SDK's defaults, which a collector expects of a sink that asks for no particular resolution.
    return { maxScale: DEFAULT_MAX_SCALE, maxSize: DEFAULT_MAX_SIZE, fromMapping: false };
  }

  /**
   * Drops series idle past their ttl, so a departed pod's series do not live
   * forever, and compacts the rest: ids are renumbered, once per flush that
   * expires anything.
   */
  private expire(now: number): Compaction {
    const remap = new Int32Array(this.series.length).fill(-1);
    const alive: Series[] = [];
    const dead = new Set<Series>();
    for (const s of this.series) {
      if (s.ttlMs > 0 && now - s.lastSeenMs >= s.ttlMs) {
        this.byLabelSet.get(s.family)?.delete(s.labelSet);
        this.labelSets.release(s.labelSet);
        const cells = s.bucketCounts;
        if (cells instanceof Uint32Array) {
          // A scrape or push batch begun before this flush may still render the series: it keeps its counts, the pool its cells.
          s.bucketCounts = cells.slice();
          s.family.cells?.give(cells);
        }
        s.expo?.release();
        s.detach();
        // Exporters read a set's count of its last interval, never its members.
        if (s.members !== null) this.buckets.memberTables.give(s.members.home);
        dead.add(s);
        continue;
      }
      remap[s.id] = alive.length;
      s.id = alive.length;
      alive.push(s);
    }
    // Assigned, not refilled with push(...alive): a spread of 10^5 elements overflows the call stack.
    this.series = alive;
    this.seriesWithTtl -= dead.size;
    this.sets = this.sets.filter((s) => !dead.has(s));
    for (const [name, family] of this.families) {
      family.series = family.series.filter((s) => !dead.has(s));
      if (family.series.length > 0) continue;
      this.families.delete(name);
      this.byLabelSet.delete(family);
    }
    this.opts.aggregation.seriesExpired += dead.size;
    this.opts.logger.debug({ expired: dead.size, series: this.series.length }, 'idle series expired');
    return { remap, dead };
  }

  private refuseSeries(familyName: string): void {
    this.opts.aggregation.seriesDrop('cardinality');
    const suppressed = this.cardinalityWarnings.allow(familyName, this.opts.now());
    if (suppressed === undefined) return;
    const { limits } = this.opts;
    this.opts.logger.warn(
      {
        metric: clip(familyName),
        suppressed,
        series_in_metric: this.families.get(familyName)?.series.length ?? 0,
        series_total: this.series.length,
        max_series_per_metric: limits.maxSeriesPerMetric,
        max_series: limits.maxSeries,
      },
      'cardinality limit reached: new series of this metric are dropped and counted in tally_series_dropped_total{reason="cardinality"}',
    );
  }
}

function compatible(a: MetricKind, b: MetricKind): boolean {
  if (a === b) return true;
  const histogramLike = (k: MetricKind) => k === HISTOGRAM || k === DISTRIBUTION;
  return histogramLike(a) && histogramLike(b);
}
