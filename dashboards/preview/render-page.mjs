// The static HTML of one dashboard preview: panels placed on Grafana's
// 24-column grid by gridPos, stats/tables/bar gauges as HTML, time series
// drawn in the page by uPlot, which is inlined so the file stands alone.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { interpolateText } from './macros.mjs';
import { reduceSeries } from './panel-data.mjs';
import { applyTransformations, framesFromSeries, sortRows } from './tables.mjs';
import { formatValue, isoLocal } from './units.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** Page assets read once per run: uPlot's script and style, the unit formatter, the drawing script. */
export function loadAssets() {
  const uplotDir = dirname(require.resolve('uplot/package.json'));
  const units = readFileSync(join(HERE, 'units.mjs'), 'utf8').replace(/^export /gm, '');
  return {
    uplotJs: readFileSync(join(uplotDir, 'dist', 'uPlot.iife.min.js'), 'utf8'),
    uplotCss: readFileSync(join(uplotDir, 'dist', 'uPlot.min.css'), 'utf8'),
    unitsJs: units,
    pageJs: readFileSync(join(HERE, 'page-script.js'), 'utf8'),
    css: readFileSync(join(HERE, 'page.css'), 'utf8'),
  };
}

export function escapeHtml(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

/** JSON that can sit inside a <script> element. */
function scriptJson(value) {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

// Grafana's classic palette, so series colours look familiar.
const PALETTE = ['#7EB26D', '#EAB839', '#6ED0E0', '#EF843C', '#E24D42', '#1F78C1', '#BA43A9', '#705DA0', '#508642', '#CCA300', '#447EBC', '#C15C17'];

const CHART_TYPES = new Set(['timeseries', 'graph']);
const STAT_TYPES = new Set(['stat', 'singlestat']);
const BAR_TYPES = new Set(['bargauge', 'gauge']);
export const KNOWN_TYPES = new Set([...CHART_TYPES, ...STAT_TYPES, ...BAR_TYPES, 'table', 'text', 'row']);

const COLORS = {
  green: '#37872D',
  'dark-green': '#19730E',
  red: '#C4162A',
  'dark-red': '#AD0317',
  yellow: '#CC9D00',
  orange: '#E0752D',
  blue: '#1F60C4',
  purple: '#8F3BB8',
  text: '#222',
  transparent: 'transparent',
};

function thresholdColor(value, fieldConfig) {
  const steps = fieldConfig?.defaults?.thresholds?.steps;
  if (!Array.isArray(steps) || steps.length === 0 || !Number.isFinite(value)) return undefined;
  let color;
  for (const s of steps) if (s.value === null || s.value === undefined || value >= s.value) color = s.color;
  return COLORS[color] ?? color;
}

function defaultsOf(panel) {
  const d = panel.fieldConfig?.defaults ?? {};
  return { unit: d.unit, decimals: d.decimals, noValue: d.noValue };
}

/** Unit and decimals of a table column: the panel defaults, then overrides matching it. */
function columnFormat(panel, field, frame) {
  const out = defaultsOf(panel);
  const originalName = frame.renamedFrom?.[field] ?? field;
  for (const o of panel.fieldConfig?.overrides ?? []) {
    const m = o.matcher ?? {};
    let hit = false;
    if (m.id === 'byName') hit = m.options === field || m.options === originalName;
    else if (m.id === 'byRegexp') hit = new RegExp(m.options).test(field);
    else if (m.id === 'byFrameRefID') hit = frame.refId.split(',').includes(m.options) && frame.valueFields.has(field);
    else if (m.id === 'byType') hit = m.options === 'number' && frame.valueFields.has(field);
    if (!hit) continue;
    for (const p of o.properties ?? []) {
      if (p.id === 'unit') out.unit = p.value;
      if (p.id === 'decimals') out.decimals = p.value;
      if (p.id === 'displayName') out.displayName = p.value;
    }
  }
  return out;
}

function renderStat(panel, data) {
  const values = reduceSeries(data.series, panel.options?.reduceOptions);
  const { unit, decimals, noValue } = defaultsOf(panel);
  const shown = values.filter((v) => Number.isFinite(v.value));
  if (values.length === 0) return { html: `<div class="stat-empty">${escapeHtml(noValue ?? 'No data')}</div>`, drawn: 0 };
  const items = values
    .map((v) => {
      const color = thresholdColor(v.value, panel.fieldConfig);
      const style = color ? ` style="color:${escapeHtml(color)}"` : '';
      const label = values.length > 1 ? `<div class="stat-name">${escapeHtml(v.name)}</div>` : '';
      return `<div class="stat">${label}<div class="stat-value"${style}>${escapeHtml(formatValue(v.value, unit, decimals))}</div></div>`;
    })
    .join('');
  return { html: `<div class="stats">${items}</div>`, drawn: shown.length };
}

function renderBars(panel, data) {
  const values = reduceSeries(data.series, panel.options?.reduceOptions);
  const { unit, decimals, noValue } = defaultsOf(panel);
  const finite = values.filter((v) => Number.isFinite(v.value));
  if (finite.length === 0) return { html: `<div class="stat-empty">${escapeHtml(noValue ?? 'No data')}</div>`, drawn: 0 };
  const d = panel.fieldConfig?.defaults ?? {};
  const min = Number.isFinite(d.min) ? d.min : Math.min(0, ...finite.map((v) => v.value));
  const max = Number.isFinite(d.max) ? d.max : Math.max(...finite.map((v) => v.value));
  const rows = values
    .map((v) => {
      const frac = Number.isFinite(v.value) && max > min ? Math.max(0, Math.min(1, (v.value - min) / (max - min))) : 0;
      const color = thresholdColor(v.value, panel.fieldConfig) ?? '#3274D9';
      return (
        `<div class="bar-row"><div class="bar-name" title="${escapeHtml(v.name)}">${escapeHtml(v.name)}</div>` +
        `<div class="bar-track"><div class="bar-fill" style="width:${(frac * 100).toFixed(2)}%;background:${escapeHtml(color)}"></div></div>` +
        `<div class="bar-value">${escapeHtml(formatValue(v.value, unit, decimals))}</div></div>`
      );
    })
    .join('');
  return { html: `<div class="bars">${rows}</div>`, drawn: finite.length };
}

const MAX_TABLE_ROWS = 500;

function renderTable(panel, data, notes) {
  const refIds = [...new Set((panel.targets ?? []).filter((t) => t && !t.hide).map((t) => t.refId ?? 'A'))];
  let frames = framesFromSeries(data.series, refIds);
  const t = applyTransformations(frames, panel.transformations);
  frames = t.frames;
  notes.push(...t.notes);
  const sortBy = panel.options?.sortBy;
  if (Array.isArray(sortBy) && sortBy.length > 0) frames = frames.map((f) => sortRows(f, sortBy));
  if (frames.length > 1) notes.push(`${frames.length} result frames; the preview shows them one after another (Grafana shows one at a time)`);
  let drawn = 0;
  const html = frames
    .map((frame) => {
      const formats = Object.fromEntries(frame.fields.map((f) => [f, columnFormat(panel, f, frame)]));
      const head = frame.fields.map((f) => `<th${frame.valueFields.has(f) ? ' class="num"' : ''}>${escapeHtml(formats[f].displayName ?? f)}</th>`).join('');
      const rows = frame.rows.slice(0, MAX_TABLE_ROWS).map((row) => {
        const cells = frame.fields
          .map((f) => {
            const v = row[f];
            let text;
            if (frame.timeFields?.has(f) && typeof v === 'number') text = isoLocal(v);
            else if (typeof v === 'number') text = formatValue(v, formats[f].unit, formats[f].decimals);
            else text = v ?? '';
            const numericClass = frame.valueFields.has(f) ? ' class="num"' : '';
            return `<td${numericClass}>${escapeHtml(text)}</td>`;
          })
          .join('');
        return `<tr>${cells}</tr>`;
      });
      drawn += rows.length;
      const more = frame.rows.length > MAX_TABLE_ROWS ? `<p class="note">${frame.rows.length - MAX_TABLE_ROWS} more rows not shown</p>` : '';
      return `<table><thead><tr>${head}</tr></thead><tbody>${rows.join('')}</tbody></table>${more}`;
    })
    .join('');
  if (drawn === 0) return { html: `<div class="stat-empty">${escapeHtml(defaultsOf(panel).noValue ?? 'No data')}</div>`, drawn: 0 };
  return { html: `<div class="table-wrap">${html}</div>`, drawn };
}

function countPoints(series) {
  let n = 0;
  for (const s of series) for (const p of s.points) if (Number.isFinite(p[1])) n++;
  return n;
}

/** One panel: `{ html, status, points, notes }`. `data` is queryPanel's result (empty for rows and text). */
export function renderPanel(rawPanel, data, range, variables = {}) {
  // Titles and descriptions name variables ("Features unused for ${idle_days} days"); Grafana shows their values.
  const panel = { ...rawPanel, title: interpolateText(rawPanel.title, { variables }), description: interpolateText(rawPanel.description, { variables }) };
  const type = panel.type ?? '(none)';
  const g = panel.gridPos ?? { x: 0, y: 0, w: 12, h: 8 };
  const style = `grid-column:${(g.x ?? 0) + 1} / span ${g.w ?? 12};grid-row:${(g.y ?? 0) + 1} / span ${g.h ?? 8}`;
  const title = escapeHtml(panel.title ?? '');
  if (type === 'row') {
    return { status: 'row', points: 0, title: panel.title ?? '', html: `<section class="row-header" data-type="row" style="grid-column:1 / span 24;grid-row:${(g.y ?? 0) + 1} / span 1"><h2>${title}</h2></section>` };
  }
  const notes = [];
  const errors = (data?.errors ?? []).map((e) => ({ ...e }));
  let body = '';
  let kind = 'html';
  let drawn = 0;
  const points = data ? countPoints(data.series) : 0;
  try {
    if (CHART_TYPES.has(type)) {
      kind = 'chart';
      const { unit, decimals } = defaultsOf(panel);
      const series = data.series.map((s, i) => ({ name: s.name, color: PALETTE[i % PALETTE.length], points: s.points }));
      const spec = { unit: unit ?? 'short', decimals, fromMs: range.fromMs, toMs: range.toMs, series };
      const legend = series.map((s) => `<span class="legend-item"><i style="background:${s.color}"></i>${escapeHtml(s.name)}</span>`).join('');
      body = `<div class="chart"></div><div class="legend">${legend}</div><script type="application/json" class="panel-data">${scriptJson(spec)}</script>`;
    } else if (STAT_TYPES.has(type)) {
      ({ html: body, drawn } = renderStat(panel, data));
    } else if (BAR_TYPES.has(type)) {
      ({ html: body, drawn } = renderBars(panel, data));
    } else if (type === 'table') {
      ({ html: body, drawn } = renderTable(panel, data, notes));
    } else if (type === 'text') {
      kind = 'static';
      body = `<div class="text">${escapeHtml(panel.options?.content ?? '')}</div>`;
    } else {
      errors.push({ refId: '', message: `panel type "${type}" is not one the preview can draw` });
    }
  } catch (err) {
    errors.push({ refId: '', message: `could not draw: ${err.message}` });
  }
  const hardErrors = errors.filter((e) => !e.warning);
  const status = kind === 'static' ? 'static' : hardErrors.length > 0 ? 'error' : points === 0 ? 'empty' : 'ok';
  const drawnAttr = kind === 'chart' ? '' : ` data-drawn-points="${kind === 'static' ? 0 : drawn}"`;
  const errorHtml = errors.length
    ? `<ul class="panel-errors">${errors.map((e) => `<li${e.warning ? ' class="warning"' : ''}>${e.refId ? `<b>${escapeHtml(e.refId)}</b>: ` : ''}${escapeHtml(e.message)}${e.expr ? `<code>${escapeHtml(e.expr)}</code>` : ''}</li>`).join('')}</ul>`
    : '';
  const noteHtml = notes.length ? `<ul class="panel-notes">${notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : '';
  const emptyHtml = status === 'empty' && kind === 'chart' ? '<div class="stat-empty">No data</div>' : '';
  const queries = escapeHtml(JSON.stringify(data?.queries ?? []));
  const html =
    `<section class="panel" data-type="${escapeHtml(type)}" data-kind="${kind}" data-title="${title}" data-status="${status}" data-points="${points}" data-errors="${hardErrors.length}"${drawnAttr} data-queries="${queries}" style="${style}">` +
    `<header><h3>${title}</h3>${panel.description ? `<p class="desc" title="${escapeHtml(panel.description)}">${escapeHtml(panel.description)}</p>` : ''}</header>` +
    `<div class="panel-body">${body}${emptyHtml}</div>${errorHtml}${noteHtml}</section>`;
  return { html, status, points, notes, title: panel.title ?? '' };
}

function describeVariables(variables) {
  return Object.values(variables)
    .filter((v) => v.name !== 'datasource')
    .map((v) => `<span class="var"><b>${escapeHtml(v.name)}</b> = ${escapeHtml(v.isAll ? 'All' : v.values.join(', ') || '(none)')}</span>`)
    .join(' ');
}

export const NOT_GRAFANA =
  "This is a preview drawn by Tally's dashboards/preview (uPlot and plain HTML), not Grafana's renderer: layout, colours and formatting approximate what Grafana shows.";

/** The whole page of one dashboard. */
export function renderDashboardPage({ dashboard, panelsHtml, variables, problems, range, prometheusUrl, generatedAt, assets }) {
  const title = escapeHtml(dashboard.title ?? dashboard.uid ?? 'dashboard');
  const problemHtml = problems.length ? `<ul class="problems">${problems.map((p) => `<li>${escapeHtml(p)}</li>`).join('')}</ul>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Preview: ${title}</title>
<style>${assets.uplotCss}</style><style>${assets.css}</style></head>
<body data-dashboard-uid="${escapeHtml(dashboard.uid ?? '')}">
<header class="page-header">
<h1>${title} <span class="badge">preview</span></h1>
<p class="not-grafana">${escapeHtml(NOT_GRAFANA)}</p>
<p class="meta">Prometheus ${escapeHtml(prometheusUrl)} · ${escapeHtml(isoLocal(range.fromMs))} to ${escapeHtml(isoLocal(range.toMs))} · ${describeVariables(variables)} · generated ${escapeHtml(isoLocal(generatedAt))}</p>
${problemHtml}
</header>
<main class="grid">
${panelsHtml.join('\n')}
</main>
<script>${assets.uplotJs}</script>
<script>${assets.unitsJs}</script>
<script>${assets.pageJs}</script>
</body></html>
`;
}

/** The index page linking every dashboard's preview. */
export function renderIndexPage({ entries, prometheusUrl, range, assets }) {
  const rows = entries
    .map(
      (e) =>
        `<tr><td><a href="${escapeHtml(e.href)}">${escapeHtml(e.title)}</a></td><td>${escapeHtml(e.file)}</td><td class="num">${e.panels}</td><td class="num">${e.withData}</td><td class="num">${e.empty}</td><td class="num">${e.errors}</td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tally dashboards: preview</title><style>${assets.css}</style></head>
<body><header class="page-header"><h1>Tally dashboards <span class="badge">preview</span></h1>
<p class="not-grafana">${escapeHtml(NOT_GRAFANA)}</p>
<p class="meta">Prometheus ${escapeHtml(prometheusUrl)} · ${escapeHtml(isoLocal(range.fromMs))} to ${escapeHtml(isoLocal(range.toMs))}</p></header>
<main class="index"><table><thead><tr><th>Dashboard</th><th>File</th><th>Panels</th><th>With data</th><th>Empty</th><th>Errors</th></tr></thead><tbody>${rows}</tbody></table></main>
</body></html>
`;
}

