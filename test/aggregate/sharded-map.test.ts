import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ShardedMap } from '../../agent/aggregate/sharded-map.js';

describe('ShardedMap', () => {
  it('answers get, set, delete and size as one Map does', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('set', 'delete', 'get'), fc.string({ maxLength: 6 }), fc.integer()), { maxLength: 300 }),
        (ops) => {
          const sharded = new ShardedMap<number>();
          const model = new Map<string, number>();
          for (const [op, key, value] of ops) {
            if (op === 'set') {
              sharded.set(key, value);
              model.set(key, value);
            } else if (op === 'delete') expect(sharded.delete(key)).toBe(model.delete(key));
            expect(sharded.get(key)).toBe(model.get(key));
            expect(sharded.size).toBe(model.size);
          }
        },
      ),
    );
  });

  it('spreads keys that differ in one place across its shards', () => {
    const map = new ShardedMap<number>();
    for (let i = 0; i < 64_000; i++) map.set(`["pod","web-${i}","route","/cart"]`, i);
    const sizes = (map as unknown as { shards: Array<Map<string, number>> }).shards.map((s) => s.size);
    // 1,000 a shard on average; none holds more than twice its share.
    expect(Math.max(...sizes)).toBeLessThan(2_000);
    expect(map.get('["pod","web-63999","route","/cart"]')).toBe(63_999);
  });
});
