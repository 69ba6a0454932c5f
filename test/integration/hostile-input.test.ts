import { execFile } from 'node:child_process';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOnPath, startAgent, waitFor, type AgentHandle } from '../support/agent-process.js';
import { parsePromText, sampleValue } from '../support/prom-text.js';

// Inputs that have broken other statsd agents or their scrapes. Each must be
// counted or survived, never crash the agent, and never corrupt /metrics.
const HOSTILE_LINES = [
  ':100|ms',
  'foo:1|c|',
  'foo:|h',
  '|h|#a:b',
  'x:1|c|#,,,',
  'size:-1|h',
  'r0:1|c|@0',
  'r1:1|c|@-1',
  'r2:1|c|@abc',
  'nan:NaN|g',
  'inf:Inf|g',
  'big:1e309|h',
  '__proto__:1|c',
  'constructor:2|g',
  'quote"name:1|c',
  'back\\slash:1|c',
  'brace}name:1|c',
  '# HELP fake:1|c',
  'lv:1|c|#q:say "hi",b:back\\slash,c:close},d:# HELP x y',
  'dual:1|c',
  'dual_total:1|g',
];

describe('hostile input', () => {
  let agent: AgentHandle;
  beforeAll(async () => {
    agent = await startAgent({ config: { statsd: { udp: { port: 0 } }, http: { port: 0 }, aggregation: { flush_interval: '1s' } } });
  });
  afterAll(async () => {
    await agent?.stop();
  });

  it('survives every line, a maximal datagram and 10,000 lines in one datagram, and keeps serving', async () => {
    await agent.sendUdp(HOSTILE_LINES.join('\n'));
    await agent.sendUdp(Buffer.alloc(65_507, 0x7a)); // one 65,507-byte line with no ':'
    await agent.sendUdp(Array.from({ length: 10_000 }, () => 'm:1|c').join('\n'));
    const res = await fetch(`http://127.0.0.1:${agent.httpPort}/v1/collect`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'nl.event', value: 'line one\nline "two" } \\ # HELP', tags: { note: 'a\nb' } }),
    });
    expect(res.status).toBe(202);
    await agent.sendUdp('after:1|c');

    const exp = await waitFor(async () => {
      const e = parsePromText(await agent.metricsText());
      expect(sampleValue(e, 'after_total')).toBe(1);
      return e;
    }, 5000);
    const errors = (reason: string) => sampleValue(exp, 'tally_parse_errors_total', { reason });
    expect(errors('empty_name')).toBe(1);
    expect(errors('missing_value')).toBe(3); // "foo:|h", "|h|#a:b" and the 64 KiB line
    expect(errors('bad_tag_style')).toBe(1); // "# HELP fake": '#' starts a Librato tag list with no name before it
    expect(errors('bad_sample_rate')).toBe(3);
    expect(errors('bad_value')).toBe(3);
    expect(sampleValue(exp, 'tally_metrics_dropped_total', { reason: 'type_conflict' })).toBe(1);
    expect(sampleValue(exp, 'm_total')).toBe(10_000);
    expect(sampleValue(exp, 'quote_name_total')).toBe(1);
    expect(sampleValue(exp, 'brace_name_total')).toBe(1);
    expect(sampleValue(exp, 'lv_total', { q: 'say "hi"', b: 'back\\slash', c: 'close}', d: '# HELP x y' })).toBe(1);
    expect(sampleValue(exp, 'nl_event_total', { value: 'line one\nline "two" } \\ # HELP', note: 'a\nb' })).toBe(1);
    expect(sampleValue(exp, '_proto__total')).toBe(1);
    expect(sampleValue(exp, 'constructor')).toBe(2);
    expect(sampleValue(exp, 'size_count')).toBe(1);
  });

  it('keeps serving well-formed traffic through 3,000 datagrams of random bytes', async () => {
    const before = parsePromText(await agent.metricsText());
    const packetsBefore = sampleValue(before, 'tally_packets_received_total', { listener: 'udp' });
    const samples = fc.sample(
      fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 1400 }),
        fc.array(fc.stringMatching(/^[a-z_.:|#@,=\[\]{}0-9eE+-]{0,40}$/), { maxLength: 30 }).map((lines) => Buffer.from(lines.join('\n'))),
      ),
      { numRuns: 3000, seed: 42 },
    );
    for (let i = 0; i < samples.length; i++) {
      const bytes = samples[i]!;
      await agent.sendUdp(Buffer.from(bytes.length > 0 ? bytes : [0x0a]));
      if (i % 500 === 0) await agent.sendUdp(`fuzz.alive:1|c`);
    }
    await agent.sendUdp('fuzz.alive:1|c');
    const exp = await waitFor(async () => {
      const e = parsePromText(await agent.metricsText());
      expect(sampleValue(e, 'fuzz_alive_total')).toBe(7);
      return e;
    }, 10_000);
    // Every datagram arrived (loopback, a 32 MiB buffer) and was read; none stopped the agent.
    expect(sampleValue(exp, 'tally_packets_received_total', { listener: 'udp' }) - packetsBefore).toBe(3007);
  });

  const promtool = findOnPath('promtool');
  it.runIf(promtool !== undefined || process.env.CI === 'true')('leaves /metrics parseable by promtool', async () => {
    expect(promtool, 'promtool on PATH (CI installs prometheus)').toBeDefined();
    const text = await agent.metricsText();
    const result = await new Promise<{ code: number; out: string }>((resolve) => {
      const child = execFile(promtool!, ['check', 'metrics'], { timeout: 10_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, out: `${stdout}${stderr}` });
      });
      child.stdin!.end(text);
    });
    // Exit 3 is lint advice about names the clients chose (camelCase and the like); 1 is a parse failure.
    expect(result.out).not.toMatch(/pars/i);
    expect([0, 3]).toContain(result.code);
  });
});
