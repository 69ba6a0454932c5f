/**
 * Building blocks shared by the four dashboards: the data source reference,
 * the variables every dashboard has, the label selectors, and panel factories
 * that make every panel carry a description, a unit and `${datasource}`, with
 * instant targets on stat, table and bar-gauge panels.
 */
import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

/** Every panel and target reads the data source the `datasource` variable picks. */
export const DATASOURCE: common.DataSourceRef = { type: 'prometheus', uid: '${datasource}' };

/** Multi-value and All variables match with this, so an absent label matches too. */
const ALL_VALUE = '.*';

/** Selector of the agent's own series. */
export const AGENT_SELECTOR = 'job=~"$job", instance=~"$instance"';
/** Selector of application series (the three application dashboards). */
export const APP_SELECTOR = 'job=~"$job", instance=~"$instance", service=~"$service", env=~"$env"';

/** The job, instance, service and env filters of the three application dashboards. */
export function appLabelVariables(): dashboard.QueryVariableBuilder[] {
  return [
    labelVariable('job', 'Job', 'The job label: the scrape job of the agents, or for remote write the service name.', ''),
    labelVariable('instance', 'Instance', 'The instance label: the agent (host) the series came through.', '{job=~"$job", instance=~".+"}'),
    labelVariable(
      'service',
      'Service',
      'The service label (global tag service, or service.name in OTEL_RESOURCE_ATTRIBUTES).',
      '{job=~"$job", instance=~"$instance", service=~".+"}',
    ),
    labelVariable(
      'env',
      'Environment',
      'The env label (global tag env, or deployment.environment in OTEL_RESOURCE_ATTRIBUTES).',
      '{job=~"$job", instance=~"$instance", service=~"$service", env=~".+"}',
    ),
  ];
}

export type GridPos = { x: number; y: number; w: number; h: number };

export function datasourceVariable(): dashboard.DatasourceVariableBuilder {
  return new dashboard.DatasourceVariableBuilder('datasource')
    .label('Data source')
    .description('The Prometheus-compatible data source (Prometheus, VictoriaMetrics, Mimir, Thanos) holding the series.')
    .type('prometheus');
}

/**
 * A multi-value label filter with All; `match` is the series whose label values
 * are offered, so the list only shows values that data exists for (empty: every
 * series). A selector needs one matcher that cannot match the empty string, since
 * Prometheus refuses `{job=~".*"}`, which is what All makes of `{job=~"$job"}`.
 */
export function labelVariable(name: string, label: string, description: string, match: string): dashboard.QueryVariableBuilder {
  const query = match === '' ? `label_values(${name})` : `label_values(${match}, ${name})`;
  return new dashboard.QueryVariableBuilder(name)
    .label(label)
    .description(description)
    .datasource(DATASOURCE)
    .query(query)
    .definition(query)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue(ALL_VALUE)
    .current({ selected: true, text: ['All'], value: ['$__all'] });
}

/**
 * A single-value variable holding a metric name taken from `__name__`; the
 * regex's capture group is what the variable holds (a base name without its
 * suffix, so one pick can address `_bucket`, `_sum` and `_count`).
 */
export function metricNameVariable(
  name: string,
  label: string,
  description: string,
  match: string,
  regex: string,
  fallback?: string,
): dashboard.QueryVariableBuilder {
  const query = `label_values(${match}, __name__)`;
  const builder = new dashboard.QueryVariableBuilder(name)
    .label(label)
    .description(description)
    .datasource(DATASOURCE)
    .query(query)
    .definition(query)
    .regex(regex)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(false)
    .includeAll(false);
  if (fallback !== undefined) builder.current({ selected: true, text: fallback, value: fallback });
  return builder;
}

/**
 * A single-value variable (no All) over one label of `match`, for comparisons.
 * Until someone picks, Grafana selects the first value in `sort` order.
 */
