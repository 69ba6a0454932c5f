import { DataPointType, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ExponentialMetricData } from '../exponential-data.js';

export type HistogramForm = 'explicit' | 'exponential';

/**
 * The snapshot's metrics as one OTLP sink sends them: each HISTOGRAM with an
 * exponential twin this sink takes is replaced by that twin, in its place.
 * A sink with `histograms: exponential` takes every twin; any OTLP sink takes
 * the twins a mapping rule asked for. The twin covers the same series at the
 * same moment (both are read in one flush), so the swap loses nothing.
 */
export function withExponentialHistograms(rm: ResourceMetrics, twins: readonly ExponentialMetricData[], form: HistogramForm): ResourceMetrics {
  const chosen = new Map<string, MetricData>();
  for (const t of twins) if (form === 'exponential' || t.fromMapping) chosen.set(t.metric.descriptor.name, t.metric);
  if (chosen.size === 0) return rm;
  return {
    resource: rm.resource,
    scopeMetrics: rm.scopeMetrics.map((sm) => ({
      scope: sm.scope,
      metrics: sm.metrics.map((m) => (m.dataPointType === DataPointType.HISTOGRAM ? (chosen.get(m.descriptor.name) ?? m) : m)),
    })),
  };
}
