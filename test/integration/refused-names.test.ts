/**
 * Past max_series every new name is refused. A flood of distinct long names
 * must cost the agent neither memory (nothing kept per refused name) nor
 * log volume (warnings rate-limited and cut short): measured on a real
 * agent process, its resident memory read from /proc.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startAgent, type AgentHandle } from '../support/agent-process.js';
import { parsePromText, sampleValue } from '../support/prom-text.js';

const NAME_BYTES = 16 * 1024;
const PER_REQUEST = 60;

function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for process ${pid}`);
  return Number(m[1]) * 1024;
}

async function flood(agent: AgentHandle, from: number, names: number): Promise<void> {
  const pad = 'n'.repeat(NAME_BYTES);
  for (let i = from; i < from + names; i += PER_REQUEST) {
    const body = Array.from({ length: PER_REQUEST }, (_, k) => `flood.${i + k}.${pad}:1|c`).join('\n');
    const res = await fetch(`http://127.0.0.1:${agent.httpPort}/v1/collect`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body });
    await res.text();
    expect(res.status).toBe(202);
  }
}

describe.runIf(process.platform === 'linux')('a flood of distinct names past max_series', () => {
  it('keeps resident memory and the log bounded', async () => {
    const agent = await startAgent({
      config: { limits: { max_series: 50 }, http: { collect: { durable: false } }, log: { level: 'debug' } },
    });
    try {
      // Warm up: fill the series table, and let the heap settle at its working size.
      await flood(agent, 0, 1200);
      const logBefore = agent.stdout.reduce((n, l) => n + l.length + 1, 0);
      const before = rssBytes(agent.pid);
      await flood(agent, 1200, 12_000);
      const after = rssBytes(agent.pid);
      const logBytes = agent.stdout.reduce((n, l) => n + l.length + 1, 0) - logBefore;
      const e = parsePromText(await agent.metricsText());
      const refused = sampleValue(e, 'tally_series_dropped_total', { reason: 'cardinality' });
      console.log(
        `refused-names: ${refused} lines refused (${12_000} distinct ${NAME_BYTES}-byte names in the measured part); ` +
          `RSS ${(before / 2 ** 20).toFixed(0)} MiB -> ${(after / 2 ** 20).toFixed(0)} MiB; ${logBytes} log bytes`,
      );
      expect(refused).toBeGreaterThanOrEqual(13_200 - 50);
      // The names alone are 188 MiB; holding each would show many times this.
      expect(after - before).toBeLessThan(64 * 2 ** 20);
      expect(logBytes).toBeLessThan(64 * 1024);
    } finally {
      await agent.stop();
    }
  }, 120_000);
});
