import { describe, expect, it } from 'vitest';
import { planBatch, type PendingAppend } from '../../agent/spool/append-batch.js';
import { FRAME_HEADER_BYTES, frameChecksumOk, readFrameHeader } from '../../agent/spool/record-frame.js';
import { SEGMENT_HEADER_BYTES } from '../../agent/spool/segment-file.js';
import { countTurns } from '../support/event-loop-turns.js';
import { payload } from './helpers.js';

const SALT = 0x5eed;

function pending(payloads: Buffer[]): PendingAppend {
  return { payloads, appendedAtMs: 1_700_000_000_000, bytes: payloads.reduce((n, p) => n + FRAME_HEADER_BYTES + p.length, 0), resolve: () => {}, reject: () => {} };
}

describe('planBatch', () => {
  it('frames a large batch in slices, with turns of the event loop between them, every frame whole and in order', async () => {
    // 96 MiB in one appendMany, as a flush of a few hundred thousand series hands a sink queue.
    const records = Array.from({ length: 384 }, (_, i) => payload(i + 1, 256 * 1024));
    const { result: chunks, turns } = await countTurns(() =>
      planBatch([pending(records.slice(0, 200)), pending(records.slice(200))], { segment: undefined, segmentBytes: 32 << 20, salt: SALT, nextSeq: 7 }),
    );
    expect(turns).toBeGreaterThan(0);
    // A new segment whenever the next frame would pass segmentBytes: 127 frames of 256 KiB fit in 32 MiB with the header.
    expect(chunks.map((c) => c.offsets.length)).toEqual([127, 127, 127, 3]);
    let seq = 7;
    for (const c of chunks) {
      expect(c.firstSeq).toBe(seq);
      let at = SEGMENT_HEADER_BYTES;
      for (const offset of c.offsets) {
        expect(offset).toBe(at);
        const h = readFrameHeader(c.buf, at);
        if (typeof h === 'string') throw new Error(`frame ${seq}: ${h}`);
        expect(h.seq).toBe(seq);
        expect(frameChecksumOk(c.buf, at, h, SALT)).toBe(true);
        expect(c.buf.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + h.length).equals(records[seq - 7]!)).toBe(true);
        at += FRAME_HEADER_BYTES + h.length;
        seq++;
      }
      expect(at).toBe(c.buf.length);
    }
    expect(seq).toBe(7 + 384);
  });
});
