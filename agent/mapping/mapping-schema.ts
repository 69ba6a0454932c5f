import { z } from 'zod';
import { bucketBounds } from '../shared/bucket-bounds.js';
import { parseGoDuration } from './go-duration.js';
import { compileGoRegex, GoRegexError } from './go-regex.js';
import { MAX_NATIVE_MAX_BUCKETS, type ObserverType } from './mapping-rules.js';

/**
 * statsd_exporter's mapping file (`--statsd.mapping-config`), read with its
 * rules: unknown keys are errors (it unmarshals strictly), and every check it
 * makes when loading is made here too, each reported at its file:line:column.
 */

// statsd_exporter's own patterns. A glob component is "*" or a name; only
// the first component may not start with a digit (its issue #328).
const GLOB_MATCH = /^(\*|[a-zA-Z_][a-zA-Z0-9_-]*)(\.\*|\.[a-zA-Z0-9_][a-zA-Z0-9_-]*)*$/;
const TEMPLATE_REF = String.raw`\$\{?\d+\}?`;
const MAPPED_NAME = new RegExp(String.raw`^([a-zA-Z_]|${TEMPLATE_REF})([a-zA-Z0-9_]|${TEMPLATE_REF})*$`);
// Two characters at least: statsd_exporter's pattern ends in "+", not "*".
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]+$/;

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

export type RawFile = { defaults?: z.output<typeof defaultsSchema> | undefined; mappings?: Array<z.output<typeof mappingSchema>> | undefined };

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
