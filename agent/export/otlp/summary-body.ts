import type { AttributeValue, Attributes, HrTime } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import protobuf from 'protobufjs';
import type { SummaryMetricData } from '../summary-data.js';

/**
 * Summaries as OTLP Summary metrics. @opentelemetry/otlp-transformer has no
 * summary (the JS SDK has no summary point), so these are written here, as
 * a ResourceMetrics of their own with the same resource and scope: an
 * ExportMetricsServiceRequest is `repeated ResourceMetrics resource_metrics = 1`,
 * so these bytes appended to the transformer's request are one valid request.
 *
 * Field numbers from opentelemetry-proto metrics.proto (v1.11.0). A summary
 * has no temporality: "the count and sum fields of a SummaryDataPoint are
 * assumed to be cumulative values", so a delta sink sends them cumulative
 * too. Count is rounded (the agent weights by sample rate, OTLP's count is a
 * fixed64); a quantile whose window holds no sample (NaN) is left out.
 */

const LEN = 2;
const I64 = 1;
const VARINT = 0;

/** A whole ExportMetricsServiceRequest holding only these summaries. */
export function summaryRequestProtobuf(resource: Resource, scope: InstrumentationScope, summaries: readonly SummaryMetricData[]): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32(tag(1, LEN)).fork(); // ResourceMetrics
  w.uint32(tag(1, LEN)).fork(); // Resource
  writeAttributes(w, 1, resource.attributes);
  w.ldelim();
  w.uint32(tag(2, LEN)).fork(); // ScopeMetrics
  w.uint32(tag(1, LEN)).fork().uint32(tag(1, LEN)).string(scope.name);
  if (scope.version) w.uint32(tag(2, LEN)).string(scope.version);
  w.ldelim();
  for (const s of summaries) {
    w.uint32(tag(2, LEN)).fork(); // Metric
    w.uint32(tag(1, LEN)).string(s.descriptor.name);
    if (s.descriptor.description) w.uint32(tag(2, LEN)).string(s.descriptor.description);
    if (s.descriptor.unit) w.uint32(tag(3, LEN)).string(s.descriptor.unit);
    w.uint32(tag(11, LEN)).fork(); // Summary
    for (const p of s.dataPoints) {
      w.uint32(tag(1, LEN)).fork(); // SummaryDataPoint
      writeAttributes(w, 7, p.attributes);
      w.uint32(tag(2, I64));
      writeFixed64(w, hrTimeNanos(p.startTime));
      w.uint32(tag(3, I64));
      writeFixed64(w, hrTimeNanos(p.endTime));
      w.uint32(tag(4, I64));
      writeFixed64(w, BigInt(Math.max(0, Math.round(p.value.count))));
      w.uint32(tag(5, I64)).double(p.value.sum);
      for (const q of p.value.quantileValues) {
        if (Number.isNaN(q.value)) continue;
        w.uint32(tag(6, LEN)).fork().uint32(tag(1, I64)).double(q.quantile).uint32(tag(2, I64)).double(q.value).ldelim();
      }
      w.ldelim();
    }
    w.ldelim();
    w.ldelim();
  }
  w.ldelim();
  w.ldelim();
  return w.finish();
}

/** The same ResourceMetrics as OTLP/JSON data, for appending to a JSON request's resourceMetrics. */
export function summaryResourceMetricsJson(resource: Resource, scope: InstrumentationScope, summaries: readonly SummaryMetricData[]): object {
  return {
    resource: { attributes: jsonAttributes(resource.attributes), droppedAttributesCount: 0 },
    scopeMetrics: [
      {
        scope: { name: scope.name, ...(scope.version ? { version: scope.version } : {}) },
        metrics: summaries.map((s) => ({
          name: s.descriptor.name,
          description: s.descriptor.description,
          unit: s.descriptor.unit,
          summary: {
            dataPoints: s.dataPoints.map((p) => ({
              attributes: jsonAttributes(p.attributes),
              startTimeUnixNano: hrTimeNanos(p.startTime).toString(),
              timeUnixNano: hrTimeNanos(p.endTime).toString(),
              // 64-bit integers are decimal strings in OTLP/JSON.
              count: String(Math.max(0, Math.round(p.value.count))),
              sum: p.value.sum,
              quantileValues: p.value.quantileValues.filter((q) => !Number.isNaN(q.value)).map((q) => ({ quantile: q.quantile, value: q.value })),
            })),
          },
        })),
      },
    ],
  };
}

function tag(field: number, wire: number): number {
  return (field << 3) | wire;
}

function hrTimeNanos(t: HrTime): bigint {
  return BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);
}

/** fixed64 is little-endian: the low 32 bits, then the high. */
function writeFixed64(w: protobuf.Writer, v: bigint): void {
  w.fixed32(Number(v & 0xffffffffn)).fixed32(Number((v >> 32n) & 0xffffffffn));
}

function writeAttributes(w: protobuf.Writer, field: number, attributes: Attributes): void {
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null) continue;
    w.uint32(tag(field, LEN)).fork(); // KeyValue
    w.uint32(tag(1, LEN)).string(key);
    w.uint32(tag(2, LEN)).fork();
    writeAnyValue(w, value);
    w.ldelim();
    w.ldelim();
  }
}

/** AnyValue: string_value 1, bool_value 2, int_value 3, double_value 4, array_value 5 (ArrayValue.values 1). */
function writeAnyValue(w: protobuf.Writer, v: AttributeValue | null | undefined): void {
  if (typeof v === 'string') w.uint32(tag(1, LEN)).string(v);
  else if (typeof v === 'boolean') w.uint32(tag(2, VARINT)).bool(v);
  else if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) w.uint32(tag(3, VARINT)).int64(v);
    else w.uint32(tag(4, I64)).double(v);
  } else if (Array.isArray(v)) {
    w.uint32(tag(5, LEN)).fork();
    for (const item of v) {
      w.uint32(tag(1, LEN)).fork();
      writeAnyValue(w, item);
      w.ldelim();
    }
    w.ldelim();
  }
}

function jsonAttributes(attributes: Attributes): Array<{ key: string; value: object }> {
  return Object.entries(attributes)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([key, v]) => ({ key, value: jsonAnyValue(v) }));
}

function jsonAnyValue(v: AttributeValue | null | undefined): object {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isSafeInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  if (Array.isArray(v)) return { arrayValue: { values: v.map(jsonAnyValue) } };
  return {};
}
