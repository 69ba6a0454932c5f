import type { ParsedLine } from '../parse/statsd-line.js';

/**
 * Maps a line's raw identity (name, kind, tag list as sent) to a series id
 * without making a string: the hot path's only lookup. Several raw spellings
 * (tag orders, names that sanitize alike) may point at one series; the
 * canonical, order-independent key lives in the aggregator's slow path.
 *
 * An identity is known by two independent 32-bit hashes plus its kind and
 * the lengths of its name and tag list, so a lookup reads no key bytes. Two
 * different spellings agreeing on all of that would be merged; for a million
 * spellings the chance that any pair does is about 3 in 10^8 (the birthday
 * bound over 64 bits), far below what a byte-by-byte comparison on every
 * line would cost in throughput. statsd_exporter keys its series by a 64-bit
 * label hash on the same reasoning.
 *
 * Open addressing over power-of-two slots; entries live in typed arrays, so
 * an entry costs a few cells and no objects.
 */
export class AliasTable {
  private slots: Int32Array;
  private mask: number;
  private hashes: Uint32Array;
  private hashes2: Uint32Array;
  private lengths: Int32Array;
  private kinds: Uint8Array;
  private series: Int32Array;
  private malformedTags: Int32Array;
  size = 0;
  /** Tags of the last hit that give no label, counted per line by the caller. */
  hitMalformedTags = 0;

  constructor(initialCapacity = 1024) {
    let cap = 16;
    while (cap < initialCapacity * 2) cap <<= 1;
    this.slots = new Int32Array(cap);
    this.mask = cap - 1;
    const n = cap >> 1;
    this.hashes = new Uint32Array(n);
    this.hashes2 = new Uint32Array(n);
    this.lengths = new Int32Array(n);
    this.kinds = new Uint8Array(n);
    this.series = new Int32Array(n);
    this.malformedTags = new Int32Array(n);
  }

  /** The series id for this line's raw identity, or -1. */
  get(p: ParsedLine): number {
    const hash = p.hash;
    const lengths = identityLengths(p);
    let slot = hash & this.mask;
    for (;;) {
      const e = this.slots[slot]! - 1;
      if (e === -1) return -1;
      if (this.hashes[e] === hash && this.hashes2[e] === p.hash2 && this.lengths[e] === lengths && this.kinds[e] === p.kind) {
        this.hitMalformedTags = this.malformedTags[e]!;
        return this.series[e]!;
      }
      slot = (slot + 1) & this.mask;
    }
  }

  /** Records this raw identity for a series; the caller has checked that get() missed. */
  set(p: ParsedLine, seriesId: number, malformedTags: number): void {
    if ((this.size + 1) * 2 > this.slots.length) this.grow();
    const e = this.size++;
    this.hashes[e] = p.hash;
    this.hashes2[e] = p.hash2;
    this.lengths[e] = identityLengths(p);
    this.kinds[e] = p.kind;
    this.series[e] = seriesId;
    this.malformedTags[e] = malformedTags;
    this.insertSlot(e);
  }

  /**
   * Renumbers series after expiry: `remap[old]` is the new id, or -1 for an
   * expired series, whose spellings are forgotten. Markers (negative ids)
   * become what `markers` returns for them, -1 again forgetting the
   * spelling; by default they stay. Runs at flush time, never on the hot path.
   */
  remap(remap: Int32Array, markers: (marker: number) => number = (m) => m): void {
    const n = this.size;
    this.size = 0;
    this.slots.fill(0);
    for (let e = 0; e < n; e++) {
      const old = this.series[e]!;
      const id = old < 0 ? markers(old) : remap[old]!;
      if (id === -1) continue;
      const to = this.size++;
      this.hashes[to] = this.hashes[e]!;
      this.hashes2[to] = this.hashes2[e]!;
      this.lengths[to] = this.lengths[e]!;
      this.kinds[to] = this.kinds[e]!;
      this.series[to] = id;
      this.malformedTags[to] = this.malformedTags[e]!;
      this.insertSlot(to);
    }
  }

  private insertSlot(e: number): void {
    let slot = this.hashes[e]! & this.mask;
    while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask;
    this.slots[slot] = e + 1;
  }

  private grow(): void {
    const cap = this.slots.length * 2;
    this.slots = new Int32Array(cap);
    this.mask = cap - 1;
    const n = cap >> 1;
    this.hashes = copyInto(new Uint32Array(n), this.hashes);
    this.hashes2 = copyInto(new Uint32Array(n), this.hashes2);
    this.lengths = copyInto(new Int32Array(n), this.lengths);
    this.kinds = copyInto(new Uint8Array(n), this.kinds);
    this.series = copyInto(new Int32Array(n), this.series);
    this.malformedTags = copyInto(new Int32Array(n), this.malformedTags);
    for (let e = 0; e < this.size; e++) this.insertSlot(e);
  }
}

/** Name length and tag-list length (−1 for none) packed into one number. */
function identityLengths(p: ParsedLine): number {
  const tagLen = p.tagsStart === -1 ? 0 : p.tagsEnd - p.tagsStart + 1;
  return ((p.nameEnd - p.nameStart) << 16) | tagLen;
}

function copyInto<T extends Uint8Array | Int32Array | Uint32Array>(to: T, from: T): T {
  to.set(from);
  return to;
}
