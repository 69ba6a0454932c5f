/**
 * The distinct members of one set series in the current interval, as 52-bit
 * hashes in an open-addressing table of doubles: adding a member allocates
 * nothing, unlike a Set of numbers, which boxes every value past 31 bits.
 */
export class MemberSet {
  private table: Float64Array;
  private mask: number;
  size = 0;
  /** The distinct count of the last complete interval; -1 until one completed. */
  lastCount = -1;

  constructor(
    /** The first table, of a power-of-two length, zeroed; the set comes back to it after a burst. */
    readonly home: Float64Array = new Float64Array(16),
  ) {
    this.table = home;
    this.mask = home.length - 1;
  }

  /** `hash` is a non-negative integer below 2^53; its low bits index the table (ToInt32 keeps them). */
  add(hash: number): void {
    // 0 marks an empty cell, so the one hash that is 0 is stored as 2^52 instead.
    const key = hash === 0 ? 0x10000000000000 : hash;
    const table = this.table;
    let slot = key & this.mask;
    for (;;) {
      const cell = table[slot]!;
      if (cell === key) return;
      if (cell === 0) break;
      slot = (slot + 1) & this.mask;
    }
    table[slot] = key;
    if (++this.size * 2 > table.length) this.grow();
  }

  /** Closes an interval: its distinct count becomes the last one, and the members are forgotten. */
  endInterval(): void {
    this.lastCount = this.size;
    this.clear();
  }

  clear(): void {
    // A table that grew for a burst shrinks back at the interval's end.
    if (this.table.length > 1024) {
      this.table = this.home.fill(0);
      this.mask = this.home.length - 1;
    } else {
      this.table.fill(0);
    }
    this.size = 0;
  }

  private grow(): void {
    const old = this.table;
    this.table = new Float64Array(old.length * 2);
    this.mask = this.table.length - 1;
    for (const key of old) {
      if (key === 0) continue;
      let slot = key & this.mask;
      while (this.table[slot] !== 0) slot = (slot + 1) & this.mask;
      this.table[slot] = key;
    }
  }
}
