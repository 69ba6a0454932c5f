// Spool segment log benchmark: append throughput with group commit, then replay.
//
//   node bench/spool.mjs [--sizes 100,1024,16384] [--concurrency 1,16,256] [--seconds 3]
//                        [--warmup 0.5] [--segment-mib 64] [--dir DIR]
//   (or: npm run bench -- --only spool [same flags])
//
// In-process, on the real file system (a fresh temp dir per run, under --dir
// if given; put it on the disk the spool will live on). For each record size
// and number of concurrent appenders: every appender loops append() →
// await, so each record is durable (fsynced) before its appender sends the
// next; group commit batches whatever is waiting into one write and one
// fsync. Reported: records/s, payload MB/s, fsyncs/s (file + directory, the
// log's own count), and append latency percentiles (call to durable).
// Then replay: the log is closed and opened again (recovery verifies every
// frame), and read from the start in 4 MiB pages; MB/s of payload. The data
// was just written, so replay reads from the page cache, not the device.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { commandLine, fail, fmt, fmtInt, machineFacts, root, tmpDir, writeResult } from './lib.mjs';

const { values: o } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100,1024,16384' },
    concurrency: { type: 'string', default: '1,16,256' },
    seconds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '0.5' },
    'segment-mib': { type: 'string', default: '64' },
    dir: { type: 'string' },
  },
});
const list = (s) => s.split(',').map((x) => Number(x.trim()));
const sizes = list(o.sizes);
const concurrencies = list(o.concurrency);
const seconds = Number(o.seconds);
const warmup = Number(o.warmup);
const segmentBytes = Number(o['segment-mib']) * 1024 * 1024;
if (sizes.some((s) => !(s >= 1)) || concurrencies.some((c) => !(c >= 1)) || !(seconds > 0) || !(warmup >= 0) || !(segmentBytes > 0)) {
  fail('--sizes and --concurrency take positive integers, --seconds and --segment-mib positive numbers, --warmup ≥ 0');
}
const built = join(root, 'dist', 'agent', 'spool', 'segment-log.js');
if (!existsSync(built)) fail(`${built} is missing: run npm run build first`);
const { SegmentLog } = await import(built);

const GOAL_REPLAY_MBPS = 50;

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const ownDirs = [];
process.on('exit', () => {
  for (const d of ownDirs) rmSync(d, { recursive: true, force: true });
});
function newDir() {
  if (o.dir === undefined) return tmpDir();
  const d = join(o.dir, `tally-bench-spool-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`);
  ownDirs.push(d);
  return d;
}

/** Appenders loop for `ms`; returns counts and sorted latencies (ms) of the appends that finished inside it. */
async function appendFor(log, payload, concurrency, ms, record) {
  const latencies = [];
  let records = 0;
  const end = performance.now() + ms;
  const loop = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      await log.append(payload);
      if (record) latencies.push(performance.now() - t0);
      records++;
    }
  };
  const before = log.stats();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsed = (performance.now() - t0) / 1000;
  const after = log.stats();
  return {
    records,
    elapsed,
    syncs: after.fileSyncs + after.dirSyncs - before.fileSyncs - before.dirSyncs,
    commits: after.commits - before.commits,
    latencies: Float64Array.from(latencies).sort(),
  };
}

const command = commandLine();
console.log(command);
const facts = machineFacts();
console.log(`node ${facts.node}, ${facts.nproc} CPUs (${facts.cpu}), kernel ${facts.kernel}; segment ${o['segment-mib']} MiB; dir ${o.dir ?? 'os.tmpdir()'}\n`);

