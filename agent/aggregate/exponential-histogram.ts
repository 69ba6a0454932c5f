import type { ExponentialHistogram as OtelExponentialHistogram } from '@opentelemetry/sdk-metrics';
import { OWN_CELLS, type CountCells } from './bucket-arena.js';
import { DEFAULT_MAX_SCALE, DEFAULT_MAX_SIZE, MIN_SCALE } from '../shared/exponential-scale.js';

/**
 * OpenTelemetry's base-2 exponential histogram, for one series: at scale s
 * the bucket with index i holds the values in (base^i, base^(i+1)], where
 * base = 2^(2^-s) (metrics.proto, ExponentialHistogramDataPoint). The scale
 * starts at `maxScale` and only goes down, by as little as it takes to keep
 * each of the positive and negative ranges within `maxSize` buckets, so the
 * resolution is always the finest the recorded range allows.
 *
 * Weights may be fractional (statsd sample rates); the OTLP encoder rounds
 * them, as it does for explicit buckets.
 */


export interface ExponentialHistogramOptions {
  /** Buckets per range (positive, negative); at least 4, so that MIN_SCALE holds any range of doubles. */
  maxSize?: number;
  /** Finest scale used, MIN_SCALE..20. */
  maxScale?: number;
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/**
 * v = significand * 2^exponent with significand in [1, 2), exactly, for any
 * finite v > 0 (subnormals included), read from the IEEE 754 bits.
 */
export function frexp2(v: number): { significand: number; exponent: number } {
  f64[0] = v;
  const biased = (u32[HI]! >>> 20) & 0x7ff;
  if (biased === 0) {
    // Subnormal: scale into the normal range first; 2^64 is exact.
    const r = frexp2(v * 2 ** 64);
    return { significand: r.significand, exponent: r.exponent - 64 };
  }
  u32[HI] = (u32[HI]! & 0x800fffff) | (1023 << 20);
  return { significand: Math.abs(f64[0]), exponent: biased - 1023 };
}

/**
 * The index of the bucket holding v (finite, > 0) at `scale`, exactly.
 * For scale <= 0 it is bit arithmetic on the exponent. For scale > 0 the
 * position inside an octave comes from log2 of the significand, which is
 * within an ulp; only when that lands within a hair of a boundary (where the
 * SDKs' log-based mappings can be one bucket off, as the data model
 * tolerates) is the significand raised to the 2^scale power in
 * double-double arithmetic to see which side of the boundary it is on.
 */
export function mapToIndex(v: number, scale: number): number {
  const { significand, exponent } = frexp2(v);
  if (scale <= 0) {
    // base^i = 2^(i * 2^-scale): the index is floor(log2 v / 2^-scale), one less at an exact boundary.
    return (significand === 1 ? exponent - 1 : exponent) >> -scale;
  }
  const perOctave = 2 ** scale;
  if (significand === 1) return exponent * perOctave - 1;
  const x = Math.log2(significand) * perOctave;
  let inOctave = Math.floor(x);
  if (x - inOctave < NEAR_BOUNDARY || inOctave + 1 - x < NEAR_BOUNDARY) inOctave = octaveIndexByPower(significand, scale) ?? inOctave;
  // log2 rounds up to 1 for the largest significands; they still belong to the octave's last bucket.
  return exponent * perOctave + Math.min(perOctave - 1, Math.max(0, inOctave));
}

/** log2 is within an ulp (< 2.3e-16 below 1), times at most 2^20: far inside this. */
const NEAR_BOUNDARY = 1e-7;
/** Veltkamp's splitter for doubles: 2^27 + 1. */
const SPLIT = 134217729;

/**
 * floor(log2(f^(2^scale))) for f in (1, 2), i.e. the j with
 * 2^(j/2^scale) < f <= 2^((j+1)/2^scale): f is squared `scale` times in
 * double-double (about 106 bits, relative error under 2^-80 after 20
 * squarings), keeping the power of two apart so nothing overflows.
 * Undefined in the (never observed) case of a result too close to a power
 * of two to decide.
 */
function octaveIndexByPower(f: number, scale: number): number | undefined {
  let hi = f;
  let lo = 0;
  let e = 0;
  for (let i = 0; i < scale; i++) {
    // (hi + lo)^2 = hi*hi (exactly, as p + err) + 2*hi*lo; lo*lo is below the precision kept.
    const p = hi * hi;
    const t = SPLIT * hi;
    const h = t - (t - hi);
    const l = hi - h;
    const err = h * h - p + 2 * h * l + l * l;
    const tail = err + 2 * hi * lo;
    hi = p + tail;
    lo = tail - (hi - p);
    // (m * 2^e)^2 = m^2 * 2^(2e), with m^2 in [1, 4) brought back to [1, 2).
    e *= 2;
    if (hi > 2 || (hi === 2 && lo >= 0)) {
      hi /= 2;
      lo /= 2;
      e++;
    }
  }
  const m = hi - 1 + lo;
  if (Math.abs(m) < 2 ** -70 || Math.abs(hi - 2 + lo) < 2 ** -70) return undefined;
  // Now f^(2^scale) = (hi + lo) * 2^e with hi + lo in (1, 2).
  return e;
}

/** One range's counts: index `offset + i` holds counts[i]. Plain data, as OTLP's Buckets. */
export interface BucketSpan {
  offset: number;
  counts: number[];
}

/** The same counts `change` scales coarser: index i becomes i >> change. */
export function downscaleSpan(span: BucketSpan, change: number): BucketSpan {
  if (change === 0 || span.counts.length === 0) return { offset: span.offset, counts: span.counts.slice() };
  const offset = span.offset >> change;
  const last = (span.offset + span.counts.length - 1) >> change;
  const counts = new Array<number>(last - offset + 1).fill(0);
  for (let i = 0; i < span.counts.length; i++) counts[((span.offset + i) >> change) - offset]! += span.counts[i]!;
  return { offset, counts };
}

/** The smallest change such that indices low..high, shifted by it, fit in maxSize buckets. */
function changeToFit(low: number, high: number, maxSize: number): number {
  let change = 0;
  while ((high >> change) - (low >> change) + 1 > maxSize) change++;
  return change;
}

/** A window's counts: 32-bit cells, or doubles once a count did not fit (a fractional weight, or past 2^32 - 1). */
type Counts = Uint32Array | Float64Array;
const NO_COUNTS: Counts = new Uint32Array(0);

/** Cells for a window of one value, or of several that are equal at the finest scale. */
const SMALL_WINDOW = 8;

/**
 * Counts over a window of indices [start, start + length): cell i holds
 * index start + i. Cells past `length` are zero. The cells come from
 * `cells` and go back to it when the window moves to larger ones or to
 * doubles.
 *
 * There are two capacities: a small window, and the histogram's maxSize.
 * Two different values make the scale drop until they are at most maxSize
 * buckets apart, and no further, so the window of any histogram that saw
 * two values is mostly near maxSize; sizes in between would only leave
 * cells behind in their pools as every series of a deploy grows at once.
 */
class Buckets {
  counts: Counts = NO_COUNTS;
  /**
   * Stored as int32 (`| 0`; indices stay within ±2^31 at scale 20): an
   * index computed as a double made V8 keep both fields as doubles, a boxed
   * number each that full collections mark: 120,000 of the heap's 210,000
   * boxed numbers at 100,000 mixed series (heap snapshot of the UDP
   * benchmark's mix, native histograms).
   */
  start = 0;
  length = 0;

