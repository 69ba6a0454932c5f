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
 * The pieces of ExportMetricsServiceRequest bodies for one batch, made as
 * they are taken, so a caller can give the event loop a turn before each;
 * none when the batch holds no data point (the spec lets a server take an
 * empty request, but there is nothing to say). Summaries, which the
 * transformer cannot write, go in a ResourceMetrics of their own after the
 * others (summary-body.ts).
 *
 * A piece is a function that encodes it: one body, or several where the
 * estimate of its size fell short of maxBytes. Protobuf pieces are whole
 * requests that may be concatenated into one (a repeated field's entries
 * concatenate), each carrying the resource and scope again; JSON pieces
 * are requests each.
 */
export function* metricsPieces(
  rm: ResourceMetrics,
  summaries: readonly SummaryMetricData[],
  summaryScope: InstrumentationScope,
  encoding: OtlpEncoding,
  maxBytes: number,
): Generator<() => Uint8Array[]> {
  const units: Unit[] = [];
  for (const sm of rm.scopeMetrics) for (const metric of sm.metrics) if (metric.dataPoints.length > 0) units.push({ scope: sm.scope, metric });
  for (const summary of summaries) if (summary.dataPoints.length > 0) units.push({ scope: summaryScope, summary });
  const budget = Math.min(encoding === 'json' ? JSON_PIECE_BYTES : PIECE_BYTES, maxBytes);
  for (const piece of piecesByEstimate(units, budget)) yield () => encodeWithin(piece, (p) => encodePart(rm, p, encoding), maxBytes, splitPoints);
}

/** Consecutive units packed into pieces of about `budget` estimated bytes, one at a time; a unit larger than that is cut by its points first. */
function* piecesByEstimate(units: Unit[], budget: number): Generator<Unit[]> {
  let piece: Unit[] = [];
  let bytes = 0;
  for (const u of units) {
    const points = pointsOf(u);
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
