/**
 * "Version A vs version B": is my code slower, failing more, or using more
 * memory in version B than in version A? One timer (or any histogram), two
 * versions, and a gauge for memory.
 */
import { VariableSort, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import {
  APP_SELECTOR as S,
  Grid,
  appLabelVariables,
  baseDashboard,
  datasourceVariable,
  metricNameVariable,
  row,
  singleLabelVariable,
  statPanel,
  tablePanel,
  timeseriesPanel,
} from './common.js';

const R = '$__rate_interval';
/** Both versions; each panel splits them with `by (version)`. */
const BOTH = `${S}, version=~"$version_a|$version_b"`;
const QUANTILES: Array<[string, string]> = [
  ['0.5', 'p50'],
  ['0.9', 'p90'],
  ['0.99', 'p99'],
  ['0.999', 'p99.9'],
];

/** p99 of one version over the whole dashboard range, from the bucket increases. */
const p99OverRange = (version: string): string =>
  `histogram_quantile(0.99, sum by (le) (increase(\${metric}_bucket{${S}, version="${version}"}[$__range])))`;

export function versionCompareDashboard(): Dashboard {
  const g = new Grid();
  const d = baseDashboard(
    'tally-version-compare',
    'Version A vs version B',
    'Is version B slower, failing more often, or using more memory than version A? Pick a timer (or any histogram) and two values of the version label.',
    ['application', 'versions'],
  )
    .variables([datasourceVariable(), ...appLabelVariables()])
    .withVariable(
      metricNameVariable(
        'metric',
        'Timer or histogram',
        'A timer or histogram by its base name, without _bucket (a statsd timer checkout.time is checkout_time_seconds).',
        `{${S}, version=~".+", __name__=~".+_bucket"}`,
        '/^(?!tally_)(.+)_bucket$/',
      ),
    )
    .withVariable(
      // Natural order up for A and down for B: by default the oldest version against the newest.
      singleLabelVariable('version_a', 'Version A', 'The baseline version (by default the lowest).', `\${metric}_bucket{${S}}`, 'version', VariableSort.NaturalAsc),
    )
    .withVariable(
      singleLabelVariable(
        'version_b',
        'Version B',
        'The version compared with A (by default the highest).',
        `\${metric}_bucket{${S}}`,
        'version',
        VariableSort.NaturalDesc,
      ),
    )
    .withVariable(
      metricNameVariable(
        'memory_metric',
        'Memory gauge',
        'A gauge reported per version to compare, such as runtime_memory_rss_bytes (sent by the Tally client) or any byte-valued gauge.',
        `{${S}, version=~".+", __name__=~".+_bytes"}`,
        '/^(?!tally_)(.+_bytes)$/',
        'runtime_memory_rss_bytes',
      ),
    );

  d.withRow(row(100, 'Answer', g.row()));
  d.withPanel(
    statPanel({
      id: 1,
      title: 'p99: B over A',
      description:
        "Version B's p99 of the picked timer divided by version A's, each over the whole dashboard range: 100 % means equal, 150 % means B's slow tail is half as long again as A's. Accurate to the histogram's bucket resolution (within 10 % with the agent's default timer buckets).",
      unit: 'percentunit',
      decimals: 0,
      gridPos: g.at(6, 8),
      queries: [{ expr: `${p99OverRange('$version_b')} / ${p99OverRange('$version_a')}`, legend: 'B / A' }],
      thresholds: [
        { value: null, color: 'green' },
        { value: 1.1, color: 'orange' },
        { value: 1.5, color: 'red' },
      ],
    }),
  );
  d.withPanel(
    tablePanel({
      id: 2,
      title: 'Whole range by version',
      description:
        'For each of the two versions, over the whole dashboard range: p50, p95 and p99 from the histogram buckets, the mean (sum over count), and the number of observations (rounded: Prometheus extrapolates increase() to the edges of the range).',
      unit: 's',
      gridPos: g.at(18, 8),
      queries: [
        ...(
          [
            ['0.5', 'p50'],
            ['0.95', 'p95'],
            ['0.99', 'p99'],
          ] as const
        ).map(([q, name]) => ({
          expr: `histogram_quantile(${q}, sum by (le, version) (increase(\${metric}_bucket{${BOTH}}[$__range])))`,
          legend: name,
        })),
        {
          expr: `sum by (version) (increase(\${metric}_sum{${BOTH}}[$__range])) / sum by (version) (increase(\${metric}_count{${BOTH}}[$__range]))`,
          legend: 'mean',
        },
        { expr: `round(sum by (version) (increase(\${metric}_count{${BOTH}}[$__range])))`, legend: 'count' },
      ],
      columns: [{ name: 'p50' }, { name: 'p95' }, { name: 'p99' }, { name: 'mean' }, { name: 'count', as: 'string' }],
      sortBy: 'p99',
    }),
  );

  d.withRow(row(101, 'Over time', g.row()));
  d.withPanel(
    timeseriesPanel({
      id: 3,
      title: 'Percentiles by version',
      description: 'p50, p90, p99 and p99.9 of the picked timer for each version, over each rate interval.',
      unit: 's',
      min: 0,
      gridPos: g.at(24, 9),
      queries: QUANTILES.map(([q, name]) => ({
        expr: `histogram_quantile(${q}, sum by (le, version) (rate(\${metric}_bucket{${BOTH}}[${R}])))`,
        legend: `${name} {{version}}`,
      })),
    }),
  );
  d.withPanel(
    timeseriesPanel({
      id: 4,
      title: 'Rate by version',
      description: 'Observations (calls timed) per second for each version: a comparison is only as good as the traffic behind it.',
      unit: 'ops',
      min: 0,
      gridPos: g.at(12, 8),
      queries: [{ expr: `sum by (version) (rate(\${metric}_count{${BOTH}}[${R}]))`, legend: '{{version}}' }],
    }),
  );
  d.withPanel(
    timeseriesPanel({
      id: 5,
      title: 'Outcome share by version',
      description:
        'Share of observations whose outcome label is set and is not "ok" (the Tally client\'s time() tags outcome ok or error), per version; 0 when a version had only ok outcomes.',
      unit: 'percentunit',
      min: 0,
      gridPos: g.at(12, 8),
      queries: [
        {
          expr:
            `(sum by (version) (rate(\${metric}_count{${BOTH}, outcome=~".+", outcome!="ok"}[${R}]))` +
            ` or 0 * sum by (version) (rate(\${metric}_count{${BOTH}}[${R}])))` +
            ` / sum by (version) (rate(\${metric}_count{${BOTH}}[${R}]))`,
          legend: '{{version}}',
        },
      ],
    }),
  );
  d.withPanel(
    timeseriesPanel({
      id: 6,
      title: 'Memory by version',
      description: 'The picked memory gauge ($memory_metric) for each version, averaged over the instances running it.',
      unit: 'bytes',
      min: 0,
      gridPos: g.at(24, 8),
      queries: [{ expr: `avg by (version) (\${memory_metric}{${BOTH}})`, legend: '{{version}}' }],
    }),
  );
  return d.build();
}
