/**
 * `npm run demo` as a newcomer runs it, shortened: the agent, a real
 * Prometheus and the demo shop (written with the Tally client) as versions
 * 1.4 and 1.5, and the answers printed at the end must be the demo's truth.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findOnPath, ROOT } from '../support/agent-process.js';

const prometheusBin = findOnPath('prometheus');
const inCI = process.env.CI === 'true';

function runDemo(extraArgs: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'demo', 'run.mjs'), '--seconds', '6', '--once', ...extraArgs], { cwd: ROOT });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** The features in the order the demo printed them, with their use counts. */
function features(out: string): Array<[string, number]> {
  return [...out.matchAll(/^\s+\d+\. (.+?)\s+(\d+) uses?\s+last used/gm)].map((m) => [m[1]!.trim(), Number(m[2])]);
}

function checkAnswers(out: string): void {
  const ratio = Number(/p99 1\.5 \/ 1\.4: ([\d.]+) → yes/.exec(out)?.[1]);
  // The shop's 1.5 is 1.6 times slower. Each p99 reads within 9.2 % from the buckets (so the ratio within about
  // 0.83-1.2 times), and a 6 s run gives a few thousand samples a version, whose own p99 is noisy too: 1.84 was seen
  // under CI load. The answer that matters is "yes, slower", by about the right factor.
  expect(ratio, out).toBeGreaterThan(1.6 / 1.25);
  expect(ratio, out).toBeLessThan(1.6 * 1.25);
  expect(out).toMatch(/Is version 1\.5 using more memory than 1\.4\?.*\n.*→ yes/);
  const f = features(out);
  expect(f.map(([name]) => name).slice(0, 2), out).toEqual(['Export PDF', 'Search']);
  expect(f.find(([name]) => name === 'Print'), out).toEqual(['Print', 1]);
}

describe('npm run demo', () => {
  it.runIf(!prometheusBin && inCI)('has prometheus on PATH in CI', () => {
    throw new Error('`prometheus` is not on PATH, and CI=true requires it');
  });

  it.skipIf(!prometheusBin)('answers the three questions from Prometheus, and stops everything it started', async () => {
    const { code, out } = await runDemo([]);
    expect(code, out).toBe(0);
    expect(out).toContain('Prometheus: http://127.0.0.1:');
    checkAnswers(out);
  }, 120_000);

  it('without Prometheus, says how to get it and answers from the agent alone', async () => {
    const { code, out } = await runDemo(['--no-prometheus']);
    expect(code, out).toBe(0);
    expect(out).toContain('apt-get install prometheus');
    checkAnswers(out);
  }, 120_000);
});
