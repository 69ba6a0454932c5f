/**
 * A user's own sink module (config/examples/jsonl-sink.mjs) in the built
 * agent: the same spool queue, retries, telemetry and lock as the built-in
 * sinks. Its receiver is a file, so an outage is a folder that is missing.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ROOT, runAgent, startAgent, waitFor, writeTempConfig } from '../support/agent-process.js';
import { parsePromText, sampleValue } from '../support/prom-text.js';

const SINK_MODULE = join(ROOT, 'config', 'examples', 'jsonl-sink.mjs');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-module-sink-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function config(outFile: string, extra: object = {}) {
  return {
    aggregation: { flush_interval: '200ms' },
    spool: { dir: join(dir, 'data') },
    sinks: [{ name: 'file', type: 'module', module: SINK_MODULE, options: { path: outFile }, retry: { initial_backoff: '50ms', max_backoff: '200ms' } }],
    ...extra,
  };
}

async function jsonLines(file: string): Promise<Array<Record<string, unknown>>> {
  if (!existsSync(file)) return [];
  return (await readFile(file, 'utf8'))
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('a sink module named in the config', () => {
  it('gets every flush through its queue, with telemetry per sink', async () => {
    const out = join(dir, 'metrics.jsonl');
    const agent = await startAgent({ config: config(out) });
    try {
      await agent.sendUdp('mod.hits:2|c|#env:prod\nmod.level:7|g\n_e{6,6}:deploy|v1.2.3|#team:core');
      const lines = await waitFor(async () => {
        const l = await jsonLines(out);
        expect(l.some((x) => x.name === 'mod.hits' || x.name === 'mod_hits')).toBe(true);
        expect(l.some((x) => x.event === 'deploy' && x.value === 'v1.2.3')).toBe(true);
        return l;
      }, 5000);
      const hits = lines.find((x) => String(x.name).startsWith('mod') && String(x.name).includes('hits'))!;
      expect(hits.attributes).toEqual({ env: 'prod' });
      expect(hits.value).toBe(2);
      // Every metric line of one batch carries the batch's id and time (an event keeps its own).
      const batch = lines.filter((x) => x.batch === hits.batch && x.name !== undefined);
      expect(new Set(batch.map((x) => x.time)).size).toBe(1);
      const exp = parsePromText(await agent.metricsText());
      expect(sampleValue(exp, 'tally_sink_sent_total', { sink: 'file' })).toBeGreaterThan(0);
      expect(sampleValue(exp, 'tally_queue_records', { sink: 'file' })).toBeDefined();
    } finally {
      await agent.stop();
    }
  });

  it('replaces a waiting batch with the next when encoding outlasts the flush interval, losing no count and no event', async () => {
    // A sink whose encode takes 600 ms, three flush intervals: batches would pile up behind it without end.
    const slow = join(dir, 'slow-sink.mjs');
    const out = join(dir, 'slow.jsonl');
    await writeFile(
      slow,
      [
        `import createJsonLinesSink from ${JSON.stringify(SINK_MODULE)};`,
        'export default function (ctx) {',
        '  const sink = createJsonLinesSink(ctx);',
        '  return { ...sink, encode: (snapshot) => new Promise((resolve) => setTimeout(() => resolve(sink.encode(snapshot)), 600)) };',
        '}',
      ].join('\n'),
    );
    const agent = await startAgent({ config: { ...config(out), sinks: [{ name: 'slow', type: 'module', module: slow, options: { path: out } }] } });
    try {
      for (let i = 0; i < 10; i++) {
        await agent.sendUdp(`slow.hits:1|c\n_e{4,2}:tick|${String(i).padStart(2, '0')}`);
        await new Promise((r) => setTimeout(r, 150));
      }
      const superseded = await waitFor(async () => {
        const v = sampleValue(parsePromText(await agent.metricsText()), 'tally_flush_batches_superseded_total', {});
        expect(v).toBeGreaterThan(0);
        return v;
      }, 10_000);
      const lines = await waitFor(async () => {
        const l = await jsonLines(out);
        // The counter is cumulative: its last value written holds every hit, and every event arrived once.
        expect(l.filter((x) => String(x.name).includes('slow_hits') || x.name === 'slow.hits').at(-1)?.value).toBe(10);
        expect(l.filter((x) => x.event === 'tick').map((x) => x.value).sort()).toEqual(Array.from({ length: 10 }, (_, i) => String(i).padStart(2, '0')));
        return l;
      }, 15_000);
      expect(superseded).toBeGreaterThan(0);
      expect(new Set(lines.map((x) => x.batch)).size).toBeGreaterThan(1);
      expect(agent.stdout.join('\n')).toMatch(/replaced by the next one before the sinks took it/);
    } finally {
      const t0 = Date.now();
      await agent.stop();
      // Shutting down waits for the batch under way and one more, not for a backlog.
      expect(Date.now() - t0).toBeLessThan(5_000);
    }
  });

  it('keeps batches queued across an outage and a restart, then delivers them in order', async () => {
    const out = join(dir, 'missing-folder', 'metrics.jsonl');
    const first = await startAgent({ config: config(out) });
    try {
      for (let i = 1; i <= 3; i++) {
        await first.sendUdp(`outage.n:${i}|g`);
        await new Promise((r) => setTimeout(r, 300));
      }
      const exp = await waitFor(async () => {
        const e = parsePromText(await first.metricsText());
        expect(sampleValue(e, 'tally_sink_retries_total', { sink: 'file' })).toBeGreaterThan(0);
        expect(sampleValue(e, 'tally_queue_records', { sink: 'file' })).toBeGreaterThanOrEqual(3);
        return e;
      }, 5000);
      expect(sampleValue(exp, 'tally_sink_sent_total', { sink: 'file' })).toBe(0);
    } finally {
      expect(await first.stop()).toBe(0);
    }
    await mkdir(join(dir, 'missing-folder'));
    const second = await startAgent({ config: config(out) });
    try {
      const gauges = await waitFor(async () => {
        const g = (await jsonLines(out)).filter((x) => String(x.name).includes('outage'));
        expect(g.map((x) => x.value)).toEqual(expect.arrayContaining([1, 2, 3]));
        return g;
      }, 5000);
      // In order: the value never goes back, as it did not when sent.
      const values = gauges.map((x) => x.value as number);
      expect(values).toEqual([...values].sort((a, b) => a - b));
    } finally {
      await second.stop();
    }
  });

  it('turns /healthz false while a sink delivers nothing for stall_timeout with data waiting, and true again after', async () => {
    const out = join(dir, 'late-folder', 'metrics.jsonl');
    const base = config(out);
    const agent = await startAgent({ config: { ...base, sinks: [{ ...base.sinks[0], stall_timeout: '600ms' }] } });
    try {
      expect((await agent.get('/healthz')).status).toBe(200);
      await agent.sendUdp('stall.g:1|g');
      await waitFor(async () => {
        const h = await agent.get('/healthz');
        expect(h.status).toBe(503);
        expect(await h.text()).toContain('sink stalled (nothing delivered within stall_timeout): file');
      }, 5000);
      await mkdir(join(dir, 'late-folder'));
      await waitFor(async () => expect((await agent.get('/healthz')).status).toBe(200), 5000);
    } finally {
      await agent.stop();
    }
  });

  it('starts on a damaged queue and journal, reports what it recovered, and delivers what survived', async () => {
    const out = join(dir, 'later', 'metrics.jsonl');
    const first = await startAgent({ config: config(out) });
    for (let i = 1; i <= 4; i++) {
      await first.sendUdp(`damaged.n:${i}|g`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await fetch(`http://127.0.0.1:${first.httpPort}/v1/collect`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'damaged.http:1|c' });
    await first.crash();
    // Garbage over the middle of the queue's segment, and a torn journal tail.
    for (const sub of ['queues/file', 'journal']) {
      const folder = join(dir, 'data', sub);
      const seg = (await readdir(folder)).find((f) => f.endsWith('.seg'))!;
      const path = join(folder, seg);
      const bytes = await readFile(path);
      if (sub === 'journal') await writeFile(path, bytes.subarray(0, bytes.length - 3));
      else {
        bytes.fill(0x5a, Math.floor(bytes.length / 2), Math.floor(bytes.length / 2) + 40);
        await writeFile(path, bytes);
      }
    }
    await mkdir(join(dir, 'later'));
    const second = await startAgent({ config: config(out) });
    try {
      const opened = second.stdout.map((l) => JSON.parse(l)).find((o) => o.msg === 'sink queue opened');
      expect(opened.recovery.clean).toBe(false);
      expect(opened.recovery.skippedRecords).toBeGreaterThan(0);
      // What survived is delivered, and the agent keeps working.
      await waitFor(async () => expect((await jsonLines(out)).some((x) => x.name === 'damaged_n')).toBe(true), 5000);
      await second.sendUdp('after.damage:1|c');
      await waitFor(async () => expect((await jsonLines(out)).some((x) => x.name === 'after_damage')).toBe(true), 5000);
    } finally {
      await second.stop();
    }
  });

  // Node strips TypeScript types itself from 22.18 and 23.6 on; before that a sink written in TypeScript is compiled first.
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  const stripsTypes = major > 23 || (major === 23 && minor >= 6) || (major === 22 && minor >= 18);
  it.runIf(stripsTypes)('loads a sink module written in TypeScript where Node strips types', async () => {
    const source = await readFile(SINK_MODULE, 'utf8');
    const typed = source
      .replace('function* lines(snapshot)', 'function* lines(snapshot: any): Generator<Record<string, unknown>>')
      .replace('export default function createJsonLinesSink({ name, options })', 'export default function createJsonLinesSink({ name, options }: { name: string; options: Record<string, unknown> })')
      .replace('async send(request)', 'async send(request: { body: Uint8Array })')
      .replace('encode(snapshot)', 'encode(snapshot: any)')
      .replace('const path = options.path;', 'const path: string = options.path as string;')
      .replace('} catch (err) {', '} catch (err: any) {');
    const moduleFile = join(dir, 'jsonl-sink.mts');
    await writeFile(moduleFile, typed);
    const out = join(dir, 'ts.jsonl');
    const base = config(out);
    const agent = await startAgent({ config: { ...base, sinks: [{ ...base.sinks[0], module: moduleFile }] } });
    try {
      await agent.sendUdp('ts.hits:1|c');
      await waitFor(async () => expect((await jsonLines(out)).some((x) => x.name === 'ts_hits')).toBe(true), 5000);
    } finally {
      await agent.stop();
    }
  });

  it('refuses a second agent on the same data directory, naming the process that holds it', async () => {
    const out = join(dir, 'metrics.jsonl');
    const first = await startAgent({ config: config(out) });
    const cfg = await writeTempConfig({ ...config(out), statsd: { udp: { port: 0 } }, http: { port: 0 } });
    try {
      const r = await runAgent(['--config', cfg.file], { timeoutMs: 10_000 });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/data directory is locked by process \d+ \(.*dist\/agent\/main\.js/);
      expect(r.stderr).toContain(join(dir, 'data', 'tally.lock'));
    } finally {
      await first.stop();
      await cfg.remove();
    }
  });
});
