import { ValueType, type Meter } from '@opentelemetry/api';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface ProcessMetrics {
  /** Stops sampling the event loop. */
  stop(): void;
  /** Forgets the blocks of start-up (the hot-path warm-up blocks on purpose): no socket was open to lose anything. */
  listening(): void;
}

/**
 * Event-loop delay percentiles describe the last this-many ms, so a stall
 * shows for a few scrapes and then ages out rather than sitting in a
 * since-start histogram forever.
 */
const LAG_WINDOW_MS = 30_000;

/** The sampling timer's period. Node records the timer's whole wait, period included; it is taken off so an idle loop reads 0. */
const RESOLUTION_MS = 10;

/**
 * The process's own CPU, memory and event-loop delay, under the names
 * Prometheus client libraries use (process_*, nodejs_*), so an operator's
 * existing panels and alerts read them. The delay matters most here: the
 * thread that renders /metrics also reads the sockets, and a long block is
 * datagrams the kernel drops.
 */
export function registerProcessMetrics(meter: Meter, now: () => number = Date.now): ProcessMetrics {
  const startSeconds = (now() - process.uptime() * 1000) / 1000;
  meter
    .createObservableCounter('process_cpu_seconds', { description: 'User and system CPU time spent, in seconds.', valueType: ValueType.DOUBLE })
    .addCallback((r) => {
      const u = process.cpuUsage();
      r.observe((u.user + u.system) / 1e6);
    });
  meter
    .createObservableGauge('process_resident_memory_bytes', { description: 'Resident memory size in bytes.', valueType: ValueType.INT })
    .addCallback((r) => r.observe(process.memoryUsage.rss()));
  meter
    .createObservableGauge('process_start_time_seconds', { description: 'Start time of the process since the Unix epoch, in seconds.', valueType: ValueType.DOUBLE })
    .addCallback((r) => r.observe(startSeconds));
  meter
    .createObservableGauge('nodejs_heap_size_used_bytes', { description: 'V8 heap in use, in bytes.', valueType: ValueType.INT })
    .addCallback((r) => r.observe(process.memoryUsage().heapUsed));

  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  delay.enable();
  const lag = new LagWindow(delay, now);
  const lagGauge = (name: string, description: string, read: (w: LagSnapshot) => number) =>
    meter.createObservableGauge(name, { description, valueType: ValueType.DOUBLE }).addCallback((r) => r.observe(read(lag.snapshot())));
  lagGauge('nodejs_eventloop_lag_p50_seconds', 'Median event-loop delay over the last 30 s, in seconds.', (w) => w.p50);
  lagGauge('nodejs_eventloop_lag_p99_seconds', '99th percentile of event-loop delay over the last 30 s, in seconds.', (w) => w.p99);
  lagGauge('nodejs_eventloop_lag_max_seconds', 'Longest event-loop delay over the last 30 s, in seconds.', (w) => w.max);

  // A histogram of its own, read and reset every second: the one above is reset
  // only every 30 s, so a reading within a window would not show a block that just happened.
  const blockDelay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  blockDelay.enable();
  const blocks = new BlockWindow();
  const tick = setInterval(() => {
    blocks.add(now(), blockDelay.count > 0 ? blockDelay.max / 1e6 - RESOLUTION_MS : 0);
    blockDelay.reset();
  }, 1000);
  tick.unref();
  meter
    .createObservableGauge('tally_event_loop_block_max_seconds', {
      description: 'Longest event-loop block in the last 60 s (beyond the 10 ms sampling period), to the second: UDP arriving meanwhile waits in the socket buffer.',
      unit: 's',
      valueType: ValueType.DOUBLE,
    })
    .addCallback((r) => {
      // The second under way counts too, so a reading right after a block shows it.
      blocks.add(now(), blockDelay.count > 0 ? blockDelay.max / 1e6 - RESOLUTION_MS : 0);
      r.observe(blocks.maxMs(now()) / 1000);
    });
  return {
    stop: () => {
      clearInterval(tick);
      delay.disable();
      blockDelay.disable();
    },
    listening: () => {
      blockDelay.reset();
      blocks.clear();
    },
  };
}

/** Seconds kept by BlockWindow. */
export const BLOCK_WINDOW_S = 60;

/**
 * The longest block per wall-clock second over the last 60 s, in a ring of
 * per-second maxima, so any reader (Prometheus every 15 s, a benchmark after
 * each run) sees the worst block of the last minute whoever read before it.
 */
export class BlockWindow {
  private readonly maxPerSecond = new Float64Array(BLOCK_WINDOW_S);
  // NaN: a slot no second has written, which no window comparison takes in.
  private readonly secondOf = new Float64Array(BLOCK_WINDOW_S).fill(NaN);

  /** Records a block of `ms` (negative is taken as none) in the second holding `atMs`. */
  add(atMs: number, ms: number): void {
    const sec = Math.floor(atMs / 1000);
    const i = sec % BLOCK_WINDOW_S;
    if (this.secondOf[i] !== sec) {
      this.secondOf[i] = sec;
      this.maxPerSecond[i] = 0;
    }
    if (ms > this.maxPerSecond[i]!) this.maxPerSecond[i] = ms;
  }

  clear(): void {
    this.secondOf.fill(NaN);
  }

  /** The longest block recorded in the 60 s up to `atMs`, in ms; 0 when none. */
  maxMs(atMs: number): number {
    const sec = Math.floor(atMs / 1000);
    let max = 0;
    for (let i = 0; i < BLOCK_WINDOW_S; i++) {
      const s = this.secondOf[i]!;
      if (s > sec - BLOCK_WINDOW_S && s <= sec && this.maxPerSecond[i]! > max) max = this.maxPerSecond[i]!;
    }
    return max;
  }
}

interface LagSnapshot {
  p50: number;
  p99: number;
  max: number;
}

/** The delay histogram read and restarted once per window; every reader within a window sees the same figures. */
class LagWindow {
  private last: LagSnapshot = { p50: 0, p99: 0, max: 0 };
  private startedMs: number;

  constructor(
    private readonly delay: IntervalHistogram,
    private readonly now: () => number,
  ) {
    this.startedMs = now();
  }

  snapshot(): LagSnapshot {
    const t = this.now();
    // The first window is reported as it fills, so a fresh agent has figures at once.
    if (t - this.startedMs >= LAG_WINDOW_MS || this.last.max === 0) {
      const d = this.delay;
      // Nanoseconds; a histogram with no sample yet reports NaN or huge placeholders.
      const s = (ns: number) => (Number.isFinite(ns) && d.count > 0 ? Math.max(0, ns / 1e9 - RESOLUTION_MS / 1000) : 0);
      this.last = { p50: s(d.percentile(50)), p99: s(d.percentile(99)), max: s(d.max) };
      if (t - this.startedMs >= LAG_WINDOW_MS) {
        d.reset();
        this.startedMs = t;
      }
    }
    return this.last;
  }
}
