/** Bytes that grow by doubling, and the protobuf wire types written into them (remote write, the protobuf exposition). */

export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** `pos` is where the next byte goes. */
export class ByteSink {
  buf: Uint8Array;
  pos = 0;
  private view: DataView;

  constructor(size = 1 << 16) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }

  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  byte(b: number): void {
    this.buf[this.pos++] = b;
  }

  /** Non-negative integers up to 2^53; the caller has reserved room (10 bytes at most). */
  varint(n: number): void {
    const buf = this.buf;
    let pos = this.pos;
    while (n >= 0x80) {
      buf[pos++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    buf[pos++] = n;
    this.pos = pos;
  }

  /** A signed integer (sint32, sint64) as its zigzag varint; within ±2^52. Arithmetic, as bit operators would cut it to 32 bits. */
  sint(n: number): void {
    this.varint(n >= 0 ? n * 2 : -n * 2 - 1);
  }

  double(v: number): void {
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  /** A length-delimited field (key, length) holding what `from` has written. */
  field(key: number, from: ByteSink): void {
    this.reserve(11 + from.pos);
    this.byte(key);
    this.varint(from.pos);
    // Most fields are a value or a label, tens of bytes: a loop beats making a subarray to copy them.
    if (from.pos < 256) this.copy(from.buf, 0, from.pos);
    else {
      this.buf.set(from.buf.subarray(0, from.pos), this.pos);
      this.pos += from.pos;
    }
  }

  copy(from: Uint8Array, start: number, end: number): void {
    const buf = this.buf;
    let pos = this.pos;
    // Label runs are tens of bytes: a loop beats a native copy's call cost there.
    for (let i = start; i < end; i++) buf[pos++] = from[i]!;
    this.pos = pos;
  }

  /**
   * A message field (key, length) of two string fields: a label pair, in
   * remote write's Label and the exposition's LabelPair alike. Its length is
   * written in place as one byte, as a pair is almost always under 128
   * bytes, and widened by moving the bytes up when it is not.
   */
  stringPair(key: number, firstKey: number, first: string, secondKey: number, second: string): void {
    this.reserve(32 + 3 * (first.length + second.length));
    this.byte(key);
    const lengthAt = this.pos;
    this.byte(0);
    const start = this.pos;
    this.string(firstKey, first);
    this.string(secondKey, second);
    const length = this.pos - start;
    if (length < 0x80) {
      this.buf[lengthAt] = length;
      return;
    }
    const extra = varintSize(length) - 1;
    this.reserve(extra);
    this.buf.copyWithin(start + extra, start, start + length);
    this.pos = lengthAt;
    this.varint(length);
    this.pos += length;
  }

  /** A string field (key, length, UTF-8 bytes); the caller has reserved room for 15 + 3 × length bytes. */
  string(key: number, s: string): void {
    const n = s.length;
    let ascii = n < 128;
    for (let i = 0; ascii && i < n; i++) if (s.charCodeAt(i) >= 0x80) ascii = false;
    this.buf[this.pos++] = key;
    if (ascii) {
      const buf = this.buf;
      let pos = this.pos;
      buf[pos++] = n;
      for (let i = 0; i < n; i++) buf[pos++] = s.charCodeAt(i);
      this.pos = pos;
      return;
    }
    const bytes = Buffer.from(s, 'utf8');
    this.varint(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }
}

