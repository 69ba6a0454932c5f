/** Types for scripts/answer-workload.mjs (the workload with known truth). */

export declare const SERVICE: 'shop';
export declare const ENV: 'test';
export declare const VERSION_A: '1.4';
export declare const VERSION_B: '1.5';
export declare const SLOWDOWN: number;
export declare const TIMINGS_PER_VERSION: number;

export interface AgentPorts {
  udpPort: number;
  httpPort: number;
}

export interface WorkloadOptions {
  /** Also send service/version/env as tags on every line (for agents without global tags). */
  lineTags?: boolean;
  /** Length of the steady sending, in ms (default 8,000). */
  durationMs?: number;
}

export interface TimerTruth {
  count: number;
  sumSeconds: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  errors: number;
  /** Share of timings with outcome other than ok. */
  errorShare: number;
}

export interface WorkloadTruth {
  service: string;
  env: string;
  versionA: string;
  versionB: string;
  /** Unix seconds. */
  startedAtS: number;
  endedAtS: number;
  timer: {
    statsdName: string;
    /** Histogram base name as exported (without _bucket). */
    metric: string;
    slowdown: number;
    perVersion: Record<string, TimerTruth>;
    /** B's p99 over A's. */
    p99Ratio: number;
  };
  memory: { statsdName: string; metric: string; perVersion: Record<string, number> };
  counter: {
    statsdName: string;
    metric: string;
    perSecondPerVersion: number;
    totalPerVersion: Record<string, number>;
    durationS: number;
  };
  features: {
    /** Event base name: series `${event}_total` and `${event}_last_seen_timestamp_seconds`, feature in label `value`. */
    event: string;
    /** Uses per feature, both versions together. */
    counts: Record<string, number>;
    /** Features by uses, most used first (ties by name). */
    order: string[];
    onceUsed: string;
    lastUsedLongAgo: { feature: string; timestampS: number };
    idleForDays: Record<number, number>;
  };
}

/** The TALLY_TAGS value for the agent beside `version`. */
export declare function agentTagsEnv(version: string): string;

export declare function sendAnswerWorkload(agents: { a: AgentPorts; b: AgentPorts }, options?: WorkloadOptions): Promise<WorkloadTruth>;
