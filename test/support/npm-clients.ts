/**
 * The npm statsd clients that ship no type declarations (lynx, node-statsd),
 * typed for the part of their API the tests use.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:dgram';

const require = createRequire(import.meta.url);

export interface LynxOptions {
  scope?: string;
  socket?: Socket;
  on_error?: (err: Error) => void;
}

export interface LynxTimer {
  stop(): void;
}

export interface Lynx {
  increment(stats: string | string[], sampleRate?: number): void;
  decrement(stats: string | string[], sampleRate?: number): void;
  count(stats: string | string[], delta: number, sampleRate?: number): void;
  timing(stat: string, ms: number, sampleRate?: number): void;
  gauge(stat: string, value: number, sampleRate?: number): void;
  set(stat: string, value: string | number, sampleRate?: number): void;
  send(stats: Record<string, string>, sampleRate?: number): void;
  createTimer(stat: string, sampleRate?: number): LynxTimer;
  /** lynx is a writable stream of statsd text, re-sent to its server. */
  write(text: string | Buffer): void;
  close(): void;
}

interface MersenneTwister {
  genrand_real2(): number;
}

// lynx samples with its own Mersenne Twister (created when lynx is loaded),
// never Math.random, so the only way to make a sampled call go out is to
// wrap the generator's constructor before lynx is required.
const mersenne = require('mersenne') as { MersenneTwister19937: new () => MersenneTwister };
const OriginalTwister = mersenne.MersenneTwister19937;
let pinnedDraw: number | undefined;
mersenne.MersenneTwister19937 = function PinnableTwister(): MersenneTwister {
  const mt = new OriginalTwister();
  const draw = mt.genrand_real2.bind(mt);
  mt.genrand_real2 = () => pinnedDraw ?? draw();
  return mt;
} as unknown as new () => MersenneTwister;

/** Runs fn with lynx's random draws fixed at `draw` (0 sends every sampled call). */
export function withLynxDraw<T>(draw: number, fn: () => T): T {
  pinnedDraw = draw;
  try {
    return fn();
  } finally {
    pinnedDraw = undefined;
  }
}

export const LynxCtor = require('lynx') as new (host: string, port: number, options?: LynxOptions) => Lynx;

export type NodeStatsdCallback = (err: Error | null | undefined, bytes?: number) => void;

export interface NodeStatsd {
  timing(stat: string | string[], ms: number, sampleRate?: number, tags?: string[], cb?: NodeStatsdCallback): void;
  increment(stat: string | string[], value?: number, sampleRate?: number, tags?: string[], cb?: NodeStatsdCallback): void;
  decrement(stat: string | string[], value?: number, sampleRate?: number, tags?: string[], cb?: NodeStatsdCallback): void;
  histogram(stat: string | string[], value: number, sampleRate?: number, tags?: string[], cb?: NodeStatsdCallback): void;
  gauge(stat: string | string[], value: number, sampleRate?: number, tags?: string[], cb?: NodeStatsdCallback): void;
  set(stat: string | string[], value: string | number, sampleRate?: number, tags?: string[], cb?: NodeStatsdCallback): void;
  unique(stat: string | string[], value: string | number, sampleRate?: number, tags?: string[], cb?: NodeStatsdCallback): void;
  close(): void;
}

export interface NodeStatsdOptions {
  host?: string;
  port?: number;
  prefix?: string;
  suffix?: string;
  global_tags?: string[];
}

export const NodeStatsdCtor = require('node-statsd') as new (options: NodeStatsdOptions) => NodeStatsd;
