import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../agent/export/retry-after.js';

const NOW = Date.parse('1994-11-06T08:49:00Z');

describe('parseRetryAfter', () => {
  it('reads delay-seconds', () => {
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(' 3 ', NOW)).toBe(3_000);
    expect(parseRetryAfter(['5', '9'], NOW)).toBe(5_000);
  });

  it("reads the three HTTP-date forms as GMT, relative to now", () => {
    expect(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', NOW)).toBe(37_000);
    expect(parseRetryAfter('Sunday, 06-Nov-94 08:49:37 GMT', NOW)).toBe(37_000);
    expect(parseRetryAfter('Sun Nov  6 08:49:37 1994', NOW)).toBe(37_000);
  });

  it('makes a date in the past 0', () => {
    expect(parseRetryAfter('Sun, 06 Nov 1994 08:48:00 GMT', NOW)).toBe(0);
  });

  it('gives undefined for anything else, so the caller keeps its own backoff', () => {
    for (const v of [undefined, '', '-1', '1.5', '5s', 'soon', '2026-11-22T10:00:00Z', 'Sun, 99 Nov 1994 08:49:37 GMT']) {
      expect(parseRetryAfter(v, NOW), String(v)).toBeUndefined();
    }
  });
});
