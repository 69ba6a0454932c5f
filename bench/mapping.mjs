// Cost of statsd_exporter mapping. See bench/README.md.
//
//   node --expose-gc bench/mapping.mjs [--globs 1000] [--regexes 50] [--names 1000000]
//        [--cache-size 1000] [--e2e-rate 1000000] [--duration 10] [--no-e2e]
//
// (a) In-process: Mapper.map from dist/agent/mapping over --names distinct
//     names (40 % generic glob hits, 20 % regex hits, 40 % no match), cold (every
//     lookup a cache miss) and warm (a working set that fits the LRU cache).
// (b) End to end: bench/run.mjs --targets tally --mapping FILE at --e2e-rate.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchDir, commandLine, fmt, fmtInt, machineFacts, root, tmpDir, writeResult } from './lib.mjs';
import { generateMapping, nameFor } from './mapping-rules.mjs';

const { values: o } = parseArgs({
  options: {
    globs: { type: 'string', default: '1000' },
    regexes: { type: 'string', default: '50' },
    names: { type: 'string', default: '1000000' },
    'cache-size': { type: 'string' },
    'e2e-rate': { type: 'string', default: '1000000' },
    duration: { type: 'string', default: '10' },
    'no-e2e': { type: 'boolean', default: false },
  },
});
const globs = Number(o.globs);
const regexes = Number(o.regexes);
const N = Number(o.names);
const command = commandLine();

const { parseMappingText } = await import(join(root, 'dist/agent/mapping/mapping-config.js'));
const { Mapper, DEFAULT_MAPPING_CACHE_SIZE } = await import(join(root, 'dist/agent/mapping/mapper.js'));
const cacheSize = o['cache-size'] !== undefined ? Number(o['cache-size']) : DEFAULT_MAPPING_CACHE_SIZE;
const gc = globalThis.gc ?? (() => {});
const heap = () => (gc(), gc(), process.memoryUsage().heapUsed);

const yaml = generateMapping(globs, regexes);
const dir = tmpDir();
const mappingFile = join(dir, 'mapping.yaml');
writeFileSync(mappingFile, yaml);

const h0 = heap();
let t = performance.now();
const config = parseMappingText(yaml, mappingFile);
const mapper = new Mapper(config, { cacheSize });
const buildMs = performance.now() - t;
const mapperHeapBytes = heap() - h0;
if (config.mappings.length !== globs + regexes) throw new Error(`mapping has ${config.mappings.length} rules`);

const names = new Array(N);
for (let i = 0; i < N; i++) names[i] = nameFor(i, globs, regexes);
const TYPES = ['counter', 'gauge', 'observer'];

// Sanity: the mix matches what it claims.
const probe = { glob: 0, regex: 0, none: 0 };
const probeMapper = new Mapper(config, { cacheSize: 0 });
for (let i = 0; i < Math.min(N, 1000); i++) {
  const r = probeMapper.map(names[i], 'counter');
  if (!r) probe.none++;
  else if (config.mappings[r.ruleIndex].matchType === 'glob') probe.glob++;
  else probe.regex++;
}

function timeLoop(fn, count) {
  const t0 = process.hrtime.bigint();
  let sink = 0;
  for (let i = 0; i < count; i++) if (fn(i)) sink++;
  return { ns: Number(process.hrtime.bigint() - t0) / count, sink };
}

// Cold: each of N distinct names once; with 1M names and a cache of
// `cacheSize` every lookup misses (and evicts the oldest entry).
timeLoop((i) => mapper.map(names[i % 20000], TYPES[i % 3]), 200000); // JIT warm-up
const hCold0 = heap();
const cold = timeLoop((i) => mapper.map(names[i], TYPES[i % 3]), N);
const coldHeapBytes = heap() - hCold0;
// Same, with the cache off: the bare rule search.
const nocacheMapper = new Mapper(config, { cacheSize: 0 });
const nocache = timeLoop((i) => nocacheMapper.map(names[i], TYPES[i % 3]), N);
// Warm: a working set of min(cacheSize, 1000) names, all cached.
const ws = Math.max(1, Math.min(cacheSize || 1000, 1000));
for (let i = 0; i < ws; i++) mapper.map(names[i], 'counter');
const warm = timeLoop((i) => mapper.map(names[i % ws], 'counter'), N);
// Per class, cold and uncached.
const perClass = {};
for (const [cls, pick] of [['glob hit', 0], ['regex hit', 4], ['no match', 6]]) {
  const m = new Mapper(config, { cacheSize: 0 });
  const count = Math.floor(N / 10);
  perClass[cls] = timeLoop((i) => m.map(names[i * 10 + pick], 'counter'), count).ns;
}
const rss = process.memoryUsage().rss;

