/**
 * The spool holds what applications sent (queues, the journal, refused
 * batches): under the usual umask of 022 it must still be the agent's user's
 * alone, every folder 0700 and every file 0600.
 */
import { readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, waitFor } from '../support/agent-process.js';
import { OtlpReceiver } from '../support/otlp-receiver.js';

let dir: string;
let receiver: OtlpReceiver;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-spool-mode-'));
  receiver = await OtlpReceiver.start();
});
afterAll(async () => {
  await receiver?.close();
  await rm(dir, { recursive: true, force: true });
});

function modes(root: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (d: string) => {
    out.set(d, statSync(d).mode & 0o777);
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(p, statSync(p).mode & 0o777);
    }
  };
  walk(root);
  return out;
}

describe('spool permissions', () => {
  it('are 0700 for every folder and 0600 for every file, dead letters included', async () => {
    expect(process.umask() & 0o077).toBeLessThan(0o077);
    const data = join(dir, 'data');
    // Every batch refused for good: the dead-letter folder gets entries too.
    receiver.respond({ status: 400 }, { forMs: 60_000 });
    const agent = await startAgent({
      config: {
        aggregation: { flush_interval: '100ms' },
        spool: { dir: data },
        sinks: [{ name: 'collector', type: 'otlp', endpoint: receiver.url }],
      },
    });
    try {
      const res = await fetch(`http://127.0.0.1:${agent.httpPort}/v1/collect`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'mode.hits:1|c' });
      expect(res.status).toBe(202);
      await waitFor(() => expect(readdirSync(join(data, 'dead-letter', 'collector')).some((n) => n.endsWith('.json'))).toBe(true), 10_000);
      const found = modes(data);
      const wrong = [...found].filter(([p, m]) => m !== (statSync(p).isDirectory() ? 0o700 : 0o600)).map(([p, m]) => `${p}: ${m.toString(8)}`);
      expect(wrong).toEqual([]);
      // A drained queue's segments are deleted at once, so what must be there (and was checked above) is its cursor; the journal's may be either.
      const files = [...found.keys()].filter((p) => statSync(p).isFile());
      expect(files.some((p) => p.includes(join('queues', 'collector')))).toBe(true);
      expect(files.some((p) => p.includes('journal'))).toBe(true);
    } finally {
      await agent.stop();
    }
  }, 30_000);
});
