import type { HrTime } from '@opentelemetry/api';

/** What a slot holds. */
export const NUMBER = 1;
export const HISTOGRAM = 2;
export const EXPONENTIAL = 3;
export type RememberedKind = typeof NUMBER | typeof HISTOGRAM | typeof EXPONENTIAL;

/** Kind bit: the point had a sum. */
const HAS_SUM = 8;

// A slot's whole numbers (Uint32Array, STRIDE_U a slot) and doubles (Float64Array, STRIDE_F a slot).
const STAMP = 0;
const KIND = 1;
const START_S = 2;
const START_NS = 3;
const END_S = 4;
const END_NS = 5;
const CELL_AT = 6;
/** Pairs of the classic buckets, or of the exponential positive range. */
const PAIRS = 7;
/** Pairs of the exponential negative range, which follow the positive ones. */
const NEG_PAIRS = 8;
/** The interned bucket bounds (classic), or the scale + SCALE_BIAS (exponential). */
const LAYOUT = 9;
const STRIDE_U = 10;
const VALUE = 0;
const SUM = 1;
const ZERO = 2;
const STRIDE_F = 3;
const SCALE_BIAS = 64;

/**
 * One batch's remembered points, a slot each, in typed arrays: the GC never
 * walks them. Bucket counts are kept as (index, count) pairs of the buckets
 * that hold anything, one after another in `cells` in the order written: a
 * timer has 129 buckets by default and a series fills a few (kept whole,
 * they were 48 MB of the 147 MB a delta sink kept at 100,000 series).
 */
class Generation {
  /** The batch whose points this holds; a slot holds one only if its stamp is this. 0: none. */
  batch = 0;
  /** Slots written in this batch. */
  count = 0;
  u: Uint32Array;
  f: Float64Array;
  cells = new Float64Array(1024);
  used = 0;

  constructor(capacity: number) {
    this.u = new Uint32Array(capacity * STRIDE_U);
    this.f = new Float64Array(capacity * STRIDE_F);
  }

  grow(capacity: number): void {
    const u = new Uint32Array(capacity * STRIDE_U);
    u.set(this.u);
    this.u = u;
    const f = new Float64Array(capacity * STRIDE_F);
    f.set(this.f);
    this.f = f;
  }

  /** Room for `n` more cells, by doubling: a batch's cells are written once and in order. */
  room(n: number): Float64Array {
    if (this.used + n > this.cells.length) {
      let size = this.cells.length * 2;
      while (size < this.used + n) size *= 2;
      const cells = new Float64Array(size);
      cells.set(this.cells.subarray(0, this.used));
      this.cells = cells;
    }
    return this.cells;
  }

  holds(slot: number): boolean {
    return this.batch !== 0 && this.u[slot * STRIDE_U + STAMP] === this.batch;
  }
}

/** The slots of one metric's series, by the series' key (series-key.ts). */
export type MetricSlots = Map<string, number>;

/**
 * A delta sink's memory of the last point it sent of each series: for a
 * million series it was a million small objects (and the histograms'
 * arrays), about 500 MB of heap per batch kept, a second 500 MB for the
 * batch before, and every full collection marked them all: 1.1 s stops at
 * 1M native series (bench/out heap and --trace-gc readings, see
 * bench/README.md). Here a series is a slot of typed arrays, and the only
 * objects are a Map entry a series and a Map a metric.
 *
 * Two generations take turns: `memory` is what the last batch sent, which
 * the batch under way reads, and that batch writes `next`, recycled from
 * the batch before last. Until the next batch begins, that older generation
 * stays whole as `spare`, which abandon() goes back to.
 */
export class DeltaMemory {
  private readonly metrics = new Map<string, MetricSlots>();
  private entries = 0;
  /** Entries the last batch lacked: those this batch lacks too are what a sweep would free. */
  private lackedBefore = 0;
  /** A sweep under way: the metrics left to read, and the entries left of the one it stopped in. */
  private sweeping: Iterator<[string, MetricSlots]> | undefined;
  private sweepMetric: [string, MetricSlots] | undefined;
  private sweepEntries: Iterator<[string, number]> | undefined;
  private capacity = 1024;
  private readonly free: number[] = [];
  private top = 0;
  private batches = 0;
  private memory = new Generation(this.capacity);
  private spare = new Generation(this.capacity);
  /** The generation under way, between begin() and end(). */
  private next: Generation | undefined;
  /** Whether `spare` still holds the batch before the last one, for abandon(). */
  private spareIsBefore = false;
  /** One HrTime for the many deltas that start at the same moment. */
  private lastStart: HrTime = [0, 0];

