import type { Attributes } from '@opentelemetry/api';

/**
 * The aggregator hands out one attributes object per series for the series'
 * life, so its key is worked out once, not on every flush.
 */
const cache = new WeakMap<Attributes, string>();

/**
 * Identity of one series within a metric: its attributes sorted by key, so
 * `{a, b}` and `{b, a}` are one series whatever order the producer built
 * them in. JSON keeps keys and values apart without an escaping scheme.
 */
export function attributesKey(attributes: Attributes): string {
  let key = cache.get(attributes);
  if (key === undefined) {
    const keys = Object.keys(attributes).sort();
    const flat: unknown[] = [];
    for (const k of keys) flat.push(k, attributes[k]);
    key = JSON.stringify(flat);
    cache.set(attributes, key);
  }
  return key;
}
