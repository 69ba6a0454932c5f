import { createRequire } from 'node:module';

/** statsd-client ships no type declarations; this is the part of its API the tests use. */
export interface StatsdClient {
  increment(name: string, delta?: number, tags?: Record<string, string>): StatsdClient;
  decrement(name: string, delta?: number, tags?: Record<string, string>): StatsdClient;
  counter(name: string, delta: number, tags?: Record<string, string>): StatsdClient;
  gauge(name: string, value: number, tags?: Record<string, string>): StatsdClient;
  gaugeDelta(name: string, delta: number, tags?: Record<string, string>): StatsdClient;
  /** A Date sends the milliseconds elapsed since it. */
  timing(name: string, ms: number | Date, tags?: Record<string, string>): StatsdClient;
  histogram(name: string, value: number, tags?: Record<string, string>): StatsdClient;
  distribution(name: string, value: number, tags?: Record<string, string>): StatsdClient;
  set(name: string, value: string | number, tags?: Record<string, string>): StatsdClient;
  /** A client sharing this one's socket, its prefix extended by `prefix`. */
  getChildClient(prefix: string): StatsdClient;
  close(): StatsdClient;
}

export const StatsdClientCtor = createRequire(import.meta.url)('statsd-client') as new (
  opts: Record<string, unknown>,
) => StatsdClient;
