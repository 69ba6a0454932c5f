import { SeriesLabels } from './series.js';
import { ChunkedList } from './chunked-list.js';
import { ShardedMap } from './sharded-map.js';
import { StringPool } from './string-pool.js';

/**
 * The distinct label sets of all series, each kept once: series with the
 * same labels under different names (a route, status and pod repeated on
 * every metric of a service) share one key and one attributes object, and a
 * series is found by its family and the number of its set, not by a string
 * of name and labels made per series. That string, its parts and a labels
 * object of each series' own were 270 of the 522 heap bytes of a counter
 * series (a heap snapshot of 100,000 counters with bench/micro-flush.mjs's
 * tags; bench/micro-memory.mjs measures the same feed).
 *
 * A set lives while a series uses it: expiry releases it, and its number is
 * given to the next new set.
 */
export class LabelSets {
  private readonly ids = new ShardedMap<number>();
  private readonly keys = new ChunkedList<string>();
  private readonly attributes = new ChunkedList<Record<string, string>>();
  private readonly users = new ChunkedList<number>();
  /** Numbers given out so far; freed ones are reused first. */
  private made = 0;
  private readonly unused: number[] = [];
  private readonly values = new StringPool();

  /** The number of the set of this key, or -1 when no series has it. */
  find(key: string): number {
    return this.ids.get(key) ?? -1;
  }

  /**
   * Counts one more series of the set with this key (its labels `sorted` by
   * name, which the key spells), making the set when it is new.
   */
  acquire(key: string, sorted: ReadonlyArray<readonly [string, string]>): number {
    let id = this.ids.get(key);
    if (id === undefined) {
      const attributes = new SeriesLabels();
      for (const [k, v] of sorted) attributes[k] = this.values.get(v);
      id = this.unused.pop() ?? this.made++;
      this.ids.set(key, id);
      this.keys.set(id, key);
      this.attributes.set(id, attributes);
      this.users.set(id, 0);
    }
    this.users.set(id, this.users.get(id) + 1);
    return id;
  }

  /** One series fewer of the set; the last one frees it. */
  release(id: number): void {
    const users = this.users.get(id) - 1;
    this.users.set(id, users);
    if (users > 0) return;
    this.ids.delete(this.keys.get(id));
    this.keys.set(id, '');
    this.attributes.set(id, EMPTY);
    this.unused.push(id);
  }

  /** The set's labels, shared by every series of it: read-only. */
  attributesOf(id: number): Record<string, string> {
    return this.attributes.get(id);
  }
}

const EMPTY: Record<string, string> = Object.freeze(new SeriesLabels());