export function singleLabelVariable(
  name: string,
  label: string,
  description: string,
  match: string,
  labelName: string,
  sort: dashboard.VariableSort,
): dashboard.QueryVariableBuilder {
  const query = `label_values(${match}, ${labelName})`;
  return new dashboard.QueryVariableBuilder(name)
    .label(label)
    .description(description)
    .datasource(DATASOURCE)
    .query(query)
    .definition(query)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(sort)
    .multi(false)
    .includeAll(false);
}

export interface Query {
  expr: string;
  legend: string;
}

function target(refId: string, q: Query, instant: boolean, format: prometheus.PromQueryFormat): prometheus.DataqueryBuilder {
  const b = new prometheus.DataqueryBuilder()
    .refId(refId)
    .datasource(DATASOURCE)
    .expr(q.expr)
    .legendFormat(q.legend)
    .format(format)
    .editorMode(prometheus.QueryEditorMode.Code);
  return instant ? b.instant() : b.range();
}

const refIds = (n: number): string[] => Array.from({ length: n }, (_, i) => String.fromCharCode(65 + i));

export interface PanelSpec {
  id: number;
  title: string;
  description: string;
  unit: string;
  gridPos: GridPos;
  queries: Query[];
}

function legendBelow(calcs: string[] = ['mean', 'max', 'lastNotNull']): common.VizLegendOptionsBuilder {
  return new common.VizLegendOptionsBuilder()
    .showLegend(true)
    .displayMode(common.LegendDisplayMode.Table)
    .placement(common.LegendPlacement.Bottom)
    .calcs(calcs);
}

export function timeseriesPanel(spec: PanelSpec & { min?: number; stack?: boolean }): timeseries.PanelBuilder {
  const ids = refIds(spec.queries.length);
  const b = new timeseries.PanelBuilder()
    .id(spec.id)
    .title(spec.title)
    .description(spec.description)
    .unit(spec.unit)
    .datasource(DATASOURCE)
    .gridPos(spec.gridPos)
    .targets(spec.queries.map((q, i) => target(ids[i]!, q, false, prometheus.PromQueryFormat.TimeSeries)))
    .legend(legendBelow())
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending))
    .lineWidth(1)
    .fillOpacity(10)
    .showPoints(common.VisibilityMode.Never)
    .spanNulls(false);
  if (spec.min !== undefined) b.min(spec.min);
  if (spec.stack) b.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal)).fillOpacity(30);
  return b;
}

export function statPanel(spec: PanelSpec & { decimals?: number; thresholds?: dashboard.Threshold[] }): stat.PanelBuilder {
  const ids = refIds(spec.queries.length);
  const b = new stat.PanelBuilder()
    .id(spec.id)
    .title(spec.title)
    .description(spec.description)
    .unit(spec.unit)
    .datasource(DATASOURCE)
    .gridPos(spec.gridPos)
    .targets(spec.queries.map((q, i) => target(ids[i]!, q, true, prometheus.PromQueryFormat.TimeSeries)))
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .graphMode(common.BigValueGraphMode.None)
    .colorMode(common.BigValueColorMode.Value)
    .textMode(common.BigValueTextMode.Auto)
    .justifyMode(common.BigValueJustifyMode.Auto)
    .orientation(common.VizOrientation.Auto);
  if (spec.decimals !== undefined) b.decimals(spec.decimals);
  if (spec.thresholds) b.thresholds(new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps(spec.thresholds));
  return b;
}

export function barGaugePanel(spec: PanelSpec & { min?: number; max?: number }): bargauge.PanelBuilder {
  const ids = refIds(spec.queries.length);
  const b = new bargauge.PanelBuilder()
    .id(spec.id)
    .title(spec.title)
    .description(spec.description)
    .unit(spec.unit)
    .datasource(DATASOURCE)
    .gridPos(spec.gridPos)
    .targets(spec.queries.map((q, i) => target(ids[i]!, q, true, prometheus.PromQueryFormat.TimeSeries)))
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .orientation(common.VizOrientation.Horizontal)
    .displayMode(common.BarGaugeDisplayMode.Gradient)
    .valueMode(common.BarGaugeValueMode.Text)
    .namePlacement(common.BarGaugeNamePlacement.Auto)
    .showUnfilled(true)
    .sizing(common.BarGaugeSizing.Auto);
  if (spec.min !== undefined) b.min(spec.min);
  if (spec.max !== undefined) b.max(spec.max);
  return b;
}

