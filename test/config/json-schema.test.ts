import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../agent/shared/duration.js';
import { configJsonSchema } from '../../agent/config/json-schema.js';
import { DURATION_PATTERN } from '../../agent/config/schema.js';

const committed = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'config', 'tally.schema.json');

describe('config/tally.schema.json', () => {
  it('matches the schema generated from the zod config schema (regenerate: npm run build && node scripts/gen-config-schema.mjs)', () => {
    expect(JSON.parse(readFileSync(committed, 'utf8'))).toEqual(configJsonSchema());
  });

  it('is draft 2020-12, closed to unknown keys, and describes durations as typed', () => {
    const schema = configJsonSchema() as {
      $schema: string;
      additionalProperties: boolean;
      properties: { aggregation: { properties: { flush_interval: { default: unknown; anyOf: unknown[] } } } };
    };
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.additionalProperties).toBe(false);
    const flush = schema.properties.aggregation.properties.flush_interval;
    expect(flush.default).toBe('10s');
    expect(flush.anyOf).toEqual([
      { type: 'string', pattern: DURATION_PATTERN },
      { type: 'number', minimum: 0 },
    ]);
  });
});

describe('DURATION_PATTERN', () => {
  const pattern = new RegExp(DURATION_PATTERN);
  const accepts = (s: string) => pattern.test(s) === (parseDuration(s) !== undefined);

  it('accepts exactly what parseDuration accepts, for duration-like strings', () => {
    const piece = fc.tuple(
      fc.oneof(fc.nat({ max: 999 }).map(String), fc.constantFrom('1.5', '0.25', '.5', '1.', '')),
      fc.constantFrom('ms', 's', 'm', 'h', 'd', 'sm', ''),
    );
    const text = fc
      .tuple(fc.array(piece, { maxLength: 4 }), fc.constantFrom('', ' ', '\t', '\n'), fc.constantFrom('', ' ', 'x'))
      .map(([pieces, pad, tail]) => pad + pieces.map(([n, u]) => n + u).join('') + pad + tail);
    fc.assert(fc.property(text, accepts), { numRuns: 2000 });
  });

  it('accepts exactly what parseDuration accepts, for arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom(...'0123456789.mshd \t'.split('')) }), accepts), {
      numRuns: 2000,
    });
    fc.assert(fc.property(fc.string(), accepts), { numRuns: 500 });
  });
});
