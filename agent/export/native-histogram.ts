import { downscaleSpan, type BucketSpan, type ExponentialHistogram } from '../aggregate/exponential-histogram.js';
import type { ByteSink } from './byte-sink.js';

/**
 * A Prometheus native histogram (integer form), as remote write (prompb
 * Histogram) and the protobuf exposition (io.prometheus.client Histogram)
 * carry it: the schema is OpenTelemetry's scale, and a bucket
 * index is one higher than OpenTelemetry's, as Prometheus' bucket i holds
 * (base^(i-1), base^i] where OpenTelemetry's holds (base^i, base^(i+1)].
 */
export interface NativeHistogram {
  readonly count: number;
  readonly sum: number;
  readonly schema: number;
  readonly zeroCount: number;
  readonly positive: NativeBuckets;
  readonly negative: NativeBuckets;
}

export interface NativeBuckets {
  /** [offset, length] pairs: the first offset is the first bucket's index, each later one the gap after the span before it. */
  readonly spans: ReadonlyArray<readonly [offset: number, length: number]>;
  /** Each bucket's count less the bucket's before it (across spans; the first against 0). */
  readonly deltas: readonly number[];
}

/** Prometheus' finest and coarsest exponential schemas; a finer scale is merged down to the finest, a coarser one cannot be sent. */
export const MAX_SCHEMA = 8;
export const MIN_SCHEMA = -4;

const SPAN_OFFSET_KEY = 0x08;
const SPAN_LENGTH_KEY = 0x10;

/**
 * A run of empty buckets longer than this ends a span: a span costs about
 * four bytes, an empty bucket inside one a byte or two.
 */
const MAX_EMPTY_IN_SPAN = 2;

/**
 * The native histogram of an exponential one, or undefined when its scale
 * is coarser than schema -4 (a range of values no finer scale could hold in
 * its bucket limit), which Prometheus cannot store. A scale finer than 8 is
 * merged down to 8; nothing is lost but resolution. Counts are rounded per
 * bucket, as the OTLP encoder rounds them (a `|@0.3` sample weighs 3.33…),
 * and the count is the sum of what is sent, so the two agree as Prometheus
 * requires of an integer histogram. Rounding is monotone, so a bucket that
 * only grows still only grows.
 */
export function toNativeHistogram(h: ExponentialHistogram): NativeHistogram | undefined {
  if (h.scale < MIN_SCHEMA) return undefined;
  const change = Math.max(0, h.scale - MAX_SCHEMA);
  const zeroCount = Math.round(h.zeroCount);
  // The spans are copies already: only a scale change needs another.
  const positive = nativeBuckets(change === 0 ? h.positiveSpan() : downscaleSpan(h.positiveSpan(), change));
  const negative = nativeBuckets(change === 0 ? h.negativeSpan() : downscaleSpan(h.negativeSpan(), change));
  return {
    count: zeroCount + positive.total + negative.total,
    sum: h.sum,
    schema: h.scale - change,
    zeroCount,
    positive: { spans: positive.spans, deltas: positive.deltas },
    negative: { spans: negative.spans, deltas: negative.deltas },
  };
}

/** The empty histogram a new series starts from, at the schema of the one that follows it. */
export function emptyNativeHistogram(schema: number): NativeHistogram {
  return { count: 0, sum: 0, schema, zeroCount: 0, positive: { spans: [], deltas: [] }, negative: { spans: [], deltas: [] } };
}

function nativeBuckets(span: BucketSpan): NativeBuckets & { total: number } {
  const spans: Array<[number, number]> = [];
  const deltas: number[] = [];
  let total = 0;
  let previous = 0;
  // Index (Prometheus') one past the last bucket sent, and the open span, if any.
  let end = 0;
  let open: [number, number] | undefined;
  let empty = 0;
  for (let i = 0; i < span.counts.length; i++) {
    const count = Math.round(span.counts[i]!);
    if (count === 0) {
      empty++;
      continue;
    }
    const index = span.offset + i + 1;
    if (open !== undefined && empty <= MAX_EMPTY_IN_SPAN) {
      // The empty buckets in between stay in the span, as zeros.
      for (let k = 0; k < empty; k++) {
        deltas.push(-previous);
        previous = 0;
      }
      open[1] += empty + 1;
    } else {
      open = [open === undefined ? index : index - end, 1];
      spans.push(open);
    }
    deltas.push(count - previous);
    previous = count;
    total += count;
    end = index + 1;
    empty = 0;
  }
  return { spans, deltas, total };
}

/** Where a histogram message keeps each native field: remote write's prompb Histogram and the exposition's client_model Histogram number them differently. */
export interface NativeHistogramKeys {
  /** uint64 count (a oneof member in prompb, so written even when 0). */
  readonly count: number;
  /** double sum. */
  readonly sum: number;
  /** sint32 schema. */
  readonly schema: number;
  /** double zero threshold; left out (0) where the message has no use for it. */
  readonly zeroThreshold?: number;
  /** uint64 zero count. */
  readonly zeroCount: number;
  /** repeated BucketSpan (offset 1, sint32; length 2, uint32) and packed sint64 deltas, per range. */
  readonly negativeSpan: number;
  readonly negativeDelta: number;
  readonly positiveSpan: number;
  readonly positiveDelta: number;
}

/**
 * A native histogram's fields into `to`, keyed as `keys` says; `scratch`
 * holds each nested field's bytes on the way. The zero threshold, where the
 * message has one, is `zeroThreshold`.
 */
export function writeNativeHistogram(to: ByteSink, h: NativeHistogram, keys: NativeHistogramKeys, scratch: ByteSink, zeroThreshold = 0): void {
  to.reserve(64);
  to.byte(keys.count);
  to.varint(h.count);
  to.byte(keys.sum);
  to.double(h.sum);
  to.byte(keys.schema);
  to.sint(h.schema);
  if (keys.zeroThreshold !== undefined) {
    to.byte(keys.zeroThreshold);
    to.double(zeroThreshold);
  }
  to.byte(keys.zeroCount);
  to.varint(h.zeroCount);
  writeBuckets(to, h.negative, keys.negativeSpan, keys.negativeDelta, scratch);
  writeBuckets(to, h.positive, keys.positiveSpan, keys.positiveDelta, scratch);
}

function writeBuckets(to: ByteSink, b: NativeBuckets, spanKey: number, deltaKey: number, scratch: ByteSink): void {
  for (const [offset, length] of b.spans) {
    scratch.pos = 0;
    scratch.reserve(22);
    scratch.byte(SPAN_OFFSET_KEY);
    scratch.sint(offset);
    scratch.byte(SPAN_LENGTH_KEY);
    scratch.varint(length);
    to.field(spanKey, scratch);
  }
  if (b.deltas.length === 0) return;
  scratch.pos = 0;
  scratch.reserve(10 * b.deltas.length);
  for (const d of b.deltas) scratch.sint(d);
  to.field(deltaKey, scratch);
}
