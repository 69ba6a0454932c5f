/**
 * "Application overview": any counter's rate and any timer's or histogram's
 * percentiles, for the application (service, env) the variables pick.
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import {
  APP_SELECTOR as S,
  appLabelVariables,
  Grid,
  baseDashboard,
  datasourceVariable,
  metricNameVariable,
  row,
  statPanel,
  tablePanel,
  timeseriesPanel,
} from './common.js';

const R = '$__rate_interval';
const QUANTILES: Array<[string, string]> = [
  ['0.5', 'p50'],
  ['0.9', 'p90'],
  ['0.99', 'p99'],
  ['0.999', 'p99.9'],
];

export function appOverviewDashboard(): dashboard.Dashboard {
  const g = new Grid();
  const d = baseDashboard(
    'tally-app-overview',
    'Application overview',
    'Pick any counter and any timer or histogram your application sends through Tally: counter rates, p50/p90/p99/p99.9, and the busiest series, by service and version.',
    ['application'],
  )
    .variables([datasourceVariable(), ...appLabelVariables()])
    .withVariable(
      metricNameVariable(
        'counter',
        'Counter',
        'A counter of the application, by its name without _total (a statsd "c" line checkout.hits is checkout_hits).',
        `{${S}, __name__=~".+_total"}`,
        '/^(?!tally_|process_|nodejs_)(.+)_total$/',
      ),
    )
    .withVariable(
      metricNameVariable(
        'histogram',
        'Timer or histogram',
        'A timer or histogram of the application, by its base name (a statsd timer checkout.time is checkout_time_seconds).',
        `{${S}, __name__=~".+_bucket"}`,
        '/^(?!tally_)(.+)_bucket$/',
      ),
    );

  d.withRow(row(100, 'Counter: $counter', g.row()));
  d.withPanel(
    timeseriesPanel({
      id: 1,
      title: 'Rate of $counter by service and version',
      description: 'Increments per second of the picked counter, summed by service and version (each statsd "c" line adds its value, scaled by 1/sample rate).',
      unit: 'cps',
      min: 0,
      gridPos: g.at(18, 8),
      queries: [{ expr: `sum by (service, version) (rate(\${counter}_total{${S}}[${R}]))`, legend: '{{service}} {{version}}' }],
    }),
  );
  d.withPanel(
    statPanel({
      id: 2,
      title: '$counter over the range',
      description: 'Total increments of the picked counter over the whole dashboard range, all selected series together.',
      unit: 'short',
      gridPos: g.at(6, 8),
      queries: [{ expr: `sum(increase(\${counter}_total{${S}}[$__range]))`, legend: 'total' }],
    }),
  );
  d.withPanel(
    tablePanel({
      id: 3,
      title: 'Top series of $counter by rate',
      description: 'The ten series (label combinations) of the picked counter with the highest rate over the last rate interval of the range, so the busiest tags stand out.',
      unit: 'cps',
      gridPos: g.at(24, 7),
      queries: [{ expr: `topk(10, rate(\${counter}_total{${S}}[${R}]))`, legend: '{{service}} {{version}}' }],
      columns: [{ name: 'per second' }],
      hide: ['__name__'],
      sortBy: 'per second',
    }),
  );

  d.withRow(row(101, 'Timer or histogram: $histogram', g.row()));
  d.withPanel(
    timeseriesPanel({
      id: 4,
      title: 'Percentiles of $histogram',
      description:
        'p50, p90, p99 and p99.9 of the picked histogram over each rate interval, from its buckets (histogram_quantile), all selected series together. Timers are in seconds; a histogram sent as h or d is in the unit the client used, whatever the axis says.',
      unit: 's',
      min: 0,
      gridPos: g.at(12, 9),
      queries: QUANTILES.map(([q, name]) => ({
        expr: `histogram_quantile(${q}, sum by (le) (rate(\${histogram}_bucket{${S}}[${R}])))`,
        legend: name,
      })),
    }),
  );
  d.withPanel(
    timeseriesPanel({
      id: 5,
      title: 'p99 of $histogram by service and version',
      description: 'p99 of the picked histogram per service and version, to see which one a slow tail comes from.',
      unit: 's',
      min: 0,
      gridPos: g.at(12, 9),
      queries: [
        {
          expr: `histogram_quantile(0.99, sum by (le, service, version) (rate(\${histogram}_bucket{${S}}[${R}])))`,
          legend: '{{service}} {{version}}',
        },
      ],
    }),
  );
  d.withPanel(
    timeseriesPanel({
      id: 6,
      title: 'Observations of $histogram per second',
      description: 'How many values (timings) the picked histogram received per second, by service and version.',
      unit: 'ops',
      min: 0,
      gridPos: g.at(12, 8),
      queries: [
        { expr: `sum by (service, version) (rate(\${histogram}_count{${S}}[${R}]))`, legend: '{{service}} {{version}}' },
      ],
    }),
  );
  d.withPanel(
    tablePanel({
      id: 7,
      title: 'Percentiles of $histogram over the range',
      description: 'p50, p90, p99 and p99.9 over the whole dashboard range, by service and version.',
      unit: 's',
      gridPos: g.at(12, 8),
      queries: [
        ...QUANTILES.map(([q, name]) => ({
          expr: `histogram_quantile(${q}, sum by (le, service, version) (increase(\${histogram}_bucket{${S}}[$__range])))`,
          legend: name,
        })),
      ],
      columns: QUANTILES.map(([, name]) => ({ name })),
      sortBy: 'p99',
    }),
  );
  return d.build();
}
