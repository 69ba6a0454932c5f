import { COUNTER, GAUGE, SET, TIMER, type MetricKind } from '../parse/metric-kind.js';

/**
 * Metric names may hold [a-zA-Z0-9_] (colons are reserved for recording
 * rules) and not start with a digit. Runs of '_' collapse to one, as the
 * OpenTelemetry Prometheus serializer collapses them: names that would be
 * exposed alike must be one family here, or the scrape would repeat a family.
 */
export function sanitizeMetricName(name: string): string {
  let out = name.replace(/[^a-zA-Z0-9_]/g, '_').replace(/_+/g, '_');
  if (out.length === 0 || (out.charCodeAt(0) >= 48 && out.charCodeAt(0) <= 57)) out = '_' + out;
  return out;
}

/** Label names follow the same charset; the `__` prefix is Prometheus' own, so a user's label never gets it. */
export function sanitizeLabelName(name: string): string {
  let out = sanitizeMetricName(name);
  while (out.startsWith('__')) out = out.slice(1);
  return out;
}

/**
 * The family a statsd metric lands in: what `# TYPE` names and what must not
 * be claimed twice. Observers are histograms unless a mapping rule asks for a
 * summary, which familyTypeOf cannot know.
 */
/** `up_down_counter`: statsd counters that may go down (aggregation.up_down_counters), a gauge to Prometheus. */
export type FamilyType = 'counter' | 'up_down_counter' | 'gauge' | 'histogram' | 'summary';

export function familyTypeOf(kind: MetricKind): FamilyType {
  if (kind === COUNTER) return 'counter';
  if (kind === GAUGE || kind === SET) return 'gauge';
  return 'histogram';
}

/**
 * The exposition name of a family. Counters end in `_total`, timers in
 * `_seconds` (their values are converted from ms); a name that already ends so
 * is not suffixed twice.
 */
export function familyNameOf(kind: MetricKind, sanitized: string): string {
  if (kind === COUNTER) return sanitized.endsWith('_total') ? sanitized : sanitized + '_total';
  if (kind === TIMER) return sanitized.endsWith('_seconds') ? sanitized : sanitized + '_seconds';
  return sanitized;
}
