/**
 * Prometheus' histogram_quantile() on one classic histogram (promql's
 * bucketQuantile): the rank q·count found in the cumulative buckets and
 * interpolated linearly inside the bucket that holds it, the first bucket
 * starting at 0. What a dashboard reads from the agent's buckets.
 */
export function histogramQuantile(q: number, bounds: readonly number[], counts: readonly number[]): number {
  // counts: per bucket, not cumulative; the last is +Inf.
  const cumulative: number[] = [];
  let c = 0;
  for (const n of counts) cumulative.push((c += n));
  const total = cumulative[cumulative.length - 1]!;
  if (total === 0) return NaN;
  const rank = q * total;
  const b = cumulative.findIndex((x) => x >= rank);
  if (b === bounds.length) return bounds[bounds.length - 1]!;
  const start = b === 0 ? 0 : bounds[b - 1]!;
  const below = b === 0 ? 0 : cumulative[b - 1]!;
  return start + (bounds[b]! - start) * ((rank - below) / (cumulative[b]! - below));
}
