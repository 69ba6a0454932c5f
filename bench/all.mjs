// `npm run bench`: runs the UDP table (bench/run.mjs), then HTTP collect,
// mapping cost, TCP ingest, spool appends, spool replay, the application
// client (tally-agent/client against hot-shots) and the /metrics scrape at
// high cardinality, one after another; and, with --only cardinality, the
// whole agent at 1k to 1M series. See bench/README.md.
//
//   npm run bench                              # all of them, in turn
//   npm run bench -- --only udp|http|mapping|tcp|spool|replay|client|scrape|cardinality[,...] [flags for that one script]
//
// Flags after --only go to the selected script (only when one is selected);
// without --only, flags go to bench/run.mjs as before.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const SCRIPTS = {
  udp: ['run.mjs'],
  http: ['http-collect.mjs'],
  mapping: ['mapping.mjs', '--expose-gc'],
  tcp: ['tcp.mjs'],
  spool: ['spool.mjs'],
  replay: ['replay.mjs'],
  client: ['client.mjs'],
  scrape: ['scrape.mjs'],
  cardinality: ['cardinality.mjs'],
};
const argv = process.argv.slice(2);
// Cardinality runs to a million series (gigabytes of RSS, an hour on a quiet
// machine), so it runs only when asked for by name.
let only = Object.keys(SCRIPTS).filter((k) => k !== 'cardinality');
let rest = argv;
const i = argv.findIndex((a) => a === '--only' || a.startsWith('--only='));
if (i >= 0) {
  const v = argv[i].includes('=') ? argv[i].split('=')[1] : argv[i + 1];
  only = (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  rest = argv.filter((_, j) => j !== i && !(j === i + 1 && !argv[i].includes('=')));
  for (const k of only) if (!SCRIPTS[k]) { console.error(`bench: unknown --only "${k}" (use ${Object.keys(SCRIPTS).join('|')})`); process.exit(2); }
}
if (rest.length && only.length > 1 && i >= 0) { console.error('bench: extra flags need a single --only'); process.exit(2); }
let status = 0;
for (const k of only) {
  const [script, ...nodeFlags] = SCRIPTS[k];
  const args = only.length === 1 || (i < 0 && k === 'udp') ? rest : [];
  console.log(`\n## ${k}\n`);
  const r = spawnSync(process.execPath, [...nodeFlags, join(here, script), ...args], { stdio: 'inherit', timeout: 3600_000 });
  if (r.status !== 0) status = 1;
}
process.exit(status);
