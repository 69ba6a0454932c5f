import { JsonMetricsSerializer, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { DataPoint, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { SummaryMetricData } from '../summary-data.js';
import { SLICE_MS, SliceClock } from '../../shared/slice-clock.js';
import { encodeWithin } from './request-split.js';
import { summaryRequestProtobuf, summaryResourceMetricsJson } from './summary-body.js';
import type { OtlpEncoding } from './wire-format.js';

/** One metric, or a run of its points, with the scope it belongs to: the unit a large batch is split by. */
export type MetricUnit = { scope: InstrumentationScope; metric: MetricData } | { scope: InstrumentationScope; summary: SummaryMetricData };

/**
 * Estimated bytes of a protobuf piece: encoding one holds the event loop
 * about 10 ms. At 1 MiB a piece took 50 ms, and with its gzip 78 ms, the
 * longest block of a flush at 100,000 mixed series (found by timing each
 * callback of the agent against a CPU profile). Pieces are joined into
 * bodies of up to maxBytes, so the requests stay as few as before.
 */
const PIECE_BYTES = 256 << 10;
/** JSON pieces are bodies of their own (JSON cannot be joined): 1 MiB of protobuf's worth, JSON spelling out about 3 times as much. */
const JSON_PIECE_BYTES = (1 << 20) / 3;

/**
 * The pieces of ExportMetricsServiceRequest bodies for one batch's units,
 * made as they are taken (the units too, when they come from a generator),
 * so a caller can give the event loop a turn before each; none when the
 * units hold no data point (the spec lets a server take an empty request,
 * but there is nothing to say). Summaries, which the transformer cannot
 * write, go in a ResourceMetrics of their own after the others of their
 * piece (summary-body.ts).
 *
 * A piece is a function that encodes it: one body, or several where the
 * estimate of its size fell short of maxBytes. Protobuf pieces are whole
 * requests that may be concatenated into one (a repeated field's entries
 * concatenate), each carrying the resource and scope again; JSON pieces
 * are requests each.
 */
export function* metricsPieces(units: Iterable<MetricUnit>, resource: Resource, encoding: OtlpEncoding, maxBytes: number): Generator<() => Uint8Array[]> {
  const budget = Math.min(encoding === 'json' ? JSON_PIECE_BYTES : PIECE_BYTES, maxBytes);
  for (const piece of piecesByEstimate(units, budget)) yield () => encodeWithin(piece, (p) => encodePart(resource, p, encoding), maxBytes, splitPoints);
}

/**
 * Consecutive units packed into pieces of about `budget` estimated bytes,
 * one at a time; a unit larger than that is cut by its points first. A
 * piece also ends, however small, once taking units has lasted SLICE_MS:
 * a delta sink's units are mostly empty when most series are idle, and
 * taking them all for one piece held the event loop as long as reading
 * every series does.
 */
function* piecesByEstimate(units: Iterable<MetricUnit>, budget: number): Generator<MetricUnit[]> {
  let piece: MetricUnit[] = [];
  let bytes = 0;
  // A look at the clock per unit: a unit is a run of many series.
  const clock = new SliceClock(SLICE_MS, 1);
  for (const u of units) {
    if (clock.due()) {
      yield piece;
      piece = [];
      bytes = 0;
      clock.restart();
    }
    const points = pointsOf(u);
    if (points.length === 0) continue;
    const perPoint = estimatePoint(points[0]!);
    const size = 64 + points.length * perPoint;
    const perPiece = size <= budget || points.length < 2 ? points.length : Math.max(1, Math.floor(budget / perPoint));
    for (let i = 0; i < points.length; i += perPiece) {
      const n = Math.min(perPiece, points.length - i);
      const pieceSize = 64 + n * perPoint;
      if (piece.length > 0 && bytes + pieceSize > budget) {
        yield piece;
        piece = [];
        bytes = 0;
        clock.restart();
      }
      piece.push(n === points.length ? u : withPoints(u, points.slice(i, i + n)));
      bytes += pieceSize;
    }
  }
  if (piece.length > 0) yield piece;
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

function pointsOf(u: MetricUnit): Array<DataPoint<unknown>> {
  return ('metric' in u ? u.metric.dataPoints : u.summary.dataPoints) as Array<DataPoint<unknown>>;
}

function withPoints(u: MetricUnit, dataPoints: Array<DataPoint<unknown>>): MetricUnit {
  return 'metric' in u ? { scope: u.scope, metric: { ...u.metric, dataPoints } as MetricData } : { scope: u.scope, summary: { ...u.summary, dataPoints } as SummaryMetricData };
}

function encodePart(resource: Resource, part: MetricUnit[], encoding: OtlpEncoding): Uint8Array {
  const metrics = part.filter((u): u is Extract<MetricUnit, { metric: MetricData }> => 'metric' in u);
  const summaries = part.filter((u): u is Extract<MetricUnit, { summary: SummaryMetricData }> => 'summary' in u);
  const serializer = encoding === 'json' ? JsonMetricsSerializer : ProtobufMetricsSerializer;
  const main = metrics.length > 0 ? serializer.serializeRequest(byScope(resource, metrics))! : new Uint8Array();
  if (summaries.length === 0) return main;
  const scope = summaries[0]!.scope;
  const list = summaries.map((u) => u.summary);
  if (encoding === 'protobuf') return Buffer.concat([main, summaryRequestProtobuf(resource, scope, list)]);
  const request = (main.length > 0 ? JSON.parse(Buffer.from(main).toString('utf8')) : { resourceMetrics: [] }) as { resourceMetrics: object[] };
  request.resourceMetrics.push(summaryResourceMetricsJson(resource, scope, list));
  return Buffer.from(JSON.stringify(request));
}

/** Groups consecutive metrics of one scope back under that scope. */
function byScope(resource: Resource, units: Array<{ scope: InstrumentationScope; metric: MetricData }>): ResourceMetrics {
  const scopeMetrics: ResourceMetrics['scopeMetrics'] = [];
  for (const u of units) {
    const last = scopeMetrics[scopeMetrics.length - 1];
    if (last !== undefined && last.scope === u.scope) last.metrics.push(u.metric);
    else scopeMetrics.push({ scope: u.scope, metrics: [u.metric] });
  }
  return { resource, scopeMetrics };
}

function splitPoints(u: MetricUnit): MetricUnit[] | undefined {
  const points = pointsOf(u);
  if (points.length < 2) return undefined;
  const half = Math.ceil(points.length / 2);
  return [withPoints(u, points.slice(0, half)), withPoints(u, points.slice(half))];
}
