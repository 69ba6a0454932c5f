import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineFramer } from '../../agent/ingest/line-framer.js';

interface Run {
  framer: LineFramer;
  /** One entry per onLines call, with the index of the push (or 'end') that produced it. */
  out: Array<{ from: number | 'end'; buf: Buffer }>;
  oversize: number[];
  push(chunk: Buffer | string): void;
  end(): void;
  text(): string;
}

function run(maxLineBytes?: number): Run {
  let current: number | 'end' = 0;
  const r: Run = {
    framer: undefined as unknown as LineFramer,
    out: [],
    oversize: [],
    push(chunk) {
      r.framer.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      current = (current as number) + 1;
    },
    end() {
      current = 'end';
      r.framer.end();
    },
    text: () => Buffer.concat(r.out.map((o) => o.buf)).toString('utf8'),
  };
  r.framer = new LineFramer({
    maxLineBytes,
    onLines: (buf) => r.out.push({ from: current, buf }),
    onOversize: (bytes) => r.oversize.push(bytes),
  });
  return r;
}

/** What the framer must deliver: the input minus every line longer than max, and how many lines that drops. */
function model(input: Uint8Array, max: number): { kept: Buffer; dropped: number } {
  const parts: Buffer[] = [];
  let dropped = 0;
  let s = 0;
  const buf = Buffer.from(input);
  while (s < buf.length) {
    const nl = buf.indexOf(10, s);
    const end = nl === -1 ? buf.length : nl;
    if (end - s > max) dropped++;
    else parts.push(buf.subarray(s, nl === -1 ? end : nl + 1));
    s = end + 1;
  }
  return { kept: Buffer.concat(parts), dropped };
}

