import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { BLOCK_WINDOW_S, BlockWindow, registerProcessMetrics } from '../../agent/telemetry/process-metrics.js';

describe('BlockWindow', () => {
  it('keeps the longest block of each second and reports the longest of the last 60 s', () => {
    const w = new BlockWindow();
    expect(w.maxMs(0)).toBe(0);
    w.add(1_000, 12);
    w.add(1_500, 80);
    w.add(1_900, 30);
    w.add(5_000, 40);
    expect(w.maxMs(5_000)).toBe(80);
    // A reader after another still sees it: reading does not reset the window.
    expect(w.maxMs(5_000)).toBe(80);
    // Negative readings (the sampling period taken off an idle loop) are no block.
    w.add(6_000, -3);
    expect(w.maxMs(6_000)).toBe(80);
  });

  it('forgets a block once it is more than 60 s old, even where the ring slot is reused', () => {
    const w = new BlockWindow();
    w.add(1_000, 80);
    w.add(2_000, 20);
    expect(w.maxMs(1_000 + (BLOCK_WINDOW_S - 1) * 1000)).toBe(80);
    expect(w.maxMs(1_000 + BLOCK_WINDOW_S * 1000)).toBe(20);
    // Second 61 lands in second 1's slot: the old figure is replaced, not kept.
    w.add(1_000 + BLOCK_WINDOW_S * 1000, 5);
    expect(w.maxMs(1_000 + BLOCK_WINDOW_S * 1000)).toBe(20);
    expect(w.maxMs(2_000 + BLOCK_WINDOW_S * 1000)).toBe(5);
  });

  it('forgets everything on clear, as when the agent starts listening after its warm-up', () => {
    const w = new BlockWindow();
    w.add(1_000, 250);
    w.clear();
    expect(w.maxMs(1_000)).toBe(0);
    w.add(2_000, 7);
    expect(w.maxMs(2_000)).toBe(7);
  });
});

describe('tally_event_loop_block_max_seconds', () => {
  it('shows a block of the event loop at the next reading', async () => {
    const exporter = new PrometheusExporter({ preventServerStart: true });
    const provider = new MeterProvider({ readers: [exporter] });
    const metrics = registerProcessMetrics(provider.getMeter('test'));
    try {
      const read = async () => {
        const { resourceMetrics } = await exporter.collect();
        const m = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((x) => x.descriptor.name === 'tally_event_loop_block_max_seconds');
        return m?.dataPoints[0]?.value as number | undefined;
      };
      await new Promise((r) => setTimeout(r, 50));
      const end = performance.now() + 150;
      while (performance.now() < end) {
        // Busy: the loop is blocked for 150 ms.
      }
      // The delay histogram takes its sample when its timer finally runs.
      await new Promise((r) => setTimeout(r, 30));
      const v = await read();
      expect(v).toBeGreaterThanOrEqual(0.12);
      expect(v).toBeLessThan(5);
    } finally {
      metrics.stop();
      await provider.shutdown();
    }
  });
});
