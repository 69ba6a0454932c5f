import type { Logger } from 'pino';
import { COUNTER, DISTRIBUTION, GAUGE, HISTOGRAM, SET, TIMER, type MetricKind } from '../parse/metric-kind.js';
import { forEachValue, type LineSink, type ParsedLine } from '../parse/statsd-line.js';
import type { ParsedEvent, ParsedServiceCheck } from '../parse/dogstatsd-extras.js';
import type { AdmissionReason, ParseErrorReason } from '../telemetry/parse-error-reasons.js';
import type { Mapper } from '../mapping/mapper.js';
import { AggregationCounters } from '../telemetry/aggregation-counters.js';
import type { IngestCounters } from '../telemetry/ingest-counters.js';
import { AliasTable } from './alias-table.js';
import type { EventRecord } from './event-record.js';
import { EventSeries, eventLabels } from './event-series.js';
import { applyNumber, memberHash, observe, routed, stringMemberHash } from './sample-math.js';
import type { Family, Series } from './series.js';
import { decideSeries } from './series-decision.js';
import { CONFLICT, DEFAULT_LIMITS, REJECTED, SeriesStore, type AggregatorLimits, type Compaction, type ExponentialMode } from './series-store.js';
import { decodeTags, splitNameTags, type DecodedTags } from './tags.js';
import { clip, WarnLimiter } from '../shared/warn-limiter.js';

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
  /** What became of the parsed lines; a set of its own when not given (the agent passes the one its self-metrics read). */
  aggregation?: AggregationCounters;
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
 * A raw spelling whose samples need more than the plain arithmetic of their
 * kind: its rule's scale, or a summary window.
 */
interface Route {
  series: Series;
  scale: number;
}

/** A mapping rule with `action: drop` matched; counted per line like a conflict. */
const MAPPED_DROP = -4;
/** Alias-table ids at and below this are routes: `FIRST_ROUTE - id` indexes Aggregator.routes. */
const FIRST_ROUTE = -16;
/** Past this many raw spellings of one series (tag orders), lines take the slow path instead of growing the table. */
const MAX_ALIASES_PER_SERIES = 16;

/**
 * Folds parsed statsd lines into series. The hot path is one alias lookup
 * and a few arithmetic operations per line; everything that makes strings
 * (names, labels, canonical keys) happens once per new series, in the
 * series store.
 */
export class Aggregator implements LineSink {
  private readonly aliases = new AliasTable();
  private readonly store: SeriesStore;
  private readonly events: EventSeries;
  private routes: Route[] = [];
  /** The scale of the decision mappedSeries() last applied (1 for none): read right after it, by the same caller. */
  private resolvedScale = 1;
  private readonly counters: IngestCounters;
  private readonly aggregation: AggregationCounters;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly limits: AggregatorLimits;
  private readonly mapper: Mapper | undefined;
  /** A decrementing client warns once a minute per metric, and all of them together once a second, however many names it uses. */
  private readonly negativeWarnings = new WarnLimiter(60_000, 1000, 1024);
  private readonly upDownCounters: ((statsdName: string) => boolean) | undefined;
  /** A broken client must not turn the log into a second firehose: one rejected line a second at debug level. */
  private readonly rejectLogs = new WarnLimiter(0, 1000, 1);

  constructor(opts: AggregatorOptions) {
    this.counters = opts.counters;
    this.aggregation = opts.aggregation ?? new AggregationCounters();
    this.logger = opts.logger;
    this.now = opts.now ?? Date.now;
    this.limits = opts.limits ?? DEFAULT_LIMITS;
    this.mapper = opts.mapper;
    this.upDownCounters = opts.upDownCounters;
    this.store = new SeriesStore({
      timerBuckets: opts.timerBuckets,
      histogramBuckets: opts.histogramBuckets,
      exponential: opts.exponential ?? 'rules',
      // statsd_exporter applies the mapping file's default ttl to unmapped metrics too.
      defaultTtlMs: opts.mapper?.defaults.ttlMs || opts.seriesTtlMs || 0,
      globalTags: opts.globalTags ?? [],
      limits: this.limits,
      aggregation: this.aggregation,
      logger: opts.logger,
      now: this.now,
    });
    this.events = new EventSeries(this.store, this.aggregation, opts.maxPendingEvents ?? 0);
  }

  get seriesCount(): number {
    return this.store.series.length;
  }

  /** The current flush interval's number: it goes up by one at every flush. */
  get flushEpoch(): number {
    return this.store.epoch;
  }

  /** Series of the family that holds the most: how near max_series_per_metric the agent runs. */
  largestFamilySeries(): number {
    return this.store.largestFamilySeries();
  }

  /** A read-only view for exporters; only a family's `series` array may be kept past the call (see Family.series). */
  forEachFamily(fn: (family: Family) => void): void {
    this.store.forEachFamily(fn);
  }

