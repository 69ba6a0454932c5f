import { DEFAULT_MAX_SCALE, MIN_SCALE } from '../shared/exponential-scale.js';
import {
  DEFAULT_MAPPING_BUCKETS,
  DEFAULT_MAPPING_QUANTILES,
  DEFAULT_NATIVE_BUCKET_FACTOR,
  DEFAULT_NATIVE_MAX_BUCKETS,
  DEFAULT_SUMMARY_AGE_BUCKETS,
  DEFAULT_SUMMARY_MAX_AGE_MS,
  type ExponentialOptions,
  type MappingConfig,
  type MappingDefaults,
  type MappingRule,
} from './mapping-rules.js';
import { mappingFileSchema, type RawFile } from './mapping-schema.js';

const nonEmpty = <T>(list: readonly T[] | undefined): readonly T[] | undefined => (list && list.length > 0 ? list : undefined);

type NativeOptions = { native_histogram_bucket_factor?: number | undefined; native_histogram_max_buckets?: number | undefined } | undefined;

/**
 * statsd_exporter resolves the native histogram options field by field (the
 * rule's when > 0, else the defaults', else 1.1 and 256) and always passes
 * them to client_golang, which makes native histograms whenever the factor
 * is above 1; they only show in a protobuf scrape. Tally keeps an
 * exponential histogram only where the file writes one of the two keys (a
 * file that does not mention them gets what it got before), and, as
 * client_golang, none when the resolved factor is 1 or less.
 */
function resolveExponential(rule: NativeOptions, defaults: NativeOptions): ExponentialOptions | undefined {
  const set = (v: number | undefined) => (v !== undefined && v > 0 ? v : undefined);
  const factor = set(rule?.native_histogram_bucket_factor) ?? set(defaults?.native_histogram_bucket_factor);
  const maxBuckets = set(rule?.native_histogram_max_buckets) ?? set(defaults?.native_histogram_max_buckets);
  if (factor === undefined && maxBuckets === undefined) return undefined;
  const bucketFactor = factor ?? DEFAULT_NATIVE_BUCKET_FACTOR;
  if (bucketFactor <= 1) return undefined;
  return { maxScale: scaleForBucketFactor(bucketFactor), maxSize: maxBuckets ?? DEFAULT_NATIVE_MAX_BUCKETS };
}

/**
 * client_golang's pickSchema: the coarsest scale whose buckets grow by at
 * most `factor` (1.1 → 3, whose ratio is 2^(1/8) ≈ 1.09). It bounds the
 * result to Prometheus' schemas -4..8; here OpenTelemetry's -10..20 apply,
 * which give the same scale for every factor from 2^(2^-8) ≈ 1.0027 up to
 * 2^16, and a finer one below (1.001 → 10), as that factor asks.
 */
export function scaleForBucketFactor(factor: number): number {
  const floor = Math.floor(Math.log2(Math.log2(factor)));
  // 0 - floor rather than -floor, which is -0 for a factor of 2.
  return Math.min(DEFAULT_MAX_SCALE, Math.max(MIN_SCALE, 0 - floor));
}

type Defaults = NonNullable<RawFile['defaults']>;

/**
 * The defaults' histogram and summary options as statsd_exporter v0.30.0
 * reads them: a top-level `buckets` (or `quantiles`) stands in for the
 * options block only when the block has none, and then replaces the whole
 * block, so the block's other keys are dropped, as there.
 */
function defaultsOptions(d: RawFile['defaults']): { histogram: Defaults['histogram_options']; summary: Defaults['summary_options'] } {
  const legacyBuckets = nonEmpty(d?.buckets);
  const legacyQuantiles = nonEmpty(d?.quantiles);
  const histogram =
    nonEmpty(d?.histogram_options?.buckets) === undefined && legacyBuckets
      ? { buckets: [...legacyBuckets], native_histogram_bucket_factor: undefined, native_histogram_max_buckets: undefined }
      : d?.histogram_options;
  const summary =
    nonEmpty(d?.summary_options?.quantiles) === undefined && legacyQuantiles
      ? { quantiles: [...legacyQuantiles], max_age: undefined, age_buckets: undefined, buf_cap: undefined }
      : d?.summary_options;
  return { histogram, summary };
}

export function resolve(file: RawFile): Omit<MappingConfig, 'warnings'> {
  const d = file.defaults;
  const { histogram, summary } = defaultsOptions(d);
  const defaults: MappingDefaults = {
    observerType: d?.observer_type ?? d?.timer_type,
    matchType: d?.match_type ?? 'glob',
    globDisableOrdering: d?.glob_disable_ordering ?? false,
    ttlMs: d?.ttl ?? 0,
    buckets: nonEmpty(histogram?.buckets) ?? DEFAULT_MAPPING_BUCKETS,
    quantiles: nonEmpty(summary?.quantiles) ?? DEFAULT_MAPPING_QUANTILES,
    maxAgeMs: summary?.max_age || DEFAULT_SUMMARY_MAX_AGE_MS,
    ageBuckets: summary?.age_buckets || DEFAULT_SUMMARY_AGE_BUCKETS,
    exponential: resolveExponential(undefined, histogram),
  };
  const mappings = (file.mappings ?? []).map(
    (m): MappingRule => ({
      match: m.match ?? '',
      matchType: m.match_type ?? defaults.matchType,
      name: m.name!,
      labels: Object.entries(m.labels ?? {}),
      action: m.action ?? 'map',
      matchMetricType: m.match_metric_type,
      observerType: m.observer_type ?? m.timer_type ?? defaults.observerType,
      // statsd_exporter reads a rule's top-level buckets only for histograms and
      // its quantiles only for summaries; each is unused by the other type here.
      buckets: nonEmpty(m.histogram_options?.buckets) ?? nonEmpty(m.buckets) ?? defaults.buckets,
      quantiles: nonEmpty(m.summary_options?.quantiles) ?? nonEmpty(m.quantiles) ?? defaults.quantiles,
      maxAgeMs: m.summary_options?.max_age || defaults.maxAgeMs,
      ageBuckets: m.summary_options?.age_buckets || defaults.ageBuckets,
      // As statsd_exporter: an explicit "ttl: 0" on a rule still takes the default.
      ttlMs: m.ttl || defaults.ttlMs,
      help: m.help,
      honorLabels: m.honor_labels ?? false,
      scale: m.scale,
      exponential: resolveExponential(m.histogram_options, histogram),
    }),
  );
  return { defaults, mappings };
}

/**
 * The `mapping:` section of a Tally config: a statsd_exporter file's schema,
 * embedded in the config's so one validation reports both at the config
 * file's lines, and resolved there. Its warnings need the document's
 * positions; the config's loader adds them (`mappingWarnings`).
 */
export const inlineMappingSchema = mappingFileSchema.transform((file): MappingConfig => ({ ...resolve(file as RawFile), warnings: [] }));
