import { COUNTER, GAUGE, TIMER, type MetricKind } from '../parse/metric-kind.js';
import { finishHash, mixWord } from '../parse/word-scan.js';
import type { Series } from './series.js';

/** The hash a set keeps of a member that arrived as a string (the HTTP API); the same as memberHash of its UTF-8 bytes. */
export function stringMemberHash(member: string): number {
  const bytes = Buffer.from(member);
  return memberHash(bytes, 0, bytes.length);
}

export function memberHash(buf: Uint8Array, start: number, end: number): number {
  let h1 = 0x2f1c3a5b;
  let h2 = 0x6b43a9b5;
  let word = 0;
  let shift = 0;
  for (let i = start; i < end; i++) {
    word |= buf[i]! << shift;
    shift += 8;
    if (shift === 32) {
      h1 = mixWord(h1, word);
      h2 = mixWord(h2, word ^ 0x5bd1e995);
      word = 0;
      shift = 0;
    }
  }
  if (shift > 0) {
    h1 = mixWord(h1, word);
    h2 = mixWord(h2, word ^ 0x5bd1e995);
  }
  const n = end - start;
  return finishHash(h1, n) * 0x100000 + (finishHash(h2, n) >>> 12);
}

/** One numeric sample off the hot path (value lists, structured input); timers arrive in ms. */
export function applyNumber(s: Series, kind: MetricKind, v: number, weight: number, gaugeDelta: boolean): void {
  if (kind === COUNTER) s.value += v * weight;
  else if (kind === GAUGE) s.value = gaugeDelta ? s.value + v : v;
  else observe(s, kind === TIMER ? v / 1000 : v, weight);
}

/** Whether a spelling of this series, with this scale, must leave the hot path: a rule's scale, or a summary's window. */
export function routed(s: Series, scale: number): boolean {
  return scale !== 1 || s.summary !== null;
}

export function observe(s: Series, v: number, weight: number): void {
  const i = bucketIndex(s.family.bounds, v);
  const counts = s.bucketCounts;
  // bucketIndex is at most bounds.length, the +Inf cell.
  const c = counts[i]! + weight;
  counts[i] = c;
  // A 32-bit cell keeps whole counts up to 2^32 - 1; read back, one that did not fit differs.
  if (counts[i] !== c) widen(s, i, c);
  s.sum += v * weight;
  s.count += weight;
  // Here, so every path that counts an explicit bucket counts the exponential one too, and such series need no route.
  const expo = s.expo;
  if (expo !== null) expo.record(v, weight);
}

/** Moves a series' counts to doubles of its own, cell i set to c, and gives its 32-bit cells back to the family's pool. */
function widen(s: Series, i: number, c: number): void {
  const narrow = s.bucketCounts;
  // Already doubles: only a NaN reads back unequal, and it is stored as it is.
  if (!(narrow instanceof Uint32Array)) return;
  const wide = Float64Array.from(narrow);
  wide[i] = c;
  s.bucketCounts = wide;
  s.family.cells?.give(narrow);
}

/**
 * The bucket v lands in: the first whose inclusive upper bound is >= v, or
 * bounds.length (+Inf). A scan is quickest for the client libraries' dozen
 * bounds; the default timer layout has 128, where halving takes 7 steps.
 */
export function bucketIndex(bounds: readonly number[], v: number): number {
  const n = bounds.length;
  if (n <= 16) {
    let k = 0;
    while (k < n && v > bounds[k]!) k++;
    return k;
  }
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v > bounds[mid]!) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
