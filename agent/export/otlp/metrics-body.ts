import { JsonMetricsSerializer, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { DataPoint, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { SummaryMetricData } from '../summary-data.js';
import { encodeWithin } from './request-split.js';
import { summaryRequestProtobuf, summaryResourceMetricsJson } from './summary-body.js';
import type { OtlpEncoding } from './wire-format.js';

/** One metric with the scope it belongs to: the unit a large batch is split by. */
type Unit = { scope: InstrumentationScope; metric: MetricData } | { scope: InstrumentationScope; summary: SummaryMetricData };

/**
 * Bytes a part is cut at before it is encoded, estimated: small enough that
 * encoding one holds the event loop for tens of milliseconds, not seconds.
 * Measured at 100,000 mixed series, the whole batch encoded in one piece
 * and then halved until each half fit took 2.2 s at once.
 */
const PART_BYTES = 1 << 20;

/**
 * The ExportMetricsServiceRequest bodies for one batch, each within
 * maxBytes before compression; none when the batch holds no data point
 * (the spec lets a server take an empty request, but there is nothing to say).
 * Summaries, which the transformer cannot write, go in a ResourceMetrics of
 * their own after the others (summary-body.ts).
 *
 * The batch is cut into parts by an estimate of their encoded size; each
 * part is a function that encodes it (one body, or several where the
 * estimate fell short), so a caller can give the event loop a turn before
 * each.
 */
export function metricsParts(
  rm: ResourceMetrics,
  summaries: readonly SummaryMetricData[],
  summaryScope: InstrumentationScope,
  encoding: OtlpEncoding,
  maxBytes: number,
): Array<() => Uint8Array[]> {
  const units: Unit[] = [];
  for (const sm of rm.scopeMetrics) for (const metric of sm.metrics) if (metric.dataPoints.length > 0) units.push({ scope: sm.scope, metric });
  for (const summary of summaries) if (summary.dataPoints.length > 0) units.push({ scope: summaryScope, summary });
  // JSON spells out what protobuf packs: names, numbers as text, times as decimal strings.
  const budget = Math.min(PART_BYTES, maxBytes) / (encoding === 'json' ? 3 : 1);
  return partsByEstimate(units, budget).map((part) => () => encodeWithin(part, (p) => encodePart(rm, p, encoding), maxBytes, splitPoints));
}

/** Consecutive units packed into parts of about `budget` estimated bytes; a unit larger than that is cut by its points first. */
function partsByEstimate(units: Unit[], budget: number): Unit[][] {
  const parts: Unit[][] = [];
  let part: Unit[] = [];
  let bytes = 0;
  const add = (u: Unit, size: number) => {
    if (part.length > 0 && bytes + size > budget) {
      parts.push(part);
      part = [];
      bytes = 0;
    }
    part.push(u);
    bytes += size;
  };
  for (const u of units) {
    const points = pointsOf(u);
    const perPoint = estimatePoint(points[0]!);
    const size = 64 + points.length * perPoint;
    if (size <= budget || points.length < 2) {
      add(u, size);
      continue;
    }
    const perPiece = Math.max(1, Math.floor(budget / perPoint));
    for (let i = 0; i < points.length; i += perPiece) add(withPoints(u, points.slice(i, i + perPiece)), 64 + Math.min(perPiece, points.length - i) * perPoint);
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

/**
 * About how many protobuf bytes a point takes, read off its first point:
 * a family's points have the same shape (bucket layout, quantiles) and
 * their tags similar lengths.
 */
function estimatePoint(p: DataPoint<unknown>): number {
  let size = 40;
  for (const [k, v] of Object.entries(p.attributes)) size += 12 + k.length + (typeof v === 'string' ? v.length : 16);
  const value = p.value as { buckets?: { counts: unknown[] }; positive?: { bucketCounts: unknown[] }; negative?: { bucketCounts: unknown[] }; quantileValues?: unknown[] };
  if (typeof value !== 'object' || value === null) return size;
  if (value.buckets !== undefined) size += 40 + 16 * value.buckets.counts.length;
  if (value.positive !== undefined) size += 40 + 4 * (value.positive.bucketCounts.length + (value.negative?.bucketCounts.length ?? 0));
  if (value.quantileValues !== undefined) size += 30 + 20 * value.quantileValues.length;
  return size;
}

function pointsOf(u: Unit): Array<DataPoint<unknown>> {
  return ('metric' in u ? u.metric.dataPoints : u.summary.dataPoints) as Array<DataPoint<unknown>>;
}

function withPoints(u: Unit, dataPoints: Array<DataPoint<unknown>>): Unit {
  return 'metric' in u ? { scope: u.scope, metric: { ...u.metric, dataPoints } as MetricData } : { scope: u.scope, summary: { ...u.summary, dataPoints } as SummaryMetricData };
}

function encodePart(rm: ResourceMetrics, part: Unit[], encoding: OtlpEncoding): Uint8Array {
  const metrics = part.filter((u): u is Extract<Unit, { metric: MetricData }> => 'metric' in u);
  const summaries = part.filter((u): u is Extract<Unit, { summary: SummaryMetricData }> => 'summary' in u);
  const serializer = encoding === 'json' ? JsonMetricsSerializer : ProtobufMetricsSerializer;
  const main = metrics.length > 0 ? serializer.serializeRequest(toResourceMetrics(rm, metrics))! : new Uint8Array();
  if (summaries.length === 0) return main;
  const scope = summaries[0]!.scope;
  const list = summaries.map((u) => u.summary);
  if (encoding === 'protobuf') return Buffer.concat([main, summaryRequestProtobuf(rm.resource, scope, list)]);
  const request = (main.length > 0 ? JSON.parse(Buffer.from(main).toString('utf8')) : { resourceMetrics: [] }) as { resourceMetrics: object[] };
  request.resourceMetrics.push(summaryResourceMetricsJson(rm.resource, scope, list));
  return Buffer.from(JSON.stringify(request));
}

/** Groups consecutive metrics of one scope back under that scope. */
function toResourceMetrics(rm: ResourceMetrics, units: Array<{ scope: InstrumentationScope; metric: MetricData }>): ResourceMetrics {
  const scopeMetrics: ResourceMetrics['scopeMetrics'] = [];
  for (const u of units) {
    const last = scopeMetrics[scopeMetrics.length - 1];
    if (last !== undefined && last.scope === u.scope) last.metrics.push(u.metric);
    else scopeMetrics.push({ scope: u.scope, metrics: [u.metric] });
  }
  return { resource: rm.resource, scopeMetrics };
}

function splitPoints(u: Unit): Unit[] | undefined {
  const points = pointsOf(u);
  if (points.length < 2) return undefined;
  const half = Math.ceil(points.length / 2);
  return [withPoints(u, points.slice(0, half)), withPoints(u, points.slice(half))];
}
