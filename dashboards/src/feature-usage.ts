/**
 * "Feature usage": which features are used most, is feature X still used and
 * when last, and which have not been used for N days. Built on an event
 * (`feature-used` with the feature as its value), which the agent counts in
 * `<event>_total{value}` and stamps in `<event>_last_seen_timestamp_seconds{value}`.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import {
  APP_SELECTOR as S,
  Grid,
  appLabelVariables,
  barGaugePanel,
  baseDashboard,
  datasourceVariable,
  metricNameVariable,
  row,
  statPanel,
  tablePanel,
  timeseriesPanel,
} from './common.js';

/**
 * Uses of each feature over the whole range. Rounded: increase() extrapolates
 * up to half a scrape interval past the last sample, which read 2.1 uses
 * for 2 and 48.32 for 48; a use is a whole number.
 */
const USES = `round(sum by (value) (increase(\${event}_total{${S}}[$__range])))`;
/**
 * Latest use of each feature known anywhere in the range: last_over_time keeps
 * a feature whose series went stale (idle past the 5-minute lookback, or its
 * agent restarted) as long as the range still holds one of its samples.
 */
const LAST_USED = `max by (value) (last_over_time(\${event}_last_seen_timestamp_seconds{${S}}[$__range]))`;

export function featureUsageDashboard(): dashboard.Dashboard {
  const g = new Grid();
  const d = baseDashboard(
    'tally-feature-usage',
    'Feature usage',
    'Which features are used most, how often and when each was last used, and how many have not been used for N days, from an event such as feature-used sent with the feature as its value.',
    ['application', 'features'],
  )
    .variables([datasourceVariable(), ...appLabelVariables()])
    .withVariable(
      metricNameVariable(
        'event',
        'Event',
        'The event whose values are features, by its exported base name (the event feature-used is feature_used).',
        `{${S}, __name__=~".+_last_seen_timestamp_seconds"}`,
        '/^(.+)_last_seen_timestamp_seconds$/',
        'feature_used',
      ),
    )
    .withVariable(
      new dashboard.CustomVariableBuilder('idle_days')
        .label('Idle for (days)')
        .description('A feature counts as unused when its last use is more than this many days ago.')
        .values('1,7,30')
        .current({ selected: true, text: '7', value: '7' })
        .options([
          { selected: false, text: '1', value: '1' },
          { selected: true, text: '7', value: '7' },
          { selected: false, text: '30', value: '30' },
        ])
        .multi(false)
        .includeAll(false),
    );

  d.withRow(row(100, 'Most used', g.row()));
  // The bar gauge on the left, three stats stacked beside it on the right.
  const bars = g.at(12, 10);
  const right = (dx: number, dy: number, w: number) => ({ x: bars.x + 12 + dx, y: bars.y + dy, w, h: 5 });
  d.withPanel(
    barGaugePanel({
      id: 1,
      title: 'Most used features',
      description: 'The ten features used most over the whole dashboard range, most used first, with their number of uses.',
      unit: 'short',
      min: 0,
      gridPos: bars,
      queries: [{ expr: `sort_desc(topk(10, ${USES}))`, legend: '{{value}}' }],
    }),
  );
  d.withPanel(
    statPanel({
      id: 2,
      title: 'Features unused for ${idle_days} days',
      description:
        'How many features were last used more than ${idle_days} days ago. It counts the features the range has a sample of: the agent keeps exporting a feature\'s last-use time while it runs, so pick a range that reaches back past the last restart of the agents.',
      unit: 'short',
      decimals: 0,
      gridPos: right(0, 0, 6),
      queries: [{ expr: `count((time() - ${LAST_USED}) > \${idle_days} * 86400) or vector(0)`, legend: 'unused' }],
    }),
  );
  d.withPanel(
    statPanel({
      id: 3,
      title: 'Features used in the range',
      description: 'How many distinct features were used at least once over the whole dashboard range.',
      unit: 'short',
      decimals: 0,
      gridPos: right(6, 0, 6),
      queries: [{ expr: `count(${USES} > 0) or vector(0)`, legend: 'used' }],
    }),
  );
  d.withPanel(
    statPanel({
      id: 4,
      title: 'Uses in the range',
      description: 'Uses of all features together over the whole dashboard range.',
      unit: 'short',
      decimals: 0,
      gridPos: right(0, 5, 12),
      queries: [{ expr: `round(sum(increase(\${event}_total{${S}}[$__range])))`, legend: 'uses' }],
    }),
  );

  d.withRow(row(101, 'Every feature', g.row()));
  d.withPanel(
    tablePanel({
      id: 5,
      title: 'Every feature: uses and last use',
      description:
        'Each feature seen in the range: its uses over the range, when it was last used, and how long ago that was (at the end of the range). Features idle past Prometheus\' 5-minute staleness window still show, from the last sample the range holds.',
      unit: 'none',
      decimals: 0,
      gridPos: g.at(24, 10),
      queries: [
        { expr: USES, legend: '{{value}}' },
        { expr: `${LAST_USED} * 1000`, legend: '{{value}}' },
        { expr: `time() - ${LAST_USED}`, legend: '{{value}}' },
      ],
      columns: [{ name: 'uses' }, { name: 'last used', as: 'time' }, { name: 'seconds since last use' }],
      sortBy: 'uses',
    }),
  );

  d.withRow(row(102, 'Over time', g.row()));
  d.withPanel(
    timeseriesPanel({
      id: 6,
      title: 'Usage over time, top ten',
      description: 'Uses per minute of the ten features used most over the whole range (the same ten as in Most used features).',
      unit: 'opm',
      min: 0,
      gridPos: g.at(24, 9),
      queries: [
        {
          expr:
            `60 * sum by (value) (rate(\${event}_total{${S}}[$__rate_interval]))` +
            ` and on (value) topk(10, sum by (value) (increase(\${event}_total{${S}}[$__range] @ end())))`,
          legend: '{{value}}',
        },
      ],
    }),
  );
  return d.build();
}
