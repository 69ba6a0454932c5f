import { createRequire } from 'node:module';
import fc from 'fast-check';
import { compress, uncompress } from 'snappyjs';
import { describe, expect, it } from 'vitest';
import { compressBlock } from '../../../agent/export/remote-write/snappy-block.js';

describe('compressBlock', () => {
  it('uses the native binding on this platform (linux-x64 has a prebuilt one)', () => {
    expect(() => createRequire(import.meta.url)('snappy')).not.toThrow();
    expect(compressBlock).not.toBe(compress);
  });

  it('writes the block format snappyjs reads back (remote write receivers decode it so)', () => {
    fc.assert(
      // Random bytes, and text-like ones that compress: both paths of the encoder.
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200_000 }), fc.string({ maxLength: 50_000 }).map((s) => new Uint8Array(Buffer.from(s.repeat(3))))), (input) => {
        const out = compressBlock(input);
        expect(Buffer.from(uncompress(out))).toEqual(Buffer.from(input));
      }),
      { numRuns: 50 },
    );
  });
});