  line(p: ParsedLine): void {
    const id = this.aliases.get(p);
    // Everything but a clean hit leaves the hot path, which stays small enough for V8 to inline.
    if (id < 0 || this.aliases.hitMalformedTags !== 0 || p.unknownFields !== 0) {
      this.lineSlow(p, id);
      return;
    }
    this.counters.metricsReceived++;
    this.apply(this.store.series[id]!, p);
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
      if (!miss) this.aggregation.metricDrop(id === CONFLICT ? 'type_conflict' : 'mapping_drop');
      return;
    }
    const s = this.store.series[id]!;
    // On a miss resolve() returns the series itself; its spelling may still need a route.
    const scale = miss ? this.resolvedScale : 1;
    if (routed(s, scale)) this.applyRouted(s, p, scale);
    else this.apply(s, p);
  }

  private apply(s: Series, p: ParsedLine): void {
    s.lastEpoch = this.store.epoch;
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
    this.aggregation.metricsAggregated++;
  }

  /** A line of a routed spelling: scaled by its rule, and into the summary window if the series has one. */
  private applyRouted(s: Series, p: ParsedLine, scale: number): void {
    s.lastEpoch = this.store.epoch;
    if (p.valueCount === 1) {
      if (this.applyValue(s, p.kind, p.value, p.rate, p.gaugeDelta, scale)) this.aggregation.metricsAggregated++;
      return;
    }
    const { kind, rate } = p;
    let applied = 0;
    forEachValue(p, (v, delta) => {
      if (this.applyValue(s, kind, v, rate, delta, scale)) applied++;
    });
    this.counters.metricsReceived += p.valueCount - 1;
    this.aggregation.metricsAggregated += applied;
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
      observe(s, x, 1 / rate);
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
    this.aggregation.metricsAggregated += p.valueCount;
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
    if (!this.admit(pairs, tags.malformed, () => `${name}: ${value.slice(0, 100)}`)) return;
    this.events.record(name, pairs, { name, value, attributes: tags.pairs, timeMs: timestampMs });
  }

  /**
   * A DogStatsD event counts by its title, with its tags and its alert type,
   * priority and source (eventLabels); its text travels only in the event
   * kept for log-record sinks.
   */
  event(e: ParsedEvent): void {
    for (const reason of e.ignored) this.counters.parseError(reason);
    const tags = decodeTags(e.tags);
    const labels = eventLabels(e, tags.pairs);
    if (!this.admit(labels, tags.malformed, () => e.title.slice(0, 100))) return;
    const timeMs = e.timestamp !== undefined ? e.timestamp * 1000 : this.now();
    this.events.record(e.title, labels, { name: e.title, value: e.text, attributes: labels, timeMs });
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
    const s = this.store.series[id]!;
    s.lastEpoch = this.store.epoch;
    const scale = this.resolvedScale;
    if (kind === SET) s.members!.add(stringMemberHash(String(value)));
    else if (routed(s, scale)) {
      if (!this.applyValue(s, kind, value as number, rate, false, scale)) return;
    } else applyNumber(s, kind, value as number, 1 / rate, false);
    this.aggregation.metricsAggregated++;
  }

  /** A DogStatsD service check becomes `service_check_status{check=...}`: 0 OK, 1 warning, 2 critical, 3 unknown. */
  serviceCheck(sc: ParsedServiceCheck): void {
    for (const reason of sc.ignored) this.counters.parseError(reason);
    const tags = decodeTags(sc.tags);
    const pairs: Array<[string, string]> = [...tags.pairs, ['check', sc.name]];
    if (!this.admit(pairs, tags.malformed, () => sc.name)) return;
    const id = this.store.seriesFor(GAUGE, 'service_check_status', pairs);
    if (id < 0) return;
    const status = this.store.series[id]!;
    status.value = sc.status;
    status.lastEpoch = this.store.epoch;
    this.aggregation.metricsAggregated++;
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
    const suppressed = this.rejectLogs.allow('', this.now());
    if (suppressed === undefined) return;
    this.logger.debug({ reason, line: clip(sample()), suppressed }, 'statsd input rejected');
  }

  /** The events kept since the last call, oldest first; the buffer starts empty again. */
  takeEvents(): EventRecord[] {
    return this.events.take();
  }

  /** Closes an interval: sets report the distinct count of the interval just ended, and idle series expire. */
  flush(): void {
    const compaction = this.store.flush();
    if (compaction !== undefined) this.followCompaction(compaction);
  }

  /** Expired series are gone and the rest renumbered: the alias table and the routes follow. */
  private followCompaction({ remap, dead }: Compaction): void {
    this.events.forgetIds();
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
  }

  private checkTagLimits(...lists: Array<Array<[string, string]>>): AdmissionReason | undefined {
    let count = 0;
    for (const list of lists) {
      count += list.length;
      for (const [, v] of list) if (Buffer.byteLength(v) > this.limits.maxTagValueBytes) return 'tag_value_too_long';
    }
    return count > this.limits.maxTags ? 'too_many_tags' : undefined;
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
      const s = this.store.series[id]!;
      if (s.aliases < MAX_ALIASES_PER_SERIES) {
        s.aliases++;
        const scale = this.resolvedScale;
        // Routed spellings get an id line() sends to the slow path, so the hot path never looks at scale or summaries.
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

  /**
   * The series of a raw name after the mapping rules: the rule's name and
   * labels, or MAPPED_DROP (counted). Leaves the rule's scale in resolvedScale.
   */
  private mappedSeries(kind: MetricKind, name: string, pairs: Array<[string, string]>): number {
    const upDown = kind === COUNTER && this.upDownCounters !== undefined && this.upDownCounters(name);
    const decision = decideSeries(this.mapper, kind, name, pairs, upDown);
    if (decision.drop) {
      this.resolvedScale = 1;
      this.aggregation.metricDrop('mapping_drop');
      return MAPPED_DROP;
    }
    this.resolvedScale = decision.scale;
    return this.store.seriesFor(kind, decision.name, decision.pairs, decision.shape);
  }
}
