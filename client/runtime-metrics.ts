/**
 * Memory, event-loop delay, GC and CPU of the application, every few
 * seconds, under fixed names (no prefix) and the global tags, so that the
 * version dashboard can compare versions without the application writing a
 * line for it. The agent turns them into runtime_memory_rss_bytes,
 * runtime_memory_heap_used_bytes, runtime_event_loop_delay_p50_seconds,
 * runtime_event_loop_delay_p99_seconds, runtime_gc_seconds_total and
 * runtime_cpu_seconds_total.
 */
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import type { Kind } from './types.js';

export interface RuntimeOptions {
  /** How often the figures are sent (default 5000 ms). */
  intervalMs?: number;
}

export type RuntimeSender = (kind: Kind, name: string, value: number) => void;

// monitorEventLoopDelay samples with a timer of this period; what it records includes the period itself.
const RESOLUTION_MS = 10;

export const RUNTIME_METRICS = {
  rss: 'runtime.memory.rss_bytes',
  heapUsed: 'runtime.memory.heap_used_bytes',
  delayP50: 'runtime.event_loop.delay_p50_seconds',
  delayP99: 'runtime.event_loop.delay_p99_seconds',
  gc: 'runtime.gc.seconds',
  cpu: 'runtime.cpu.seconds',
} as const;

/** Starts sampling; the returned function stops it. Its timers never keep the process alive. */
export function startRuntimeMetrics(send: RuntimeSender, opts: RuntimeOptions = {}): () => void {
  const intervalMs = Math.max(100, opts.intervalMs ?? 5000);
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  delay.enable();
  let gcMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs += e.duration;
  });
  gc.observe({ entryTypes: ['gc'] });
  let cpu = process.cpuUsage();

  const sample = () => {
    const mem = process.memoryUsage();
    send('g', RUNTIME_METRICS.rss, mem.rss);
    send('g', RUNTIME_METRICS.heapUsed, mem.heapUsed);
    // Before the first sample the histogram is empty and its percentiles are 0.
    if (delay.count > 0) {
      send('g', RUNTIME_METRICS.delayP50, Math.max(0, delay.percentile(50) / 1e6 - RESOLUTION_MS) / 1000);
      send('g', RUNTIME_METRICS.delayP99, Math.max(0, delay.percentile(99) / 1e6 - RESOLUTION_MS) / 1000);
    }
    delay.reset();
    const used = process.cpuUsage(cpu);
    cpu = process.cpuUsage();
    // Counters are sent every time, 0 included, so the series exists from the first sample.
    send('c', RUNTIME_METRICS.cpu, (used.user + used.system) / 1e6);
    send('c', RUNTIME_METRICS.gc, gcMs / 1000);
    gcMs = 0;
  };
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    delay.disable();
    gc.disconnect();
  };
}
