/**
 * decrement() as clients send it, end to end: refused with a warning by
 * default, kept for names under aggregation.up_down_counters, which
 * Prometheus sees as gauges.
 */
import { describe, expect, it } from 'vitest';
import { startAgent, waitFor } from '../support/agent-process.js';
import { parsePromText, sampleValue } from '../support/prom-text.js';

describe('decrements', () => {
  it('keeps up-down counters as gauges and refuses other negative counts with a warning naming the metric', async () => {
    const agent = await startAgent({
      config: { statsd: { udp: { port: 0 } }, http: { port: 0 }, aggregation: { up_down_counters: ['queue.*.depth'] } },
    });
    try {
      await agent.sendUdp('queue.orders.depth:5|c\nqueue.orders.depth:-2|c\nlogins:3|c\nlogins:-1|c');
      const text = await waitFor(async () => {
        const t = await agent.metricsText();
        const e = parsePromText(t);
        expect(sampleValue(e, 'queue_orders_depth')).toBe(3);
        expect(sampleValue(e, 'logins_total')).toBe(3);
        expect(sampleValue(e, 'tally_parse_errors_total', { reason: 'negative_counter' })).toBe(1);
        return t;
      }, 5000);
      expect(text).toMatch(/^# TYPE queue_orders_depth gauge$/m);
      expect(text).not.toContain('queue_orders_depth_total');
      const warning = agent.stdout
        .map((l) => JSON.parse(l) as { level: number; msg: string; statsd_name?: string })
        .find((o) => o.level === 40 && o.msg.startsWith('negative count'));
      expect(warning?.statsd_name).toBe('logins');
    } finally {
      await agent.stop();
    }
  });
});
