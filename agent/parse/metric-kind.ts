/** statsd metric types, as small integers so the hot path can switch on them cheaply. */
export const COUNTER = 1;
export const GAUGE = 2;
export const TIMER = 3;
export const HISTOGRAM = 4;
export const DISTRIBUTION = 5;
export const SET = 6;

export type MetricKind = typeof COUNTER | typeof GAUGE | typeof TIMER | typeof HISTOGRAM | typeof DISTRIBUTION | typeof SET;

export const KIND_NAMES: Record<MetricKind, string> = {
  [COUNTER]: 'counter',
  [GAUGE]: 'gauge',
  [TIMER]: 'timer',
  [HISTOGRAM]: 'histogram',
  [DISTRIBUTION]: 'distribution',
  [SET]: 'set',
};
