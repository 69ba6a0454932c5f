import type { MetricsSnapshot } from '../../agent/export/metrics-snapshot.js';

/** Tally's own families of a batch a test builds by hand from OpenTelemetry data only: none, so remote write finds nothing to send. */
export const NO_FAMILIES: MetricsSnapshot = { families: [], nowMs: 0, hold: undefined };
