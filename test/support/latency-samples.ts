import { exactQuantile } from './quantiles.js';

/** A seeded generator of uniform numbers in (0, 1). */
function uniform(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
}

export const SHAPES = ['lognormal', 'exponential', 'uniform', 'bimodal'] as const;

/** n samples of a shape, scaled so that their q-quantile is exactly `at`. */
export function samplesWithQuantile(shape: (typeof SHAPES)[number], spread: number, seed: number, n: number, q: number, at: number): number[] {
  const r = uniform(seed);
  const normal = () => Math.sqrt(-2 * Math.log(r())) * Math.cos(2 * Math.PI * r());
  const raw = Array.from({ length: n }, () => {
    switch (shape) {
      case 'lognormal':
        return Math.exp(spread * normal());
      case 'exponential':
        return 1 + spread * -Math.log(r());
      case 'uniform':
        return 1 + spread * r();
      case 'bimodal':
        return (r() < 0.9 ? 1 : 1 + 4 * spread) * Math.exp(0.1 * spread * normal());
    }
  });
  const scale = at / exactQuantile(raw, q);
  return raw.map((v) => v * scale);
}

/** Each version's samples (seconds) as `checkout.time` timings in milliseconds tagged with the version, 50 lines a datagram. */
export async function sendCheckoutTimings(sendUdp: (lines: string) => Promise<void>, byVersion: Record<string, readonly number[]>): Promise<void> {
  for (const [version, samples] of Object.entries(byVersion)) {
    for (let i = 0; i < samples.length; i += 50) {
      await sendUdp(samples.slice(i, i + 50).map((s) => `checkout.time:${(s * 1000).toFixed(3)}|ms|#version:${version}`).join('\n'));
    }
  }
}
