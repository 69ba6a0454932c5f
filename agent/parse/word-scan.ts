/**
 * Word-at-a-time helpers for the statsd hot path. A JavaScript loop over bytes
 * costs about a nanosecond a byte; reading four bytes per step through a
 * DataView and finding delimiters with the SWAR "has zero byte" trick cuts
 * the passes over a line's name and tags by four.
 */

const ONES = 0x01010101;
const HIGHS = 0x80808080 | 0;

/** Repeats a byte into all four lanes of a word. */
export function lanes(byte: number): number {
  return Math.imul(byte, ONES);
}

/**
 * A mask whose lowest set bit marks the first (lowest-addressed, little-endian)
 * zero byte of x. Bits above the first match may be spurious; only the lowest is used.
 */
export function zeroBytes(x: number): number {
  return (x - ONES) & ~x & HIGHS;
}

/** Index (0–3) of the lowest flagged byte of a non-zero zeroBytes() mask. */
export function firstLane(mask: number): number {
  return (31 - Math.clz32(mask & -mask)) >>> 3;
}

/** The low `n` bytes (0–3) of a word. */
export function lowBytes(w: number, n: number): number {
  return w & ((1 << (n << 3)) - 1);
}

/**
 * Folds a word into the hash: the multiply is off the dependency chain, so a
 * word costs the chain an add and a rotate; the rotate keeps word order
 * significant, and finishHash avalanches the result before the table uses
 * its low bits. statsd-line.ts writes this out inline in its scan loop.
 */
export function mixWord(h: number, w: number): number {
  h = (h + Math.imul(w, 0x9e3779b1)) | 0;
  return (h << 13) | (h >>> 19);
}

/** An independent second fold (other multiplier and rotation): 64 bits of identity in all. */
export function mixWord2(h: number, w: number): number {
  h = (h + Math.imul(w ^ 0x27d4eb2f, 0x85ebca77)) | 0;
  return (h << 17) | (h >>> 15);
}

/** MurmurHash3's finaliser. */
export function finishHash(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
