import { z } from 'zod';

/**
 * Histogram bucket bounds: finite and strictly increasing. Each out-of-order
 * bound is reported at its own index so the config loader can point at the
 * offending number rather than at the whole list.
 */
export const bucketBounds = z
  .array(z.number().finite())
  .superRefine((b, ctx) => {
    for (let i = 1; i < b.length; i++) {
      if (!(b[i]! > b[i - 1]!)) {
        ctx.addIssue({
          code: 'custom',
          path: [i],
          input: b[i],
          message: `bucket bounds must be strictly increasing (${b[i]} follows ${b[i - 1]})`,
        });
      }
    }
  });

/**
 * Bounds `min × 2^(k/perOctave)` from min until one reaches max, rounded to
 * four significant digits so `le` labels stay readable. At 8 per octave
 * neighbours are at most 9.14 % apart (9.05 % before rounding), so a
 * quantile that histogram_quantile interpolates lies in the same bucket as
 * the true one and is never further from it than that, whatever the
 * distribution.
 */
export function exponentialBounds(min: number, max: number, perOctave: number): number[] {
  const out: number[] = [];
  for (let k = 0; ; k++) {
    const b = Number((min * 2 ** (k / perOctave)).toPrecision(4));
    if (out.length === 0 || b > out[out.length - 1]!) out.push(b);
    if (b >= max) return out;
  }
}

/** The compact way to write a long geometric layout in the config. */
export const exponentialLayout = z
  .object({
    min: z.number().positive().describe('The lowest bound.'),
    max: z.number().positive().describe('Bounds go on until one reaches this.'),
    per_octave: z.number().int().min(1).max(64).describe('Bounds per doubling: 8 keeps neighbours 9 % apart.'),
  })
  .strict()
  .refine((l) => l.max > l.min, { message: 'max must be greater than min', path: ['max'] })
  .refine((l) => !(l.min > 0 && l.max > l.min) || Math.log2(l.max / l.min) * l.per_octave <= 1000, { message: 'that layout has over 1,000 bounds', path: ['per_octave'] });

/**
 * Bounds as a list, or as `{ min, max, per_octave }`; either way a strictly
 * increasing list comes out. Not a z.union: a union reports a bad list as
 * "invalid input" at the key, where the list alone points at the bad number.
 */
export const bucketLayout = z.preprocess((input, ctx) => {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
  const layout = exponentialLayout.safeParse(input);
  if (layout.success) return exponentialBounds(layout.data.min, layout.data.max, layout.data.per_octave);
  for (const issue of layout.error.issues) ctx.addIssue({ ...issue, code: 'custom', input: undefined });
  return z.NEVER;
}, bucketBounds.min(1));
