/**
 * The resolution of a base-2 exponential histogram: what the mapping's
 * native histogram options resolve to and what the aggregator's histograms
 * keep. OpenTelemetry SDK defaults (Base2ExponentialHistogramAggregation).
 */
export const DEFAULT_MAX_SIZE = 160;
export const DEFAULT_MAX_SCALE = 20;
/** Below this, a base^(2^10) = 2^1024 bucket already spans every double. */
export const MIN_SCALE = -10;
