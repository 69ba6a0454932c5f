import { ByteSink } from '../byte-sink.js';
import { writeNativeHistogram, type NativeHistogram, type NativeHistogramKeys } from '../native-histogram.js';

/*
 * The Histogram message remote write carries native histograms in (prompb
 * types.proto, Prometheus 2.40 on), integer form; the fields written:
 *
 *   Histogram  { uint64 count_int = 1; double sum = 3; sint32 schema = 4;
 *                uint64 zero_count_int = 6;
 *                repeated BucketSpan negative_spans = 8; repeated sint64 negative_deltas = 9;
 *                repeated BucketSpan positive_spans = 11; repeated sint64 positive_deltas = 12;
 *                int64 timestamp = 15; }
 *   BucketSpan { sint32 offset = 1; uint32 length = 2; }
 *
 * zero_threshold (5) stays 0: the agent's zero bucket holds exact zeros only.
 * The two counts are members of oneofs, so they are written even when 0.
 */
const KEYS: NativeHistogramKeys = {
  count: 0x08,
  sum: 0x19,
  schema: 0x20,
  zeroCount: 0x30,
  negativeSpan: 0x42,
  negativeDelta: 0x4a,
  positiveSpan: 0x5a,
  positiveDelta: 0x62,
};
const TIMESTAMP_KEY = 0x78;

/** Encodes Histogram messages into one reused buffer. */
export class HistogramMessageWriter {
  private readonly sink = new ByteSink(1024);
  private readonly scratch = new ByteSink(1024);

  /** The message's bytes (without a key or length of its own), valid until the next call. */
  write(h: NativeHistogram, timestampMs: number): Uint8Array {
    const sink = this.sink;
    sink.pos = 0;
    writeNativeHistogram(sink, h, KEYS, this.scratch);
    sink.reserve(11);
    sink.byte(TIMESTAMP_KEY);
    sink.varint(timestampMs);
    return sink.buf.subarray(0, sink.pos);
  }
}
