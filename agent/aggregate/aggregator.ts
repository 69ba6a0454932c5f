import type { Logger } from 'pino';
import { COUNTER, DISTRIBUTION, GAUGE, HISTOGRAM, KIND_NAMES, SET, TIMER, type MetricKind } from '../parse/metric-kind.js';
import { forEachValue, type LineSink, type ParsedLine } from '../parse/statsd-line.js';
import type { ParsedEvent, ParsedServiceCheck } from '../parse/dogstatsd-extras.js';
import type { ParseErrorReason } from '../parse/parse-error.js';
import type { IngestCounters } from '../telemetry/ingest-counters.js';
import { AliasTable } from './alias-table.js';
import { familyNameOf, familyTypeOf, sanitizeLabelName, sanitizeMetricName, type FamilyType } from './prometheus-names.js';
import { decodeTags, splitNameTags, type DecodedTags } from './tags.js';
import { escapeMetricName } from '../mapping/escape.js';
import type { Mapper, MappingMetricType } from '../mapping/mapper.js';
import type { ExponentialOptions, Quantile } from '../mapping/mapping-config.js';
import { DEFAULT_MAX_SCALE, DEFAULT_MAX_SIZE, ExponentialHistogram } from './exponential-histogram.js';
import { MemberSet } from './member-set.js';
import { StringPool } from './string-pool.js';
import type { EventRecord } from './event-record.js';
import { SummaryWindow, summaryShape, type SummaryShape } from './summary-window.js';
import { finishHash, mixWord } from '../parse/word-scan.js';
import { clip, WarnLimiter } from './warn-limiter.js';

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

export interface AggregatorOptions {
  timerBuckets: number[];
  histogramBuckets: number[];
  /** Default 'rules'. */
  exponential?: ExponentialMode;
  /** statsd_exporter-style mapping rules, applied once per new raw name. */
  mapper?: Mapper;
  /** Idle time after which a series not given a ttl by a mapping rule expires; 0 = never. */
  seriesTtlMs?: number;
  /**
   * Labels every series carries (service, version, env, ...), under names
   * already sanitized; a tag of the same name on the line, or a mapping
   * rule's label, wins.
   */
  globalTags?: ReadonlyArray<readonly [string, string]>;
  limits?: AggregatorLimits;
  counters: IngestCounters;
  logger: Logger;
  /** Wall clock in ms; injectable so tests control time. */
  now?: () => number;
  /**
   * Keep each event as it arrived, for sinks that ship events as log
   * records; at most this many per flush interval (more are counted in
   * tally_metrics_dropped_total{reason="event_buffer_full"}). 0 keeps none.
   */
  maxPendingEvents?: number;
  /**
   * Which statsd counter names (as sent, before mapping) are up-down
   * counters, whose negative counts are added; other counters refuse them.
   */
  upDownCounters?: (statsdName: string) => boolean;
}

/**
 * A series' labels: an ordinary object whose prototype has none, so no key
 * is inherited ("constructor" in labels is false). Object.create(null) gave
 * each series a dictionary of its own; these share one hidden class per
 * list of label names and keep the values in the object: 92 bytes less a
 * series, measured at 100,000 mixed series (bench/micro-flush.mjs).
 */
const SeriesLabels = function SeriesLabels() {} as unknown as new () => Record<string, string>;
SeriesLabels.prototype = Object.create(null) as Record<string, string>;

/** The buckets of a series that has none: empty, so nothing can be written to it. */
const NO_BUCKETS = new Float64Array(0);

/** One time series: its identity (fixed at creation) and its running state. */
export class Series {
  /** Cumulative sum (counter) or last value (gauge). */
  value = 0;
  /** Per-bucket (not cumulative) weights; the last cell is the +Inf bucket. Empty for counters, gauges and sets. */
  readonly bucketCounts: Float64Array;
  sum = 0;
  count = 0;
  /**
   * 52-bit hashes of the distinct members seen in the current interval: no
   * string per line, and a collision needs about 10^7 members in one interval
   * to become likely (birthday bound), far beyond what a set gauge is used for.
   */
  readonly members: MemberSet | null;
  /** The quantile window of a summary series; null for every other type. Its sum and count are the fields above. */
  readonly summary: SummaryWindow | null;
  /** Kept beside the explicit buckets (which /metrics and remote write need) when the family has exponential state. */
  readonly expo: ExponentialHistogram | null;
  /** Distinct count of the last complete interval; -1 until one completed. */
  lastIntervalCount = -1;
  aliases = 0;
  /** The flush interval (Aggregator.epoch) of the latest sample. */
  lastEpoch: number;
  /** When a flush last found the series updated; expiry counts from here. */
  lastSeenMs: number;
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
    /** Index in the aggregator's series list; changes when expired series are compacted away. */
    public id: number,
    readonly kind: MetricKind,
    readonly family: Family,
    readonly attributes: Record<string, string>,
    readonly startTimeMs: number,
    /** The canonical identity (name and sorted labels). */
    readonly key: string,
    /** Idle time after which the series is dropped; 0 keeps it for as long as the agent runs. */
    readonly ttlMs: number,
    epoch: number,
  ) {
    this.lastEpoch = epoch;
    this.lastSeenMs = startTimeMs;
    // Only observers have buckets: a typed array costs some 250 bytes however short (measured), on every counter, gauge and set.
    this.bucketCounts = kind === COUNTER || kind === GAUGE || kind === SET ? NO_BUCKETS : new Float64Array(family.bounds.length + 1);
    this.members = kind === SET ? new MemberSet() : null;
    this.summary = family.summary === undefined ? null : new SummaryWindow(family.summary, startTimeMs);
    this.expo = family.exponential === undefined ? null : new ExponentialHistogram(family.exponential);
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
}


