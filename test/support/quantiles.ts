import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './agent-process.js';

/** The known sample set of test/fixtures/summary/latencies-ms.txt, in file order. */
export function loadLatenciesMs(): number[] {
  return readFileSync(join(ROOT, 'test', 'fixtures', 'summary', 'latencies-ms.txt'), 'utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map(Number);
}

/** The exact q-quantile by nearest rank: the smallest sample with at least q·n samples at or below it. */
export function exactQuantile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

/**
 * How far an estimate is from the q-quantile of the samples, in both senses an
 * `error` is read: relative to the exact value (DDSketch's guarantee), and in
 * rank (client_golang's CKMS guarantee: some rank the estimate could hold lies
 * within error·n of q·n).
 */
export function quantileErrors(samples: readonly number[], q: number, estimate: number): { relative: number; rank: number } {
  const exact = exactQuantile(samples, q);
  const n = samples.length;
  const below = samples.filter((x) => x < estimate).length / n;
  const atOrBelow = samples.filter((x) => x <= estimate).length / n;
  const rank = q < below ? below - q : q > atOrBelow ? q - atOrBelow : 0;
  return { relative: Math.abs(estimate - exact) / Math.abs(exact), rank };
}
