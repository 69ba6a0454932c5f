import type { Attributes } from '@opentelemetry/api';
import { DataPointType, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Series } from '../aggregate/series.js';
import { familyDescription, familyDescriptor } from './aggregate-producer.js';
import { expositionLabelName, expositionLabelValue, familyName, sanitize } from './exposition-names.js';
import type { MetricsSnapshot, SnapshotFamily } from './metrics-snapshot.js';
import { COUNTER, GAUGE, HISTOGRAM, MetricFamilyWriter, SUMMARY } from './metric-family-writer.js';
import { emptyNativeHistogram, toNativeHistogram } from './native-histogram.js';
import { heldAtZero, type ZeroHold } from './zero-hold.js';

/** What a scraper asks for with `Accept` to get this format (Prometheus does with --enable-feature=native-histograms). */
export const PROTOBUF_EXPOSITION_TYPE = 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

/**
 * Whether `Accept` prefers the protobuf exposition to the text one: listed
 * with that proto and encoding, and a q above 0 and at least that of
 * text/plain and of any other type the text answer would stand for.
 */
export function prefersProtobuf(accept: string | string[] | undefined): boolean {
  const value = Array.isArray(accept) ? accept.join(',') : (accept ?? '');
  let protobuf = 0;
  let text = 0;
  for (const entry of value.split(',')) {
    const [type, ...params] = entry.split(';').map((p) => p.trim().toLowerCase());
    const param = (name: string) => params.find((p) => p.startsWith(`${name}=`))?.slice(name.length + 1);
    const q = param('q') === undefined ? 1 : Number(param('q'));
    if (!(q > 0)) continue;
    if (type === 'application/vnd.google.protobuf') {
      if (param('proto') === 'io.prometheus.client.metricfamily' && param('encoding') === 'delimited') protobuf = Math.max(protobuf, q);
    } else if (type !== undefined && type !== '') {
      text = Math.max(text, q);
    }
  }
  return protobuf > 0 && protobuf >= text;
}

/**
 * The aggregator's families as the protobuf exposition, in pieces of about
 * 64 KiB made as they are asked for (as expositionChunks makes the text):
 * target_info, every family but summaries, then the summaries; the same
 * names, help, labels and values as the text. A histogram family that keeps
 * exponential state is a native histogram here, one per series, where the
 * text has a line per bucket; the others are classic.
 */
export function* protobufExpositionChunks(snapshot: MetricsSnapshot, resourceAttributes: Attributes, writer = new MetricFamilyWriter()): Generator<Uint8Array, void, undefined> {
  writeTargetInfo(writer, resourceAttributes);
  for (const scraped of snapshot.families) {
    const family = scraped.family;
    if (family.type === 'summary') continue;
    const name = familyName(familyDescriptor(family).name, family.type === 'counter');
    if (name === undefined) continue;
    writer.begin(name, familyDescription(family) || 'description missing', family.type === 'counter' ? COUNTER : family.type === 'histogram' ? HISTOGRAM : GAUGE);
    const write = metricWriter(writer, scraped, snapshot.hold);
    for (let i = 0; i < scraped.length; i++) {
      write(scraped.series[i]!, i);
      const piece = writer.take();
      if (piece !== undefined) yield piece;
    }
  }
  for (const { family, series, length } of snapshot.families) {
    if (family.type !== 'summary' || length === 0) continue;
    writer.begin(family.name, familyDescription(family), SUMMARY);
    const quantiles = family.summary!.quantiles;
    for (let i = 0; i < length; i++) {
      const s = series[i]!;
      writer.labels(s.attributes);
      writer.summary(s.count, s.sum, quantiles, s.summary!.quantileValues(snapshot.nowMs));
      const piece = writer.take();
      if (piece !== undefined) yield piece;
    }
  }
  const last = writer.take(true);
  if (last !== undefined) yield last;
}

/**
 * The agent's own metrics (a few dozen series) as the protobuf exposition,
 * named as the OpenTelemetry serializer names them in the text.
 */
export function selfMetricsProtobuf(rm: ResourceMetrics, writer = new MetricFamilyWriter()): Uint8Array | undefined {
  for (const { metrics } of rm.scopeMetrics) {
    for (const m of metrics) {
      const monotonic = m.dataPointType === DataPointType.SUM && m.isMonotonic;
      const name = familyName(m.descriptor.name, monotonic);
      if (name === undefined) continue;
      const help = m.descriptor.description || 'description missing';
      switch (m.dataPointType) {
        case DataPointType.SUM:
        case DataPointType.GAUGE:
          writer.begin(name, help, monotonic ? COUNTER : GAUGE);
          for (const p of m.dataPoints) {
            writer.labels(promLabels(p.attributes));
            if (monotonic) writer.counter(p.value);
            else writer.gauge(p.value);
          }
          break;
        case DataPointType.HISTOGRAM:
          writer.begin(name, help, HISTOGRAM);
          for (const p of m.dataPoints) {
            writer.labels(promLabels(p.attributes));
            writer.classicHistogram(p.value.count, p.value.sum ?? 0, p.value.buckets.boundaries, p.value.buckets.counts);
          }
          break;
        // The agent registers no exponential histogram of its own.
        case DataPointType.EXPONENTIAL_HISTOGRAM:
          break;
      }
    }
  }
  return writer.take(true);
}

/** target_info: the resource's attributes on one gauge of value 1, as the text writer shows them. */
function writeTargetInfo(writer: MetricFamilyWriter, attributes: Attributes): void {
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(attributes)) labels[sanitize(key)] = expositionLabelValue(value);
  writer.begin('target_info', 'Target metadata', GAUGE);
  writer.labels(labels);
  writer.gauge(1);
}

/** Attributes as the serializer labels them: names sanitized (those nothing can carry left out), values as strings. */
function promLabels(attributes: Attributes): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(attributes)) {
    const name = expositionLabelName(key);
    if (name !== undefined) out[name] = expositionLabelValue(attributes[key]);
  }
  return out;
}

type MetricWrite = (s: Series, index: number) => void;

/** Writes the metric of one series of a family, or nothing for a series the text shows no line for. */
function metricWriter(writer: MetricFamilyWriter, scraped: SnapshotFamily, hold: ZeroHold | undefined): MetricWrite {
  const family = scraped.family;
  switch (family.type) {
    case 'counter':
      return (s) => {
        writer.labels(s.attributes);
        writer.counter(heldAtZero(s, hold) ? 0 : s.value);
      };
    case 'up_down_counter':
      return (s) => {
        writer.labels(s.attributes);
        writer.gauge(s.value);
      };
    case 'gauge': {
      const setCounts = scraped.setCounts;
      return (s, i) => {
        if (setCounts !== undefined && setCounts[i]! < 0) return;
        writer.labels(s.attributes);
        writer.gauge(setCounts === undefined ? s.value : setCounts[i]!);
      };
    }
    case 'histogram': {
      const zeros = new Array<number>(family.bounds.length + 1).fill(0);
      return (s) => {
        writer.labels(s.attributes);
        const zero = heldAtZero(s, hold);
        const native = s.expo === null ? undefined : toNativeHistogram(s.expo);
        // A scale Prometheus cannot hold keeps its classic buckets: the family may mix both, as each metric is read on its own.
        if (native !== undefined) writer.nativeHistogram(zero ? emptyNativeHistogram(native.schema) : native);
        else if (zero) writer.classicHistogram(0, 0, family.bounds, zeros);
        else writer.classicHistogram(s.count, s.sum, family.bounds, s.bucketCounts);
      };
    }
    case 'summary':
      return () => undefined;
  }
}
