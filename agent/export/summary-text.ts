import { familyHeader, goFloat, labelPairs, sampleValue } from './exposition-text.js';
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
    out += familyHeader(name, m.descriptor.description, m.descriptor.unit, 'summary');
    for (const point of m.dataPoints) {
      out += summarySeriesText(name, labelPairs(point.attributes), point.value.quantileValues, point.value.sum, point.value.count);
    }
  }
  return out;
}

/** One summary series: a sample per quantile, then `_sum` and `_count`; `labels` is the series' `k="v",...` text. */
export function summarySeriesText(
  name: string,
  labels: string,
  quantileValues: ReadonlyArray<{ quantile: number; value: number }>,
  sum: number,
  count: number,
): string {
  let out = '';
  const sep = labels === '' ? '' : ',';
  for (const { quantile, value } of quantileValues) {
    out += `${name}{${labels}${sep}quantile="${goFloat(quantile)}"} ${sampleValue(value)}\n`;
  }
  const braces = labels === '' ? '' : `{${labels}}`;
  out += `${name}_sum${braces} ${sampleValue(sum)}\n`;
  out += `${name}_count${braces} ${sampleValue(count)}\n`;
  return out;
}
