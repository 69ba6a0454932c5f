import { DataPointType, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { ExponentialMetricData } from '../exponential-data.js';

export type HistogramForm = 'explicit' | 'exponential';

/**
 * The snapshot's metrics as one OTLP sink sends them: each HISTOGRAM with an
 * exponential twin this sink takes is replaced by that twin, in its place.
 * A sink with `histograms: exponential` takes every twin; any OTLP sink takes
 * the twins a mapping rule asked for. The twin covers the same series at the
 * same moment (both are read in one flush), so the swap loses nothing. A
 * twin the metrics lack (left out for readers that all take the twins, see
 * SdkForm) is added after the scope's metrics; the first scope's, as the
 * agent's snapshot has one.
 */
export function withExponentialHistograms(
  rm: ResourceMetrics,
  twins: readonly ExponentialMetricData[],
  form: HistogramForm,
  scope: InstrumentationScope,
): ResourceMetrics {
  const chosen = new Map<string, MetricData>();
  for (const t of twins) if (form === 'exponential' || t.fromMapping) chosen.set(t.metric.descriptor.name, t.metric);
  if (chosen.size === 0) return rm;
  const unplaced = new Map(chosen);
  const scopeMetrics = rm.scopeMetrics.map((sm) => ({
    scope: sm.scope,
    metrics: sm.metrics.map((m) => {
      const twin = m.dataPointType === DataPointType.HISTOGRAM ? chosen.get(m.descriptor.name) : undefined;
      if (twin === undefined) return m;
      unplaced.delete(m.descriptor.name);
      return twin;
    }),
  }));
  if (unplaced.size > 0) {
    if (scopeMetrics.length === 0) scopeMetrics.push({ scope, metrics: [] });
    scopeMetrics[0]!.metrics.push(...unplaced.values());
  }
  return { resource: rm.resource, scopeMetrics };
}