export interface ExponentialShape extends ExponentialOptions {
  /**
   * The mapping file asked for it (a rule, or the defaults for unmapped
   * names): every OTLP sink sends it. Otherwise only the sinks with
   * `histograms: exponential` do.
   */
  fromMapping: boolean;
}

/**
 * What a mapping rule, or the mapping file's defaults, decide about a new
 * series. Absent for input no mapping touched (events, service checks).
 */
interface SeriesShape {
  /** A rule chose the name: it is used as written, with only the counter suffix added. */
  mapped: boolean;
  bounds?: readonly number[];
  ttlMs?: number;
  help?: string;
  /** Makes an observer a summary instead of a histogram. */
  summary?: { quantiles: readonly Quantile[]; maxAgeMs: number; ageBuckets: number };
  /** The mapping's native histogram options: a histogram keeps an exponential one too. */
  exponential?: ExponentialOptions;
  /** A counter that may go down (aggregation.up_down_counters). */
  upDown?: boolean;
}

/**
 * A raw spelling whose samples need more than the plain arithmetic of their
 * kind: its rule's scale, a summary window, or an exponential histogram.
 * Scale belongs to the spelling, not the series, because statsd_exporter
 * scales per mapped name: rules for `foo.latency_ms` and `foo.latency_us`
 * may both feed `foo_latency_seconds`.
 */
interface Route {
  series: Series;
  scale: number;
}

/** DogStatsD event fields that say what kind of event it is, and the labels they become. */
const EVENT_FIELD_LABELS: ReadonlyArray<readonly [string, string]> = [
  ['alert_type', 'alert_type'],
  ['priority', 'priority'],
  ['source_type_name', 'source'],
];

/** Event spellings remembered at most; past it the memo starts afresh (it is only a shortcut). */
const EVENT_SERIES_CACHE = 65_536;

/** A line that resolves to this id was refused at series creation; the reason is counted per line. */
const CONFLICT = -2;
/** A mapping rule with `action: drop` matched; counted per line like a conflict. */
const MAPPED_DROP = -4;
/** The line's name could not be read (counted as a parse error); never cached, so every such line is counted. */
const REJECTED = -3;
/** Alias-table ids at and below this are routes: `FIRST_ROUTE - id` indexes Aggregator.routes. */
const FIRST_ROUTE = -16;
/** Past this many raw spellings of one series (tag orders), lines take the slow path instead of growing the table. */
const MAX_ALIASES_PER_SERIES = 16;

/**
 * Folds parsed statsd lines into series. The hot path is one alias lookup
 * and a few arithmetic operations per line; everything that makes strings
 * (names, labels, canonical keys) happens once per new series.
 */
export class Aggregator implements LineSink {
  private readonly aliases = new AliasTable();
  private readonly byCanonicalKey = new Map<string, number>();
  private readonly labelValues = new StringPool();
  private readonly families = new Map<string, Family>();
  private series: Series[] = [];
  private routes: Route[] = [];
  /** The scale of the rule mappedSeries() last applied (1 for none): read right after it, by the same caller. */
  private resolvedScale = 1;
  private readonly counters: IngestCounters;
  private readonly logger: Logger;
  private readonly maxPendingEvents: number;
  private pendingEvents: EventRecord[] = [];
  /** Event spelling (name, value, tags as sent) → its `_total` and `_last_seen` series ids. */
  private readonly eventSeries = new Map<string, [number, number]>();
  private readonly now: () => number;
  private readonly timerBuckets: number[];
  private readonly histogramBuckets: number[];
  private readonly limits: AggregatorLimits;
  private readonly mapper: Mapper | undefined;
  private readonly seriesTtlMs: number;
  private readonly globalTags: ReadonlyArray<readonly [string, string]>;
  private readonly exponentialMode: ExponentialMode;
  /** Counts flushes; a series remembers the interval of its latest sample instead of a clock reading per line. */
  private epoch = 0;
  /** A metric warns about its cardinality once a minute, and all of them together once a second. */
  private readonly cardinalityWarnings = new WarnLimiter(60_000, 1000, 1024);
  private readonly conflictWarnings = new WarnLimiter(60_000, 1000, 1024);
  /** A decrementing client warns once a minute per metric, and all of them together once a second, however many names it uses. */
  private readonly negativeWarnings = new WarnLimiter(60_000, 1000, 1024);
  private readonly upDownCounters: ((statsdName: string) => boolean) | undefined;
  private lastErrorLogMs = 0;
  private suppressedErrorLogs = 0;

