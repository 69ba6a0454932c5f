/*
 * The messages of the Remote-Write 1.0 specification (prometheus.io/docs/specs/
 * remote_write_spec, "Protocol"), written field by field into one reused
 * buffer:
 *
 *   WriteRequest { repeated TimeSeries timeseries = 1; }   (2 and 3 reserved)
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
 *   Label        { string name = 1; string value = 2; }
 *   Sample       { double value = 1; int64 timestamp = 2; }
 *
 * A general protobuf writer (protobufjs) allocates an object per field it
 * writes; at 2.8 million samples a flush (100,000 mixed series, timers on
 * 128 buckets) that garbage and its collection took over 10 s of the 10 s
 * flush interval. Here a series' labels are written once per flush into a
 * LabelBlock and copied as bytes into each of its samples.
 */

import { ByteSink, varintSize } from '../byte-sink.js';

// Field keys: (field number << 3) | wire type (2 length-delimited, 1 64-bit, 0 varint).
const TIMESERIES_KEY = 0x0a;
const LABEL_KEY = 0x0a;
const SAMPLE_KEY = 0x12;
const LABEL_NAME_KEY = 0x0a;
const LABEL_VALUE_KEY = 0x12;
const SAMPLE_VALUE_KEY = 0x09;
const SAMPLE_TIMESTAMP_KEY = 0x10;
const HISTOGRAM_KEY = 0x22;

/**
 * The spec's stale marker, the NaN 0x7ff0000000000002, as little-endian
 * bytes: written as bits, because a NaN's payload is not guaranteed to
 * survive JavaScript arithmetic and typed-array stores.
 */
const STALE_NAN_BYTES = [0x02, 0, 0, 0, 0, 0, 0xf0, 0x7f] as const;

/** Room a label needs at most in a LabelBlock: key and length bytes, and UTF-8's 3 bytes per UTF-16 unit. */
function labelRoom(name: string, value: string): number {
  return 30 + 3 * (name.length + value.length);
}

/** One Label field (key, length, message) on its own: a `__name__`, an `le` or a `quantile`, encoded once and copied into many series. */
export function encodeLabelField(name: string, value: string): Uint8Array {
  const block = new LabelBlock(labelRoom(name, value));
  block.begin('');
  block.add(name, value);
  block.finish();
  return block.bytes.slice(0, block.end);
}

/**
 * One series' own labels as Label fields, sorted, with the two places where
 * a sample's `__name__` and, for buckets and quantiles, its `le` or
 * `quantile` go. Rewritten for each series; its bytes are copied into every
 * sample of the series.
 */
export class LabelBlock {
  private readonly sink: ByteSink;
  /** Byte offset where `__name__` goes: after every label whose name sorts before it. */
  nameAt = 0;
  /** Byte offset where the extra label (`le`, `quantile`) goes; at or after nameAt. */
  extraAt = 0;
  /** Where the labels after the extra one resume: past a label of the extra's own name, which the extra replaces. */
  extraResume = 0;
  private extraName = '';
  private named = false;
  private placed = false;

  constructor(initialBytes?: number) {
    this.sink = new ByteSink(initialBytes);
  }

  get bytes(): Uint8Array {
    return this.sink.buf;
  }

  get end(): number {
    return this.sink.pos;
  }

  /** Starts the block of a series whose samples may carry an extra label of this name ('' for none; else one that sorts after `__name__`). */
  begin(extraName: string): void {
    this.sink.pos = 0;
    this.extraName = extraName;
    this.named = false;
    this.placed = extraName === '';
    this.nameAt = 0;
    this.extraAt = 0;
    this.extraResume = 0;
  }

  /** Adds a label; labels must come in ascending name order, and only encodeLabelField adds one named `__name__`. */
  add(name: string, value: string): void {
    const sink = this.sink;
    if (!this.named && name > '__name__') {
      this.named = true;
      this.nameAt = sink.pos;
    }
    const atExtra = !this.placed && name >= this.extraName;
    if (atExtra) {
      this.placed = true;
      this.extraAt = sink.pos;
      this.extraResume = sink.pos;
    }
    sink.stringPair(LABEL_KEY, LABEL_NAME_KEY, name, LABEL_VALUE_KEY, value);
    if (atExtra && name === this.extraName) this.extraResume = sink.pos;
  }

