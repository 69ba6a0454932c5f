import type { MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Series } from '../aggregate/series.js';
import { familyDescriptor } from './aggregate-producer.js';
import type { MetricsSnapshot, SnapshotFamily } from './metrics-snapshot.js';
import type { EventRecord, FlushSnapshot } from './sink.js';

export interface SinkMatch {
  names?: string[];
  tags?: Record<string, string>;
}

/** `*` matches any run of characters; everything else is literal. */
function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/**
 * A sink's `match:` as a filter over a flush. Names are matched against the
 * metric's name as the sink receives it before any suffix a wire format adds
 * (so `checkout_*` matches `checkout_latency_seconds`, and an event's name);
 * tag conditions must all hold on a series' attributes (or an event's tags).
 */
export function compileSinkMatch(match: SinkMatch | undefined): ((snapshot: FlushSnapshot) => FlushSnapshot) | undefined {
  if (match === undefined || (match.names === undefined && match.tags === undefined)) return undefined;
  const names = match.names?.map(globToRegExp);
  const tags = Object.entries(match.tags ?? {}).map(([k, v]) => [k, v.includes('*') ? globToRegExp(v) : v] as const);
  const nameOk = (name: string) => names === undefined || names.some((re) => re.test(name));
  const tagsOk = (get: (k: string) => string | undefined) =>
    tags.every(([k, want]) => {
      const have = get(k);
      return have !== undefined && (typeof want === 'string' ? have === want : want.test(have));
    });
  const filterMetric = <M extends { descriptor: { name: string }; dataPoints: unknown[] }>(m: M): M | undefined => {
    if (!nameOk(m.descriptor.name)) return undefined;
    if (tags.length === 0) return m;
    const dataPoints = (m.dataPoints as Array<{ attributes: Record<string, unknown> }>).filter((p) =>
      tagsOk((k) => (typeof p.attributes[k] === 'string' ? (p.attributes[k] as string) : undefined)),
    );
    return dataPoints.length === 0 ? undefined : ({ ...m, dataPoints } as M);
  };
  // Tally's own families, matched by the same names (the OpenTelemetry name each family has above) and tags.
  const filterFamilies = (families: MetricsSnapshot): MetricsSnapshot => {
    const kept: SnapshotFamily[] = [];
    for (const f of families.families) {
      if (!nameOk(familyDescriptor(f.family).name)) continue;
      if (tags.length === 0) {
        kept.push(f);
        continue;
      }
      const series: Series[] = [];
      const setCounts: number[] = [];
      for (let i = 0; i < f.length; i++) {
        const s = f.series[i]!;
        if (!tagsOk((k) => s.attributes[k])) continue;
        series.push(s);
        if (f.setCounts !== undefined) setCounts.push(f.setCounts[i]!);
      }
      if (series.length > 0) kept.push({ family: f.family, series, length: series.length, setCounts: f.setCounts === undefined ? undefined : Float64Array.from(setCounts) });
    }
    return { ...families, families: kept };
  };
  const filterEvent = (e: EventRecord) => nameOk(e.name) && tagsOk((k) => e.attributes.find(([key]) => key === k)?.[1]);
  return (snapshot) => {
    const rm: ResourceMetrics = {
      resource: snapshot.metrics.resource,
      scopeMetrics: snapshot.metrics.scopeMetrics
        .map((sm) => ({ ...sm, metrics: sm.metrics.map((m) => filterMetric<MetricData>(m)).filter((m) => m !== undefined) }))
        .filter((sm) => sm.metrics.length > 0),
    };
    const summaries = snapshot.summaries?.map(filterMetric).filter((m) => m !== undefined);
    // Filtered as the HISTOGRAM they stand in for, so a sink gets the same series in either form.
    const exponential = snapshot.exponential
      ?.map((t) => {
        const metric = filterMetric<MetricData>(t.metric);
        return metric === undefined ? undefined : { ...t, metric };
      })
      .filter((t) => t !== undefined);
    return { ...snapshot, metrics: rm, summaries, exponential, families: filterFamilies(snapshot.families), events: snapshot.events.filter(filterEvent) };
  };
}
