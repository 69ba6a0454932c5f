import { ByteSink } from '../byte-sink.js';
import { writeNativeBuckets, type NativeHistogram } from '../native-histogram.js';

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
const COUNT_INT_KEY = 0x08;
const SUM_KEY = 0x19;
const SCHEMA_KEY = 0x20;
const ZERO_COUNT_INT_KEY = 0x30;
const NEGATIVE_SPANS_KEY = 0x42;
const NEGATIVE_DELTAS_KEY = 0x4a;
const POSITIVE_SPANS_KEY = 0x5a;
const POSITIVE_DELTAS_KEY = 0x62;
const TIMESTAMP_KEY = 0x78;

/** Encodes Histogram messages into one reused buffer. */
export class HistogramMessageWriter {
  private readonly sink = new ByteSink(1024);
  private readonly scratch = new ByteSink(1024);

  /** The message's bytes (without a key or length of its own), valid until the next call. */
  write(h: NativeHistogram, timestampMs: number): Uint8Array {
    const sink = this.sink;
    sink.pos = 0;
    sink.reserve(64);
    sink.byte(COUNT_INT_KEY);
    sink.varint(h.count);
    sink.byte(SUM_KEY);
    sink.double(h.sum);
    sink.byte(SCHEMA_KEY);
    sink.sint(h.schema);
    sink.byte(ZERO_COUNT_INT_KEY);
    sink.varint(h.zeroCount);
    writeNativeBuckets(sink, h.negative, NEGATIVE_SPANS_KEY, NEGATIVE_DELTAS_KEY, this.scratch);
    writeNativeBuckets(sink, h.positive, POSITIVE_SPANS_KEY, POSITIVE_DELTAS_KEY, this.scratch);
    sink.reserve(11);
    sink.byte(TIMESTAMP_KEY);
    sink.varint(timestampMs);
    return sink.buf.subarray(0, sink.pos);
  }
}
