import { COUNTER, DISTRIBUTION, GAUGE, HISTOGRAM, SET, TIMER, type MetricKind } from '../parse/metric-kind.js';
import { escapeMetricName } from '../mapping/escape.js';
import type { Mapper, MappingMetricType } from '../mapping/mapper.js';
import type { ExponentialOptions, Quantile } from '../mapping/mapping-rules.js';

/**
 * What a mapping rule, or the mapping file's defaults, decide about a new
 * series: the one shape the series store reads, whichever of the two (or
 * neither) made it.
 */
export interface SeriesShape {
  /** A rule chose the name: it is used as written, with only the counter suffix added. */
  readonly mapped: boolean;
  readonly bounds?: readonly number[];
  readonly ttlMs?: number;
  readonly help?: string;
  /** Makes an observer a summary instead of a histogram. */
  readonly summary?: { readonly quantiles: readonly Quantile[]; readonly maxAgeMs: number; readonly ageBuckets: number };
  /** The mapping's native histogram options: a histogram keeps an exponential one too. */
  readonly exponential?: ExponentialOptions;
  /** A counter that may go down (aggregation.up_down_counters). */
  readonly upDown?: boolean;
}

/** The shape of a series nothing decided about: a plain series of its kind under its own name. */
export const PLAIN: SeriesShape = { mapped: false };

/** A raw name's series, as the mapping makes it: or `drop`, for a rule's `action: drop` or a name that expands to nothing. */
export type SeriesDecision =
  | { readonly drop: true }
  | {
      readonly drop: false;
      readonly name: string;
      /** The sample's tags and the rule's labels, in the order that lets the right one win (later pairs win). */
      readonly pairs: Array<[string, string]>;
      readonly shape: SeriesShape;
      /**
       * The rule's scale, 1 for none. It belongs to the spelling, not the
       * series, because statsd_exporter scales per mapped name: rules for
       * `foo.latency_ms` and `foo.latency_us` may both feed
       * `foo_latency_seconds`.
       */
      readonly scale: number;
    };

const DROP: SeriesDecision = { drop: true };

const MAPPING_TYPES: Record<MetricKind, MappingMetricType> = {
  [COUNTER]: 'counter',
  [GAUGE]: 'gauge',
  [SET]: 'gauge',
  [TIMER]: 'observer',
  [HISTOGRAM]: 'observer',
  [DISTRIBUTION]: 'observer',
};

/**
 * Applies the mapping rules (or, for a name no rule matches, the mapping
 * file's defaults) to a raw statsd name and its tags. `upDown` says the
 * counter was listed in aggregation.up_down_counters.
 */
export function decideSeries(mapper: Mapper | undefined, kind: MetricKind, name: string, pairs: Array<[string, string]>, upDown: boolean): SeriesDecision {
  const observer = MAPPING_TYPES[kind] === 'observer';
  const mapping = mapper?.map(name, MAPPING_TYPES[kind]);
  if (mapping === undefined) {
    return { drop: false, name, pairs, shape: unmappedShape(mapper, observer, upDown), scale: 1 };
  }
  const mapped = mapping.action === 'drop' ? '' : escapeMetricName(mapping.name);
  if (mapped === '') return DROP;
  return {
    drop: false,
    name: mapped,
    // Later pairs win: the rule's labels, unless honor_labels lets the sample's tags win.
    pairs: mapping.honorLabels ? [...mapping.labels, ...pairs] : [...pairs, ...mapping.labels],
    shape: {
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
    },
    // statsd_exporter scales every type it has; sets, which it has not, count members, which a scale cannot apply to.
    scale: mapping.scale !== undefined && kind !== SET ? mapping.scale : 1,
  };
}

/** statsd_exporter gives unmapped observers the file's default observer type and histogram options too. */
function unmappedShape(mapper: Mapper | undefined, observer: boolean, upDown: boolean): SeriesShape {
  if (upDown) return { mapped: false, upDown };
  const d = mapper?.defaults;
  if (d === undefined || !observer) return PLAIN;
  if (d.observerType === 'summary') {
    return { mapped: false, summary: { quantiles: d.quantiles, maxAgeMs: d.maxAgeMs, ageBuckets: d.ageBuckets } };
  }
  return d.exponential === undefined ? PLAIN : { mapped: false, exponential: d.exponential };
}