  constructor(
    private cells: CountCells,
    private readonly maxSize: number,
  ) {}

  get empty(): boolean {
    return this.length === 0;
  }

  get end(): number {
    return this.start + this.length - 1;
  }

  add(index: number, weight: number): void {
    if (this.length === 0) {
      this.resize(1, 0);
      this.start = index | 0;
      this.put(0, weight);
    } else if (index < this.start) {
      this.resize(this.length + this.start - index, this.start - index);
      this.start = index | 0;
      this.put(0, weight);
    } else if (index > this.end) {
      this.resize(index - this.start + 1, 0);
      this.put(index - this.start, weight);
    } else {
      this.put(index - this.start, this.counts[index - this.start]! + weight);
    }
  }

  /** Index i moves to i >> change, in place: a cell only ever moves down, to one already passed. */
  downscale(change: number): void {
    if (change === 0 || this.length === 0) return;
    const start = this.start >> change;
    const length = (this.end >> change) - start + 1;
    for (let i = 0; i < this.length; i++) {
      const c = this.counts[i]!;
      const j = ((this.start + i) >> change) - start;
      if (c === 0 || j === i) continue;
      this.counts[i] = 0;
      this.put(j, this.counts[j]! + c);
    }
    this.start = start | 0;
    this.length = length | 0;
  }

  span(): BucketSpan {
    const counts = new Array<number>(this.length);
    for (let i = 0; i < this.length; i++) counts[i] = this.counts[i]!;
    return { offset: this.length === 0 ? 0 : this.start, counts };
  }

  /** Gives the cells back, keeping a copy of the counts: for a series that expires while a batch may still read it. */
  release(): void {
    const counts = this.counts;
    if (counts instanceof Uint32Array && counts.length > 0) {
      this.counts = counts.slice();
      this.cells.give(counts);
    }
    this.cells = OWN_CELLS;
  }

  private put(i: number, c: number): void {
    const counts = this.counts;
    counts[i] = c;
    // A 32-bit cell keeps whole counts up to 2^32 - 1; read back, one that did not fit differs.
    if (counts[i] !== c) this.widen(i, c);
  }

  private widen(i: number, c: number): void {
    const narrow = this.counts;
    if (!(narrow instanceof Uint32Array)) return;
    const wide = new Float64Array(narrow.length);
    wide.set(narrow);
    wide[i] = c;
    this.counts = wide;
    this.cells.give(narrow);
  }

