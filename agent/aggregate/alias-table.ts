import type { ParsedLine } from '../parse/statsd-line.js';
import { sameBytes } from '../parse/word-scan.js';

/**
 * Maps the raw bytes of a line's identity (name, kind, tag list as sent) to a
 * series id without making a string: the hot path's only lookup. Several raw
 * spellings (tag orders, names that sanitize alike) may point at one series;
 * the canonical, order-independent key lives in the aggregator's slow path.
 *
 * Open addressing over power-of-two slots; keys are copied into one growing
 * byte arena, so an entry costs a few typed-array cells and no objects.
 */
export class AliasTable {
  private slots: Int32Array;
  private mask: number;
  private hashes: Uint32Array;
  private keyOffsets: Int32Array;
  private nameLens: Int32Array;
  private tagLens: Int32Array;
  private kinds: Uint8Array;
  private series: Int32Array;
  private malformedTags: Int32Array;
  private arena: Uint8Array;
  private arenaView: DataView;
  private arenaUsed = 0;
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
    this.keyOffsets = new Int32Array(n);
    this.nameLens = new Int32Array(n);
    this.tagLens = new Int32Array(n);
    this.kinds = new Uint8Array(n);
    this.series = new Int32Array(n);
    this.malformedTags = new Int32Array(n);
    this.arena = new Uint8Array(n * 64);
    this.arenaView = new DataView(this.arena.buffer);
  }

  /** The series id for this line's raw identity, or -1. */
  get(p: ParsedLine): number {
    const view = p.view;
    const nameLen = p.nameEnd - p.nameStart;
    const tagLen = p.tagsStart === -1 ? -1 : p.tagsEnd - p.tagsStart;
    let slot = p.hash & this.mask;
    for (;;) {
      const e = this.slots[slot]! - 1;
      if (e === -1) return -1;
      if (
        this.hashes[e] === p.hash &&
        this.kinds[e] === p.kind &&
        this.nameLens[e] === nameLen &&
        this.tagLens[e] === tagLen &&
        sameBytes(this.arenaView, this.keyOffsets[e]!, view, p.nameStart, nameLen) &&
        (tagLen <= 0 || sameBytes(this.arenaView, this.keyOffsets[e]! + nameLen, view, p.tagsStart, tagLen))
      ) {
        this.hitMalformedTags = this.malformedTags[e]!;
        return this.series[e]!;
      }
      slot = (slot + 1) & this.mask;
    }
  }

  /** Records this raw identity for a series; the caller has checked that get() missed. */
  set(p: ParsedLine, seriesId: number, malformedTags: number): void {
    if ((this.size + 1) * 2 > this.slots.length) this.grow();
    const nameLen = p.nameEnd - p.nameStart;
    const tagLen = p.tagsStart === -1 ? -1 : p.tagsEnd - p.tagsStart;
    const keyLen = nameLen + Math.max(tagLen, 0);
    if (this.arenaUsed + keyLen > this.arena.length) {
      const bigger = new Uint8Array(Math.max(this.arena.length * 2, this.arenaUsed + keyLen));
      bigger.set(this.arena.subarray(0, this.arenaUsed));
      this.arena = bigger;
      this.arenaView = new DataView(bigger.buffer);
    }
    const off = this.arenaUsed;
    this.arena.set(p.buf.subarray(p.nameStart, p.nameEnd), off);
    if (tagLen > 0) this.arena.set(p.buf.subarray(p.tagsStart, p.tagsEnd), off + nameLen);
    this.arenaUsed += keyLen;
    const e = this.size++;
    this.hashes[e] = p.hash;
    this.kinds[e] = p.kind;
    this.keyOffsets[e] = off;
    this.nameLens[e] = nameLen;
    this.tagLens[e] = tagLen;
    this.series[e] = seriesId;
    this.malformedTags[e] = malformedTags;
    this.insertSlot(e);
  }

  /** Bytes held, for the memory telemetry. */
  get bytes(): number {
    return this.slots.byteLength + this.arena.byteLength + this.hashes.length * 21;
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
    const growU32 = (a: Uint32Array) => {
      const b = new Uint32Array(n);
      b.set(a);
      return b;
    };
    const growI32 = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.hashes = growU32(this.hashes);
    this.keyOffsets = growI32(this.keyOffsets);
    this.nameLens = growI32(this.nameLens);
    this.tagLens = growI32(this.tagLens);
    this.series = growI32(this.series);
    this.malformedTags = growI32(this.malformedTags);
    const kinds = new Uint8Array(n);
    kinds.set(this.kinds);
    this.kinds = kinds;
    for (let e = 0; e < this.size; e++) this.insertSlot(e);
  }
}
