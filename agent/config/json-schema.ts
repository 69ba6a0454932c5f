import { z } from 'zod';
import { bucketLayout, bucketBounds, exponentialLayout } from '../shared/bucket-bounds.js';
import { configSchema } from './schema.js';

/**
 * JSON Schema (draft 2020-12) of what may be written in tally.yaml, for
 * editors. It describes the input side: durations are the strings (or
 * seconds) a user types, not the milliseconds the agent works with.
 * config/tally.schema.json is this object, rewritten by
 * scripts/gen-config-schema.mjs.
 */
export function configJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(configSchema, {
    target: 'draft-2020-12',
    io: 'input',
    override: (ctx) => {
      // A preprocess step is opaque to zod's converter, which would describe only the list form.
      if (ctx.zodSchema !== bucketLayout) return;
      for (const key of Object.keys(ctx.jsonSchema)) delete ctx.jsonSchema[key];
      ctx.jsonSchema.anyOf = [
        z.toJSONSchema(bucketBounds.min(1), { target: 'draft-2020-12', io: 'input' }),
        z.toJSONSchema(exponentialLayout, { target: 'draft-2020-12', io: 'input' }),
      ].map(({ $schema, ...rest }) => rest);
    },
  });
  const { $schema, ...rest } = generated;
  return {
    $schema,
    title: 'Tally agent configuration',
    description: 'Configuration of tally-agent (config/tally.yaml). Every key is optional; omitted keys take their default.',
    ...rest,
  };
}