  constructor(opts: AggregatorOptions) {
    this.counters = opts.counters;
    this.logger = opts.logger;
    this.maxPendingEvents = opts.maxPendingEvents ?? 0;
    this.now = opts.now ?? Date.now;
    this.timerBuckets = opts.timerBuckets;
    this.histogramBuckets = opts.histogramBuckets;
    this.limits = opts.limits ?? DEFAULT_LIMITS;
    this.mapper = opts.mapper;
    this.seriesTtlMs = opts.seriesTtlMs ?? 0;
    this.globalTags = opts.globalTags ?? [];
    this.exponentialMode = opts.exponential ?? 'rules';
    this.upDownCounters = opts.upDownCounters;
  }

  get seriesCount(): number {
    return this.series.length;
  }

  /** The current flush interval's number: it goes up by one at every flush. */
  get flushEpoch(): number {
    return this.epoch;
  }

  /** Series of the family that holds the most: how near max_series_per_metric the agent runs. */
  largestFamilySeries(): number {
    let most = 0;
    for (const f of this.families.values()) if (f.series.length > most) most = f.series.length;
    return most;
  }

  line(p: ParsedLine): void {
    const id = this.aliases.get(p);
    // Everything but a clean hit leaves the hot path, which stays small enough for V8 to inline.
    if (id < 0 || this.aliases.hitMalformedTags !== 0 || p.unknownFields !== 0) {
      this.lineSlow(p, id);
      return;
    }
    this.counters.metricsReceived++;
    this.apply(this.series[id]!, p);
  }

  private lineSlow(p: ParsedLine, hit: number): void {
    const counters = this.counters;
    const miss = hit === -1;
    const id = miss ? this.resolve(p) : hit;
    if (id === REJECTED) return;
    counters.metricsReceived++;
    if (this.aliases.hitMalformedTags > 0) counters.parseError('malformed_tag', this.aliases.hitMalformedTags);
    if (p.unknownFields > 0) counters.parseError('unknown_field', p.unknownFields);
    if (id <= FIRST_ROUTE) {
      const route = this.routes[FIRST_ROUTE - id]!;
      this.applyRouted(route.series, p, route.scale);
      return;
    }
    if (id < 0) {
      // CONFLICT or MAPPED_DROP: on a miss resolve() has counted it already.
      if (!miss) counters.metricDrop(id === CONFLICT ? 'type_conflict' : 'mapping_drop');
      return;
    }
    const s = this.series[id]!;
    // On a miss resolve() returns the series itself; its spelling may still need a route.
    const scale = miss ? this.resolvedScale : 1;
    if (routed(s, scale)) this.applyRouted(s, p, scale);
    else this.apply(s, p);
  }

  private apply(s: Series, p: ParsedLine): void {
    s.lastEpoch = this.epoch;
    if (p.valueCount !== 1) {
      this.applyValueList(s, p);
      return;
    }
    switch (p.kind) {
      case COUNTER:
        if (p.value < 0 && s.family.type === 'counter') {
          this.refuseNegative(p);
          return;
        }
        s.value += p.value / p.rate;
        break;
      case GAUGE:
        s.value = p.gaugeDelta ? s.value + p.value : p.value;
        break;
      case TIMER:
        observe(s, p.value / 1000, 1 / p.rate);
        break;
      case HISTOGRAM:
      case DISTRIBUTION:
        observe(s, p.value, 1 / p.rate);
        break;
      case SET:
        s.members!.add(memberHash(p.buf, p.valueStart, p.valueEnd));
        break;
    }
    this.counters.metricsAggregated++;
  }

  /** A line of a routed spelling: scaled by its rule, and into the summary window or exponential histogram if the series has one. */
  private applyRouted(s: Series, p: ParsedLine, scale: number): void {
    s.lastEpoch = this.epoch;
    if (p.valueCount === 1) {
      if (this.applyValue(s, p.kind, p.value, p.rate, p.gaugeDelta, scale)) this.counters.metricsAggregated++;
      return;
    }
    const { kind, rate } = p;
    let applied = 0;
    forEachValue(p, (v, delta) => {
      if (this.applyValue(s, kind, v, rate, delta, scale)) applied++;
    });
    this.counters.metricsReceived += p.valueCount - 1;
    this.counters.metricsAggregated += applied;
  }