export interface Column {
  /** Header of the column this query's value becomes. */
  name: string;
  /**
   * Shown as a date (`time`: the query returns unix milliseconds) or as plain
   * text (`string`: a count in a table whose unit is for its other columns).
   * The published schema types an override's value as an object, so a
   * per-column unit override cannot be used; converting the field can.
   */
  as?: 'time' | 'string';
}

/**
 * A table of instant queries joined on their labels: each query becomes one
 * value column named `columns[i].name`; the Time column is hidden because
 * every row is evaluated at the end of the range.
 */
export function tablePanel(spec: PanelSpec & { columns: Column[]; hide?: string[]; sortBy?: string; decimals?: number }): table.PanelBuilder {
  if (spec.columns.length !== spec.queries.length) throw new Error(`table ${spec.title}: one column per query`);
  const ids = refIds(spec.queries.length);
  const renameByName: Record<string, string> = {};
  const excludeByName: Record<string, boolean> = { Time: true };
  for (const h of spec.hide ?? []) excludeByName[h] = true;
  // One query's value column is called "Value"; several are "Value #A", "Value #B", ...
  spec.columns.forEach((c, i) => (renameByName[spec.queries.length === 1 ? 'Value' : `Value #${ids[i]}`] = c.name));
  const b = new table.PanelBuilder()
    .id(spec.id)
    .title(spec.title)
    .description(spec.description)
    .unit(spec.unit)
    .datasource(DATASOURCE)
    .gridPos(spec.gridPos)
    .targets(spec.queries.map((q, i) => target(ids[i]!, q, true, prometheus.PromQueryFormat.Table)))
    .showHeader(true)
    .cellHeight(common.TableCellHeight.Sm)
    .footer(new common.TableFooterOptionsBuilder().show(false).reducer(['sum']).countRows(false))
    .withTransformation({ id: 'merge', options: {} })
    .withTransformation({ id: 'organize', options: { excludeByName, renameByName, indexByName: {} } });
  const conversions = spec.columns
    .filter((c) => c.as !== undefined)
    .map((c) => ({ targetField: c.name, destinationType: c.as! }));
  if (conversions.length > 0) b.withTransformation({ id: 'convertFieldType', options: { conversions, fields: {} } });
  if (spec.sortBy) b.sortBy([new common.TableSortByFieldStateBuilder().displayName(spec.sortBy).desc(true)]);
  if (spec.decimals !== undefined) b.decimals(spec.decimals);
  return b;
}

export function row(id: number, title: string, gridPos: GridPos): dashboard.RowBuilder {
  return new dashboard.RowBuilder(title).id(id).collapsed(false).gridPos(gridPos);
}

/** Settings every Tally dashboard shares. */
export function baseDashboard(uid: string, title: string, description: string, tags: string[]): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['tally', ...tags])
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser')
    .refresh('1m')
    .version(1);
}

/**
 * Places panels left to right in rows of 24 columns, starting a new line when
 * one is full, so the sources say only each panel's width and height.
 */
export class Grid {
  private y = 0;
  private x = 0;
  private lineHeight = 0;

  /** A full-width row header below everything placed so far. */
  row(): GridPos {
    this.newLine();
    const pos = { x: 0, y: this.y, w: 24, h: 1 };
    this.y += 1;
    return pos;
  }

  at(w: number, h: number): GridPos {
    if (this.x + w > 24) this.newLine();
    const pos = { x: this.x, y: this.y, w, h };
    this.x += w;
    this.lineHeight = Math.max(this.lineHeight, h);
    return pos;
  }

  private newLine(): void {
    this.y += this.lineHeight;
    this.x = 0;
    this.lineHeight = 0;
  }
}
