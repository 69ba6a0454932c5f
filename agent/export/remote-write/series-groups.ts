import type { Attributes } from '@opentelemetry/api';
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import { DataPointType, type Histogram, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { SummaryMetricData } from '../summary-data.js';
import { expositionLabelName, expositionLabelValue, expositionLe, expositionMetricName, expositionQuantile, familyName } from './exposition-names.js';
import type { Label } from './write-request-proto.js';

/**
 * The series one data point became under one name: a counter's or gauge's
 * single series, a histogram's `_count`, `_sum`, or all its `_bucket`
 * series (told apart by `le`). The key (name and the point's labels) is
 * what a later group of the batch must not repeat, and what the next batch
 * misses when the point is gone and its series need stale markers.
 */
export interface SeriesGroup {
  key: string;
  /** The `__name__` of every series of the group. */
  name: string;
  /** The point's labels, sorted by name, unique, none empty. */
  labels: Label[];
  /** One per series: its value and, for buckets and quantiles, the label that sets it apart. */
  samples: Array<{ value: number; extra?: Label }>;
  /** For counters and histograms: when the point's series began counting from zero (ms). */
  startMs?: number;
}

export interface SeriesGroupOptions {
  /** Added to every series, target_info included, unless the series has a label of that name (as Prometheus' external_labels). */
  externalLabels: readonly Label[];
  /** A metric, or a series of it, that cannot be sent and is left out, with why. */
  onSkipped?: (metric: string, reason: string) => void;
}

function byName(a: Label, b: Label): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * A batch's metrics as remote-write series, in the order /metrics lists
 * them: target_info for the resource, then each metric's series. The names
 * and labels are those of the exposition (see exposition-names.ts); every
 * label set is sorted by name, holds `__name__`, no name twice and no empty
 * value, as the spec's "Labels" section requires.
 */
export function seriesGroups(metrics: ResourceMetrics, summaries: readonly SummaryMetricData[], opts: SeriesGroupOptions): SeriesGroup[] {
  const out = new GroupList(opts);
  // First, as the serializer writes it: a metric that calls itself target_info is the repeat.
  const resource = out.base(metrics.resource.attributes);
  out.group('target_info', resource.labels, resource.key, [{ value: 1 }]);
  for (const scope of metrics.scopeMetrics) {
    for (const metric of scope.metrics) addMetric(out, metric);
  }
  for (const summary of summaries) addSummary(out, summary);
  // The resource describes the series pushed with it; alone, it is no batch.
  return out.groups.length === 1 ? [] : out.groups;
}

/** The groups of one batch, and what every group of it shares. */
class GroupList {
  readonly groups: SeriesGroup[] = [];
  private readonly seen = new Set<string>();
  /** Attribute keys as label names (undefined: none possible); a batch repeats a few keys over every point. */
  private readonly labelNames = new Map<string, string | undefined>();
  private readonly leLabels = new Map<number | undefined, Label>();

  constructor(private readonly opts: SeriesGroupOptions) {}

  /**
   * A data point's own labels, sorted: attribute names and values as the
   * exposition writes them, the first of two that sanitize alike kept (the
   * exposition would repeat the name, which a scrape refuses), empty values
   * left out (Prometheus reads an empty label as no label), then the
   * external labels the point does not have. `key` identifies the set.
   */
  base(attributes: Attributes): { labels: Label[]; key: string } {
    const labels: Label[] = [];
    // A point has a handful of labels: a scan beats a Set.
    const has = (name: string) => labels.some((l) => l.name === name);
    for (const k of Object.keys(attributes)) {
      const v = attributes[k];
      let name = this.labelNames.get(k);
      if (name === undefined && !this.labelNames.has(k)) {
        name = expositionLabelName(k);
        this.labelNames.set(k, name);
      }
      const value = expositionLabelValue(v);
      if (name === undefined || value === '' || has(name)) continue;
      labels.push({ name, value });
    }
    for (const l of this.opts.externalLabels) {
      if (!has(l.name)) labels.push(l);
    }
    labels.sort(byName);
    const flat: string[] = [];
    for (const l of labels) flat.push(l.name, l.value);
    return { labels, key: JSON.stringify(flat) };
  }

  /**
   * Adds the series of one name for one point, or skips them all when an
   * earlier group of the batch has the same name and labels (a scrape keeps
   * the first sample of a repeated series too).
   */
  group(name: string, labels: Label[], labelsKey: string, samples: Array<{ value: number; extra?: Label }>, startMs?: number): void {
    const key = `${name}\u0000${labelsKey}`;
    if (this.seen.has(key)) {
      this.opts.onSkipped?.(name, 'a series of that name and labels came earlier in the batch');
      return;
    }
    this.seen.add(key);
    this.groups.push(startMs === undefined ? { key, name, labels, samples } : { key, name, labels, samples, startMs });
  }

  skipped(metric: string, reason: string): void {
    this.opts.onSkipped?.(metric, reason);
  }

  /** One `le` label per bound for the whole batch: shared objects, so the encoder encodes each once. */
  le(bound: number | undefined): Label {
    let l = this.leLabels.get(bound);
    if (l === undefined) {
      l = { name: 'le', value: expositionLe(bound) };
      this.leLabels.set(bound, l);
    }
    return l;
  }
}

function addMetric(out: GroupList, metric: MetricData): void {
  const name = expositionMetricName(metric);
  if (name === undefined) {
    out.skipped(metric.descriptor.name, 'its name has no character a Prometheus name may hold');
    return;
  }
  switch (metric.dataPointType) {
    case DataPointType.SUM:
    case DataPointType.GAUGE: {
      const counting = metric.dataPointType === DataPointType.SUM && metric.isMonotonic;
      for (const p of metric.dataPoints) {
        const b = out.base(p.attributes);
        out.group(name, b.labels, b.key, [{ value: p.value }], counting ? hrTimeToMilliseconds(p.startTime) : undefined);
      }
      return;
    }
    case DataPointType.HISTOGRAM:
      for (const p of metric.dataPoints) addHistogramPoint(out, name, p.attributes, p.value, hrTimeToMilliseconds(p.startTime));
      return;
    default:
      // Remote write 1.0 has classic series only; /metrics leaves these out as well.
      out.skipped(name, `data point type ${DataPointType[metric.dataPointType]} has no remote-write 1.0 form`);
  }
}

/** `_count`, `_sum` and the cumulative `_bucket` series, in the serializer's order and with its `le` strings. */
function addHistogramPoint(out: GroupList, name: string, attributes: Attributes, h: Histogram, startMs: number): void {
  const b = out.base(attributes);
  if (h.count != null) out.group(`${name}_count`, b.labels, b.key, [{ value: h.count }], startMs);
  if (h.sum != null) out.group(`${name}_sum`, b.labels, b.key, [{ value: h.sum }], startMs);
  const buckets: Array<{ value: number; extra: Label }> = [];
  const { boundaries, counts } = h.buckets;
  let cumulative = 0;
  let infinityBound = false;
  for (let i = 0; i < counts.length; i++) {
    cumulative += counts[i]!;
    const bound = boundaries[i];
    // As the serializer: bounds that already end in Infinity have no extra overflow bucket.
    if (bound === undefined && infinityBound) break;
    if (bound === Infinity) infinityBound = true;
    buckets.push({ value: cumulative, extra: out.le(bound) });
  }
  out.group(`${name}_bucket`, b.labels, b.key, buckets, startMs);
}

/** One sample per quantile (NaN while the window is empty, as /metrics shows), `_sum` and `_count`, in summary-text.ts's order. */
function addSummary(out: GroupList, summary: SummaryMetricData): void {
  const name = familyName(summary.descriptor.name);
  if (name === undefined) {
    out.skipped(summary.descriptor.name, 'its name has no character a Prometheus name may hold');
    return;
  }
  for (const p of summary.dataPoints) {
    const b = out.base(p.attributes);
    out.group(
      name,
      b.labels,
      b.key,
      p.value.quantileValues.map((q) => ({ value: q.value, extra: { name: 'quantile', value: expositionQuantile(q.quantile) } })),
    );
    out.group(`${name}_sum`, b.labels, b.key, [{ value: p.value.sum }]);
    out.group(`${name}_count`, b.labels, b.key, [{ value: p.value.count }]);
  }
}
