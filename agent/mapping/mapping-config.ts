import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq } from 'yaml';
import type { Document, LineCounter, Node } from 'yaml';
import { z } from 'zod';
import { DEFAULT_MAX_SCALE, MIN_SCALE } from '../shared/exponential-scale.js';
import { bucketBounds } from '../shared/bucket-bounds.js';
import { ConfigError, type ConfigIssue } from '../shared/config-error.js';
import { parseYamlDocumentWithSchema } from '../shared/yaml-issues.js';
import { parseGoDuration } from './go-duration.js';
import { compileGoRegex, GoRegexError } from './go-regex.js';
import type { MappingMetricType } from './glob-matcher.js';

/**
 * statsd_exporter's mapping file (`--statsd.mapping-config`), read with its
 * rules: unknown keys are errors (it unmarshals strictly), and every check it
 * makes when loading is made here too, each reported at its file:line:column.
 */

// client_golang's DefBuckets and statsd_exporter's default quantiles.
export const DEFAULT_MAPPING_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
export const DEFAULT_MAPPING_QUANTILES: readonly Quantile[] = [
  { quantile: 0.5, error: 0.05 },
  { quantile: 0.9, error: 0.01 },
  { quantile: 0.99, error: 0.001 },
];
// client_golang's DefMaxAge and DefAgeBuckets, which a summary gets when
// neither the rule nor the defaults set them (0 counts as unset there too).
export const DEFAULT_SUMMARY_MAX_AGE_MS = 10 * 60_000;
export const DEFAULT_SUMMARY_AGE_BUCKETS = 5;

// statsd_exporter's own patterns. A glob component is "*" or a name; only
// the first component may not start with a digit (its issue #328).
const GLOB_MATCH = /^(\*|[a-zA-Z_][a-zA-Z0-9_-]*)(\.\*|\.[a-zA-Z0-9_][a-zA-Z0-9_-]*)*$/;
const TEMPLATE_REF = String.raw`\$\{?\d+\}?`;
const MAPPED_NAME = new RegExp(String.raw`^([a-zA-Z_]|${TEMPLATE_REF})([a-zA-Z0-9_]|${TEMPLATE_REF})*$`);
// Two characters at least: statsd_exporter's pattern ends in "+", not "*".
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]+$/;

export interface Quantile {
  quantile: number;
  error: number;
}

export type ObserverType = 'histogram' | 'summary';

/**
 * A base-2 exponential histogram's resolution (exponential-histogram.ts),
 * from statsd_exporter's native histogram options. Present on a rule only
 * when the file asks for one.
 */
export interface ExponentialOptions {
  /** Finest scale: the one client_golang picks for native_histogram_bucket_factor. */
  maxScale: number;
  /** Buckets per range (positive, negative): native_histogram_max_buckets. */
  maxSize: number;
}

// statsd_exporter's own defaults for the two native histogram options.
export const DEFAULT_NATIVE_BUCKET_FACTOR = 1.1;
export const DEFAULT_NATIVE_MAX_BUCKETS = 256;
/**
 * OpenTelemetry keeps buckets over a contiguous range, not sparsely as
 * Prometheus does: this many a side is 128 KiB per series at worst.
 */
export const MAX_NATIVE_MAX_BUCKETS = 16_384;

export interface MappingDefaults {
  /** undefined when the file does not say (statsd_exporter then makes summaries). */
  observerType: ObserverType | undefined;
  matchType: 'glob' | 'regex';
  globDisableOrdering: boolean;
  /** 0 = never expire. statsd_exporter applies this to unmapped metrics too. */
  ttlMs: number;
  buckets: readonly number[];
  quantiles: readonly Quantile[];
  /** Resolved summary window: the file's, else client_golang's. */
  maxAgeMs: number;
  ageBuckets: number;
  /** From the defaults' native histogram options; applies to unmapped observers too, as in statsd_exporter. */
  exponential: ExponentialOptions | undefined;
}

export interface MappingRule {
  match: string;
  matchType: 'glob' | 'regex';
  name: string;
  /** In file order. */
  labels: Array<[string, string]>;
  action: 'map' | 'drop';
  matchMetricType: MappingMetricType | undefined;
  observerType: ObserverType | undefined;
  /** Resolved: the rule's, else the defaults', else client_golang's. */
  buckets: readonly number[];
  /** Resolved like buckets. */
  quantiles: readonly Quantile[];
  /** Resolved field by field, as statsd_exporter does: the rule's, else the defaults'. */
  maxAgeMs: number;
  ageBuckets: number;
  ttlMs: number;
  help: string | undefined;
  honorLabels: boolean;
  scale: number | undefined;
  /** Resolved field by field like maxAgeMs; undefined when neither the rule nor the defaults ask for one. */
  exponential: ExponentialOptions | undefined;
}

export interface MappingConfig {
  defaults: MappingDefaults;
  mappings: MappingRule[];
  /**
   * Keys statsd_exporter accepts whose effect Tally does not reproduce; the
   * caller must show them, they are not errors so the file still loads.
   */
  warnings: ConfigIssue[];
}

