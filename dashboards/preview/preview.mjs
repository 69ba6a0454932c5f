#!/usr/bin/env node
// `npm run dashboards -- --preview URL`: every shipped dashboard rendered from
// a running Prometheus into static HTML pages, so people can see what the
// dashboards show without a Grafana. Not Grafana's renderer; see page notice.

import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parsePreviewArgs, USAGE, UsageError } from './args.mjs';
import { flattenPanels, queryPanel } from './panel-data.mjs';
import { prometheusClient } from './prometheus-api.mjs';
import { KNOWN_TYPES, loadAssets, renderDashboardPage, renderIndexPage, renderPanel } from './render-page.mjs';
import { parseDuration } from './time-range.mjs';
import { builtinMacros } from './macros.mjs';
import { resolveVariables } from './variables.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEFAULT_OUT = join(ROOT, 'dashboards', 'preview-out');
const GRAFANA_DEFAULT_SCRAPE_MS = 15_000;

/** The shipped dashboards: the dashboards/*.json files that hold a dashboard (not tsconfig.json), sorted. */
export async function shippedDashboardFiles() {
  const dir = join(ROOT, 'dashboards');
  const out = [];
  for (const name of (await readdir(dir)).filter((n) => n.endsWith('.json')).sort()) {
    const file = join(dir, name);
    let json;
    try {
      json = JSON.parse(await readFile(file, 'utf8'));
    } catch {
      // A malformed dashboard is reported when it is previewed; keep it in the list.
      out.push(file);
      continue;
    }
    if (Array.isArray(json?.panels) && json.templating !== undefined) out.push(file);
  }
  return out;
}

async function scrapeInterval(prom, given) {
  if (given) return given;
  try {
    const text = await prom.scrapeInterval();
    if (text) return parseDuration(text);
  } catch {
    // An older or proxied Prometheus may not expose its config; Grafana's default applies.
  }
  return GRAFANA_DEFAULT_SCRAPE_MS;
}

/**
 * Renders one dashboard. Returns its page and, per panel, what was drawn:
 * `{ html, panels: [{ id, title, type, status, points, errors }], problems }`.
 */
export async function previewDashboard(dashboard, { prom, fromMs, toMs, scrapeIntervalMs, overrides, assets, generatedAt }) {
  const range = { fromMs, toMs };
  const macros = builtinMacros({ fromMs, toMs, intervalMs: scrapeIntervalMs, scrapeIntervalMs });
  const { variables, problems } = await resolveVariables(dashboard, { prom, range, overrides, macros });
  const panelsHtml = [];
  const panels = [];
  for (const panel of flattenPanels(dashboard)) {
    const type = panel.type ?? '(none)';
    const queried = type !== 'row' && type !== 'text' && KNOWN_TYPES.has(type);
    const data = queried ? await queryPanel(panel, { prom, fromMs, toMs, scrapeIntervalMs, variables }) : undefined;
    const drawn = renderPanel(panel, data ?? { series: [], errors: [], queries: [] }, range, variables);
    panelsHtml.push(drawn.html);
    if (type === 'row') continue;
    panels.push({
      id: panel.id,
      title: drawn.title,
      type,
      status: drawn.status,
      points: drawn.points,
      errors: (data?.errors ?? []).filter((e) => !e.warning).map((e) => `${e.refId}: ${e.message}`),
      queries: data?.queries ?? [],
    });
  }
  const html = renderDashboardPage({ dashboard, panelsHtml, variables, problems, range, prometheusUrl: prom.url, generatedAt, assets });
  return { html, panels, problems, variables: Object.keys(variables) };
}

export async function main(argv = process.argv.slice(2)) {
  let opts;
  try {
    opts = parsePreviewArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`preview: ${err.message}\n\n${USAGE}`);
      return { exitCode: 2, dashboards: [] };
    }
    throw err;
  }
  if (opts.help) {
    console.log(USAGE);
    return { exitCode: 0, dashboards: [] };
  }
  const prom = prometheusClient(opts.url);
  const out = opts.out ? resolve(opts.out) : DEFAULT_OUT;
  const files = opts.dashboards?.map((f) => resolve(f)) ?? (await shippedDashboardFiles());
  if (files.length === 0) {
    console.error(`preview: no dashboards/*.json to preview (run npm run dashboards first)`);
    return { exitCode: 1, dashboards: [] };
  }
  try {
    await prom.query('1', opts.toMs);
  } catch (err) {
    console.error(`preview: cannot query Prometheus at ${opts.url}: ${err.cause?.message ?? err.message}`);
    return { exitCode: 1, dashboards: [] };
  }
  const scrapeIntervalMs = await scrapeInterval(prom, opts.scrapeIntervalMs);
  const assets = loadAssets();
  const generatedAt = Date.now();
  await mkdir(out, { recursive: true });
  const results = [];
  for (const file of files) {
    let dashboard;
    try {
      dashboard = JSON.parse(await readFile(file, 'utf8'));
    } catch (err) {
      console.error(`preview: ${file}: ${err.message}`);
      return { exitCode: 1, dashboards: results };
    }
    const page = `${basename(file, '.json')}.html`;
    const r = await previewDashboard(dashboard, { prom, fromMs: opts.fromMs, toMs: opts.toMs, scrapeIntervalMs, overrides: opts.overrides, assets, generatedAt });
    await writeFile(join(out, page), r.html);
    const count = (s) => r.panels.filter((p) => p.status === s).length;
    results.push({
      file,
      page: join(out, page),
      uid: dashboard.uid,
      title: dashboard.title ?? basename(file),
      panels: r.panels,
      problems: r.problems,
      variables: r.variables,
      counts: { panels: r.panels.length, ok: count('ok'), empty: count('empty'), error: count('error') },
    });
    console.log(`${page}: ${r.panels.length} panels, ${count('ok')} with data, ${count('empty')} empty, ${count('error')} with errors`);
    for (const p of r.panels.filter((x) => x.status === 'empty' || x.status === 'error')) {
      console.log(`  ${p.status}: ${p.title}${p.errors.length ? ` (${p.errors.join('; ')})` : ''}`);
    }
    for (const p of r.problems) console.log(`  ${p}`);
  }
  const everyVariable = new Set(results.flatMap((r) => r.variables));
  for (const name of Object.keys(opts.overrides)) {
    if (!everyVariable.has(name)) console.log(`--var ${name}: no dashboard has this variable`);
  }
  const entries = results.map((r) => ({
    href: basename(r.page),
    title: r.title,
    file: basename(r.file),
    panels: r.counts.panels,
    withData: r.counts.ok,
    empty: r.counts.empty,
    errors: r.counts.error,
  }));
  const range = { fromMs: opts.fromMs, toMs: opts.toMs };
  await writeFile(join(out, 'index.html'), renderIndexPage({ entries, prometheusUrl: prom.url, range, assets }));
  await writeFile(join(out, 'summary.json'), JSON.stringify({ prometheus: prom.url, ...range, scrapeIntervalMs, dashboards: results }, null, 2) + '\n');
  console.log(`preview written to ${join(out, 'index.html')} (a preview, not Grafana's renderer)`);
  const bad = results.some((r) => r.counts.empty + r.counts.error > 0);
  return { exitCode: opts.strict && bad ? 1 : 0, out, dashboards: results };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().then(
    (r) => (process.exitCode = r.exitCode),
    (err) => {
      console.error(`preview: ${err.stack ?? err}`);
      process.exitCode = 1;
    },
  );
}
