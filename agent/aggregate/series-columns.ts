/**
 * The numbers of a store's series, a column each, indexed by a series'
 * slot. As fields of the series object each double was a heap number of
 * its own (V8 boxes a double field): objects for every garbage collection
 * to trace, and bytes on the heap it scans. In columns the heap of a
 * series went from 225 to 182 bytes for a counter and from 272 to 227 for
 * the mix, at 100,000 series (bench/micro-memory.mjs); the ingest rate did
 * not change (bench/micro-cardinality.mjs). A slot is the series' for its
 * life; its id changes when expiry compacts the list, its slot does not.
 *
 * A column is replaced by a larger one as slots run out: read it through
 * the store every time, never keep it across a turn of the event loop.
 */
export class SeriesColumns {
  /** Cumulative sum (counter) or last value (gauge). */
  value: Float64Array;
  sum: Float64Array;
  count: Float64Array;
  startTimeMs: Float64Array;
  lastSeenMs: Float64Array;
  private used = 0;
  private readonly free: number[] = [];

  constructor(capacity = 1024) {
    this.value = new Float64Array(capacity);
    this.sum = new Float64Array(capacity);
    this.count = new Float64Array(capacity);
    this.startTimeMs = new Float64Array(capacity);
    this.lastSeenMs = new Float64Array(capacity);
  }

  /** A slot for a new series, zeroed but for its start time. */
  take(startTimeMs: number): number {
    const slot = this.free.pop() ?? this.used++;
    if (slot >= this.value.length) this.grow();
    this.value[slot] = 0;
    this.sum[slot] = 0;
    this.count[slot] = 0;
    this.startTimeMs[slot] = startTimeMs;
    this.lastSeenMs[slot] = startTimeMs;
    return slot;
  }

  /** Takes a slot back for the next new series. Its series must no longer read it (Series.detach). */
  give(slot: number): void {
    this.free.push(slot);
  }

  /** Columns of one slot holding this slot's numbers: for a series that expires while a batch may still read it. */
  copyOf(slot: number): SeriesColumns {
    const one = new SeriesColumns(1);
    one.take(this.startTimeMs[slot]!);
    one.value[0] = this.value[slot]!;
    one.sum[0] = this.sum[slot]!;
    one.count[0] = this.count[slot]!;
    one.lastSeenMs[0] = this.lastSeenMs[slot]!;
    return one;
  }

  private grow(): void {
    const capacity = this.value.length * 2;
    const wider = (from: Float64Array) => {
      const to = new Float64Array(capacity);
      to.set(from);
      return to;
    };
    this.value = wider(this.value);
    this.sum = wider(this.sum);
    this.count = wider(this.count);
    this.startTimeMs = wider(this.startTimeMs);
    this.lastSeenMs = wider(this.lastSeenMs);
  }
}
