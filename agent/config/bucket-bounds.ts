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
