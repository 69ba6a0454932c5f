/**
 * "Tally agent": the agent's own health, from its self-metrics. What a
 * statsd_exporter user looks at to trust the exporter: is data coming in, is
 * any of it rejected or dropped, how close are the cardinality limits, and is
 * every sink keeping up.
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import {
  AGENT_SELECTOR as S,
  Grid,
  barGaugePanel,
  baseDashboard,
  datasourceVariable,
  labelVariable,
  row,
  statPanel,
  tablePanel,
  timeseriesPanel,
} from './common.js';

const R = '$__rate_interval';

export function tallyAgentDashboard(): dashboard.Dashboard {
  const g = new Grid();
  const d = baseDashboard(
    'tally-agent',
    'Tally agent',
    "The Tally agent's own health: ingest, rejected and dropped input, cardinality against the limits, flushes, each sink's queue and deliveries, HTTP collect, and the process.",
    ['agent'],
  )
    .withVariable(datasourceVariable())
    .withVariable(labelVariable('job', 'Job', 'The scrape job (or remote-write job label) of the agents.', 'tally_series', ))
    .withVariable(labelVariable('instance', 'Instance', 'One agent, or All.', 'tally_series{job=~"$job"}'));

  d.withRow(row(100, 'Overview', g.row()));
  d.withPanel(
    statPanel({
      id: 1,
      title: 'Lines parsed per second',
      description: 'statsd lines and collect items that parsed, per second, over the last rate interval, summed over the selected agents.',
      unit: 'cps',
      gridPos: g.at(6, 4),
      queries: [{ expr: `sum(rate(tally_metrics_received_total{${S}}[${R}]))`, legend: 'lines/s' }],
    }),
  );
  d.withPanel(
    statPanel({
      id: 2,
      title: 'Series held',
      description: 'Series held in memory now, summed over the selected agents. Each agent refuses new series past its max_series limit.',
      unit: 'short',
      gridPos: g.at(6, 4),
      queries: [{ expr: `sum(tally_series{${S}})`, legend: 'series' }],
    }),
  );
  d.withPanel(
    statPanel({
      id: 3,
      title: 'Oldest undelivered batch',
      description: 'Age of the oldest batch still waiting in any sink queue of the selected agents; 0 when every queue is empty. Growing means a sink is not keeping up or its backend is down.',
      unit: 's',
      gridPos: g.at(6, 4),
      queries: [{ expr: `max(tally_queue_oldest_record_age_seconds{${S}})`, legend: 'oldest' }],
      thresholds: [
        { value: null, color: 'green' },
        { value: 60, color: 'orange' },
        { value: 300, color: 'red' },
      ],
    }),
  );
  d.withPanel(
    statPanel({
      id: 4,
      title: 'Uptime',
      description: 'Time since the agent process started (the youngest of the selected agents): a short uptime means a recent restart.',
      unit: 's',
      gridPos: g.at(6, 4),
      queries: [{ expr: `min(time() - process_start_time_seconds{${S}})`, legend: 'uptime' }],
    }),
  );

  d.withRow(row(101, 'Ingest', g.row()));
  d.withPanel(
    timeseriesPanel({
      id: 5,
      title: 'Ingest rate by listener',
      description: 'Datagrams (udp, unixgram) or reads (tcp, unix) received per second, by listener.',
      unit: 'pps',
      min: 0,
      gridPos: g.at(12, 8),
      queries: [{ expr: `sum by (listener) (rate(tally_packets_received_total{${S}}[${R}]))`, legend: '{{listener}}' }],
    }),
  );
  d.withPanel(
    timeseriesPanel({
      id: 6,
      title: 'Lines parsed and aggregated',
      description: 'Lines that parsed, and lines applied to a series, per second. A gap between them is lines dropped after parsing (see Drops by reason).',
      unit: 'cps',
      min: 0,
      gridPos: g.at(12, 8),
      queries: [
        { expr: `sum(rate(tally_metrics_received_total{${S}}[${R}]))`, legend: 'parsed' },
        { expr: `sum(rate(tally_metrics_aggregated_total{${S}}[${R}]))`, legend: 'aggregated' },
      ],
    }),
  );
  d.withPanel(
    timeseriesPanel({
      id: 7,
      title: 'Parse errors by reason',
      description: 'Rejected (or, for malformed_tag, partly rejected) lines per second, by reason. Rejected lines are logged at debug level.',
      unit: 'cps',
      min: 0,
      gridPos: g.at(12, 8),
      queries: [{ expr: `sum by (reason) (rate(tally_parse_errors_total{${S}}[${R}]))`, legend: '{{reason}}' }],
    }),
  );
  d.withPanel(
    timeseriesPanel({
      id: 8,
      title: 'Drops by reason',
      description: 'Input lost after it was read, per second: parsed lines not aggregated (type conflict, mapping drop, event buffer full), lines refused by the cardinality limits, and requests that left a sink queue undelivered.',
      unit: 'cps',
      min: 0,
      gridPos: g.at(12, 8),
      queries: [
        { expr: `sum by (reason) (rate(tally_metrics_dropped_total{${S}}[${R}]))`, legend: 'line: {{reason}}' },
        { expr: `sum by (reason) (rate(tally_series_dropped_total{${S}}[${R}]))`, legend: 'series: {{reason}}' },
        { expr: `sum by (sink, reason) (rate(tally_queue_dropped_total{${S}}[${R}]))`, legend: 'queue {{sink}}: {{reason}}' },
      ],
    }),
  );

  d.withRow(row(102, 'Series and flushes', g.row()));
  d.withPanel(
    timeseriesPanel({
      id: 9,
      title: 'Series against both cardinality limits',
      description: 'Series held, and the series of the metric with the most series, against the max_series and max_series_per_metric limits, per agent. Past a limit, new series are refused (tally_series_dropped_total{reason="cardinality"}).',
      unit: 'short',
      min: 0,
      gridPos: g.at(12, 8),
      queries: [
        { expr: `sum by (instance) (tally_series{${S}})`, legend: 'series held {{instance}}' },
        { expr: `max by (instance) (tally_series_limit{${S}, limit="max_series"})`, legend: 'max_series {{instance}}' },
        { expr: `max by (instance) (tally_series_largest_metric{${S}})`, legend: 'largest metric {{instance}}' },
        { expr: `max by (instance) (tally_series_limit{${S}, limit="max_series_per_metric"})`, legend: 'max_series_per_metric {{instance}}' },
      ],
    }),
  );
  d.withPanel(
    barGaugePanel({
      id: 10,
      title: 'Share of each cardinality limit in use',
      description: 'Series held over max_series, and the largest metric\'s series over max_series_per_metric, per agent, now. At 100 % new series are refused.',
      unit: 'percentunit',
      min: 0,
      max: 1,
      gridPos: g.at(6, 8),
      queries: [
        {
          expr: `sum by (instance) (tally_series{${S}}) / on (instance) max by (instance) (tally_series_limit{${S}, limit="max_series"})`,
          legend: 'max_series {{instance}}',
        },
        {
          expr: `max by (instance) (tally_series_largest_metric{${S}}) / on (instance) max by (instance) (tally_series_limit{${S}, limit="max_series_per_metric"})`,
          legend: 'per metric {{instance}}',
        },
      ],
    }),
  );
  d.withPanel(
    timeseriesPanel({
      id: 11,
      title: 'Flush duration',
      description: 'Time one flush of the aggregation state takes: p50, p99 and the mean over each rate interval, all agents selected together. A flush longer than the flush interval delays every sink.',
      unit: 's',
      min: 0,
      gridPos: g.at(6, 8),
      queries: [
        { expr: `histogram_quantile(0.5, sum by (le) (rate(tally_flush_duration_seconds_bucket{${S}}[${R}])))`, legend: 'p50' },
        { expr: `histogram_quantile(0.99, sum by (le) (rate(tally_flush_duration_seconds_bucket{${S}}[${R}])))`, legend: 'p99' },
        {
          expr: `sum(rate(tally_flush_duration_seconds_sum{${S}}[${R}])) / sum(rate(tally_flush_duration_seconds_count{${S}}[${R}]))`,
          legend: 'mean',
        },
      ],
    }),
  );

  d.withRow(row(103, 'Sinks', g.row()));
  d.withPanel(
    timeseriesPanel({
      id: 12,
      title: 'Queue bytes by sink',
      description: 'Undelivered bytes held in each sink queue on disk. The queue is bounded by queue.max_bytes (256 MiB by default); past it, when_full decides what is dropped.',
      unit: 'bytes',
      min: 0,
      gridPos: g.at(8, 8),
      queries: [{ expr: `sum by (sink) (tally_queue_bytes{${S}})`, legend: '{{sink}}' }],
    }),
  );
  d.withPanel(
    timeseriesPanel({
      id: 13,
      title: 'Oldest undelivered batch by sink',
      description: 'Age of the oldest batch waiting in each sink queue; 0 when the queue is empty. A steady climb means the sink delivers nothing (see retries and the agent log).',
      unit: 's',
      min: 0,
      gridPos: g.at(8, 8),
      queries: [{ expr: `max by (sink) (tally_queue_oldest_record_age_seconds{${S}})`, legend: '{{sink}}' }],
    }),
  );
  d.withPanel(
    barGaugePanel({
      id: 14,
      title: 'Queue fill by sink',
      description: "Share of each sink queue's max_bytes in use now. /readyz answers 503 above 90 %.",
      unit: 'percentunit',
      min: 0,
      max: 1,
      gridPos: g.at(8, 8),
      queries: [{ expr: `max by (sink) (tally_queue_fill_ratio{${S}})`, legend: '{{sink}}' }],
    }),
  );
  d.withPanel(
    timeseriesPanel({
      id: 15,
      title: 'Deliveries, retries and dead letters by sink',
      description: 'Requests queued, delivered (2xx), failed and to be retried, and refused for good (moved to the dead-letter folder), per second by sink.',
      unit: 'reqps',
      min: 0,
      gridPos: g.at(12, 8),
      queries: [
        { expr: `sum by (sink) (rate(tally_sink_enqueued_total{${S}}[${R}]))`, legend: 'queued {{sink}}' },
        { expr: `sum by (sink) (rate(tally_sink_sent_total{${S}}[${R}]))`, legend: 'delivered {{sink}}' },
        { expr: `sum by (sink) (rate(tally_sink_retries_total{${S}}[${R}]))`, legend: 'retries {{sink}}' },
        { expr: `sum by (sink) (rate(tally_sink_dead_lettered_total{${S}}[${R}]))`, legend: 'dead letters {{sink}}' },
      ],
    }),
  );
  d.withPanel(
    timeseriesPanel({
      id: 16,
      title: 'Delivery latency by sink',
      description: 'Time per delivery attempt by sink and outcome (delivered, retry, permanent): p50 and p99 from the request-duration histogram.',
      unit: 's',
      min: 0,
      gridPos: g.at(12, 8),
      queries: [
        {
          expr: `histogram_quantile(0.5, sum by (le, sink, outcome) (rate(tally_sink_request_duration_seconds_bucket{${S}}[${R}])))`,
          legend: 'p50 {{sink}} {{outcome}}',
        },
        {
          expr: `histogram_quantile(0.99, sum by (le, sink, outcome) (rate(tally_sink_request_duration_seconds_bucket{${S}}[${R}])))`,
          legend: 'p99 {{sink}} {{outcome}}',
        },
      ],
    }),
  );
  d.withPanel(
    tablePanel({
      id: 17,
      title: 'Sink totals over the range',
      description: 'Per sink, over the whole dashboard range: requests queued, delivered, retried and dead-lettered. Dead letters are kept in spool.dir/dead-letter/<sink>/ with the response that refused them.',
      unit: 'short',
      gridPos: g.at(24, 6),
      queries: [
        { expr: `sum by (sink) (increase(tally_sink_enqueued_total{${S}}[$__range]))`, legend: '{{sink}}' },
        { expr: `sum by (sink) (increase(tally_sink_sent_total{${S}}[$__range]))`, legend: '{{sink}}' },
        { expr: `sum by (sink) (increase(tally_sink_retries_total{${S}}[$__range]))`, legend: '{{sink}}' },
        { expr: `sum by (sink) (increase(tally_sink_dead_lettered_total{${S}}[$__range]))`, legend: '{{sink}}' },
      ],
      columns: [{ name: 'queued' }, { name: 'delivered' }, { name: 'retries' }, { name: 'dead letters' }],
      decimals: 0,
      sortBy: 'queued',
    }),
  );

  d.withRow(row(104, 'HTTP collect', g.row()));
  d.withPanel(
    timeseriesPanel({
      id: 18,
      title: 'HTTP collect responses by status',
      description: 'Responses of POST /v1/collect per second, by HTTP status: 202 all taken, 400 some or all items bad, 401/403/421 refused callers, 413 too large, 503 journal unavailable.',
      unit: 'reqps',
      min: 0,
      gridPos: g.at(12, 8),
      queries: [{ expr: `sum by (code) (rate(tally_http_requests_total{${S}}[${R}]))`, legend: '{{code}}' }],
    }),
  );
  d.withPanel(
    timeseriesPanel({
      id: 19,
      title: 'HTTP collect items and refused requests',
      description: 'Collect items accepted and rejected (by reason) per second, and whole requests refused before any item was read (bad_json, body_too_large, aborted, ...).',
      unit: 'cps',
      min: 0,
      gridPos: g.at(12, 8),
      queries: [
        { expr: `sum by (outcome, reason) (rate(tally_http_collect_items_total{${S}}[${R}]))`, legend: 'items {{outcome}} {{reason}}' },
        { expr: `sum by (reason) (rate(tally_http_collect_request_errors_total{${S}}[${R}]))`, legend: 'request refused: {{reason}}' },
      ],
    }),
  );

  d.withRow(row(105, 'Process', g.row()));
  d.withPanel(
    timeseriesPanel({
      id: 20,
      title: 'CPU',
      description: 'CPU time the agent process uses per second of wall time, by agent (100 % = one core). The agent is single-threaded apart from I/O, so near 100 % it is saturated.',
      unit: 'percentunit',
      min: 0,
      gridPos: g.at(8, 8),
      queries: [{ expr: `sum by (instance) (rate(process_cpu_seconds_total{${S}}[${R}]))`, legend: '{{instance}}' }],
    }),
  );
  d.withPanel(
    timeseriesPanel({
      id: 21,
      title: 'Memory',
      description: 'Resident set size of the agent process and the V8 heap in use, by agent.',
      unit: 'bytes',
      min: 0,
      gridPos: g.at(8, 8),
      queries: [
        { expr: `sum by (instance) (process_resident_memory_bytes{${S}})`, legend: 'rss {{instance}}' },
        { expr: `sum by (instance) (nodejs_heap_size_used_bytes{${S}})`, legend: 'heap used {{instance}}' },
      ],
    }),
  );
  d.withPanel(
    timeseriesPanel({
      id: 22,
      title: 'Event-loop lag',
      description: "Delay of the Node.js event loop (p50, p99 and max over the agent's last 30 s), by agent. Lag delays reading sockets, so sustained lag shows up as UDP loss.",
      unit: 's',
      min: 0,
      gridPos: g.at(8, 8),
      queries: [
        { expr: `max by (instance) (nodejs_eventloop_lag_p50_seconds{${S}})`, legend: 'p50 {{instance}}' },
        { expr: `max by (instance) (nodejs_eventloop_lag_p99_seconds{${S}})`, legend: 'p99 {{instance}}' },
        { expr: `max by (instance) (nodejs_eventloop_lag_max_seconds{${S}})`, legend: 'max {{instance}}' },
      ],
    }),
  );
  return d.build();
}
