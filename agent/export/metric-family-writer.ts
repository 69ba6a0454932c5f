import { ByteSink } from './byte-sink.js';
import { writeNativeHistogram, type NativeHistogram, type NativeHistogramKeys } from './native-histogram.js';

/*
 * The protobuf exposition (io.prometheus.client, proto2), delimited: each
 * MetricFamily message after its length as a varint. The fields written:
 *
 *   MetricFamily { string name = 1; string help = 2; MetricType type = 3; repeated Metric metric = 4; }
 *   MetricType   { COUNTER = 0; GAUGE = 1; SUMMARY = 2; HISTOGRAM = 4; }
 *   Metric       { repeated LabelPair label = 1; Gauge gauge = 2; Counter counter = 3;
 *                  Summary summary = 4; Histogram histogram = 7; }
 *   LabelPair    { string name = 1; string value = 2; }
 *   Gauge, Counter { double value = 1; }
 *   Summary      { uint64 sample_count = 1; double sample_sum = 2; repeated Quantile quantile = 3; }
 *   Quantile     { double quantile = 1; double value = 2; }
 *   Histogram    { uint64 sample_count = 1; double sample_sum = 2; repeated Bucket bucket = 3;
 *                  double sample_count_float = 4; sint32 schema = 5; double zero_threshold = 6;
 *                  uint64 zero_count = 7; repeated BucketSpan negative_span = 9;
 *                  repeated sint64 negative_delta = 10; repeated BucketSpan positive_span = 12;
 *                  repeated sint64 positive_delta = 13; }
 *   Bucket       { uint64 cumulative_count = 1; double upper_bound = 2; double cumulative_count_float = 4; }
 *   BucketSpan   { sint32 offset = 1; uint32 length = 2; }
 */
export const COUNTER = 0;
export const GAUGE = 1;
export const SUMMARY = 2;
export const HISTOGRAM = 4;

const FAMILY_NAME = 0x0a;
const FAMILY_HELP = 0x12;
const FAMILY_TYPE = 0x18;
const FAMILY_METRIC = 0x22;
const METRIC_LABEL = 0x0a;
const METRIC_GAUGE = 0x12;
const METRIC_COUNTER = 0x1a;
const METRIC_SUMMARY = 0x22;
const METRIC_HISTOGRAM = 0x3a;
const VALUE = 0x09;
const SUMMARY_COUNT = 0x08;
const SUMMARY_SUM = 0x11;
const SUMMARY_QUANTILE = 0x1a;
const QUANTILE_Q = 0x09;
const QUANTILE_VALUE = 0x11;
const HISTOGRAM_COUNT = 0x08;
const HISTOGRAM_SUM = 0x11;
const HISTOGRAM_BUCKET = 0x1a;
const HISTOGRAM_COUNT_FLOAT = 0x21;
const NATIVE_KEYS: NativeHistogramKeys = {
  count: HISTOGRAM_COUNT,
  sum: HISTOGRAM_SUM,
  schema: 0x28,
  zeroThreshold: 0x31,
  zeroCount: 0x38,
  negativeSpan: 0x4a,
  negativeDelta: 0x52,
  positiveSpan: 0x62,
  positiveDelta: 0x6a,
};
const BUCKET_COUNT = 0x08;
const BUCKET_BOUND = 0x11;
const BUCKET_COUNT_FLOAT = 0x21;
const LABEL_NAME = 0x0a;
const LABEL_VALUE = 0x12;

/**
 * Prometheus 2.42 reads a histogram as native only once it has a bucket, a
 * zero count or a zero threshold (protobufparse.go, isNativeHistogram); an
 * empty one gets client_golang's default threshold, 2^-128, so that it is
 * not taken for a classic one with no buckets.
 */
const EMPTY_ZERO_THRESHOLD = 2 ** -128;

/** About this many bytes per piece handed to the response: as the text writer's CHUNK_CHARS. */
const PIECE_BYTES = 64 * 1024;

/**
 * Writes MetricFamily messages metric by metric and hands them out in
 * pieces of about 64 KiB. A family longer than a piece is written as
 * several messages of the same name, help and type, each with some of its
 * metrics, so nothing waits on a family's whole length; Prometheus' parser
 * reads each message on its own.
 */
export class MetricFamilyWriter {
  private readonly out = new ByteSink(PIECE_BYTES * 2);
  private readonly family = new ByteSink(PIECE_BYTES * 2);
  private readonly metric = new ByteSink(4096);
  private readonly inner = new ByteSink(4096);
  private readonly scratch = new ByteSink(1024);
  private header: { name: string; help: string; type: number } | undefined;
  private metrics = 0;

  /** Starts a family: the metrics written until the next begin() are its. */
  begin(name: string, help: string, type: number): void {
    this.endFamily();
    this.header = { name, help, type };
    this.startMessage();
  }

  /** Starts a metric with its labels, in their order; names as they are, values as strings. */
  labels(labels: Readonly<Record<string, unknown>>): void {
    const m = this.metric;
    m.pos = 0;
    for (const name in labels) m.stringPair(METRIC_LABEL, LABEL_NAME, name, LABEL_VALUE, String(labels[name]));
  }

