import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemberSet } from '../../agent/aggregate/member-set.js';

describe('MemberSet', () => {
  it('counts distinct members like a Set, across growth and clears', () => {
    const hash = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 53 - 1 }), fc.integer({ min: 0, max: 40 }));
    fc.assert(
      fc.property(fc.array(fc.array(hash, { maxLength: 3000 }), { minLength: 1, maxLength: 4 }), (intervals) => {
        const set = new MemberSet();
        for (const members of intervals) {
          for (const m of members) set.add(m);
          expect(set.size).toBe(new Set(members).size);
          set.clear();
          expect(set.size).toBe(0);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('counts the hash 0 as a member, not as an empty cell', () => {
    const set = new MemberSet();
    set.add(0);
    set.add(0);
    set.add(1);
    expect(set.size).toBe(2);
  });
});
