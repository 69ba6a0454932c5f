/**
 * Issue 10's disk-full run on a real file system: the built agent with its
 * spool on an 8 MiB tmpfs, the OTLP backend down until the disk is full,
 * then back. Prints acknowledged / delivered / lost / duplicated. Also
 * start-up on a tmpfs with no room left. Mounting needs root (CAP_SYS_ADMIN):
 * where it is not permitted the tests skip, loudly; disk-full.test.ts covers
 * the same on a simulated disk everywhere.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, waitFor, type AgentHandle } from '../support/agent-process.js';
import { figures, newSent, postFor, printFigures, untilDelivered } from '../support/disk-full-run.js';
import { logRecords, OtlpReceiver } from '../support/otlp-receiver.js';

let root: string;
let mounted: string | undefined;
let receiver: OtlpReceiver;
let mountError = '';

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tally-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', root], { stdio: 'pipe' });
    mounted = root;
  } catch (err) {
    mountError = (err as { stderr?: Buffer }).stderr?.toString().trim() || String(err);
    console.warn(`\n*** cannot mount a tmpfs here (${mountError}): skipping the real disk-full tests; disk-full.test.ts covers them on a simulated disk ***\n`);
  }
  receiver = await OtlpReceiver.start();
});
afterAll(async () => {
  await receiver?.close();
  if (mounted !== undefined) execFileSync('umount', ['-l', mounted]);
  await rm(root, { recursive: true, force: true });
});

const sinkConfig = () => ({
  aggregation: { flush_interval: '250ms' },
  sinks: [{ name: 'collector', type: 'otlp', endpoint: receiver.url, retry: { initial_backoff: '50ms', max_backoff: '200ms' } }],
});

const status = async (agent: AgentHandle, path: string) => (await agent.get(path)).status;

/** Fills what is left of the file system with a ballast file; returns its path. */
function fillDisk(dir: string): string {
  const ballast = join(dir, 'ballast');
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${ballast}`, 'bs=64k'], { stdio: 'ignore' });
  } catch {
    // dd ends with ENOSPC: that is the point.
  }
  return ballast;
}

describe('a full disk under the spool (8 MiB tmpfs, built agent)', () => {
  it('loses no acknowledged request, and comes back by itself when the backend drains the queue', async (ctx) => {
    if (mounted === undefined) return ctx.skip();
    const dataDir = join(mounted, 'run');
    const config = { ...sinkConfig(), spool: { dir: dataDir } };
    await receiver.down();
    let agent = await startAgent({ config });
    const sent = newSent();
    try {
      const url = () => `http://127.0.0.1:${agent.httpPort}/v1/collect`;
      await postFor(url(), sent, 20_000, () => (sent.statuses.get(503) ?? 0) > 300, 300);
      const notReady = (await status(agent, '/readyz')) === 503;
      console.log(`full: ${JSON.stringify([...sent.statuses])}, /readyz ${notReady ? 503 : 200}, df: ${execFileSync('df', ['-k', mounted]).toString().split('\n')[1]}`);
      await receiver.up();
      await waitFor(async () => (await status(agent, '/readyz')) === 200, 30_000).catch(() => undefined);
      await postFor(url(), sent, 1_000, undefined, 300);
      await agent.stop();
      agent = await startAgent({ config });
      await postFor(url(), sent, 500, undefined, 300);
      await untilDelivered(sent, receiver, 30_000);
      const f = figures(sent, receiver);
      printFigures('disk full, 8 MiB tmpfs, built agent (npx vitest run test/integration/disk-full-tmpfs.test.ts)', f);
      expect(sent.statuses.get(503) ?? 0).toBeGreaterThan(0);
      expect(notReady, '/readyz must answer 503 while the disk is full').toBe(true);
      expect(f.lost).toEqual({ events: 0, increments: 0 });
    } finally {
      await agent.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('starts on a full disk: UDP and /metrics served, collect 503, path and reason logged; opens the spool when space returns', async (ctx) => {
    if (mounted === undefined) return ctx.skip();
    await receiver.up();
    const dataDir = join(mounted, 'start-full');
    const ballast = fillDisk(mounted);
    const agent = await startAgent({ config: { ...sinkConfig(), spool: { dir: dataDir } } });
    try {
      expect(agent.stdout.join('\n')).toContain(dataDir);
      expect(agent.stdout.join('\n')).toContain('ENOSPC');
      expect(await status(agent, '/readyz')).toBe(503);
      const refused = await fetch(`http://127.0.0.1:${agent.httpPort}/v1/collect`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"name":"early","value":"x"}',
      });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
      await agent.sendUdp('df_udp:3|c');
      await waitFor(async () => /df_udp\S* 3/.test(await agent.metricsText()), 5_000);

      await writeFile(ballast, '');
      await rm(ballast);
      await waitFor(async () => (await status(agent, '/readyz')) === 200, 15_000);
      const ok = await fetch(`http://127.0.0.1:${agent.httpPort}/v1/collect`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"name":"late_event","value":"after-space"}',
      });
      expect(ok.status).toBe(202);
      await waitFor(() => receiver.accepted('logs').some((r) => logRecords(r.message).some((l) => l.eventName === 'late_event')), 10_000);
    } finally {
      await agent.stop();
      await rm(ballast, { force: true });
    }
  }, 60_000);
});