// go-yaml decodes any scalar into a string field from its text.
const text = z.union([z.string(), z.number(), z.boolean()]).transform(String);

const nullable = <T extends z.ZodType>(schema: T) =>
  schema
    .nullish()
    .transform((v) => (v === null ? undefined : v)) as unknown as z.ZodType<z.output<T> | undefined, z.input<T> | null | undefined>;

const durationMs = z.union([z.string(), z.number()]).transform((value, ctx) => {
  if (typeof value === 'number') {
    if (value === 0) return 0;
    ctx.addIssue({
      code: 'custom',
      message: `a bare number is ${value} nanoseconds to statsd_exporter; write a unit, e.g. "${value}s"`,
    });
    return z.NEVER;
  }
  const ns = parseGoDuration(value);
  if (ns === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration (use e.g. 30s, 1m20s, 1h)` });
    return z.NEVER;
  }
  if (ns < 0) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is negative` });
    return z.NEVER;
  }
  return ns / 1e6;
});

const buckets = bucketBounds;

const quantile = z
  .object({
    quantile: z.number().min(0).max(1).default(0),
    error: z.number().min(0).max(1).default(0),
  })
  .strict();

const summaryOptions = z
  .object({
    quantiles: nullable(z.array(quantile)),
    max_age: nullable(durationMs),
    age_buckets: nullable(z.number().int().nonnegative()),
    buf_cap: nullable(z.number().int().nonnegative()),
  })
  .strict();

const histogramOptions = z
  .object({
    buckets: nullable(buckets),
    // 0 is unset (the default applies), as in statsd_exporter; 1 or less turns native histograms off, as in client_golang.
    native_histogram_bucket_factor: nullable(z.number().nonnegative()),
    native_histogram_max_buckets: nullable(
      z
        .number()
        .int()
        .nonnegative()
        .refine((n) => n === 0 || n >= 4, {
          message: 'at least 4: an exponential histogram needs 4 buckets a side to span any range of values (0 takes the default, 256)',
        })
        .refine((n) => n <= MAX_NATIVE_MAX_BUCKETS, {
          message: `at most ${MAX_NATIVE_MAX_BUCKETS}: exponential buckets are kept over a contiguous range, so this bounds the memory of every series`,
        }),
    ),
  })
  .strict();

// Go's decoders map "" to the default for these three, and reject anything else.
const observerType = z.enum(['histogram', 'summary', '']).transform((v): ObserverType => (v === '' ? 'summary' : v));
const matchType = z.enum(['glob', 'regex', '']).transform((v) => (v === '' ? 'glob' : v));
const action = z.enum(['map', 'drop', '']).transform((v) => (v === '' ? 'map' : v));
const metricType = z.enum(['counter', 'gauge', 'observer']);

// statsd_exporter's older spellings, which its latest release (v0.30.0)
// still reads with a deprecation warning: files written from its README
// examples use them. Their meaning is folded into the newer keys in resolve().
const deprecatedKeys = {
  timer_type: nullable(observerType),
  buckets: nullable(buckets),
  quantiles: nullable(z.array(quantile)),
};

const defaultsSchema = z
  .object({
    observer_type: nullable(observerType),
    match_type: nullable(matchType),
    glob_disable_ordering: nullable(z.boolean()),
    ttl: nullable(durationMs),
    summary_options: nullable(summaryOptions),
    histogram_options: nullable(histogramOptions),
    ...deprecatedKeys,
  })
  .strict();

const mappingSchema = z
  .object({
    match: nullable(text),
    name: nullable(text),
    labels: nullable(z.record(z.string(), text)),
    honor_labels: nullable(z.boolean()),
    observer_type: nullable(observerType),
    match_type: nullable(matchType),
    help: nullable(text),
    action: nullable(action),
    match_metric_type: nullable(metricType),
    ttl: nullable(durationMs),
    summary_options: nullable(summaryOptions),
    histogram_options: nullable(histogramOptions),
    scale: nullable(z.number().finite()),
    ...deprecatedKeys,
  })
  .strict();

type RawFile = { defaults?: z.output<typeof defaultsSchema> | undefined; mappings?: Array<z.output<typeof mappingSchema>> | undefined };