  /**
   * One numeric sample of a routed series (never a set: sets are neither
   * scaled nor summaries). False when refused, and counted.
   */
  private applyValue(s: Series, kind: MetricKind, v: number, rate: number, gaugeDelta: boolean, scale: number): boolean {
    // As statsd_exporter: timers in seconds and counters divided by their rate first, then the rule's scale.
    const x = (kind === TIMER ? v / 1000 : kind === COUNTER ? v / rate : v) * scale;
    // What the scaled value would have been refused as, had it been sent so.
    if (!Number.isFinite(x)) {
      this.counters.parseError('bad_value');
      return false;
    }
    if (kind === COUNTER) {
      if (x < 0 && s.family.type === 'counter') {
        this.warnNegative(s.family.name, undefined);
        return false;
      }
      s.value += x;
    } else if (kind === GAUGE) {
      s.value = gaugeDelta ? s.value + x : x;
    } else if (s.summary !== null) {
      const weight = 1 / rate;
      s.summary.observe(x, weight, this.now());
      s.sum += x * weight;
      s.count += weight;
    } else {
      const weight = 1 / rate;
      observe(s, x, weight);
      // In seconds for timers and after the rule's scale, exactly as the explicit buckets.
      if (s.expo !== null) s.expo.record(x, weight);
    }
    return true;
  }

  /** The rare DogStatsD value list: each sample is applied in order, as separate lines would be. */
  private applyValueList(s: Series, p: ParsedLine): void {
    const kind = p.kind;
    if (kind === COUNTER && s.family.type === 'counter') {
      let negative = false;
      forEachValue(p, (v) => {
        if (v < 0) negative = true;
      });
      // The whole line, as the parser refuses a value list with a bad value.
      if (negative) {
        this.refuseNegative(p);
        return;
      }
    }
    const weight = 1 / p.rate;
    forEachValue(p, (v, delta) => applyNumber(s, kind, v, weight, delta));
    this.counters.metricsReceived += p.valueCount - 1;
    this.counters.metricsAggregated += p.valueCount;
  }

  error(reason: ParseErrorReason, buf: Uint8Array, start: number, end: number): void {
    if (reason === 'negative_counter') {
      this.refuseNegativeLine(buf, start, end);
      return;
    }
    this.reject(reason, () => Buffer.from(buf.buffer, buf.byteOffset + start, Math.min(end - start, 200)).toString('latin1'));
  }

  /**
   * Something happened: counted per value in `<name>_total{value=...}`, and
   * its latest time kept in `<name>_last_seen_timestamp_seconds{value=...}`,
   * which answer "how often" and "when last": `collect("feature-used",
   * "Export PDF")` over HTTP, where the value is the point.
   */
  recordEvent(name: string, value: string, tags: DecodedTags, timestampMs: number): void {
    const pairs: Array<[string, string]> = [...tags.pairs, ['value', value]];
    this.countEvent(name, pairs, tags.malformed, { name, value, attributes: tags.pairs, timeMs: timestampMs }, () => `${name}: ${value.slice(0, 100)}`);
  }

  /**
   * A DogStatsD event counts by its title, with its tags and its alert type,
   * priority and source: its text is free prose (a deploy message, a stack
   * trace), which as a label would make a series per message. The text
   * travels only in the event kept for log-record sinks.
   */
  event(e: ParsedEvent): void {
    for (const reason of e.ignored) this.counters.parseError(reason);
    const tags = decodeTags(e.tags);
    const labels: Array<[string, string]> = [...tags.pairs];
    for (const [field, label] of EVENT_FIELD_LABELS) {
      const v = e.fields[field];
      if (v !== undefined && v !== '') labels.push([label, v]);
    }
    const timeMs = e.timestamp !== undefined ? e.timestamp * 1000 : this.now();
    this.countEvent(e.title, labels, tags.malformed, { name: e.title, value: e.text, attributes: labels, timeMs }, () => e.title.slice(0, 100));
  }

  /** The `_total` and `_last_seen_timestamp_seconds` series of one event, and the event kept for log-record sinks. */
  private countEvent(name: string, pairs: Array<[string, string]>, malformed: number, record: EventRecord, sample: () => string): void {
    if (!this.admit(pairs, malformed, sample)) return;
    if (this.maxPendingEvents > 0) {
      if (this.pendingEvents.length < this.maxPendingEvents) this.pendingEvents.push(record);
      else this.counters.metricDrop('event_buffer_full');
    }
    // The same event as sent before finds its two series without building their canonical keys again.
    let cacheKey = name;
    for (const [k, v] of pairs) cacheKey += `\u0001${k}\u0002${v}`;
    let ids = this.eventSeries.get(cacheKey);
    if (ids === undefined) {
      const count = this.seriesFor(COUNTER, name, pairs);
      const seen = count < 0 ? count : this.seriesFor(GAUGE, `${name}_last_seen_timestamp_seconds`, pairs);
      if (count < 0 || seen < 0) return;
      ids = [count, seen];
      if (this.eventSeries.size >= EVENT_SERIES_CACHE) this.eventSeries.clear();
      this.eventSeries.set(cacheKey, ids);
    }
    const [count, seen] = ids;
    const total = this.series[count]!;
    total.value += 1;
    total.lastEpoch = this.epoch;
    const last = this.series[seen]!;
    last.lastEpoch = this.epoch;
    // A late or replayed event never moves "last seen" backwards.
    last.value = Math.max(last.value, record.timeMs / 1000);
    this.counters.metricsAggregated++;
  }

