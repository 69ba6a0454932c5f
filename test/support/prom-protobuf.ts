/**
 * Reads the protobuf exposition (delimited io.prometheus.client
 * MetricFamily messages) for tests, with message definitions written here
 * from the field numbers of client_model's metrics.proto, so a wrong field
 * number or type in Tally's writer shows; the real check is a Prometheus
 * scrape (test/integration/native-histogram-scrape.test.ts).
 */
import protobuf from 'protobufjs';

const root = protobuf.parse(`
syntax = "proto2";
package tallytest.client;
message LabelPair { optional string name = 1; optional string value = 2; }
enum MetricType { COUNTER = 0; GAUGE = 1; SUMMARY = 2; UNTYPED = 3; HISTOGRAM = 4; GAUGE_HISTOGRAM = 5; }
message Gauge { optional double value = 1; }
message Counter { optional double value = 1; }
message Quantile { optional double quantile = 1; optional double value = 2; }
message Summary { optional uint64 sample_count = 1; optional double sample_sum = 2; repeated Quantile quantile = 3; }
message Untyped { optional double value = 1; }
message Bucket { optional uint64 cumulative_count = 1; optional double cumulative_count_float = 4; optional double upper_bound = 2; }
message BucketSpan { optional sint32 offset = 1; optional uint32 length = 2; }
message Histogram {
  optional uint64 sample_count = 1;
  optional double sample_count_float = 4;
  optional double sample_sum = 2;
  repeated Bucket bucket = 3;
  optional sint32 schema = 5;
  optional double zero_threshold = 6;
  optional uint64 zero_count = 7;
  optional double zero_count_float = 8;
  repeated BucketSpan negative_span = 9;
  repeated sint64 negative_delta = 10;
  repeated double negative_count = 11;
  repeated BucketSpan positive_span = 12;
  repeated sint64 positive_delta = 13;
  repeated double positive_count = 14;
}
message Metric {
  repeated LabelPair label = 1;
  optional Gauge gauge = 2;
  optional Counter counter = 3;
  optional Summary summary = 4;
  optional Untyped untyped = 5;
  optional Histogram histogram = 7;
  optional int64 timestamp_ms = 6;
}
message MetricFamily { optional string name = 1; optional string help = 2; optional MetricType type = 3; repeated Metric metric = 4; }
`).root;
const MetricFamily = root.lookupType('tallytest.client.MetricFamily');

export interface ProtoBucketSpan {
  offset: number;
  length: number;
}

export interface ProtoHistogram {
  sampleCount?: number;
  sampleCountFloat?: number;
  sampleSum?: number;
  bucket: Array<{ cumulativeCount?: number; cumulativeCountFloat?: number; upperBound?: number }>;
  schema?: number;
  zeroThreshold?: number;
  zeroCount?: number;
  negativeSpan: ProtoBucketSpan[];
  negativeDelta: number[];
  positiveSpan: ProtoBucketSpan[];
  positiveDelta: number[];
  positiveCount: number[];
  negativeCount: number[];
}

export interface ProtoMetric {
  label: Array<{ name: string; value: string }>;
  gauge?: { value: number };
  counter?: { value: number };
  summary?: { sampleCount: number; sampleSum: number; quantile: Array<{ quantile: number; value: number }> };
  histogram?: ProtoHistogram;
}

export interface ProtoFamily {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'SUMMARY' | 'UNTYPED' | 'HISTOGRAM' | 'GAUGE_HISTOGRAM';
  metric: ProtoMetric[];
}

/** Every MetricFamily message of a delimited body, in order; throws on a length that runs past the end. */
export function decodeDelimited(body: Uint8Array): ProtoFamily[] {
  const out: ProtoFamily[] = [];
  const reader = protobuf.Reader.create(body);
  while (reader.pos < reader.len) {
    const length = reader.uint32();
    if (reader.pos + length > reader.len) throw new Error(`a message of ${length} bytes at ${reader.pos} runs past the body's ${reader.len}`);
    const msg = MetricFamily.decode(body.subarray(reader.pos, reader.pos + length));
    reader.skip(length);
    out.push(MetricFamily.toObject(msg, { longs: Number, enums: String, arrays: true }) as ProtoFamily);
  }
  return out;
}
