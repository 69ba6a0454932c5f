/** Maps a map is split into: each holds about 1/64 of the keys. */
const SHARDS = 64;

/**
 * A Map from strings, split by a hash of the key into maps a 64th of its
 * size. A Map grows by building its table anew in one piece: the one of
 * the agent's label sets, past 1,048,576 keys, held the event loop 160 ms
 * (a scratch script creating series on top of a million, one core); split,
 * each growth is a 64th of that. The hash reads every character of the
 * key, once per lookup, which only the creation of a series makes.
 */
export class ShardedMap<V> {
  private readonly shards: Array<Map<string, V>> = Array.from({ length: SHARDS }, () => new Map<string, V>());

  get size(): number {
    let n = 0;
    for (const shard of this.shards) n += shard.size;
    return n;
  }

  get(key: string): V | undefined {
    return this.shardOf(key).get(key);
  }

  set(key: string, value: V): void {
    this.shardOf(key).set(key, value);
  }

  delete(key: string): boolean {
    return this.shardOf(key).delete(key);
  }

  private shardOf(key: string): Map<string, V> {
    // FNV-1a over the UTF-16 code units.
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    return this.shards[(h >>> 0) % SHARDS]!;
  }
}
