// In-process cost of the hot path as series grow: the parser and aggregator
// alone (no sockets), each size in a fresh process, lines spread at random
// over all series so the series state does not stay in the CPU caches, as
// with a real fleet. Prints the command line and a Markdown table.
//
//   node bench/micro-cardinality.mjs [--sizes 1000,100000,1000000] [--rounds 3]
//
// Needs `npm run build` (reads dist/).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({ options: { sizes: { type: 'string', default: '1000,100000,1000000' }, rounds: { type: 'string', default: '3' }, child: { type: 'string' } } });

if (opts.child !== undefined) {
  const { benchAggregator } = await import('./in-process.mjs');
  const { StatsdParser } = await import('../dist/agent/parse/statsd-line.js');
  const n = Number(opts.child);
  const B = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
  const agg = await benchAggregator({ timerBuckets: B, histogramBuckets: B });
  const types = ['c', 'g', 'ms', 'h', 'c|@0.5'];
  const line = (s, v) => `bench.metric_${s % 100}.${types[s % 5][0]}:${v}|${types[s % 5]}|#env:prod,host:web-${s % 1000},id:${s}`;
  const parser = new StatsdParser();
  const rss0 = process.memoryUsage().rss;
  for (let s = 0; s < n; s += 10) {
    const lines = [];
    for (let j = s; j < Math.min(n, s + 10); j++) lines.push(line(j, 1));
    parser.parsePacket(Buffer.from(lines.join('\n')), agg);
  }
  const rssPerSeries = (process.memoryUsage().rss - rss0) / n;
  let x = 12345;
  const pick = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) % n;
  const packets = [];
  for (let p = 0; p < 20_000; p++) {
    const lines = [];
    for (let j = 0; j < 10; j++) {
      const s = pick();
      lines.push(line(s, (s * 7) % 500));
    }
    packets.push(Buffer.from(lines.join('\n')));
  }
  const rates = [];
  for (let r = 0; r < Number(opts.rounds); r++) {
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < 5; k++) for (const pk of packets) parser.parsePacket(pk, agg);
    rates.push((5 * packets.length * 10) / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  rates.sort((a, b) => a - b);
  console.log(JSON.stringify({ series: agg.seriesCount, median: rates[rates.length >> 1], min: rates[0], max: rates[rates.length - 1], rssPerSeries }));
} else {
  const self = fileURLToPath(import.meta.url);
  console.log(`command: node bench/micro-cardinality.mjs --sizes ${opts.sizes} --rounds ${opts.rounds}`);
  console.log(`node ${process.version}; each size in a fresh process (taskset -c 0 where available)\n`);
  console.log('| series | lines/s in-process (median, min–max) | RSS per series |');
  console.log('|--:|--:|--:|');
  for (const size of opts.sizes.split(',').map(Number)) {
    const args = [self, '--child', String(size), '--rounds', opts.rounds];
    let out;
    try {
      out = execFileSync('taskset', ['-c', '0', process.execPath, ...args], { encoding: 'utf8' });
    } catch {
      out = execFileSync(process.execPath, args, { encoding: 'utf8' });
    }
    const r = JSON.parse(out.trim().split('\n').pop());
    const m = (v) => `${(v / 1e6).toFixed(2)} M`;
    console.log(`| ${r.series.toLocaleString('en')} | ${m(r.median)} (${m(r.min)}–${m(r.max)}) | ${Math.round(r.rssPerSeries).toLocaleString('en')} B |`);
  }
}