  /** Makes the window `length` long, its counts moved up by `shift` cells. */
  private resize(length: number, shift: number): void {
    const counts = this.counts;
    if (length > counts.length) {
      const capacity = length <= SMALL_WINDOW ? SMALL_WINDOW : Math.max(length, this.maxSize);
      const next: Counts = counts instanceof Float64Array ? new Float64Array(capacity) : this.cells.take(capacity);
      next.set(counts.subarray(0, this.length), shift);
      if (counts instanceof Uint32Array && counts.length > 0) this.cells.give(counts);
      this.counts = next;
    } else if (shift > 0) {
      counts.copyWithin(shift, 0, this.length);
      counts.fill(0, 0, shift);
    }
    this.length = length | 0;
  }
}

export class ExponentialHistogram {
  readonly maxSize: number;
  readonly maxScale: number;
  scale: number;
  count = 0;
  sum = 0;
  zeroCount = 0;
  min = Infinity;
  max = -Infinity;
  private readonly positive: Buckets;
  private readonly negative: Buckets;

  /** `cells`: where the bucket counts live; a series' come from its arena (BucketArena.exponentialCells). */
  constructor(opts: ExponentialHistogramOptions = {}, cells: CountCells = OWN_CELLS) {
    this.maxSize = opts.maxSize ?? DEFAULT_MAX_SIZE;
    this.maxScale = opts.maxScale ?? DEFAULT_MAX_SCALE;
    if (!Number.isInteger(this.maxSize) || this.maxSize < 4) throw new RangeError(`maxSize must be an integer >= 4, not ${this.maxSize}`);
    if (!Number.isInteger(this.maxScale) || this.maxScale < MIN_SCALE || this.maxScale > DEFAULT_MAX_SCALE) {
      throw new RangeError(`maxScale must be an integer in ${MIN_SCALE}..${DEFAULT_MAX_SCALE}, not ${this.maxScale}`);
    }
    this.scale = this.maxScale;
    this.positive = new Buckets(cells, this.maxSize);
    this.negative = new Buckets(cells, this.maxSize);
  }

  /** Adds `weight` observations of `value`. False (and nothing recorded) for a non-finite value or a weight that is not > 0. */
  record(value: number, weight = 1): boolean {
    if (!Number.isFinite(value) || !(weight > 0) || !Number.isFinite(weight)) return false;
    this.count += weight;
    this.sum += value * weight;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    if (value === 0) {
      this.zeroCount += weight;
      return true;
    }
    const buckets = value > 0 ? this.positive : this.negative;
    let index = mapToIndex(Math.abs(value), this.scale);
    if (!buckets.empty) {
      const change = changeToFit(Math.min(buckets.start, index), Math.max(buckets.end, index), this.maxSize);
      if (change > 0) {
        this.downscale(change);
        // Coarser buckets nest the finer ones exactly, so the shifted index is the coarser bucket.
        index >>= change;
      }
    }
    buckets.add(index, weight);
    return true;
  }

  /** Adds another histogram's observations, at the finest scale both fit at together. */
  merge(other: ExponentialHistogram): void {
    if (other.count === 0) return;
    let scale = Math.min(this.scale, other.scale);
    for (const [mine, theirs] of [
      [this.positive, other.positive],
      [this.negative, other.negative],
    ] as const) {
      if (theirs.empty) continue;
      const low = theirs.start >> (other.scale - scale);
      const high = theirs.end >> (other.scale - scale);
      const lo = mine.empty ? low : Math.min(low, mine.start >> (this.scale - scale));
      const hi = mine.empty ? high : Math.max(high, mine.end >> (this.scale - scale));
      scale -= changeToFit(lo, hi, this.maxSize);
    }
    this.downscale(this.scale - scale);
    const theirChange = other.scale - scale;
    for (const [mine, theirs] of [
      [this.positive, other.positive],
      [this.negative, other.negative],
    ] as const) {
      for (let i = 0; i < theirs.length; i++) {
        if (theirs.counts[i]! > 0) mine.add((theirs.start + i) >> theirChange, theirs.counts[i]!);
      }
    }
    this.count += other.count;
    this.sum += other.sum;
    this.zeroCount += other.zeroCount;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }

  /** Makes every bucket `change` scales coarser; both ranges share the scale, as in OTLP. */
  downscale(change: number): void {
    if (change <= 0) return;
    if (this.scale - change < MIN_SCALE) throw new RangeError(`cannot go below scale ${MIN_SCALE}`);
    this.positive.downscale(change);
    this.negative.downscale(change);
    this.scale -= change;
  }

  /** Gives the counts' cells back to the arena, keeping a copy: the series expired, and a batch begun before may still read it. */
  release(): void {
    this.positive.release();
    this.negative.release();
  }

  positiveSpan(): BucketSpan {
    return this.positive.span();
  }

  negativeSpan(): BucketSpan {
    return this.negative.span();
  }

  /** The SDK's data point value, which @opentelemetry/otlp-transformer encodes as EXPONENTIAL_HISTOGRAM. */
  toOtel(): OtelExponentialHistogram {
    const positive = this.positive.span();
    const negative = this.negative.span();
    return {
      count: this.count,
      sum: this.sum,
      scale: this.scale,
      zeroCount: this.zeroCount,
      positive: { offset: positive.offset, bucketCounts: positive.counts },
      negative: { offset: negative.offset, bucketCounts: negative.counts },
      ...(this.count > 0 ? { min: this.min, max: this.max } : {}),
    };
  }
}
