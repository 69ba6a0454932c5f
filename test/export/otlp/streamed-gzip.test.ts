/**
 * A gzip body fed piece by piece: what comes out inflates to the pieces in
 * order, across pieces much larger than the compressor's high-water mark
 * (so writes wait for it to drain), and a body given up half-way leaves no
 * unhandled rejection behind.
 */
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { StreamedGzip } from '../../../agent/export/otlp/streamed-gzip.js';

describe('StreamedGzip', () => {
  it('inflates to its pieces joined in order, pieces far past the high-water mark among them', async () => {
    const pieces = [Buffer.from('first piece;'), randomBytes(3 << 20), Buffer.alloc(1 << 20, 7), Buffer.from(';last')];
    const body = new StreamedGzip();
    for (const p of pieces) await body.write(p);
    expect(gunzipSync(await body.end()).equals(Buffer.concat(pieces))).toBe(true);
  });

  it('makes a valid empty body from no pieces', async () => {
    expect(gunzipSync(await new StreamedGzip().end()).length).toBe(0);
  });

  it('is given up without an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const body = new StreamedGzip();
      await body.write(randomBytes(1 << 16));
      body.destroy();
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
      await expect(body.end()).rejects.toThrow(/given up/);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
