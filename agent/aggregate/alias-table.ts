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
 * Open addressing over power-of-two slots; an entry is ENTRY consecutive
 * cells of one typed array (its hashes, lengths, kind with malformed-tag
 * count, and series), so a lookup reads the cache line of its slot and the
 * one of its entry, and an entry costs no objects. The slots grow by
 * doubling, and the entries move into the larger slots a few at a time,
 * with each new entry, while the smaller slots still find the ones not yet
 * moved. Moved all at once, with six arrays of the entries' fields copied
 * to larger ones, the growth past a million entries held the event loop
 * 410 ms; as it is, the copy of the one entry array and the new slots take
 * what is left (a scratch script creating series on top of a million, one
 * core).
 */
export class AliasTable {
  private slots: Int32Array;
  private mask: number;
  /** While growing: the slots before the growth, which alone find entries [moved, movedUntil). */
  private oldSlots: Int32Array | undefined;
  private oldMask = 0;
  private moved = 0;
  private movedUntil = 0;
  /** ENTRY cells an entry: HASH, HASH2, LENGTHS, KIND_TAGS (kind, and malformed tags above 8 bits), SERIES. */
  private entries: Int32Array;
  size = 0;
  /** Tags of the last hit that give no label, counted per line by the caller. */
  hitMalformedTags = 0;

  constructor(initialCapacity = 1024) {
    let cap = 16;
    while (cap < initialCapacity * 2) cap <<= 1;
    this.slots = new Int32Array(cap);
    this.mask = cap - 1;
    this.entries = new Int32Array((cap >> 1) * ENTRY);
  }

  /**
   * The series id for this line's raw identity, or -1. The probe is
   * written out here rather than a call of find(): as a call, lines went
   * 13 % slower (bench/micro-cardinality.mjs at 100,000 series, medians of
   * three runs each way).
   */
  get(p: ParsedLine): number {
    const hash = p.hash | 0;
    const hash2 = p.hash2 | 0;
    const lengths = identityLengths(p);
    const entries = this.entries;
    const slots = this.slots;
    const mask = this.mask;
    let slot = hash & mask;
    for (;;) {
      const e = slots[slot]! - 1;
      if (e === -1) return this.oldSlots === undefined ? -1 : this.find(p, this.oldSlots, this.oldMask);
      const at = e * ENTRY;
      if (entries[at + HASH] === hash && entries[at + HASH2] === hash2 && entries[at + LENGTHS] === lengths && (entries[at + KIND_TAGS]! & 0xff) === p.kind) {
        this.hitMalformedTags = entries[at + KIND_TAGS]! >>> 8;
        return entries[at + SERIES]!;
      }
      slot = (slot + 1) & mask;
    }
  }

  /** get() in the slots before a growth, for the entries not yet moved. */
  private find(p: ParsedLine, slots: Int32Array, mask: number): number {
    const hash = p.hash | 0;
    const hash2 = p.hash2 | 0;
    const lengths = identityLengths(p);
    const entries = this.entries;
    let slot = hash & mask;
    for (;;) {
      const e = slots[slot]! - 1;
      if (e === -1) return -1;
      const at = e * ENTRY;
      if (entries[at + HASH] === hash && entries[at + HASH2] === hash2 && entries[at + LENGTHS] === lengths && (entries[at + KIND_TAGS]! & 0xff) === p.kind) {
        this.hitMalformedTags = entries[at + KIND_TAGS]! >>> 8;
        return entries[at + SERIES]!;
      }
      slot = (slot + 1) & mask;
    }
  }

  /** Records this raw identity for a series; the caller has checked that get() missed. */
  set(p: ParsedLine, seriesId: number, malformedTags: number): void {
    if (this.oldSlots !== undefined) this.moveSome(MOVES_PER_ENTRY);
    if ((this.size + 1) * 2 > this.slots.length) this.grow();
    const e = this.size++;
    const at = e * ENTRY;
    const entries = this.entries;
    entries[at + HASH] = p.hash;
    entries[at + HASH2] = p.hash2;
    entries[at + LENGTHS] = identityLengths(p);
    // A line has far fewer than 2^23 tags.
    entries[at + KIND_TAGS] = p.kind | (Math.min(malformedTags, 0x7fffff) << 8);
    entries[at + SERIES] = seriesId;
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
    const entries = this.entries;
    this.size = 0;
    this.slots.fill(0);
    this.oldSlots = undefined;
    for (let e = 0; e < n; e++) {
      const old = entries[e * ENTRY + SERIES]!;
      const id = old < 0 ? markers(old) : remap[old]!;
      if (id === -1) continue;
      const to = this.size++;
      entries.copyWithin(to * ENTRY, e * ENTRY, e * ENTRY + ENTRY);
      entries[to * ENTRY + SERIES] = id;
      this.insertSlot(to);
    }
  }

  private insertSlot(e: number): void {
    let slot = this.entries[e * ENTRY + HASH]! & this.mask;
    while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask;
    this.slots[slot] = e + 1;
  }

  /** Moves up to `count` entries from the old slots into the current ones; the old slots go once none is left. */
  private moveSome(count: number): void {
    const until = Math.min(this.movedUntil, this.moved + count);
    for (let e = this.moved; e < until; e++) this.insertSlot(e);
    this.moved = until;
    if (until === this.movedUntil) this.oldSlots = undefined;
  }

  private grow(): void {
    // A growth comes after as many new entries as the table held, long after the last one's entries moved; but never two at once.
    if (this.oldSlots !== undefined) this.moveSome(this.movedUntil);
    this.oldSlots = this.slots;
    this.oldMask = this.mask;
    this.moved = 0;
    this.movedUntil = this.size;
    const cap = this.slots.length * 2;
    this.slots = new Int32Array(cap);
    this.mask = cap - 1;
    const entries = new Int32Array((cap >> 1) * ENTRY);
    entries.set(this.entries);
    this.entries = entries;
  }
}

/** The cells of an entry. */
const HASH = 0;
const HASH2 = 1;
const LENGTHS = 2;
const KIND_TAGS = 3;
const SERIES = 4;
const ENTRY = 5;

/** Entries moved into grown slots per entry added: all have moved by the time the table is a quarter fuller than at its growth. */
const MOVES_PER_ENTRY = 4;

/** Name length and tag-list length (−1 for none) packed into one number. */
function identityLengths(p: ParsedLine): number {
  const tagLen = p.tagsStart === -1 ? 0 : p.tagsEnd - p.tagsStart + 1;
  return ((p.nameEnd - p.nameStart) << 16) | tagLen;
}
