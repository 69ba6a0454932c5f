// Memory a series costs, by type, as series grow: an aggregator fed N series
// of one statsd type at a time (the UDP benchmark's tag sets, ten series a
// name, timers on the default 128 bounds), each type and size in a fresh
// process, measured after a full GC. The mixed row weighs the types as the
// UDP benchmark's sender does (40 % counters, 20 % gauges, 20 % timers,
// 10 % histograms, 10 % sets), the mix issue 13's 512 B goal is about.
// Prints the command line and a Markdown table.
//
//   node bench/micro-memory.mjs [--sizes 100000,1000000] [--values 1] [--histograms classic|native]
//
// --values K: K samples a series (timers and histograms then fill K buckets
// at most). --histograms native: every histogram family keeps exponential
// state too, as with http.native_histograms or a sink sending native or
// exponential histograms.
//
// Needs `npm run build` (reads dist/).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100000,1000000' },
    values: { type: 'string', default: '1' },
    histograms: { type: 'string', default: 'classic' },
    child: { type: 'string' },
    type: { type: 'string' },
  },
});

// Code, weight in the mix (tenths), what the table calls it.
const TYPES = [
  ['c', 4, 'counter'],
  ['g', 2, 'gauge'],
  ['ms', 2, 'timer (128 bounds)'],
  ['h', 1, 'histogram (11 bounds)'],
  ['s', 1, 'set'],
];

if (opts.child !== undefined) {
  const { benchAggregator, senderTags } = await import('./in-process.mjs');
  const { StatsdParser } = await import('../dist/agent/parse/statsd-line.js');
  const n = Number(opts.child);
  const code = opts.type;
  const agg = await benchAggregator({ exponential: opts.histograms === 'native' ? 'all' : 'rules' });
  const k = Number(opts.values);
  // Timers spread over a decade of bounds, sets over a few members: counts that are written, as in use.
  const value = (i) => (code === 'ms' ? String(1 + (i % 500)) : code === 's' ? `u${i % 7}` : String(i % 4096));
  const parser = new StatsdParser();
  global.gc();
  const before = process.memoryUsage();
  for (let v = 0; v < k; v++) {
    for (let i = 0; i < n; i += 10) {
      const lines = [];
      for (let j = i; j < Math.min(n, i + 10); j++) lines.push(`tallybench.x_${Math.floor(j / 10)}:${value(j + v * 7919)}|${code}|#${senderTags(j % 10)}`);
      parser.parsePacket(Buffer.from(lines.join('\n')), agg);
    }
  }
  global.gc();
  const after = process.memoryUsage();
  console.log(JSON.stringify({ series: agg.seriesCount, rss: (after.rss - before.rss) / n, heap: (after.heapUsed - before.heapUsed) / n }));
} else {
  const self = fileURLToPath(import.meta.url);
  if (!['classic', 'native'].includes(opts.histograms) || !(Number(opts.values) >= 1)) throw new Error('--histograms is classic or native, --values at least 1');
  console.log(`command: node bench/micro-memory.mjs --sizes ${opts.sizes} --values ${opts.values} --histograms ${opts.histograms}`);
  console.log(`node ${process.version}; each type and size in a fresh process; bytes per series after a full GC (RSS, and the V8 heap part of it)\n`);
  const sizes = opts.sizes.split(',').map(Number);
  console.log(`| type | ${sizes.map((s) => `${s.toLocaleString('en')} series: RSS (heap)`).join(' | ')} |`);
  console.log(`|---|${sizes.map(() => '--:').join('|')}|`);
  const mixed = sizes.map(() => ({ rss: 0, heap: 0 }));
  for (const [code, weight, label] of TYPES) {
    const cells = sizes.map((size, k) => {
      const out = execFileSync(process.execPath, ['--expose-gc', '--max-old-space-size=16384', self, '--child', String(size), '--type', code, '--values', opts.values, '--histograms', opts.histograms], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const r = JSON.parse(out.trim().split('\n').pop());
      if (r.series !== size) throw new Error(`${label}: ${r.series} series made of ${size}`);
      mixed[k].rss += (r.rss * weight) / 10;
      mixed[k].heap += (r.heap * weight) / 10;
      return `${Math.round(r.rss).toLocaleString('en')} B (${Math.round(r.heap).toLocaleString('en')} B)`;
    });
    console.log(`| ${label} | ${cells.join(' | ')} |`);
  }
  console.log(`| **mixed** (4:2:2:1:1) | ${mixed.map((m) => `**${Math.round(m.rss).toLocaleString('en')} B** (${Math.round(m.heap).toLocaleString('en')} B)`).join(' | ')} |`);
}