  /**
   * One sample that arrived as structured data (the HTTP API) rather than as
   * a statsd line: the same naming, limits and state as a line. `value` is
   * in the statsd unit of its kind (milliseconds for timers); for sets it is
   * the member.
   */
  recordSample(kind: MetricKind, name: string, value: number | string, tags: DecodedTags, rate = 1): void {
    if (!this.admit(tags.pairs, tags.malformed, () => name)) return;
    const id = this.mappedSeries(kind, name, tags.pairs);
    if (id < 0) return;
    const s = this.series[id]!;
    s.lastEpoch = this.epoch;
    const scale = this.resolvedScale;
    if (kind === SET) s.members!.add(stringMemberHash(String(value)));
    else if (routed(s, scale)) {
      if (!this.applyValue(s, kind, value as number, rate, false, scale)) return;
    } else applyNumber(s, kind, value as number, 1 / rate, false);
    this.counters.metricsAggregated++;
  }

  /** A DogStatsD service check becomes `service_check_status{check=...}`: 0 OK, 1 warning, 2 critical, 3 unknown. */
  serviceCheck(sc: ParsedServiceCheck): void {
    for (const reason of sc.ignored) this.counters.parseError(reason);
    const tags = decodeTags(sc.tags);
    const pairs: Array<[string, string]> = [...tags.pairs, ['check', sc.name]];
    if (!this.admit(pairs, tags.malformed, () => sc.name)) return;
    const id = this.seriesFor(GAUGE, 'service_check_status', pairs);
    if (id < 0) return;
    const status = this.series[id]!;
    status.value = sc.status;
    status.lastEpoch = this.epoch;
    this.counters.metricsAggregated++;
  }

  /**
   * The common gate of structured input (events, service checks, HTTP
   * samples): malformed tags counted, tag limits applied, the sample counted
   * as received. False when the input is rejected (and counted).
   */
  private admit(pairs: Array<[string, string]>, malformedTags: number, sample: () => string): boolean {
    if (malformedTags > 0) this.counters.parseError('malformed_tag', malformedTags);
    const breach = this.checkTagLimits(pairs);
    if (breach !== undefined) {
      this.reject(breach, sample);
      return false;
    }
    this.counters.metricsReceived++;
    return true;
  }

  /** Counts a rejected input and logs a sample of it at debug level, one line a second at most. */
  private reject(reason: ParseErrorReason, sample: () => string): void {
    this.counters.parseError(reason);
    if (!this.logger.isLevelEnabled('debug')) return;
    // A broken client must not turn the log into a second firehose.
    const now = this.now();
    if (now - this.lastErrorLogMs < 1000) {
      this.suppressedErrorLogs++;
      return;
    }
    this.logger.debug({ reason, line: clip(sample()), suppressed: this.suppressedErrorLogs }, 'statsd input rejected');
    this.lastErrorLogMs = now;
    this.suppressedErrorLogs = 0;
  }

  /** The events kept since the last call, oldest first; the buffer starts empty again. */
  takeEvents(): EventRecord[] {
    const taken = this.pendingEvents;
    this.pendingEvents = [];
    return taken;
  }

  /** Closes an interval: sets report the distinct count of the interval just ended. */
  flush(): void {
    const now = this.now();
    let expired = 0;
    for (const s of this.series) {
      if (s.members !== null) {
        s.lastIntervalCount = s.members.size;
        s.members.clear();
      }
      if (s.lastEpoch === this.epoch) s.lastSeenMs = now;
      else if (s.ttlMs > 0 && now - s.lastSeenMs >= s.ttlMs) expired++;
    }
    this.epoch++;
    if (expired > 0) this.expire(now);
  }

  /**
   * Drops series idle past their ttl, so a departed pod's series do not live
   * forever, and compacts the rest: ids are renumbered and the alias table
   * rebuilt, once per flush that expires anything.
   */
  private expire(now: number): void {
    // Compaction renumbers series ids.
    this.eventSeries.clear();
    const remap = new Int32Array(this.series.length).fill(-1);
    const alive: Series[] = [];
    const dead = new Set<Series>();
    for (const s of this.series) {
      if (s.ttlMs > 0 && now - s.lastSeenMs >= s.ttlMs) {
        this.byCanonicalKey.delete(s.key);
        dead.add(s);
        continue;
      }
      remap[s.id] = alive.length;
      s.id = alive.length;
      alive.push(s);
    }
    const dropped = dead.size;
    // Assigned, not refilled with push(...alive): a spread of 10^5 elements overflows the call stack.
    this.series = alive;
    for (const [key, id] of this.byCanonicalKey) this.byCanonicalKey.set(key, remap[id]!);
    for (const [name, family] of this.families) {
      family.series = family.series.filter((s) => !dead.has(s));
      if (family.series.length === 0) this.families.delete(name);
    }
    const routeRemap = new Int32Array(this.routes.length).fill(-1);
    const routes: Route[] = [];
    this.routes.forEach((r, i) => {
      if (dead.has(r.series)) return;
      routeRemap[i] = routes.length;
      routes.push(r);
    });
    this.routes = routes;
    this.aliases.remap(remap, (marker) => {
      if (marker > FIRST_ROUTE) return marker;
      const to = routeRemap[FIRST_ROUTE - marker]!;
      return to === -1 ? -1 : FIRST_ROUTE - to;
    });
    this.counters.seriesExpired += dropped;
    this.logger.debug({ expired: dropped, series: this.series.length }, 'idle series expired');
  }

