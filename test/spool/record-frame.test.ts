import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeFrame, FRAME_HEADER_BYTES, frameChecksumOk, readFrameHeader, readU64, writeU64 } from '../../agent/spool/record-frame.js';

const frame = fc.record({
  salt: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  seq: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })),
  at: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  payload: fc.uint8Array({ maxLength: 300 }),
});

function encode(f: { salt: number; seq: number; at: number; payload: Uint8Array }): Buffer {
  const buf = Buffer.alloc(FRAME_HEADER_BYTES + f.payload.length);
  expect(encodeFrame(buf, 0, f.salt, f.seq, f.at, f.payload)).toBe(buf.length);
  return buf;
}

describe('record frame', () => {
  it('reads back what was written', () => {
    fc.assert(
      fc.property(frame, (f) => {
        const buf = encode(f);
        const h = readFrameHeader(buf, 0);
        expect(h).toMatchObject({ length: f.payload.length, seq: f.seq, appendedAtMs: f.at });
        if (typeof h === 'string') return;
        expect(frameChecksumOk(buf, 0, h, f.salt)).toBe(true);
        expect(Buffer.from(buf.subarray(FRAME_HEADER_BYTES))).toEqual(Buffer.from(f.payload));
      }),
    );
  });

  it('any flipped bit is caught: by the magic, a 64-bit field out of range, or the checksum', () => {
    fc.assert(
      fc.property(frame, fc.nat(), fc.integer({ min: 0, max: 7 }), (f, at, bit) => {
        const buf = encode(f);
        buf[at % buf.length]! ^= 1 << bit;
        const h = readFrameHeader(buf, 0);
        if (typeof h === 'string') return;
        // A changed length is caught by the reader's bounds, or the checksum over what it then covers.
        if (h.length !== f.payload.length) {
          expect(h.length > f.payload.length || !frameChecksumOk(buf, 0, h, f.salt)).toBe(true);
          return;
        }
        expect(frameChecksumOk(buf, 0, h, f.salt)).toBe(false);
      }),
    );
  });

  it('a frame checks out only under the salt it was written with', () => {
    fc.assert(
      fc.property(frame, fc.integer({ min: 0, max: 2 ** 32 - 1 }), (f, other) => {
        fc.pre(other !== f.salt);
        const buf = encode(f);
        const h = readFrameHeader(buf, 0);
        if (typeof h === 'string') throw new Error(h);
        expect(frameChecksumOk(buf, 0, h, other)).toBe(false);
      }),
    );
  });

  it('64-bit fields hold every safe integer and reject what is past it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (v) => {
        const b = Buffer.alloc(8);
        writeU64(b, 0, v);
        expect(readU64(b, 0)).toBe(v);
        expect(b.readBigUInt64LE(0)).toBe(BigInt(v));
      }),
    );
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(2n ** 53n);
    expect(readU64(b, 0)).toBe(-1);
  });
});
