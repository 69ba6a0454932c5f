import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compressBlock } from '../../../agent/export/remote-write/snappy-block.js';
import { encodeLabelField, LabelBlock, WriteRequestWriter } from '../../../agent/export/remote-write/write-request-writer.js';
import { decodeBody, rawSampleBits } from './helpers.js';

const labelName = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,40}$/).filter((n) => n !== '__name__');
// Values of every length class (one- and two-byte lengths) and every UTF-8 width.
const labelValue = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'grapheme', maxLength: 60 }), fc.string({ minLength: 100, maxLength: 400 }));
const sampleValue = fc.oneof(fc.double(), fc.constant('stale' as const));

describe('WriteRequestWriter', () => {
  it('writes what the spec proto reads back: labels in place, samples, timestamps, the stale marker', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(labelName, labelValue), { selector: ([n]) => n, maxLength: 8 }),
        fc.constantFrom('', 'le', 'quantile'),
        fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,60}$/),
        fc.string({ maxLength: 12 }),
        sampleValue,
        fc.integer({ min: 0, max: 2 ** 42 }),
        fc.option(fc.integer({ min: 0, max: 2 ** 42 }), { nil: undefined }),
        (pairs, extraName, metric, extraValue, value, timestampMs, zeroAtMs) => {
          const labels = [...pairs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
          const block = new LabelBlock();
          block.begin(extraName);
          for (const [n, v] of labels) block.add(n, v);
          block.finish();
          const writer = new WriteRequestWriter();
          writer.setTimestamp(timestampMs);
          const extra = extraName === '' ? undefined : encodeLabelField(extraName, extraValue);
          writer.series(block, encodeLabelField('__name__', metric), extra, value, zeroAtMs ?? -1);
          writer.series(block, encodeLabelField('__name__', `${metric}_sum`), undefined, 1, -1);
          expect(writer.seriesCount).toBe(2);
          const body = compressBlock(writer.take());
          expect(writer.seriesCount).toBe(0);
          const [first, second] = decodeBody(body);

          const sorted = (ls: Array<[string, string]>) => [...ls].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
          // The extra label replaces an own label of its name.
          const own = labels.filter(([n]) => extra === undefined || n !== extraName);
          const want: Array<[string, string]> = sorted([['__name__', metric], ...own, ...(extra === undefined ? [] : [[extraName, extraValue] as [string, string]])]);
          expect(first!.labels).toEqual(want);
          expect(second!.labels).toEqual(sorted([['__name__', `${metric}_sum`], ...labels]));

          const samples = [...(zeroAtMs === undefined ? [] : [{ value: 0, timestamp: zeroAtMs }]), { value: value === 'stale' ? NaN : value, timestamp: timestampMs }];
          expect(first!.samples).toEqual(samples);
          const bits = rawSampleBits(body)[0]!.at(-1);
          if (value === 'stale') expect(bits).toBe('7ff0000000000002');
          expect(second!.samples).toEqual([{ value: 1, timestamp: timestampMs }]);
        },
      ),
      { numRuns: 300 },
    );
  });
});