  /** A read-only view for exporters; only a family's `series` array may be kept past the call (see Family.series). */
  forEachFamily(fn: (family: Family) => void): void {
    for (const f of this.families.values()) fn(f);
  }

  private checkTagLimits(...lists: Array<Array<[string, string]>>): ParseErrorReason | undefined {
    let count = 0;
    for (const list of lists) {
      count += list.length;
      for (const [, v] of list) if (Buffer.byteLength(v) > this.limits.maxTagValueBytes) return 'tag_value_too_long';
    }
    return count > this.limits.maxTags ? 'too_many_tags' : undefined;
  }

  private refuseSeries(familyName: string): void {
    this.counters.seriesDrop('cardinality');
    const suppressed = this.cardinalityWarnings.allow(familyName, this.now());
    if (suppressed === undefined) return;
    this.logger.warn(
      {
        metric: clip(familyName),
        suppressed,
        series_in_metric: this.families.get(familyName)?.series.length ?? 0,
        series_total: this.series.length,
        max_series_per_metric: this.limits.maxSeriesPerMetric,
        max_series: this.limits.maxSeries,
      },
      'cardinality limit reached: new series of this metric are dropped and counted in tally_series_dropped_total{reason="cardinality"}',
    );
  }

  private refuseNegative(p: ParsedLine): void {
    this.refuseNegativeLine(p.buf, p.nameStart, p.lineEnd);
  }

  private refuseNegativeLine(buf: Uint8Array, start: number, end: number): void {
    let nameEnd = start;
    while (nameEnd < end && buf[nameEnd] !== 0x3a /* : */) nameEnd++;
    this.warnNegative(undefined, Buffer.from(buf.buffer, buf.byteOffset + start, Math.min(nameEnd - start, 200)).toString('utf8'));
  }

  /**
   * A negative count for a counter is refused (a Prometheus counter cannot go
   * down), but decrement() is an ordinary client call, so the refusal is
   * said at warn level, once a minute per metric, with the way to keep them.
   */
  private warnNegative(metric: string | undefined, statsdName: string | undefined): void {
    this.counters.parseError('negative_counter');
    const suppressed = this.negativeWarnings.allow(metric ?? statsdName ?? '', this.now());
    if (suppressed === undefined) return;
    this.logger.warn(
      { metric: metric === undefined ? undefined : clip(metric), statsd_name: statsdName === undefined ? undefined : clip(statsdName), suppressed },
      'negative count for a counter refused (a counter only goes up; counted in tally_parse_errors_total{reason="negative_counter"}): list the name under aggregation.up_down_counters to keep decrements',
    );
  }

  /** The slow path: first sight of a raw spelling. Finds or creates the canonical series. */
  private resolve(p: ParsedLine): number {
    const buf = Buffer.from(p.buf.buffer, p.buf.byteOffset, p.buf.byteLength);
    const nameTags = splitNameTags(buf.toString('utf8', p.nameStart, p.nameEnd));
    if ('error' in nameTags) {
      this.error(nameTags.error, p.buf, p.nameStart, p.nameEnd);
      return REJECTED;
    }
    const tags = decodeTags(p.tagsStart === -1 ? '' : buf.toString('utf8', p.tagsStart, p.tagsEnd));
    const malformed = tags.malformed + nameTags.malformed;
    // Read by line() for this line, as a table hit would set it.
    this.aliases.hitMalformedTags = malformed;
    const tagLimitBreach = this.checkTagLimits(nameTags.pairs, tags.pairs);
    if (tagLimitBreach !== undefined) {
      this.error(tagLimitBreach, p.buf, p.nameStart, p.lineEnd);
      return REJECTED;
    }
    const id = this.mappedSeries(p.kind, nameTags.name, [...nameTags.pairs, ...tags.pairs]);
    if (id === CONFLICT || id === MAPPED_DROP) {
      // Remembering refused spellings saves the slow path on the next line, but a flood of distinct ones must not grow the table past its series' share.
      if (this.aliases.size < 2 * this.limits.maxSeries + 65_536) this.aliases.set(p, id, malformed);
    } else if (id >= 0) {
      const s = this.series[id]!;
      if (s.aliases < MAX_ALIASES_PER_SERIES) {
        s.aliases++;
        const scale = this.resolvedScale;
        // Routed spellings get an id line() sends to the slow path, so the hot path never looks at scale, summaries or exponential histograms.
        let alias = id;
        if (routed(s, scale)) {
          alias = FIRST_ROUTE - this.routes.length;
          this.routes.push({ series: s, scale });
        }
        this.aliases.set(p, alias, malformed);
      }
    }
    return id;
  }