  /** Closes the block once every label is in. */
  finish(): void {
    if (!this.named) this.nameAt = this.sink.pos;
    if (!this.placed) {
      this.extraAt = this.sink.pos;
      this.extraResume = this.sink.pos;
    }
  }
}

/**
 * Builds WriteRequest bodies series by series, each series of one sample
 * (and, for a counter this sink had not sent, a 0 at its start before it).
 */
export class WriteRequestWriter {
  private readonly sink = new ByteSink();
  private count = 0;
  private tsBytes = new Uint8Array(0);
  private sampleLength = 0;

  get seriesCount(): number {
    return this.count;
  }

  /** The timestamp (ms) every sample written from now on carries. */
  setTimestamp(timestampMs: number): void {
    const s = new ByteSink(16);
    s.varint(timestampMs);
    this.tsBytes = s.buf.slice(0, s.pos);
    this.sampleLength = 1 + 8 + 1 + this.tsBytes.length;
  }

  /**
   * One series: the block's labels with `name` (a Label field) in its place
   * and `extra` (a Label field, or undefined) in its; `value` 'stale' writes
   * the spec's stale marker. With `zeroAtMs` a sample of 0 at that time
   * comes first.
   */
  series(block: LabelBlock, name: Uint8Array, extra: Uint8Array | undefined, value: number | 'stale', zeroAtMs: number): void {
    const labels = block.bytes;
    const labelBytes =
      extra === undefined ? block.end + name.length : block.extraAt + name.length + extra.length + (block.end - block.extraResume);
    const zeroLength = zeroAtMs < 0 ? 0 : 1 + 8 + 1 + varintSize(zeroAtMs);
    const samplesBytes = 2 + this.sampleLength + (zeroLength === 0 ? 0 : 2 + zeroLength);
    const length = labelBytes + samplesBytes;
    const sink = this.sink;
    sink.reserve(length + 11);
    sink.byte(TIMESERIES_KEY);
    sink.varint(length);
    sink.copy(labels, 0, block.nameAt);
    sink.copy(name, 0, name.length);
    if (extra === undefined) {
      sink.copy(labels, block.nameAt, block.end);
    } else {
      sink.copy(labels, block.nameAt, block.extraAt);
      sink.copy(extra, 0, extra.length);
      sink.copy(labels, block.extraResume, block.end);
    }
    if (zeroLength > 0) {
      sink.byte(SAMPLE_KEY);
      sink.byte(zeroLength);
      sink.byte(SAMPLE_VALUE_KEY);
      sink.double(0);
      sink.byte(SAMPLE_TIMESTAMP_KEY);
      sink.varint(zeroAtMs);
    }
    sink.byte(SAMPLE_KEY);
    sink.byte(this.sampleLength);
    sink.byte(SAMPLE_VALUE_KEY);
    if (value === 'stale') {
      for (const b of STALE_NAN_BYTES) sink.byte(b);
    } else {
      sink.double(value);
    }
    sink.byte(SAMPLE_TIMESTAMP_KEY);
    sink.copy(this.tsBytes, 0, this.tsBytes.length);
    this.count++;
  }

  /**
   * One series of native histogram samples: the block's labels with `name`
   * in its place, then each Histogram message (as HistogramMessageWriter
   * writes them, timestamps included) in the order given.
   */
  histogramSeries(block: LabelBlock, name: Uint8Array, histograms: readonly Uint8Array[]): void {
    let length = block.end + name.length;
    for (const h of histograms) length += 1 + varintSize(h.length) + h.length;
    const sink = this.sink;
    sink.reserve(length + 11);
    sink.byte(TIMESERIES_KEY);
    sink.varint(length);
    sink.copy(block.bytes, 0, block.nameAt);
    sink.copy(name, 0, name.length);
    sink.copy(block.bytes, block.nameAt, block.end);
    for (const h of histograms) {
      sink.byte(HISTOGRAM_KEY);
      sink.varint(h.length);
      sink.copy(h, 0, h.length);
    }
    this.count++;
  }

  /** The WriteRequest written so far, as a view of the writer's buffer valid until the next write; the writer starts over empty. */
  take(): Uint8Array {
    const out = this.sink.buf.subarray(0, this.sink.pos);
    this.sink.pos = 0;
    this.count = 0;
    return out;
  }
}