const rows = [];
const replays = [];
for (const size of sizes) {
  const payload = Buffer.alloc(size, 0x61);
  let replayDir;
  for (const concurrency of concurrencies) {
    const dir = newDir();
    const log = await SegmentLog.open({ dir, segmentBytes, maxRecordBytes: Math.max(size, 1024 * 1024) });
    if (warmup > 0) await appendFor(log, payload, concurrency, warmup * 1000, false);
    const r = await appendFor(log, payload, concurrency, seconds * 1000, true);
    await log.close();
    const row = {
      size,
      concurrency,
      recordsPerSec: r.records / r.elapsed,
      mbPerSec: (r.records * size) / r.elapsed / 1e6,
      syncsPerSec: r.syncs / r.elapsed,
      recordsPerCommit: r.records / Math.max(1, r.commits),
      p50: percentile(r.latencies, 50),
      p99: percentile(r.latencies, 99),
      p999: percentile(r.latencies, 99.9),
    };
    rows.push(row);
    console.log(
      `append ${String(size).padStart(6)} B × ${String(concurrency).padStart(3)}: ${fmtInt(row.recordsPerSec)} records/s, ${fmt(row.mbPerSec, 1)} MB/s, ` +
        `${fmtInt(row.syncsPerSec)} fsyncs/s, p50 ${fmt(row.p50, 3)} ms, p99 ${fmt(row.p99, 3)} ms, p99.9 ${fmt(row.p999, 3)} ms`,
    );
    replayDir = dir; // the last (most concurrent) run's log has the most data
  }

  // Replay: reopen (recovery scans and verifies everything), then read it all.
  const t0 = performance.now();
  const log = await SegmentLog.open({ dir: replayDir, segmentBytes, maxRecordBytes: Math.max(size, 1024 * 1024) });
  const openSec = (performance.now() - t0) / 1000;
  const { records: total, bytes: diskBytes } = log.stats();
  let after = 0;
  let records = 0;
  let bytes = 0;
  const t1 = performance.now();
  for (;;) {
    const got = await log.read(after, { maxBytes: 4 * 1024 * 1024, maxRecords: 1_000_000 });
    if (got.length === 0) break;
    for (const rec of got) bytes += rec.payload.length;
    records += got.length;
    after = got[got.length - 1].seq;
  }
  const readSec = (performance.now() - t1) / 1000;
  await log.close();
  if (records !== total) fail(`replay read ${records} records, the log holds ${total}`);
  const replay = {
    size,
    records,
    mb: bytes / 1e6,
    openSec,
    openMbPerSec: diskBytes / 1e6 / openSec,
    readMbPerSec: bytes / 1e6 / readSec,
    readRecordsPerSec: records / readSec,
  };
  replays.push(replay);
  console.log(
    `replay ${String(size).padStart(6)} B: ${fmtInt(records)} records (${fmt(replay.mb, 1)} MB): open/verify ${fmt(openSec, 2)} s (${fmt(replay.openMbPerSec, 0)} MB/s), ` +
      `read ${fmt(replay.readMbPerSec, 0)} MB/s (${fmtInt(replay.readRecordsPerSec)} records/s)\n`,
  );
}

console.log(`\n${command}\n`);
console.log('| record | appenders | records/s | MB/s | fsyncs/s | records/fsync | p50 ms | p99 ms | p99.9 ms |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(
    `| ${r.size} B | ${r.concurrency} | ${fmtInt(r.recordsPerSec)} | ${fmt(r.mbPerSec, 1)} | ${fmtInt(r.syncsPerSec)} | ${fmt(r.recordsPerCommit, 1)} | ${fmt(r.p50, 3)} | ${fmt(r.p99, 3)} | ${fmt(r.p999, 3)} |`,
  );
}
console.log('\n| record | records | MB | open + verify MB/s | replay read MB/s | replay records/s |');
console.log('|---:|---:|---:|---:|---:|---:|');
for (const r of replays) {
  const mark = r.readMbPerSec >= GOAL_REPLAY_MBPS ? '' : ` (below the ${GOAL_REPLAY_MBPS} MB/s goal)`;
  console.log(`| ${r.size} B | ${fmtInt(r.records)} | ${fmt(r.mb, 1)} | ${fmt(r.openMbPerSec, 0)} | ${fmt(r.readMbPerSec, 0)}${mark} | ${fmtInt(r.readRecordsPerSec)} |`);
}
console.log('\nrecords/fsync: appends per group commit (one data fsync each, plus a directory fsync when a segment is created).');
console.log('Replay reads data written seconds earlier, so from the page cache; the open column includes recovery verifying every CRC.');
const file = writeResult('spool', { command, facts, segmentBytes, seconds, warmup, appends: rows, replays });
console.log(`\nresults: ${file}`);