const micro = {
  rules: { glob: globs, regex: regexes },
  names: N,
  cacheSize,
  mix: probe,
  buildMs,
  mapperHeapMiB: mapperHeapBytes / 2 ** 20,
  coldNsPerLookup: cold.ns,
  uncachedNsPerLookup: nocache.ns,
  warmNsPerLookup: warm.ns,
  perClassUncachedNs: perClass,
  heapGrowthAfterColdMiB: coldHeapBytes / 2 ** 20,
  rssMiB: rss / 2 ** 20,
};

const out = [`$ ${command}`, ''];
out.push(
  `Mapper.map (dist/agent/mapping/mapper.js), Node.js ${process.version}; ${fmtInt(globs)} glob + ${fmtInt(regexes)} regex rules; ` +
    `${fmtInt(N)} distinct names (first 1,000: ${probe.glob} glob hits, ${probe.regex} regex hits, ${probe.none} no match); LRU cache ${fmtInt(cacheSize)} names; metric types rotate counter/gauge/observer.`,
  '',
  '| case | ns/lookup | lookups/s (one core) |',
  '|---|---:|---:|',
  `| cold: ${fmtInt(N)} distinct names, cache ${fmtInt(cacheSize)} (all misses) | ${fmt(cold.ns, 0)} | ${fmtInt(1e9 / cold.ns)} |`,
  `| uncached (cacheSize 0), same names | ${fmt(nocache.ns, 0)} | ${fmtInt(1e9 / nocache.ns)} |`,
  `| warm: ${fmtInt(ws)} names, all cache hits | ${fmt(warm.ns, 0)} | ${fmtInt(1e9 / warm.ns)} |`,
  ...Object.entries(perClass).map(([k, ns]) => `| uncached, ${k} only | ${fmt(ns, 0)} | ${fmtInt(1e9 / ns)} |`),
  '',
  `Memory: compiled mapper ${fmt(micro.mapperHeapMiB, 1)} MiB heap (built in ${fmt(buildMs, 0)} ms incl. YAML parse); ` +
    `heap growth after the cold pass ${fmt(micro.heapGrowthAfterColdMiB, 1)} MiB (the cache is bounded); process RSS ${fmt(micro.rssMiB, 0)} MiB with the ${fmtInt(N)} name strings.`,
);
console.log(out.join('\n'));

let e2e = null;
if (!o['no-e2e']) {
  // A file that outlives this process's temp dir cleanup until run.mjs is done.
  const args = [join(benchDir, 'run.mjs'), '--targets', 'tally', '--rates', o['e2e-rate'], '--duration', o.duration, '--mapping', mappingFile];
  console.log(`\nEnd to end (UDP, mapping on): node bench/run.mjs ${args.slice(1).join(' ').replace(mappingFile, '<generated mapping.yaml>')}\n`);
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], timeout: (Number(o.duration) * 3 + 600) * 1000, encoding: 'utf8' });
  process.stdout.write(r.stdout ?? '');
  e2e = { status: r.status, signal: r.signal, resultFile: /Results: (\S+)/.exec(r.stdout ?? '')?.[1] ?? null };
}
const file = writeResult('mapping', { command, machine: machineFacts(), micro, e2e, mappingYamlHead: yaml.slice(0, 2000) });
console.log(`\nResults: ${file}`);
process.exit(e2e && e2e.status !== 0 ? 1 : 0);
