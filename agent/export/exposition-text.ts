/*
 * The pieces of the Prometheus text exposition format (0.0.4) that every
 * writer of /metrics shares, spelled exactly as
 * @opentelemetry/exporter-prometheus's PrometheusSerializer spells them, so
 * that a family looks the same whichever code wrote it.
 */

// The format escapes backslash and line feed in help text, and double quote
// as well in label values; nothing else.
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

const NEEDS_LABEL_ESCAPE = /[\\\n"]/;

export function escapeLabelValue(text: string): string {
  // Most values need nothing: testing first saves three replaces per label of every series.
  return NEEDS_LABEL_ESCAPE.test(text) ? escapeHelp(text).replace(/"/g, '\\"') : text;
}

/** A sample value: `+Inf`, `-Inf`, `NaN`, else JavaScript's shortest round-trip form. */
export function sampleValue(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/**
 * A quantile as client_golang writes the label (Go's shortest 'g' format:
 * 1e-05, not 0.00001), so queries written against statsd_exporter's
 * `quantile` values match. For quantiles, which lie in [0, 1], Go and
 * JavaScript differ only below 1e-4.
 */
export function goFloat(q: number): string {
  if (q === 0 || q >= 1e-4) return String(q);
  const [mantissa, exponent] = q.toExponential().split('e') as [string, string];
  const e = Number(exponent);
  return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

/**
 * `k="v",k2="v2"` for series attributes, in their own order. The keys are
 * written as they are: the aggregator stores them sanitized (sanitizeLabelName
 * leaves only [a-zA-Z0-9_] without runs of '_'), which is what the SDK's
 * serializer would make of them anyway.
 */
export function labelPairs(attributes: Readonly<Record<string, unknown>>): string {
  let out = '';
  for (const key in attributes) {
    out += `${out === '' ? '' : ','}${key}="${escapeLabelValue(String(attributes[key]))}"`;
  }
  return out;
}

/** `# HELP`, `# UNIT` when there is a unit (as the OpenTelemetry serializer writes it), `# TYPE`; `help` unescaped. */
export function familyHeader(name: string, help: string, unit: string, type: string): string {
  const unitLine = unit === '' ? '' : `# UNIT ${name} ${escapeHelp(unit)}\n`;
  return `# HELP ${name} ${escapeHelp(help)}\n${unitLine}# TYPE ${name} ${type}\n`;
}
