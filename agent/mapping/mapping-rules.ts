import type { ConfigIssue } from '../shared/config-error.js';
import type { MappingMetricType } from './glob-matcher.js';

/**
 * Mapping rules as the mapper reads them, each option resolved, and the
 * defaults they fall back on: what a mapping file or a config's `mapping:`
 * section becomes.
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
