/**
 * A `Retry-After` header (RFC 9110 §10.2.3) as milliseconds from `nowMs`:
 * either delay-seconds (a non-negative integer) or an HTTP-date. A date in
 * the past is 0; a header that is neither form is undefined, and the caller
 * falls back to its own backoff.
 */
export function parseRetryAfter(header: string | string[] | undefined, nowMs: number): number | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (value === undefined || value === '') return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // HTTP-dates are IMF-fixdate, obsolete RFC 850, or asctime; all three carry a weekday and a time.
  if (!/^[A-Za-z]{3}/.test(value) || !/\d{1,2}:\d{2}:\d{2}/.test(value)) return undefined;
  // asctime has no zone, and HTTP-dates are always GMT: Date.parse would read it as local time.
  const at = Date.parse(/GMT$/.test(value) ? value : `${value} GMT`);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}
