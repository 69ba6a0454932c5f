#!/usr/bin/env node
/**
 * npm run dashboards                 compile dashboards/src and write dashboards/*.json
 * npm run dashboards -- --check      exit 1 when a committed file differs from what the sources produce
 * npm run dashboards -- --dir DIR    read/write the JSON files in DIR instead of dashboards/
 * npm run dashboards -- --preview URL [--out DIR]
 *                                    render the dashboards from a running Prometheus (dashboards/preview/preview.mjs)
 *
 * The sources are TypeScript written against the Grafana foundation SDK, so
 * they are compiled with tsc (which also type-checks them) into
 * dashboards/.build/<pid>, in a git-ignored folder, imported from there and
 * removed afterwards.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DASHBOARDS = join(ROOT, 'dashboards');
// One folder per run, so two runs at once (a test and a developer) do not
// delete each other's output.
const BUILD = join(DASHBOARDS, '.build', String(process.pid));
const PREVIEW = join(DASHBOARDS, 'preview', 'preview.mjs');

function usage(message) {
  process.stderr.write(
    `${message}\nusage: node scripts/dashboards.mjs [--check] [--dir DIR]\n       node scripts/dashboards.mjs --preview URL [--out DIR]\n`,
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { check: false, dir: DASHBOARDS, preview: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--check') opts.check = true;
    else if (a === '--dir') {
      if (!argv[i + 1]) usage('--dir needs a directory');
      opts.dir = resolve(argv[++i]);
    } else if (a === '--preview') opts.preview = true;
    else usage(`unknown argument: ${a}`);
  }
  return opts;
}

function compile() {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(DASHBOARDS, 'tsconfig.json'), '--outDir', BUILD], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    rmSync(BUILD, { recursive: true, force: true });
    process.stderr.write(`tsc -p dashboards/tsconfig.json failed:\n${r.stdout}${r.stderr}`);
    process.exit(1);
  }
}

async function generate() {
  compile();
  try {
    const { DASHBOARDS: list } = await import(pathToFileURL(join(BUILD, 'index.js')).href);
    const { serializeDashboard } = await import(pathToFileURL(join(BUILD, 'serialize.js')).href);
    return list.map((d) => ({ file: d.file, text: serializeDashboard(d.build()) }));
  } finally {
    rmSync(BUILD, { recursive: true, force: true });
  }
}

async function main(argv) {
  if (argv.includes('--preview')) {
    // The preview parses its own options (--preview URL, --out DIR, ...), so it gets argv whole.
    if (!existsSync(PREVIEW)) {
      process.stderr.write(`${PREVIEW} does not exist yet: the preview renderer is not part of this checkout.\n`);
      process.exit(1);
    }
    const { main: preview } = await import(pathToFileURL(PREVIEW).href);
    if (typeof preview !== 'function') {
      process.stderr.write(`${PREVIEW} does not export main(argv)\n`);
      process.exit(1);
    }
    const result = await preview(argv);
    if (typeof result?.exitCode === 'number') process.exitCode = result.exitCode;
    return;
  }
  const opts = parseArgs(argv);
  const generated = await generate();
  if (opts.check) {
    const stale = [];
    for (const { file, text } of generated) {
      const path = join(opts.dir, file);
      const committed = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
      if (committed !== text) stale.push(committed === undefined ? `${file} (missing)` : file);
    }
    if (stale.length > 0) {
      process.stderr.write(`dashboards out of date, run npm run dashboards: ${stale.join(', ')}\n`);
      process.exit(1);
    }
    process.stdout.write(`dashboards up to date: ${generated.map((g) => g.file).join(', ')}\n`);
    return;
  }
  mkdirSync(opts.dir, { recursive: true });
  for (const { file, text } of generated) writeFileSync(join(opts.dir, file), text);
  process.stdout.write(`wrote ${generated.map((g) => join(opts.dir, g.file)).join(', ')}\n`);
}

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exit(1);
});
