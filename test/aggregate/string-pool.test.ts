import { describe, expect, it } from 'vitest';
import { StringPool } from '../../agent/aggregate/string-pool.js';

describe('StringPool', () => {
  // Which copy of a string comes back cannot be seen from JavaScript; what can is that equal strings are kept once, and the bound.
  it('keeps one entry per distinct value, and starts afresh past its bound', () => {
    const pool = new StringPool(3);
    for (const v of ['prod', ['pr', 'od'].join(''), 'staging', 'prod']) expect(pool.get(v)).toBe(v);
    expect(pool.size).toBe(2);
    pool.get('eu');
    expect(pool.size).toBe(3);
    // Full: a new value empties it first.
    expect(pool.get('us')).toBe('us');
    expect(pool.size).toBe(1);
  });
});