  /** statsd_exporter applies the mapping file's default ttl to unmapped metrics too. */
  private defaultTtl(): number {
    return this.mapper?.defaults.ttlMs || this.seriesTtlMs;
  }

  /**
   * seriesFor after the mapping rules: the rule's name and labels, or
   * MAPPED_DROP (counted). Leaves the rule's scale in resolvedScale.
   */
  private mappedSeries(kind: MetricKind, name: string, pairs: Array<[string, string]>): number {
    this.resolvedScale = 1;
    const observer = MAPPING_TYPES[kind] === 'observer';
    const upDown = kind === COUNTER && this.upDownCounters !== undefined && this.upDownCounters(name);
    const mapping = this.mapper?.map(name, MAPPING_TYPES[kind]);
    if (mapping === undefined) {
      // statsd_exporter gives unmapped observers the file's default observer type and histogram options too.
      const d = this.mapper?.defaults;
      if (upDown) return this.seriesFor(kind, name, pairs, { mapped: false, upDown });
      if (d === undefined || !observer) return this.seriesFor(kind, name, pairs);
      if (d.observerType === 'summary') {
        return this.seriesFor(kind, name, pairs, {
          mapped: false,
          summary: { quantiles: d.quantiles, maxAgeMs: d.maxAgeMs, ageBuckets: d.ageBuckets },
        });
      }
      return this.seriesFor(kind, name, pairs, d.exponential === undefined ? undefined : { mapped: false, exponential: d.exponential });
    }
    const mapped = mapping.action === 'drop' ? '' : escapeMetricName(mapping.name);
    if (mapped === '') {
      this.counters.metricDrop('mapping_drop');
      return MAPPED_DROP;
    }
    // statsd_exporter scales every type it has; sets, which it has not, count members, which a scale cannot apply to.
    if (mapping.scale !== undefined && kind !== SET) this.resolvedScale = mapping.scale;
    // Later pairs win: the rule's labels, unless honor_labels lets the sample's tags win.
    const labelled = mapping.honorLabels ? [...mapping.labels, ...pairs] : [...pairs, ...mapping.labels];
    return this.seriesFor(kind, mapped, labelled, {
      mapped: true,
      bounds: mapping.buckets,
      // 0 is no ttl from the rule or the file's defaults: aggregation.series_ttl then applies, as to unmapped series.
      ttlMs: mapping.ttlMs || undefined,
      help: mapping.help,
      summary:
        observer && mapping.observerType === 'summary'
          ? { quantiles: mapping.quantiles ?? [], maxAgeMs: mapping.maxAgeMs, ageBuckets: mapping.ageBuckets }
          : undefined,
      exponential: observer ? mapping.exponential : undefined,
      upDown,
    });
  }

  /** Whether a new histogram family keeps exponential state, and at what resolution. */
  private exponentialShape(asked: ExponentialOptions | undefined): ExponentialShape | undefined {
    // Nothing could send it: no memory or time is spent on it.
    if (this.exponentialMode === 'off') return undefined;
    if (asked !== undefined) return { maxScale: asked.maxScale, maxSize: asked.maxSize, fromMapping: true };
    if (this.exponentialMode === 'rules') return undefined;
    // The OpenTelemetry SDK's defaults, which a collector expects of a sink that asks for no particular resolution.
    return { maxScale: DEFAULT_MAX_SCALE, maxSize: DEFAULT_MAX_SIZE, fromMapping: false };
  }

