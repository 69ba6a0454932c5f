export interface BackoffOptions {
  /** Delay before the first retry. */
  initialMs: number;
  /** Ceiling of the exponential delay. */
  maxMs: number;
  /** Ceiling for a server's Retry-After: a broken server must not park a queue for days. */
  maxRetryAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1000, maxMs: 30_000, maxRetryAfterMs: 300_000 };

/**
 * The wait before retry number `attempt` (1 for the first retry).
 * Exponential with "equal jitter": half the step is fixed, half random, so
 * agents that failed together do not retry together, yet none retries at once.
 * A Retry-After from the server wins, capped at maxRetryAfterMs.
 */
export function retryDelayMs(attempt: number, opts: BackoffOptions, retryAfterMs?: number, random: () => number = Math.random): number {
  if (retryAfterMs !== undefined && retryAfterMs >= 0) return Math.min(retryAfterMs, opts.maxRetryAfterMs);
  const step = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.min(attempt - 1, 30));
  return step / 2 + random() * (step / 2);
}

/**
 * Retry-After as RFC 9110 defines it: delay-seconds, or an HTTP-date.
 * Undefined when absent or unreadable; a date in the past is 0.
 */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  const s = v.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const at = Date.parse(s);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}