export const mappingFileSchema = z
  .object({
    defaults: nullable(defaultsSchema),
    mappings: nullable(z.array(mappingSchema)),
  })
  .strict()
  .superRefine((file: RawFile, ctx) => {
    const defaults = file.defaults;
    (file.mappings ?? []).forEach((m, i) => {
      const at = (...path: PropertyKey[]) => ['mappings', i, ...path];
      for (const label of Object.keys(m.labels ?? {})) {
        if (!LABEL_NAME.test(label)) {
          ctx.addIssue({
            code: 'custom',
            path: at('labels', label),
            message: `invalid label name "${label}" (must match ${LABEL_NAME.source})`,
          });
        }
      }
      if (m.name === undefined || m.name === '') {
        ctx.addIssue({ code: 'custom', path: at('name'), message: "metric mapping didn't set a metric name" });
      } else if (!MAPPED_NAME.test(m.name)) {
        ctx.addIssue({
          code: 'custom',
          path: at('name'),
          message: `invalid metric name "${m.name}" (letters, digits, "_" and $n references; not starting with a digit)`,
        });
      }
      const match = m.match ?? '';
      if ((m.match_type ?? defaults?.match_type ?? 'glob') === 'glob') {
        if (!GLOB_MATCH.test(match)) {
          ctx.addIssue({
            code: 'custom',
            path: at('match'),
            message: `invalid glob "${match}": dot-separated components must each be "*" or letters, digits, "_" and "-" (only the first may not start with a digit)`,
          });
        }
      } else {
        try {
          compileGoRegex(match);
        } catch (err) {
          if (!(err instanceof GoRegexError)) throw err;
          ctx.addIssue({ code: 'custom', path: at('match'), message: `invalid regex "${match}": ${err.message}` });
        }
      }
      if (m.buckets !== undefined && m.histogram_options?.buckets !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: at('buckets'),
          message: 'cannot use buckets in both the top level and histogram_options at the same time',
        });
      }
      if (m.quantiles !== undefined && m.summary_options?.quantiles !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: at('quantiles'),
          message: 'cannot use quantiles in both the top level and summary_options at the same time',
        });
      }
      const observer = m.observer_type ?? m.timer_type ?? defaults?.observer_type ?? defaults?.timer_type;
      if (observer === 'histogram' && m.summary_options !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: at('summary_options'),
          message: 'cannot use histogram observer and summary options at the same time',
        });
      }
      if (observer === 'summary' && m.histogram_options !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: at('histogram_options'),
          message: 'cannot use summary observer and histogram options at the same time',
        });
      }
    });
  });

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

function resolve(file: RawFile): Omit<MappingConfig, 'warnings'> {
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

// Accepted so statsd_exporter files load, but Tally's summaries have no such knob.
const UNIMPLEMENTED: Record<string, string> = {
  buf_cap: "Tally's summaries add each value to their sketch at once; there is no stream buffer to size",
};

// Read with their old meaning, as statsd_exporter v0.30.0 does; its later
// versions reject them, so the file should move on.
const DEPRECATED: Record<string, string> = {
  timer_type: 'deprecated: timer_type is the old name of observer_type; please use observer_type',
  buckets: 'deprecated: using the top level buckets is deprecated; please use buckets in the histogram_options hierarchy',
  quantiles: 'deprecated: using the top level quantiles is deprecated; please use quantiles in the summary_options hierarchy',
};

export function parseMappingText(source: string, file: string): MappingConfig {
  const { value, doc, lineCounter } = parseYamlDocumentWithSchema(mappingFileSchema, source, file);
  return { ...resolve(value as RawFile), warnings: mappingWarnings(doc, lineCounter, file, []) };
}

/**
 * The `mapping:` section of a Tally config: a statsd_exporter file's schema,
 * embedded in the config's so one validation reports both at the config
 * file's lines, and resolved there. Its warnings need the document's
 * positions; the config's loader adds them (`mappingWarnings`).
 */
export const inlineMappingSchema = mappingFileSchema.transform((file): MappingConfig => ({ ...resolve(file as RawFile), warnings: [] }));

export function loadMappingFile(path: string): MappingConfig {
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new ConfigError([{ file: path, line: 1, column: 1, key: '(root)', message: `cannot read mapping file: ${reason}` }]);
  }
  return parseMappingText(source, path);
}

/**
 * Keys that load but deserve a word: deprecated spellings and options Tally
 * does not act on. Runs only on text the schema accepted, so the shape is
 * known; `under` is the path of the rules inside the document (`['mapping']`
 * in a Tally config).
 */
export function mappingWarnings(doc: Document.Parsed, lineCounter: LineCounter, file: string, under: readonly string[]): ConfigIssue[] {
  const warnings: ConfigIssue[] = [];
  const warnKeys = (map: unknown, path: string, messages: Record<string, string>, prefix: string) => {
    if (!isMap(map)) return;
    for (const pair of map.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      const message = Object.hasOwn(messages, key) ? messages[key] : undefined;
      if (message === undefined || (isScalar(pair.value) && pair.value.value === null)) continue;
      const { line, col } = lineCounter.linePos((pair.key as Node).range?.[0] ?? 0);
      warnings.push({ file, line, column: col, key: `${path}.${key}`, message: `${prefix}${message}` });
    }
  };
  const inRule = (rule: unknown, path: string) => {
    if (!isMap(rule)) return;
    warnKeys(rule, path, DEPRECATED, '');
    warnKeys(rule.get('summary_options', true), `${path}.summary_options`, UNIMPLEMENTED, 'ignored: ');
    warnKeys(rule.get('histogram_options', true), `${path}.histogram_options`, UNIMPLEMENTED, 'ignored: ');
  };
  const root = under.length === 0 ? doc.contents : doc.getIn(under, true);
  if (!isMap(root)) return warnings;
  const prefix = under.length === 0 ? '' : `${under.join('.')}.`;
  inRule(root.get('defaults', true), `${prefix}defaults`);
  const mappings = root.get('mappings', true);
  if (isSeq(mappings)) mappings.items.forEach((rule, i) => inRule(rule, `${prefix}mappings[${i}]`));
  return warnings;
}
