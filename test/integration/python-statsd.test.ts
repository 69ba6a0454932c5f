import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, waitFor, type AgentHandle } from '../support/agent-process.js';
import { parsePromText, sampleValue } from '../support/prom-text.js';

// Debian's python3-statsd lives in the system interpreter, not in whatever python3 comes first on PATH.
const PYTHON = '/usr/bin/python3';

function pythonHasStatsd(): Promise<boolean> {
  if (!existsSync(PYTHON)) return Promise.resolve(false);
  return new Promise((resolve) => execFile(PYTHON, ['-c', 'import statsd'], { timeout: 10_000 }, (err) => resolve(!err)));
}

const SCRIPT = `
import sys, statsd
c = statsd.StatsClient('127.0.0.1', int(sys.argv[1]), prefix='py')
c.incr('hits', 3)
c.incr('hits')
c.gauge('temp', 21.5)
c.gauge('temp', -1.5, delta=True)
c.timing('lat', 120)
with c.pipeline() as p:
    p.incr('piped')
    p.timing('lat', 30)
`;

describe('python3-statsd (Debian) over UDP', () => {
  let agent: AgentHandle | undefined;
  let available = false;
  beforeAll(async () => {
    available = await pythonHasStatsd();
    if (!available && process.env.CI !== 'true') {
      console.warn('\n*** python3-statsd is not installed: skipping (apt-get install python3-statsd) ***\n');
    }
    if (available) agent = await startAgent({ config: { statsd: { udp: { port: 0 } }, http: { port: 0 } } });
  });
  afterAll(async () => {
    await agent?.stop();
  });

  it('is installed in CI', () => {
    if (process.env.CI === 'true') expect(available, '.ci/run installs python3-statsd').toBe(true);
  });

  it('lands counters, gauges with deltas, timers and pipelined sends', async () => {
    if (!available) return;
    await new Promise<void>((resolve, reject) =>
      execFile(PYTHON, ['-c', SCRIPT, String(agent!.udpPort)], { timeout: 10_000 }, (err) => (err ? reject(err) : resolve())),
    );
    await waitFor(async () => {
      const e = parsePromText(await agent!.metricsText());
      expect(sampleValue(e, 'py_hits_total')).toBe(4);
      expect(sampleValue(e, 'py_temp')).toBe(20);
      expect(sampleValue(e, 'py_lat_seconds_count')).toBe(2);
      expect(sampleValue(e, 'py_lat_seconds_sum')).toBeCloseTo(0.15, 9);
      expect(sampleValue(e, 'py_piped_total')).toBe(1);
    }, 5000);
  });
});
