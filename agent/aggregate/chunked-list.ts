/** Entries in one chunk of a ChunkedList. */
const CHUNK_BITS = 16;
const CHUNK_MASK = (1 << CHUNK_BITS) - 1;

/**
 * A list indexed from 0 that grows by adding chunks of 65,536 entries,
 * never by copying what it holds: a JavaScript array of a million entries
 * grows by copying all of them, 16 to 38 ms each time for the label sets'
 * lists (a scratch script creating series on top of a million, one core).
 * Entries are set in order of index, or over one already set.
 */
export class ChunkedList<T> {
  private readonly chunks: T[][] = [];

  get(i: number): T {
    return this.chunks[i >>> CHUNK_BITS]![i & CHUNK_MASK]!;
  }

  set(i: number, v: T): void {
    const c = i >>> CHUNK_BITS;
    if (c === this.chunks.length) this.chunks.push([]);
    this.chunks[c]![i & CHUNK_MASK] = v;
  }
}
