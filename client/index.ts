/**
 * tally-agent/client: `collect("checkout time", { s: 0.12 })` from any
 * application, with no setup. The one-line functions use a default client
 * made from the environment on first use; createClient() makes explicit ones.
 */
import { Client, createClient, type ClientOptions, type CollectOptions } from './client.js';
import type { RuntimeOptions } from './runtime-metrics.js';
import type { Duration, Tags } from './types.js';

export { Client, createClient, type ClientOptions, type CollectOptions } from './client.js';
export { findPackageJson, parseResourceAttributes, resolveGlobalTags, type GlobalTagOptions } from './global-tags.js';
export { RUNTIME_METRICS, type RuntimeOptions } from './runtime-metrics.js';
export { DROP_REASONS, type ClientStats, type DropListener, type DropReason, type Duration, type Tags, type TimeUnit } from './types.js';

// The one-liners need one client per process; it is made on first use, from the environment.
let shared: Client | undefined;

/** The client behind the one-line functions, made from the environment on first use. */
export function defaultClient(): Client {
  if (shared === undefined) {
    try {
      shared = createClient();
    } catch (err) {
      // A one-liner must not throw into the application over a bad TALLY_* variable: say so once and use UDP.
      process.emitWarning(`${(err as Error).message}; the default client uses UDP`, 'TallyClientWarning');
      shared = createClient({ transport: 'udp' });
    }
  }
  return shared;
}

/**
 * Replaces the default client with one made from these options (the previous
 * one is closed once what it holds is sent) and returns it.
 */
export function configure(opts: ClientOptions): Client {
  const previous = shared;
  shared = createClient(opts);
  if (previous !== undefined) void previous.close().catch(() => undefined);
  return shared;
}

export function collect(name: string, value: string | number | Duration, tags?: Tags, opts?: CollectOptions): boolean {
  return defaultClient().collect(name, value, tags, opts);
}

export function count(name: string, value = 1, tags?: Tags, sampleRate?: number): boolean {
  return defaultClient().count(name, value, tags, sampleRate);
}

export function gauge(name: string, value: number, tags?: Tags): boolean {
  return defaultClient().gauge(name, value, tags);
}

export function timer(name: string, duration: number | Duration, tags?: Tags, sampleRate?: number): boolean {
  return defaultClient().timer(name, duration, tags, sampleRate);
}

export function histogram(name: string, value: number, tags?: Tags, sampleRate?: number): boolean {
  return defaultClient().histogram(name, value, tags, sampleRate);
}

export function distribution(name: string, value: number, tags?: Tags, sampleRate?: number): boolean {
  return defaultClient().distribution(name, value, tags, sampleRate);
}

export function event(name: string, value: string, tags?: Tags): boolean {
  return defaultClient().event(name, value, tags);
}

export function time<T>(name: string, fn: () => T, tags?: Tags): T {
  return defaultClient().time(name, fn, tags);
}

type AnyFunction = (...args: any[]) => any;

export function timed<F extends AnyFunction>(name: string, fn: F, tags?: Tags): F;
export function timed(name: string, tags?: Tags): <F extends AnyFunction>(method: F, context?: unknown) => F;
export function timed<F extends AnyFunction>(name: string, fnOrTags?: F | Tags, tags?: Tags): unknown {
  // The client is looked up per call, so a timed() made at import time follows configure().
  if (typeof fnOrTags === 'function') {
    const fn = fnOrTags;
    return function (this: unknown, ...args: unknown[]) {
      return defaultClient().time(name, () => fn.apply(this, args), tags);
    };
  }
  return <G extends AnyFunction>(method: G) =>
    function (this: unknown, ...args: unknown[]) {
      return defaultClient().time(name, () => method.apply(this, args), fnOrTags);
    } as G;
}

/** Starts runtime metrics on the default client; the returned function stops them. */
export function collectRuntime(opts?: RuntimeOptions): () => void {
  return defaultClient().collectRuntime(opts);
}

export function flush(opts?: { timeoutMs?: number }): Promise<void> {
  return defaultClient().flush(opts);
}

/**
 * Sends what the default client holds and closes it (after acknowledgement
 * over HTTP); a later one-liner makes a new default client.
 */
export async function close(opts?: { timeoutMs?: number }): Promise<void> {
  const c = shared;
  shared = undefined;
  await c?.close(opts);
}
