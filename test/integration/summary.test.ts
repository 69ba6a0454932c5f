/**
 * statsd_exporter's observer_type: summary, scale and help through the built
 * agent: a known sample set sent as timers comes back on /metrics as a
 * Prometheus summary whose quantiles are within the configured error of the
 * exact ones, and the exposition, hostile label values included, passes
 * `promtool check metrics`.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOnPath, ROOT, startAgent, waitFor, type AgentHandle } from '../support/agent-process.js';
import { familyType, parsePromText, sampleValue } from '../support/prom-text.js';
import { loadLatenciesMs, quantileErrors } from '../support/quantiles.js';

const MAPPING = join(ROOT, 'test', 'mapping', 'fixtures', 'valid', 'scale-summary-help.yaml');
// The fixture's api.*.latency rule takes statsd_exporter's default quantiles.
const QUANTILES = [
  { quantile: 0.5, error: 0.05 },
  { quantile: 0.9, error: 0.01 },
  { quantile: 0.99, error: 0.001 },
];

describe('summaries, scale and help on /metrics', () => {
  let agent: AgentHandle;
  const samplesMs = loadLatenciesMs();

  beforeAll(async () => {
    agent = await startAgent({ config: { mappings_file: MAPPING, aggregation: { flush_interval: '1s' } } });
    for (let i = 0; i < samplesMs.length; i += 50) {
      await agent.sendUdp(samplesMs.slice(i, i + 50).map((ms) => `api.checkout.latency:${ms}|ms`).join('\n'));
    }
    await agent.sendUdp(
      ['upload.kb:3|c', 'mem.kb:2|g', 'db.query_us:250000|ms', 'api.quirks.latency:5|ms|#q:say "hi",b:back\\slash,c:close},quantile:x'].join('\n'),
    );
    // A line feed in a label value can only come in through the HTTP API.
    const res = await fetch(`http://127.0.0.1:${agent.httpPort}/v1/collect`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'api.newline.latency', type: 'timer', value: 7, tags: { note: 'a\nb "c" \\ # HELP' } }),
    });
    expect(res.status).toBe(202);
  });

  afterAll(async () => {
    await agent?.stop();
  });

  async function scrape() {
    return waitFor(async () => {
      const text = await agent.metricsText();
      const exp = parsePromText(text);
      expect(sampleValue(exp, 'api_latency_seconds_count', { route: 'checkout' })).toBe(samplesMs.length);
      expect(sampleValue(exp, 'api_latency_seconds_count', { route: 'newline', note: 'a\nb "c" \\ # HELP' })).toBe(1);
      return { text, exp };
    }, 10_000);
  }

  it('serves a summary whose quantiles are within the configured error of the exact ones', async () => {
    const { exp } = await scrape();
    expect(familyType(exp, 'api_latency_seconds')).toBe('summary');
    const seconds = samplesMs.map((ms) => ms / 1000);
    expect(sampleValue(exp, 'api_latency_seconds_sum', { route: 'checkout' })).toBeCloseTo(
      seconds.reduce((a, b) => a + b, 0),
      6,
    );
    for (const { quantile, error } of QUANTILES) {
      const got = sampleValue(exp, 'api_latency_seconds', { route: 'checkout', quantile: String(quantile) });
      const { relative, rank } = quantileErrors(seconds, quantile, got);
      expect(relative, `q${quantile}: ${got}`).toBeLessThanOrEqual(error);
      expect(rank, `q${quantile}: ${got}`).toBeLessThanOrEqual(error);
    }
    // The rule's own quantiles and a scaled summary.
    // 250,000 "ms" is 250 s, and scale 1e-6 makes it 250 µs, to the rule's tightest error.
    expect(Math.abs(sampleValue(exp, 'db_query_seconds', { quantile: '0.99' }) - 250e-6) / 250e-6).toBeLessThanOrEqual(0.001);
    expect(findQuantiles(exp, 'db_query_seconds')).toEqual(['0.5', '0.99']);
    // A tag named quantile cannot keep its name on a summary.
    expect(sampleValue(exp, 'api_latency_seconds_count', { route: 'quirks', q: 'say "hi"', b: 'back\\slash', c: 'close}', exported_quantile: 'x' })).toBe(1);
  });

  it('shows scale and help', async () => {
    const { exp } = await scrape();
    expect(sampleValue(exp, 'upload_bytes_total')).toBe(3 * 1024);
    expect(sampleValue(exp, 'mem_bytes')).toBe(2 * 1024);
    expect(exp.families.get('api_latency_seconds')!.help).toBe('API latency by route');
    expect(exp.families.get('upload_bytes_total')!.help).toBe('Bytes uploaded: "quoted", back\\\\slash and a line\\nbreak');
  });

  const promtool = findOnPath('promtool');
  it.runIf(promtool !== undefined || process.env.CI === 'true')('passes promtool check metrics', async () => {
    expect(promtool, 'promtool on PATH (CI installs prometheus)').toBeDefined();
    const { text } = await scrape();
    const result = await new Promise<{ code: number; out: string }>((resolve) => {
      const child = execFile(promtool!, ['check', 'metrics'], { timeout: 10_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, out: `${stdout}${stderr}` });
      });
      child.stdin!.end(text);
    });
    // Exit 3 is lint advice (names, units); 1 is a parse failure.
    expect(result.out).not.toMatch(/pars|duplicate/i);
    expect([0, 3]).toContain(result.code);
  });
});

function findQuantiles(exp: ReturnType<typeof parsePromText>, name: string): string[] {
  return exp.samples.filter((s) => s.name === name).map((s) => s.labels['quantile']!);
}
