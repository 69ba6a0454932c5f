import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import type { Resource } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { pino } from 'pino';
import protobuf from 'protobufjs';
import { uncompress } from 'snappyjs';
import { Aggregator } from '../../../agent/aggregate/aggregator.js';
import type { ExponentialMode } from '../../../agent/aggregate/series-store.js';
import { AggregateProducer } from '../../../agent/export/aggregate-producer.js';
import { takeMetricsSnapshot } from '../../../agent/export/metrics-snapshot.js';
import type { FlushSnapshot } from '../../../agent/export/sink.js';
import { collectSummaries } from '../../../agent/export/summary-data.js';
import type { Mapper } from '../../../agent/mapping/mapper.js';
import { StatsdParser } from '../../../agent/parse/statsd-line.js';
import { IngestCounters } from '../../../agent/telemetry/ingest-counters.js';
import { parsePromText } from '../../support/prom-text.js';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

const specText = readFileSync(join(FIXTURES, 'remote-write-1.0.proto'), 'utf8');
const specRoot = protobuf.parse(specText).root;
/**
 * The spec's TimeSeries with the sample value read as its 64 raw bits, to
 * see the exact NaN a stale marker carries (a decoded double NaN hides it).
 */
const rawRoot = protobuf.parse(
  specText.replace(/message Sample \{[^}]*\}/, 'message Sample {\n  fixed64 value = 1;\n  int64 timestamp = 2;\n}'),
).root;
const WriteRequest = specRoot.lookupType('prometheus.WriteRequest');
const RawWriteRequest = rawRoot.lookupType('prometheus.WriteRequest');

/**
 * Remote write's TimeSeries as Prometheus 2.40 and later read it, with the
 * native histograms of field 4, written here from the field numbers of
 * prompb's Histogram (count_int 1, sum 3, schema 4, zero_count_int 6,
 * spans 8 and 11, deltas 9 and 12, timestamp 15) and the float fields
 * beside them, which Tally must not use.
 */
const nativeRoot = protobuf.parse(`
syntax = "proto3";
package tallytest;
message WriteRequest { repeated TimeSeries timeseries = 1; }
message TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; repeated Histogram histograms = 4; }
message Label { string name = 1; string value = 2; }
message Sample { double value = 1; int64 timestamp = 2; }
message BucketSpan { sint32 offset = 1; uint32 length = 2; }
message Histogram {
  oneof count { uint64 count_int = 1; double count_float = 2; }
  double sum = 3;
  sint32 schema = 4;
  double zero_threshold = 5;
  oneof zero_count { uint64 zero_count_int = 6; double zero_count_float = 7; }
  repeated BucketSpan negative_spans = 8;
  repeated sint64 negative_deltas = 9;
  repeated double negative_counts = 10;
  repeated BucketSpan positive_spans = 11;
  repeated sint64 positive_deltas = 12;
  repeated double positive_counts = 13;
  int32 reset_hint = 14;
  int64 timestamp = 15;
}
`).root;
const NativeWriteRequest = nativeRoot.lookupType('tallytest.WriteRequest');

export interface DecodedHistogram {
  countInt?: number;
  countFloat?: number;
  sum: number;
  schema: number;
  zeroThreshold: number;
  zeroCountInt?: number;
  zeroCountFloat?: number;
  negativeSpans: Array<{ offset: number; length: number }>;
  negativeDeltas: number[];
  negativeCounts: number[];
  positiveSpans: Array<{ offset: number; length: number }>;
  positiveDeltas: number[];
  positiveCounts: number[];
  resetHint: number;
  timestamp: number;
}

export interface DecodedNativeSeries extends DecodedSeries {
  histograms: DecodedHistogram[];
}

/** A body's series with their native histograms too; oneof members are present only where sent. */
export function decodeNativeBody(body: Uint8Array): DecodedNativeSeries[] {
  const msg = NativeWriteRequest.toObject(NativeWriteRequest.decode(uncompress(body)), { longs: Number, defaults: true, arrays: true, oneofs: false }) as {
    timeseries: Array<{ labels: Array<{ name: string; value: string }>; samples: Array<{ value: number; timestamp: number }>; histograms: DecodedHistogram[] }>;
  };
  return msg.timeseries.map((ts) => ({ labels: ts.labels.map((l) => [l.name, l.value]), samples: ts.samples, histograms: ts.histograms }));
}

/** Bucket index → count of one range of a decoded histogram, from its spans and deltas. */
export function nativeBucketCounts(spans: ReadonlyArray<{ offset: number; length: number }>, deltas: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  let index = 0;
  let count = 0;
  let d = 0;
  for (let s = 0; s < spans.length; s++) {
    index += spans[s]!.offset;
    for (let k = 0; k < spans[s]!.length; k++) {
      count += deltas[d++]!;
      if (count !== 0) out.set(index, count);
      index++;
    }
  }
  if (d !== deltas.length) throw new Error(`spans cover ${d} buckets, deltas hold ${deltas.length}`);
  return out;
}

