export interface BackoffOptions {
  /** Delay before the first retry. */
  initialMs: number;
  /** Ceiling of the exponential delay. */
  maxMs: number;
  /** Ceiling for a server's Retry-After: a broken server must not park a queue for days. */
  maxRetryAfterMs: number;
}


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
