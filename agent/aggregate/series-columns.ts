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
 * A block of columns has a fixed number of slots (ColumnBlocks adds blocks
 * as series grow), so a series may keep its block.
 */
export class SeriesColumns {
  /** Cumulative sum (counter) or last value (gauge). */
  readonly value: Float64Array;
  readonly sum: Float64Array;
  readonly count: Float64Array;
  readonly startTimeMs: Float64Array;
  readonly lastSeenMs: Float64Array;
  private used = 0;
  private readonly free: number[] = [];

  /** `onRoom`: called when a slot is given back to a block that had none free. */
  constructor(
    capacity: number,
    private readonly onRoom?: (block: SeriesColumns) => void,
  ) {
    this.value = new Float64Array(capacity);
    this.sum = new Float64Array(capacity);
    this.count = new Float64Array(capacity);
    this.startTimeMs = new Float64Array(capacity);
    this.lastSeenMs = new Float64Array(capacity);
  }

  /** Whether take() has a slot to give. */
  get hasRoom(): boolean {
    return this.free.length > 0 || this.used < this.value.length;
  }

  /** A slot for a new series, zeroed but for its start time; the block must have room. */
  take(startTimeMs: number): number {
    const slot = this.free.pop() ?? this.used++;
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
    if (this.free.length === 1 && this.used === this.value.length) this.onRoom?.(this);
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
}

/** Slots in the largest block: 2.5 MB of columns. */
const MAX_BLOCK_SLOTS = 1 << 16;

/**
 * A store's columns, in blocks that double in size up to MAX_BLOCK_SLOTS
 * and are never copied. Doubling one set of columns instead, the growth
 * past 1,048,576 series allocated and copied 80 MB and held the event
 * loop 122 ms (a scratch script creating series on top of a million, one
 * core).
 */
export class ColumnBlocks {
  private current: SeriesColumns;
  /** Blocks that were full and got a slot back. */
  private readonly roomy: SeriesColumns[] = [];
  private readonly onRoom = (block: SeriesColumns) => this.roomy.push(block);

  /** `blockSlots`: slots of the first block; each next one has twice as many, up to MAX_BLOCK_SLOTS. */
  constructor(private blockSlots = 1024) {
    this.current = new SeriesColumns(blockSlots, this.onRoom);
  }

  /** A block with a slot for a new series: the one being filled, one given a slot back, or a new one. */
  withRoom(): SeriesColumns {
    if (this.current.hasRoom) return this.current;
    while (this.roomy.length > 0) {
      const block = this.roomy[this.roomy.length - 1]!;
      if (block.hasRoom) return block;
      this.roomy.pop();
    }
    this.blockSlots = Math.min(this.blockSlots * 2, MAX_BLOCK_SLOTS);
    this.current = new SeriesColumns(this.blockSlots, this.onRoom);
    return this.current;
  }
}