export interface DecodedSeries {
  /** Name-value pairs in the order they were sent. */
  labels: Array<[string, string]>;
  samples: Array<{ value: number; timestamp: number }>;
}

/** Snappy block format, then the spec's WriteRequest; fields left at their default are filled in, as a receiver sees them. */
export function decodeBody(body: Uint8Array): DecodedSeries[] {
  const proto = uncompress(body);
  const msg = WriteRequest.toObject(WriteRequest.decode(proto), { longs: Number, defaults: true, arrays: true }) as {
    timeseries: Array<{ labels: Array<{ name: string; value: string }>; samples: Array<{ value: number; timestamp: number }> }>;
  };
  return msg.timeseries.map((ts) => ({ labels: ts.labels.map((l) => [l.name, l.value]), samples: ts.samples }));
}

/** Each series' sample values as 16 hex digits of their raw bits. */
export function rawSampleBits(body: Uint8Array): string[][] {
  const msg = RawWriteRequest.toObject(RawWriteRequest.decode(uncompress(body)), { longs: String, defaults: true, arrays: true }) as {
    timeseries: Array<{ samples: Array<{ value: string }> }>;
  };
  return msg.timeseries.map((ts) => ts.samples.map((s) => BigInt.asUintN(64, BigInt(s.value)).toString(16).padStart(16, '0')));
}

/** A series identity as Prometheus holds it: its labels sorted, __name__ included, empty values meaning no label. */
export function seriesId(labels: Iterable<[string, string]>): string {
  return JSON.stringify([...labels].filter(([, v]) => v !== '').sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Series identity → value of every sample in the exposition text. */
export function exposedValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of parsePromText(text).samples) {
    const id = seriesId([['__name__', s.name], ...Object.entries(s.labels)]);
    if (out.has(id)) throw new Error(`the exposition repeats ${s.line}`);
    out.set(id, s.value);
  }
  return out;
}

/** /metrics as the agent serves it: the OpenTelemetry serializer with the pipeline's settings (no scope labels, target_info on). */
export function exposition(metrics: ResourceMetrics): string {
  return new PrometheusSerializer(undefined, false, undefined, false, true).serialize(metrics);
}

/** Series identity → value of every series of remote-write bodies; each series must hold exactly one sample. */
export function pushedValues(bodies: Uint8Array[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const body of bodies) {
    for (const s of decodeBody(body)) {
      const id = seriesId(s.labels);
      // A new counter or histogram series may lead with a 0 at its start time; the value is the last sample.
      const [first, second] = s.samples;
      const leadingZero = s.samples.length === 2 && first!.value === 0 && first!.timestamp < second!.timestamp;
      if (s.samples.length !== 1 && !leadingZero) throw new Error(`${id} has ${s.samples.length} samples`);
      if (out.has(id)) throw new Error(`${id} is sent twice`);
      out.set(id, s.samples[s.samples.length - 1]!.value);
    }
  }
  return out;
}

export interface StatsdPipeline {
  aggregator: Aggregator;
  producer: AggregateProducer;
  send(lines: string): void;
  /** The producer's metrics, every point at `timeMs`, as the agent cuts a batch. */
  collect(timeMs: number): Promise<ResourceMetrics>;
  /** A push batch cut at `timeMs` as the agent's flush cuts it (after aggregator.flush(), where the test wants one): both forms of the metrics. */
  batch(timeMs: number, batchId?: string): Promise<FlushSnapshot>;
}

/** The agent's own stages, in process: statsd lines → StatsdParser → Aggregator → AggregateProducer. */
export function statsdPipeline(opts: {
  resource: Resource;
  now: () => number;
  timerBuckets?: number[];
  histogramBuckets?: number[];
  mapper?: Mapper;
  seriesTtlMs?: number;
  exponential?: ExponentialMode;
}): StatsdPipeline {
  const aggregator = new Aggregator({
    timerBuckets: opts.timerBuckets ?? [0.05, 0.25, 1],
    histogramBuckets: opts.histogramBuckets ?? [1, 10],
    mapper: opts.mapper,
    seriesTtlMs: opts.seriesTtlMs,
    exponential: opts.exponential,
    counters: new IngestCounters(),
    logger: pino({ level: 'silent' }),
    now: opts.now,
  });
  let batchTimeMs = 0;
  const producer = new AggregateProducer({
    aggregator,
    resource: opts.resource,
    scope: { name: 'tally-agent', version: 'test' },
    now: () => batchTimeMs,
  });
  const parser = new StatsdParser();
  return {
    aggregator,
    producer,
    send: (lines) => parser.parsePacket(Buffer.from(lines), aggregator),
    collect: async (timeMs) => {
      batchTimeMs = timeMs;
      return (await producer.collect()).resourceMetrics;
    },
    batch: async (timeMs, batchId = `batch-${timeMs}`) => {
      batchTimeMs = timeMs;
      const families = takeMetricsSnapshot(aggregator, false, timeMs);
      const metrics = (await producer.collect()).resourceMetrics;
      return { batchId, timeMs, metrics, families, summaries: collectSummaries(aggregator, timeMs), events: [] };
    },
  };
}
