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
 * The ExportMetricsServiceRequest bodies for one batch, each within
 * maxBytes before compression; none when the batch holds no data point
 * (the spec lets a server take an empty request, but there is nothing to say).
 * Summaries, which the transformer cannot write, go in a ResourceMetrics of
 * their own after the others (summary-body.ts).
 */
export function metricsBodies(
  rm: ResourceMetrics,
  summaries: readonly SummaryMetricData[],
  summaryScope: InstrumentationScope,
  encoding: OtlpEncoding,
  maxBytes: number,
): Uint8Array[] {
  const units: Unit[] = [];
  for (const sm of rm.scopeMetrics) for (const metric of sm.metrics) if (metric.dataPoints.length > 0) units.push({ scope: sm.scope, metric });
  for (const summary of summaries) if (summary.dataPoints.length > 0) units.push({ scope: summaryScope, summary });
  return encodeWithin(units, (part) => encodePart(rm, part, encoding), maxBytes, splitPoints);
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
  const points = ('metric' in u ? u.metric.dataPoints : u.summary.dataPoints) as Array<DataPoint<unknown>>;
  if (points.length < 2) return undefined;
  const half = Math.ceil(points.length / 2);
  return [points.slice(0, half), points.slice(half)].map((dataPoints) =>
    'metric' in u ? { scope: u.scope, metric: { ...u.metric, dataPoints } as MetricData } : { scope: u.scope, summary: { ...u.summary, dataPoints } as SummaryMetricData },
  );
}
