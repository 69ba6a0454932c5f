import type { Attributes } from '@opentelemetry/api';
import type { SummaryMetricData } from './summary-data.js';

/**
 * Summaries in the Prometheus text exposition format (0.0.4), for appending
 * to what the OpenTelemetry Prometheus exporter serves: per family `# HELP`,
 * `# UNIT` when there is one (as the exporter writes its own families),
 * `# TYPE name summary`, then per series one sample per quantile, `_sum` and
 * `_count`, in client_golang's order. Names and label names arrive already
 * sanitized by the aggregator; label values and help text are escaped here.
 */
export function summariesToPrometheusText(metrics: readonly SummaryMetricData[]): string {
  let out = '';
  for (const m of metrics) {
    const name = m.descriptor.name;
    out += `# HELP ${name} ${escapeHelp(m.descriptor.description)}\n`;
    if (m.descriptor.unit !== '') out += `# UNIT ${name} ${escapeHelp(m.descriptor.unit)}\n`;
    out += `# TYPE ${name} summary\n`;
    for (const point of m.dataPoints) {
      const labels = labelPairs(point.attributes);
      const sep = labels === '' ? '' : ',';
      for (const { quantile, value } of point.value.quantileValues) {
        out += `${name}{${labels}${sep}quantile="${goFloat(quantile)}"} ${sampleValue(value)}\n`;
      }
      const braces = labels === '' ? '' : `{${labels}}`;
      out += `${name}_sum${braces} ${sampleValue(point.value.sum)}\n`;
      out += `${name}_count${braces} ${sampleValue(point.value.count)}\n`;
    }
  }
  return out;
}

function labelPairs(attributes: Attributes): string {
  let out = '';
  for (const [key, value] of Object.entries(attributes)) {
    out += `${out === '' ? '' : ','}${key}="${escapeLabelValue(String(value))}"`;
  }
  return out;
}

// The exposition format escapes backslash and line feed in help text, and
// double quote as well in label values; nothing else.
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabelValue(text: string): string {
  return escapeHelp(text).replace(/"/g, '\\"');
}

function sampleValue(v: number): string {
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
function goFloat(q: number): string {
  if (q === 0 || q >= 1e-4) return String(q);
  const [mantissa, exponent] = q.toExponential().split('e') as [string, string];
  const e = Number(exponent);
  return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}