  constructor(
    /** Forgotten series are swept once more than this many, and more than a quarter of all, wait for it. */
    private readonly sweepMinimum = 1024,
    /** Entries a sweep reads at one end(): 65,536, of which half went, held the loop 8-11 ms. */
    private readonly sweepBudget = 65_536,
  ) {}

  begin(): void {
    this.next = this.spare;
    this.spareIsBefore = false;
    this.next.batch = ++this.batches;
    this.next.count = 0;
    this.next.used = 0;
  }

  end(): void {
    const next = this.next;
    if (next === undefined) return;
    this.spare = this.memory;
    this.memory = next;
    this.next = undefined;
    this.spareIsBefore = true;
    // Series absent from this batch and the one before are forgotten: a sweep starts once at least min(lacked then, lacked now)
    // of them would be a good share, as it reads every entry: reading 2M that all stayed took 28-44 ms (bench/out sweep reading).
    const lacked = this.entries - next.count;
    if (this.sweeping === undefined && Math.min(lacked, this.lackedBefore) > Math.max(this.sweepMinimum, this.entries >> 2)) this.sweeping = this.metrics.entries();
    if (this.sweeping !== undefined) this.sweepSome();
    this.lackedBefore = this.entries - next.count;
  }

  abandon(): void {
    if (this.next !== undefined) {
      // Begun and never ended: the memory is still the last batch's. What it overwrote of the one before is gone, and not needed:
      // that one can no longer be taken back.
      this.next.batch = 0;
      this.next = undefined;
      return;
    }
    if (!this.spareIsBefore) return;
    const abandoned = this.memory;
    this.memory = this.spare;
    this.spare = abandoned;
    abandoned.batch = 0;
    this.spareIsBefore = false;
  }

  /** Between begin() and end(). */
  get inBatch(): boolean {
    return this.next !== undefined;
  }

  /** Series remembered from the last batch. */
  get size(): number {
    return this.memory.count;
  }

  /** Series with a slot: those remembered, and those forgotten and not yet swept. */
  get tracked(): number {
    return this.entries;
  }

  metric(key: string): MetricSlots {
    let slots = this.metrics.get(key);
    if (slots === undefined) this.metrics.set(key, (slots = new Map()));
    return slots;
  }

  slot(metric: MetricSlots, key: string): number {
    let slot = metric.get(key);
    if (slot === undefined) {
      slot = this.free.pop() ?? this.top++;
      if (slot >= this.capacity) {
        this.capacity *= 2;
        this.memory.grow(this.capacity);
        this.spare.grow(this.capacity);
      }
      metric.set(key, slot);
      this.entries++;
    }
    return slot;
  }

  /** Whether the batch under way wrote the slot already (the series came twice). */
  written(slot: number): boolean {
    return this.next!.holds(slot);
  }

  /** Whether the last batch remembers the slot, from the same start time. */
  remembers(slot: number, start: HrTime): boolean {
    const m = this.memory;
    const at = slot * STRIDE_U;
    return m.holds(slot) && m.u[at + START_S] === start[0] && m.u[at + START_NS] === start[1];
  }

  kind(slot: number): RememberedKind {
    return (this.memory.u[slot * STRIDE_U + KIND]! & 7) as RememberedKind;
  }

  /** A number's value, or a histogram's count. */
  value(slot: number): number {
    return this.memory.f[slot * STRIDE_F + VALUE]!;
  }

  sum(slot: number): number | undefined {
    return this.memory.u[slot * STRIDE_U + KIND]! & HAS_SUM ? this.memory.f[slot * STRIDE_F + SUM] : undefined;
  }

  zeroCount(slot: number): number {
    return this.memory.f[slot * STRIDE_F + ZERO]!;
  }

  /** The bounds' number (classic), or the scale (exponential). */
  layout(slot: number): number {
    const v = this.memory.u[slot * STRIDE_U + LAYOUT]!;
    return this.kind(slot) === EXPONENTIAL ? v - SCALE_BIAS : v;
  }

  /** Where the slot's pairs are in cells(): [start, positive pairs, negative pairs]. */
  pairs(slot: number): [at: number, positive: number, negative: number] {
    const u = this.memory.u;
    const at = slot * STRIDE_U;
    return [u[at + CELL_AT]!, u[at + PAIRS]!, u[at + NEG_PAIRS]!];
  }