describe('LineFramer', () => {
  it('hands on one buffer per read holding every complete line of it, and carries the partial line', () => {
    const r = run();
    r.push('a:1|c\nb:2|c\nc:');
    r.push('3|c\nd:4');
    r.push('|c\n');
    expect(r.out.map((o) => [o.from, o.buf.toString()])).toEqual([
      [0, 'a:1|c\nb:2|c\n'],
      [1, 'c:3|c\n'],
      [2, 'd:4|c\n'],
    ]);
    expect(r.framer.bufferedBytes).toBe(0);
  });

  it('passes a view of the read, not a copy, when no partial line is carried', () => {
    const r = run();
    const chunk = Buffer.from('a:1|c\nb:2|c\ntail');
    r.push(chunk);
    expect(r.out).toHaveLength(1);
    expect(r.out[0]!.buf.buffer).toBe(chunk.buffer);
    expect(r.out[0]!.buf.byteOffset).toBe(chunk.byteOffset);
    expect(r.out[0]!.buf.toString()).toBe('a:1|c\nb:2|c\n');
  });

  it('copies a carried partial line, so the read it came from can be reused by the sender', () => {
    const r = run();
    const chunk = Buffer.from('x:1');
    r.push(chunk);
    chunk.fill(0x7a);
    r.push('|c\n');
    expect(r.text()).toBe('x:1|c\n');
  });

  it('keeps a multi-byte UTF-8 character split across reads intact', () => {
    const whole = Buffer.from('city:1|c|#name:zürich\n');
    const cut = whole.indexOf(0xc3) + 1; // between the two bytes of ü (0xc3 0xbc)
    expect(whole[cut]).toBe(0xbc);
    const r = run();
    r.push(whole.subarray(0, cut));
    r.push(whole.subarray(cut));
    expect(Buffer.concat(r.out.map((o) => o.buf))).toEqual(whole);
  });

  it('end() delivers a last line that has no newline, once', () => {
    const r = run();
    r.push('a:1|c\nb:2|c');
    r.end();
    r.end();
    expect(r.out.map((o) => [o.from, o.buf.toString()])).toEqual([
      [0, 'a:1|c\n'],
      ['end', 'b:2|c'],
    ]);
  });

  it('accepts a line of exactly maxLineBytes and drops one byte more, keeping the lines around it', () => {
    const r = run(8);
    r.push('12345678\n123456789\nok:1|c\n');
    expect(r.text()).toBe('12345678\nok:1|c\n');
    expect(r.oversize).toEqual([9]);
  });

  it('drops an oversize line spread over many reads, up to its newline, and never buffers more than the limit', () => {
    const r = run(100);
    r.push('good:1|c\nbad:');
    let maxBuffered = 0;
    for (let i = 0; i < 1000; i++) {
      r.push('x'.repeat(1000));
      maxBuffered = Math.max(maxBuffered, r.framer.bufferedBytes);
    }
    r.push('xxx|c\nnext:');
    r.push('2|c\n');
    expect(maxBuffered).toBe(0);
    expect(r.oversize).toHaveLength(1);
    expect(r.oversize[0]).toBeGreaterThan(100);
    expect(r.text()).toBe('good:1|c\nnext:2|c\n');
  });

  it('counts an oversize line that grows past the limit only through a carried partial', () => {
    const r = run(10);
    r.push('abcdef');
    r.push('ghij');
    expect(r.framer.bufferedBytes).toBe(10);
    r.push('k\nok\n');
    expect(r.oversize).toEqual([11]);
    expect(r.text()).toBe('ok\n');
  });

  it('drops an oversize unterminated last line instead of delivering its head at end()', () => {
    const r = run(4);
    r.push('a\nbbbbbbbb');
    r.end();
    expect(r.text()).toBe('a\n');
    expect(r.oversize).toHaveLength(1);
  });

  it('drops oversize lines in the middle of one large read and still delivers the rest as one buffer', () => {
    const r = run(4);
    r.push('a\nbbbbb\ncc\ndddddd\ne\n');
    expect(r.out).toHaveLength(1);
    expect(r.out[0]!.buf.toString()).toBe('a\ncc\ne\n');
    expect(r.oversize).toEqual([5, 6]);
  });

  it('rejects a maxLineBytes that is not a positive integer', () => {
    expect(() => new LineFramer({ maxLineBytes: 0, onLines: () => {}, onOversize: () => {} })).toThrow(RangeError);
  });

  it('property: any bytes cut at any points come out as the input minus oversize lines, in whole lines, one buffer per read', () => {
    const byte = fc.oneof({ arbitrary: fc.constant(10), weight: 1 }, { arbitrary: fc.integer({ min: 0, max: 255 }), weight: 4 });
    fc.assert(
      fc.property(
        fc.array(byte, { maxLength: 400 }).map((a) => Uint8Array.from(a)),
        fc.array(fc.nat(), { maxLength: 30 }),
        fc.integer({ min: 1, max: 24 }),
        fc.boolean(),
        (input, cuts, max, callEnd) => {
          const points = [...new Set(cuts.map((c) => (input.length === 0 ? 0 : c % (input.length + 1))))].sort((a, b) => a - b);
          const r = run(max);
          let prev = 0;
          for (const p of [...points, input.length]) {
            r.push(Buffer.from(input.subarray(prev, p)));
            prev = p;
          }
          if (callEnd) r.end();

          const { kept, dropped } = model(input, max);
          const got = Buffer.concat(r.out.map((o) => o.buf));
          if (callEnd) {
            expect(got).toEqual(kept);
          } else {
            // Without end() the unterminated tail is still held back.
            const lastNl = kept.lastIndexOf(10);
            expect(got).toEqual(kept.subarray(0, lastNl + 1));
          }
          // Only end() may deliver a line without its newline; every read delivers at most one buffer.
          for (const o of r.out) {
            expect(o.buf.length).toBeGreaterThan(0);
            if (o.from !== 'end') expect(o.buf[o.buf.length - 1]).toBe(10);
          }
          const froms = r.out.map((o) => o.from);
          expect(new Set(froms).size).toBe(froms.length);
          // An unterminated oversize tail is only known once it passes the limit, which may be before end().
          expect(r.oversize).toHaveLength(dropped);
          for (const b of r.oversize) expect(b).toBeGreaterThan(max);
          expect(r.framer.bufferedBytes).toBeLessThanOrEqual(max);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
