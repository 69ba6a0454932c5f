import { goFloat } from './exposition-text.js';

/*
 * Names and label values exactly as @opentelemetry/exporter-prometheus's
 * PrometheusSerializer (0.223) writes them on /metrics, so that a series
 * pushed by remote write is the series a scrape of the same data stores:
 * one PromQL query, one answer, whichever way the data came in. Each step
 * below is the serializer's, in its order; where it writes something a
 * receiver must refuse, the deviation is marked.
 */

/** The serializer's sanitizePrometheusMetricName: [^a-zA-Z0-9_] → '_', then runs of '_' → one. */
export function sanitize(name: string): string {
  return name.replace(/[^a-z0-9_]/gi, '_').replace(/_{2,}/g, '_');
}

/** The serializer's escapeString, applied to the metric name before sanitizing (it only changes what sanitize then replaces). */
function escapeString(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/**
 * The family name /metrics shows for a metric, or undefined when the
 * serializer leaves the metric out (a name that sanitizes to "" or "_").
 * Monotonic sums get `_total` unless they end so already; the unit is not
 * appended (this serializer version does not).
 */
export function familyName(descriptorName: string, monotonicSum = false): string | undefined {
  let name = sanitize(escapeString(descriptorName));
  if (name === '' || name === '_') return undefined;
  if (name[0]! >= '0' && name[0]! <= '9') name = `_${name}`;
  if (monotonicSum && !name.endsWith('_total')) name += '_total';
  return name;
}

/**
 * A label name as /metrics shows it, or undefined for one nothing can carry.
 * The serializer does not touch a leading digit, which the text format and
 * the remote-write spec both forbid (a scrape of such an exposition fails
 * whole); here it gets the `_` prefix metric names get, so the rest of the
 * batch still arrives. A sanitized name never starts with "__" (runs of '_'
 * collapse), so no attribute can pose as `__name__`.
 */
export function expositionLabelName(key: string): string | undefined {
  const name = sanitize(key);
  if (name === '') return undefined;
  return name[0]! >= '0' && name[0]! <= '9' ? `_${name}` : name;
}

/**
 * A label value as a scrape of /metrics stores it: strings as they are
 * (escaping belongs to the text format, not to the value), other attribute
 * values JSON-encoded, undefined as "".
 */
export function expositionLabelValue(value: unknown): string {
  if (value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** A summary quantile as summary-text.ts writes the label (Go's shortest 'g' format, as client_golang does). */
export function expositionQuantile(q: number): string {
  return goFloat(q);
}
