/**
 * A statsd_exporter user swaps the binary: the agent started with
 * statsd_exporter's command line and a mapping file written for it, and no
 * Tally config at all.
 */
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runAgent, startAgent, waitFor } from '../support/agent-process.js';
import { parsePromText, sampleValue } from '../support/prom-text.js';

const MAPPING = join(ROOT, 'test', 'integration', 'fixtures', 'statsd-exporter-mapping.yml');

function sendTcp(port: number, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => sock.end(text));
    sock.once('close', () => resolve());
    sock.once('error', reject);
  });
}

describe("statsd_exporter's command line", () => {
  it('runs the agent with its flags and mapping file, and says which flags change nothing', async () => {
    const agent = await startAgent({
      noConfig: true,
      args: [
        // Port 0 where statsd_exporter users write :9125 and :9102, so runs never collide.
        '--statsd.listen-udp=127.0.0.1:0',
        '--statsd.listen-tcp=127.0.0.1:0',
        `--statsd.mapping-config=${MAPPING}`,
        '--web.listen-address=127.0.0.1:0',
        '--web.telemetry-path=/metrics',
        '--statsd.read-buffer=1048576',
        '--statsd.cache-size=1000',
        '--log.level=info',
        '--log.format=logfmt',
        '--statsd.event-queue-size=10000',
      ],
    });
    try {
      const logs = agent.stdout.map((l) => JSON.parse(l) as Record<string, unknown>);
      const listening = logs.find((l) => l.msg === 'tally-agent listening')!;
      expect(listening).toMatchObject({ config: '(embedded defaults)', metrics_path: '/metrics', udp_receive_buffer_bytes: expect.any(Number) });
      const tcpPort = Number(/:(\d+)$/.exec(String(listening.tcp))![1]);
      const warnings = logs.filter((l) => l.level === 40).map((l) => String(l.msg));
      expect(warnings).toContain('--log.format=logfmt ignored: Tally always logs JSON lines');
      expect(warnings.some((w) => w.startsWith('--statsd.event-queue-size ignored: '))).toBe(true);
      // The mapping file's deprecated timer_type and buckets are read with statsd_exporter's warning, not refused.
      expect(warnings.some((w) => /timer_type/.test(w))).toBe(true);

      await agent.sendUdp('shop.checkout.eu.pay.success:1|c\nshop.api.cart.latency:50|ms\nshop.debug.noise:1|c');
      await sendTcp(tcpPort, 'shop.checkout.eu.pay.success:2|c\n');
      await waitFor(async () => {
        const e = parsePromText(await agent.metricsText());
        expect(sampleValue(e, 'checkout_events_total', { region: 'eu', step: 'pay', outcome: 'success', job: 'shop_checkout' })).toBe(3);
        expect(sampleValue(e, 'api_request_duration_seconds_bucket', { handler: 'cart', le: '0.1' })).toBe(1);
        expect(sampleValue(e, 'api_request_duration_seconds_count', { handler: 'cart' })).toBe(1);
        expect(sampleValue(e, 'tally_metrics_dropped_total', { reason: 'mapping_drop' })).toBe(1);
      }, 5000);
      // statsd_exporter's probe paths, so a pod spec written for it keeps its probes.
      expect((await agent.get('/-/healthy')).status).toBe(200);
      expect((await agent.get('/-/ready')).status).toBe(200);
    } finally {
      await agent.stop();
    }
  });

  it('serves /metrics where --web.telemetry-path puts it, and a flag wins over its TALLY_* variable, which wins over the file', async () => {
    const agent = await startAgent({
      config: { statsd: { tcp: { enabled: false } } },
      env: { TALLY_UDP: 'off', TALLY_TCP: '127.0.0.1:0' },
      args: ['--udp=127.0.0.1:0', '--web.telemetry-path=/prom'],
    });
    try {
      const listening = agent.stdout.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'tally-agent listening')!;
      expect(agent.udpPort).toBeGreaterThan(0); // --udp over TALLY_UDP=off
      expect(String(listening.tcp)).toMatch(/^127\.0\.0\.1:\d+$/); // TALLY_TCP over the file's tcp.enabled: false
      expect((await agent.get('/prom')).status).toBe(200);
      expect((await agent.get('/metrics')).status).toBe(404);
    } finally {
      await agent.stop();
    }
  });

  it('checks the mapping file with --check-config, and refuses a listen address it cannot read, naming the flag', async () => {
    const checked = await runAgent(['--check-config', `--statsd.mapping-config=${MAPPING}`]);
    expect(checked.code).toBe(0);
    expect(checked.stderr).toMatch(/timer_type/);
    const bad = await runAgent(['--statsd.listen-udp=9125']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--statsd.listen-udp="9125": host:port');
    const env = await runAgent([], { env: { TALLY_HTTP: 'localhost' } });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('TALLY_HTTP="localhost": host:port');
  });
});