  counter(value: number): void {
    this.single(METRIC_COUNTER, value);
  }

  gauge(value: number): void {
    this.single(METRIC_GAUGE, value);
  }

  summary(count: number, sum: number, quantiles: readonly number[], values: readonly number[]): void {
    const inner = this.inner;
    inner.pos = 0;
    inner.reserve(30 + 20 * quantiles.length);
    inner.byte(SUMMARY_COUNT);
    inner.varint(Math.round(count));
    inner.byte(SUMMARY_SUM);
    inner.double(sum);
    for (let q = 0; q < quantiles.length; q++) {
      inner.byte(SUMMARY_QUANTILE);
      inner.byte(18);
      inner.byte(QUANTILE_Q);
      inner.double(quantiles[q]!);
      inner.byte(QUANTILE_VALUE);
      inner.double(values[q]!);
    }
    this.endMetric(METRIC_SUMMARY);
  }

  /**
   * A classic histogram: per-bucket (not cumulative) `counts` over `bounds`;
   * bounds past the last finite one are left out, as the +Inf bucket is
   * the count. Counts that are not whole (sample rates) are also sent as
   * floats, which newer Prometheus versions read instead of the rounded
   * integers.
   */
  classicHistogram(count: number, sum: number, bounds: readonly number[], counts: ArrayLike<number>): void {
    const inner = this.inner;
    inner.pos = 0;
    inner.reserve(40 + 30 * bounds.length);
    this.histogramCount(count);
    inner.byte(HISTOGRAM_SUM);
    inner.double(sum);
    let cumulative = 0;
    for (let j = 0; j < bounds.length && Number.isFinite(bounds[j]!); j++) {
      cumulative += counts[j]!;
      const whole = Number.isInteger(cumulative);
      inner.byte(HISTOGRAM_BUCKET);
      inner.byte(whole ? 0 : 9);
      const lengthAt = inner.pos - 1;
      const start = inner.pos;
      inner.byte(BUCKET_COUNT);
      inner.varint(Math.round(cumulative));
      inner.byte(BUCKET_BOUND);
      inner.double(bounds[j]!);
      if (!whole) {
        inner.byte(BUCKET_COUNT_FLOAT);
        inner.double(cumulative);
      }
      inner.buf[lengthAt] = inner.pos - start;
    }
    this.endMetric(METRIC_HISTOGRAM);
  }

  nativeHistogram(h: NativeHistogram): void {
    const inner = this.inner;
    inner.pos = 0;
    const empty = h.zeroCount === 0 && h.positive.deltas.length === 0 && h.negative.deltas.length === 0;
    writeNativeHistogram(inner, h, NATIVE_KEYS, this.scratch, empty ? EMPTY_ZERO_THRESHOLD : 0);
    this.endMetric(METRIC_HISTOGRAM);
  }

  /** What is written, in whole messages, once a piece's worth has gathered (or always, with `all`); undefined when there is not enough yet. */
  take(all = false): Uint8Array | undefined {
    if (all) this.endFamily();
    const out = this.out;
    if (out.pos === 0 || (!all && out.pos < PIECE_BYTES)) return undefined;
    const piece = out.buf.slice(0, out.pos);
    out.pos = 0;
    return piece;
  }

  private histogramCount(count: number): void {
    const inner = this.inner;
    inner.byte(HISTOGRAM_COUNT);
    inner.varint(Math.round(count));
    if (!Number.isInteger(count)) {
      inner.byte(HISTOGRAM_COUNT_FLOAT);
      inner.double(count);
    }
  }

  private single(key: number, value: number): void {
    const inner = this.inner;
    inner.pos = 0;
    inner.reserve(9);
    inner.byte(VALUE);
    inner.double(value);
    this.endMetric(key);
  }

  /** Closes the metric with its value (in `inner`) and adds it to the family, which is cut into a message of its own once it fills a piece. */
  private endMetric(valueKey: number): void {
    this.metric.field(valueKey, this.inner);
    this.family.field(FAMILY_METRIC, this.metric);
    this.metrics++;
    if (this.family.pos >= PIECE_BYTES) {
      this.endMessage();
      this.startMessage();
    }
  }

  private startMessage(): void {
    const f = this.family;
    const h = this.header!;
    f.pos = 0;
    f.reserve(40 + 3 * (h.name.length + h.help.length));
    f.string(FAMILY_NAME, h.name);
    f.string(FAMILY_HELP, h.help);
    f.byte(FAMILY_TYPE);
    f.varint(h.type);
    this.metrics = 0;
  }

  /** Appends the family's message to what goes out, if it has a metric: a family with none is left out, as the text writer leaves it. */
  private endMessage(): void {
    if (this.metrics === 0) return;
    const out = this.out;
    out.reserve(10 + this.family.pos);
    out.varint(this.family.pos);
    out.buf.set(this.family.buf.subarray(0, this.family.pos), out.pos);
    out.pos += this.family.pos;
    this.metrics = 0;
  }

  private endFamily(): void {
    if (this.header === undefined) return;
    this.endMessage();
    this.header = undefined;
  }
}
