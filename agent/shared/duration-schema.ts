import { z } from 'zod';
import { parseDuration } from './duration.js';

// The same grammar as parseDuration, which remains the authority at runtime;
// it only reaches the JSON Schema so editors can flag a bad duration as it is
// typed. test/config/json-schema.test.ts checks that the two agree.
export const DURATION_PATTERN = '^\\s*(\\d+(\\.\\d+)?(ms|s|m|h))+\\s*$';

export const duration = z
  .union([z.string().meta({ pattern: DURATION_PATTERN }), z.number().nonnegative()])
  .transform((value, ctx) => {
    if (typeof value === 'number') return value * 1000;
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration (use e.g. 500ms, 10s, 1m, 1h)` });
      return z.NEVER;
    }
    return ms;
  })
  .describe('A duration such as "500ms", "10s", "1m" or "1h"; a bare number is seconds.');
