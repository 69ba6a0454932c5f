/**
 * The bucket counts of histogram series, as views into shared slabs rather
 * than a typed array each: a typed array of its own carries an ArrayBuffer
 * object and a backing store beside its data, about 300 bytes of resident
 * memory more per series than a view into a slab (100,000 arrays of 129
 * doubles: 1,535 against 1,234 B each in RSS, node 20).
 *
 * Counts are 32-bit integers, half the bytes of doubles: 516 rather than
 * 1,032 a timer on the default 128 bounds. A count that does not fit (a
 * weight that is not whole, from a sample rate such as 0.3, or a bucket past
 * 2^32 - 1) moves its series to doubles of its own (sample-math.ts, observe).
 *
 * Counts of the same length share slabs. A series that expires or moves to
 * doubles gives its view back, and the next new series of that length takes
 * it, zeroed. Sets' member tables come from slabs the same way.
 */
export class BucketArena {
  private readonly pools = new Map<number, CellPool<Uint32Array>>();
  /** The first tables of sets' members (MemberSet): a table of their own cost a set series the same 300 bytes. */
  readonly memberTables = new CellPool<Float64Array>(16, (n) => new Float64Array(n));
  /** The bucket counts of exponential histograms, whose windows grow (ExponentialHistogram). */
  readonly exponentialCells = new CellPools();

  /** The pool of counts of this length, which a family of that many buckets takes its series' counts from. */
  poolFor(length: number): CellPool<Uint32Array> {
    let pool = this.pools.get(length);
    if (pool === undefined) this.pools.set(length, (pool = new CellPool<Uint32Array>(length, (n) => new Uint32Array(n))));
    return pool;
  }
}

/**
 * Holders a slab serves. 256 timers on the default 128 bounds make a 132 KB
 * slab: few enough slabs at a million series, and little memory left unused
 * in the last one.
 */
const SLAB_SERIES = 256;

/** Views of one length into slabs of one typed-array kind, with those given back handed out again first. */
export class CellPool<A extends Uint32Array | Float64Array> {
  private slab: A | undefined;
  private used = SLAB_SERIES;
  private readonly returned: A[] = [];

  constructor(
    readonly length: number,
    private readonly make: (cells: number) => A,
  ) {}

  /** Zeroed cells, for a new holder. */
  take(): A {
    const again = this.returned.pop();
    if (again !== undefined) return again.fill(0) as A;
    if (this.used === SLAB_SERIES) {
      this.slab = this.make(SLAB_SERIES * this.length);
      this.used = 0;
    }
    const start = this.used++ * this.length;
    return this.slab!.subarray(start, start + this.length) as A;
  }

  /** Takes cells back. The caller must no longer read them: they go to the next new holder. */
  give(cells: A): void {
    this.returned.push(cells);
  }
}

/** Where an exponential histogram's counts come from: zeroed 32-bit cells of the capacity asked, and where they go back to. */
export interface CountCells {
  take(capacity: number): Uint32Array;
  give(cells: Uint32Array): void;
}

/**
 * Exponential histograms' counts in slabs, one pool a capacity. As JS
 * arrays they lived on the V8 heap, and every minor garbage collection
 * takes longer the larger the old heap is, even when it holds only numbers:
 * with a million timers of two timings each, a scavenge took 8.4 ms with
 * the arrays (1.8 GB of heap) and 3.2 ms with these (0.84 GB), measured on
 * one core. At 100,000 timers a timer's heap went from 1,862 to 936 bytes and
 * its RSS from 4,714 to 2,559 (bench/micro-memory.mjs --values 20
 * --histograms native).
 */
export class CellPools implements CountCells {
  private readonly pools = new Map<number, CellPool<Uint32Array>>();

  take(capacity: number): Uint32Array {
    let pool = this.pools.get(capacity);
    if (pool === undefined) this.pools.set(capacity, (pool = new CellPool<Uint32Array>(capacity, (n) => new Uint32Array(n))));
    return pool.take();
  }

  give(cells: Uint32Array): void {
    this.pools.get(cells.length)?.give(cells);
  }
}

/** Cells of their own, for a histogram no arena serves (tests, one-off use). */
export const OWN_CELLS: CountCells = {
  take: (capacity) => new Uint32Array(capacity),
  give: () => {},
};
