import protobuf, { type Long } from 'protobufjs/light.js';

/** A label as the remote-write proto has it. */
export interface Label {
  name: string;
  value: string;
}

/**
 * The messages of the Remote-Write 1.0 specification (prometheus.io/docs/specs/
 * remote_write_spec, "Protocol"), with its field numbers; fields 2 and 3 of
 * WriteRequest are reserved there and never written. Defined here rather than
 * in a .proto file, which `tsc` would not copy into dist/.
 */
const root = protobuf.Root.fromJSON({
  nested: {
    prometheus: {
      nested: {
        WriteRequest: { fields: { timeseries: { rule: 'repeated', type: 'TimeSeries', id: 1 } } },
        TimeSeries: {
          fields: {
            labels: { rule: 'repeated', type: 'Label', id: 1 },
            samples: { rule: 'repeated', type: 'Sample', id: 2 },
          },
        },
        Label: { fields: { name: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
        Sample: { fields: { value: { type: 'double', id: 1 }, timestamp: { type: 'int64', id: 2 } } },
      },
    },
  },
});

const WriteRequest = root.lookupType('prometheus.WriteRequest');
const TimeSeries = root.lookupType('prometheus.TimeSeries');
const LabelType = root.lookupType('prometheus.Label');
const Sample = root.lookupType('prometheus.Sample');

// Wire types: 1 is 64-bit (double), 2 length-delimited (messages), 0 varint (int64).
const tag = (type: protobuf.Type, field: string, wireType: number) => ((type.fields[field]!.id << 3) | wireType) >>> 0;
const TIMESERIES_TAG = tag(WriteRequest, 'timeseries', 2);
const LABEL_TAG = tag(TimeSeries, 'labels', 2);
const SAMPLE_TAG = tag(TimeSeries, 'samples', 2);
const VALUE_TAG = tag(Sample, 'value', 1);
const TIMESTAMP_TAG = tag(Sample, 'timestamp', 0);

/**
 * The spec's stale marker, the NaN 0x7ff0000000000002, as the two 32-bit
 * words protobufjs writes a fixed64 from. Written as bits, not as a double:
 * a NaN's payload is not guaranteed to survive JavaScript arithmetic and
 * typed-array stores. double and fixed64 share wire type 1, so on the wire
 * it is the double field.
 */
const STALE_NAN_BITS: Long = { low: 0x00000002, high: 0x7ff00000, unsigned: true };

/** One Label message, encoded once and then copied into every series that carries it. */
export function encodeLabel(label: Label): Uint8Array {
  return LabelType.encode(label).finish();
}

/**
 * Builds one WriteRequest series by series. Labels arrive encoded
 * (encodeLabel), so a label shared by many series (a point's labels across
 * its buckets, a metric's name, an `le`) is encoded once per batch rather
 * than once per series; this is most of the encoding time saved.
 */
export class WriteRequestBuilder {
  private writer = protobuf.Writer.create();
  private count = 0;

  get seriesCount(): number {
    return this.count;
  }

  /**
   * A series of one sample; `value` 'stale' writes the spec's stale marker.
   * With `zeroAtMs` (earlier than timestampMs) a sample of 0 at that time
   * comes first. Labels must be sorted by name already.
   */
  add(labels: readonly Uint8Array[], value: number | 'stale', timestampMs: number, zeroAtMs?: number): void {
    const w = this.writer;
    w.uint32(TIMESERIES_TAG).fork();
    for (const l of labels) w.uint32(LABEL_TAG).bytes(l);
    if (zeroAtMs !== undefined) w.uint32(SAMPLE_TAG).fork().uint32(VALUE_TAG).double(0).uint32(TIMESTAMP_TAG).int64(zeroAtMs).ldelim();
    w.uint32(SAMPLE_TAG).fork().uint32(VALUE_TAG);
    if (value === 'stale') w.fixed64(STALE_NAN_BITS);
    else w.double(value);
    w.uint32(TIMESTAMP_TAG).int64(timestampMs).ldelim();
    w.ldelim();
    this.count++;
  }

  /** The encoded WriteRequest; the builder starts over empty. */
  finish(): Uint8Array {
    const out = this.writer.finish();
    this.writer = protobuf.Writer.create();
    this.count = 0;
    return out;
  }
}