  /**
   * Finds or creates the series for a statsd name and its tags: the one place
   * that names, sanitizes, checks types and applies the cardinality limits.
   * Returns CONFLICT or REJECTED (both already counted) instead of an id.
   */
  private seriesFor(kind: MetricKind, rawName: string, pairs: Array<[string, string]>, shape?: SeriesShape): number {
    const ttlMs = shape?.ttlMs;
    const type: FamilyType = shape?.summary !== undefined ? 'summary' : shape?.upDown ? 'up_down_counter' : familyTypeOf(kind);
    // A mapped name is the user's choice: only the counter suffix the exposition format requires is added.
    const base = sanitizeMetricName(rawName);
    const familyName = shape?.mapped
      ? type === 'counter' && !base.endsWith('_total')
        ? `${base}_total`
        : base
      : familyNameOf(type === 'up_down_counter' ? GAUGE : kind, base);
    // Global tags first, so the line's tags (and the rule's labels, which come after them) replace them.
    const labels = new Map<string, string>(this.globalTags);
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
    const key = `${familyName}\u0000${JSON.stringify(sorted)}`;

    let family = this.families.get(familyName);
    if (family !== undefined && (!compatible(family.kind, kind) || family.type !== type)) {
      const suppressed = this.conflictWarnings.allow(familyName, this.now());
      if (suppressed !== undefined) {
        this.logger.warn(
          { metric: clip(familyName), has: KIND_NAMES[family.kind], sent: KIND_NAMES[kind], has_type: family.type, sent_type: type, raw: clip(rawName), suppressed },
          'metric type conflict: lines of the second type are dropped and counted in tally_metrics_dropped_total',
        );
      }
      this.counters.metricDrop('type_conflict');
      return CONFLICT;
    }
    // A refused name must leave nothing behind: no family is made for a series that cannot be.
    if (family === undefined && this.series.length >= this.limits.maxSeries) {
      this.refuseSeries(familyName);
      return REJECTED;
    }
    if (family === undefined) {
      family = {
        name: familyName,
        type,
        kind,
        unit: kind === TIMER ? 's' : '',
        bounds:
          type !== 'histogram' ? [] : shape?.bounds !== undefined ? [...shape.bounds] : kind === TIMER ? this.timerBuckets : this.histogramBuckets,
        help: shape?.help,
        summary:
          shape?.summary === undefined ? undefined : summaryShape(shape.summary.quantiles, shape.summary.maxAgeMs, shape.summary.ageBuckets),
        exponential: type === 'histogram' ? this.exponentialShape(shape?.exponential) : undefined,
        series: [],
      };
      this.families.set(familyName, family);
    }
    let id = this.byCanonicalKey.get(key);
    if (id === undefined) {
      if (this.series.length >= this.limits.maxSeries || family.series.length >= this.limits.maxSeriesPerMetric) {
        this.refuseSeries(familyName);
        return REJECTED;
      }
      const attributes = new SeriesLabels();
      for (const [k, v] of sorted) attributes[k] = this.labelValues.get(v);
      id = this.series.length;
      const created = new Series(id, kind, family, attributes, this.now(), key, ttlMs ?? this.defaultTtl(), this.epoch);
      this.series.push(created);
      family.series.push(created);
      this.byCanonicalKey.set(key, id);
    }
    return id;
  }
}

function stringMemberHash(member: string): number {
  const bytes = Buffer.from(member);
  return memberHash(bytes, 0, bytes.length);
}

function memberHash(buf: Uint8Array, start: number, end: number): number {
  let h1 = 0x2f1c3a5b;
  let h2 = 0x6b43a9b5;
  let word = 0;
  let shift = 0;
  for (let i = start; i < end; i++) {
    word |= buf[i]! << shift;
    shift += 8;
    if (shift === 32) {
      h1 = mixWord(h1, word);
      h2 = mixWord(h2, word ^ 0x5bd1e995);
      word = 0;
      shift = 0;
    }
  }
  if (shift > 0) {
    h1 = mixWord(h1, word);
    h2 = mixWord(h2, word ^ 0x5bd1e995);
  }
  const n = end - start;
  return finishHash(h1, n) * 0x100000 + (finishHash(h2, n) >>> 12);
}

/** One numeric sample off the hot path (value lists, structured input); timers arrive in ms. */
function applyNumber(s: Series, kind: MetricKind, v: number, weight: number, gaugeDelta: boolean): void {
  if (kind === COUNTER) s.value += v * weight;
  else if (kind === GAUGE) s.value = gaugeDelta ? s.value + v : v;
  else observe(s, kind === TIMER ? v / 1000 : v, weight);
}

/**
 * Whether a spelling of this series, with this scale, must leave the hot
 * path. applyValue() is the one place that records into an exponential
 * histogram, so every sample of a series that has one must come this way.
 */
function routed(s: Series, scale: number): boolean {
  return scale !== 1 || s.summary !== null || s.expo !== null;
}

function observe(s: Series, v: number, weight: number): void {
  s.bucketCounts[bucketIndex(s.family.bounds, v)] += weight;
  s.sum += v * weight;
  s.count += weight;
}

/**
 * The bucket v lands in: the first whose inclusive upper bound is >= v, or
 * bounds.length (+Inf). A scan is quickest for the client libraries' dozen
 * bounds; the default timer layout has 128, where halving takes 7 steps.
 */
export function bucketIndex(bounds: readonly number[], v: number): number {
  const n = bounds.length;
  if (n <= 16) {
    let k = 0;
    while (k < n && v > bounds[k]!) k++;
    return k;
  }
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v > bounds[mid]!) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const MAPPING_TYPES: Record<MetricKind, MappingMetricType> = {
  [COUNTER]: 'counter',
  [GAUGE]: 'gauge',
  [SET]: 'gauge',
  [TIMER]: 'observer',
  [HISTOGRAM]: 'observer',
  [DISTRIBUTION]: 'observer',
};

function compatible(a: MetricKind, b: MetricKind): boolean {
  if (a === b) return true;
  const histogramLike = (k: MetricKind) => k === HISTOGRAM || k === DISTRIBUTION;
  return histogramLike(a) && histogramLike(b);
}
