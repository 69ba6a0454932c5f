/**
 * One copy of each label value that many series share (an environment, a
 * route, a pod name across its metrics), instead of one string per series
 * cut from the line that created it. Bounded: past `max` distinct values
 * it starts afresh, so values that never repeat (request ids) cost no more
 * than they did without it.
 */
export class StringPool {
  private readonly pool = new Map<string, string>();

  constructor(private readonly max = 65_536) {}

  /** Distinct strings kept now. */
  get size(): number {
    return this.pool.size;
  }

  get(s: string): string {
    const kept = this.pool.get(s);
    if (kept !== undefined) return kept;
    if (this.pool.size >= this.max) this.pool.clear();
    this.pool.set(s, s);
    return s;
  }
}
