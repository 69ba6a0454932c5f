/**
 * Rate limits for log lines the input or a peer can repeat without end
 * (refused names, refused connections, a receiver's partial success): each
 * key logs at most once per `perKeyMs`, and all of them together at most
 * once per `anyMs`, so a flood of distinct names writes one short line a
 * second, not one per name. Keys from clients are clipped. At most `maxKeys` keys
 * are remembered (then the memory starts over): memory stays bounded
 * however many names are refused.
 */
export class WarnLimiter {
  private readonly lastByKey = new Map<string, number>();
  private lastAnyMs = -Infinity;
  private suppressed = 0;

  constructor(
    private readonly perKeyMs: number,
    private readonly anyMs: number,
    private readonly maxKeys: number,
  ) {}

  /** The number of warnings held back since the last one let through, or undefined to hold this one back too. */
  allow(key: string, nowMs: number): number | undefined {
    const k = clip(key);
    const last = this.lastByKey.get(k);
    if (nowMs - this.lastAnyMs < this.anyMs || (last !== undefined && nowMs - last < this.perKeyMs)) {
      this.suppressed++;
      return undefined;
    }
    if (this.lastByKey.size >= this.maxKeys) this.lastByKey.clear();
    this.lastByKey.set(k, nowMs);
    this.lastAnyMs = nowMs;
    const held = this.suppressed;
    this.suppressed = 0;
    return held;
  }
}

export const LOGGED_NAME_CHARS = 200;

/**
 * A client's string cut for a log line or a memo key, as a string of its
 * own: a plain slice can keep the whole original alive inside V8.
 */
export function clip(s: string, max = LOGGED_NAME_CHARS): string {
  if (s.length <= max) return s;
  return Buffer.from(s.slice(0, max), 'utf8').toString('utf8') + `…(${s.length} chars)`;
}