  cells(): Float64Array {
    return this.memory.cells;
  }

  /** Where the last point sent ended, as an HrTime shared by the deltas that start there. */
  endTime(slot: number): HrTime {
    const u = this.memory.u;
    const s = u[slot * STRIDE_U + END_S]!;
    const ns = u[slot * STRIDE_U + END_NS]!;
    if (this.lastStart[0] !== s || this.lastStart[1] !== ns) this.lastStart = [s, ns];
    return this.lastStart;
  }

  /** The series did not change: the batch under way keeps what the last one remembered. */
  keep(slot: number): void {
    const from = this.memory;
    const to = this.next!;
    const at = slot * STRIDE_U;
    to.u.set(from.u.subarray(at, at + STRIDE_U), at);
    to.f.set(from.f.subarray(slot * STRIDE_F, slot * STRIDE_F + STRIDE_F), slot * STRIDE_F);
    const n = 2 * (from.u[at + PAIRS]! + from.u[at + NEG_PAIRS]!);
    if (n > 0) {
      const start = from.u[at + CELL_AT]!;
      to.room(n).set(from.cells.subarray(start, start + n), to.used);
      to.u[at + CELL_AT] = to.used;
      to.used += n;
    }
    this.stamp(to, slot);
  }

  /** Remembers a point of the batch under way; its buckets follow through writeCells(). */
  write(slot: number, kind: RememberedKind, start: HrTime, end: HrTime, value: number, sum: number | undefined, layout: number, zeroCount = 0): void {
    const g = this.next!;
    const u = g.u;
    const at = slot * STRIDE_U;
    u[at + KIND] = kind | (sum === undefined ? 0 : HAS_SUM);
    u[at + START_S] = start[0];
    u[at + START_NS] = start[1];
    u[at + END_S] = end[0];
    u[at + END_NS] = end[1];
    u[at + CELL_AT] = g.used;
    u[at + PAIRS] = 0;
    u[at + NEG_PAIRS] = 0;
    u[at + LAYOUT] = kind === EXPONENTIAL ? layout + SCALE_BIAS : layout;
    const f = g.f;
    f[slot * STRIDE_F + VALUE] = value;
    f[slot * STRIDE_F + SUM] = sum ?? 0;
    f[slot * STRIDE_F + ZERO] = zeroCount;
    this.stamp(g, slot);
  }

  /** Remembers the non-empty buckets of `counts` (index offset + i) for the slot just written: the positive range first. */
  writeCells(slot: number, counts: ArrayLike<number>, offset: number, negative: boolean): void {
    const g = this.next!;
    let filled = 0;
    for (let i = 0; i < counts.length; i++) if (counts[i] !== 0) filled++;
    if (filled === 0) return;
    const cells = g.room(2 * filled);
    let w = g.used;
    for (let i = 0; i < counts.length; i++) {
      if (counts[i] !== 0) {
        cells[w++] = offset + i;
        cells[w++] = counts[i]!;
      }
    }
    g.used = w;
    g.u[slot * STRIDE_U + (negative ? NEG_PAIRS : PAIRS)] = filled;
  }

  private stamp(g: Generation, slot: number): void {
    const at = slot * STRIDE_U + STAMP;
    if (g.u[at] !== g.batch) g.count++;
    g.u[at] = g.batch;
  }

  /**
   * Forgets, a bounded number of entries at a time, the series neither the
   * last batch nor the one before holds; a sweep goes on where it stopped,
   * one step each end(). Deleting is what costs: a million entries in one
   * go held the loop 224 ms (bench/out sweep reading).
   */
  private sweepSome(): void {
    const keepsBefore = this.spareIsBefore;
    let budget = this.sweepBudget;
    while (budget > 0) {
      if (this.sweepEntries === undefined) {
        const metric = this.sweeping!.next();
        if (metric.done === true) {
          this.sweeping = undefined;
          return;
        }
        this.sweepMetric = metric.value;
        this.sweepEntries = metric.value[1].entries();
      }
      const [key, slots] = this.sweepMetric!;
      for (;;) {
        if (budget-- <= 0) return;
        const entry = this.sweepEntries.next();
        if (entry.done === true) break;
        const slot = entry.value[1];
        if (this.memory.holds(slot) || (keepsBefore && this.spare.holds(slot))) continue;
        slots.delete(entry.value[0]);
        this.free.push(slot);
        this.entries--;
      }
      this.sweepEntries = undefined;
      if (slots.size === 0) this.metrics.delete(key);
    }
  }
}
