// Command-line options of the preview: `preview URL [--out DIR] [--range 15m |
// --from T --to T] [--var name=value]... [--dashboard FILE]... [--strict]`.

import { parseArgs } from 'node:util';
import { parseDuration, parseTimePoint } from './time-range.mjs';

export const USAGE = `usage: npm run dashboards -- --preview URL [options]
       node dashboards/preview/preview.mjs URL [options]

Renders every dashboards/*.json from the Prometheus at URL into static HTML
pages (one per dashboard, plus index.html).

  --out DIR              where the pages go (default dashboards/preview-out)
  --range DUR            the last DUR up to now (default 15m)
  --from T, --to T       an explicit range: now, now-1h, ISO date, epoch seconds
  --var NAME=VALUE       a variable's value; repeat a name for several values,
                         VALUE All for the All option
  --scrape-interval DUR  for $__rate_interval (default: Prometheus' global
                         scrape_interval, else 15s)
  --dashboard FILE       preview this file instead of dashboards/*.json
                         (repeatable)
  --strict               exit 1 when a panel is empty or shows an error
  -h, --help             this text`;

export class UsageError extends Error {}

export function parsePreviewArgs(argv, nowMs = Date.now()) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        preview: { type: 'string' },
        url: { type: 'string' },
        out: { type: 'string' },
        range: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        var: { type: 'string', multiple: true },
        'scrape-interval': { type: 'string' },
        dashboard: { type: 'string', multiple: true },
        strict: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError(err.message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true };
  const urls = [values.preview, values.url, ...positionals].filter(Boolean);
  if (urls.length !== 1) throw new UsageError(urls.length === 0 ? 'the Prometheus URL is missing' : `one Prometheus URL expected, got: ${urls.join(' ')}`);
  if (values.range && (values.from || values.to)) throw new UsageError('--range and --from/--to exclude each other');
  let fromMs;
  let toMs;
  try {
    toMs = parseTimePoint(values.to ?? 'now', nowMs);
    fromMs = values.from ? parseTimePoint(values.from, nowMs) : toMs - parseDuration(values.range ?? '15m');
  } catch (err) {
    throw new UsageError(err.message);
  }
  if (!(fromMs < toMs)) throw new UsageError('the range is empty: --from must be before --to');
  const overrides = {};
  for (const item of values.var ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`--var ${item}: expected NAME=VALUE`);
    const name = item.slice(0, eq);
    (overrides[name] ??= []).push(item.slice(eq + 1));
  }
  let scrapeIntervalMs;
  if (values['scrape-interval']) {
    try {
      scrapeIntervalMs = parseDuration(values['scrape-interval']);
    } catch (err) {
      throw new UsageError(err.message);
    }
  }
  return {
    help: false,
    url: urls[0],
    out: values.out,
    fromMs,
    toMs,
    overrides,
    scrapeIntervalMs,
    dashboards: values.dashboard,
    strict: Boolean(values.strict),
  };
}
