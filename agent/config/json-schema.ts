import { z } from 'zod';
import { configSchema } from './schema.js';

/**
 * JSON Schema (draft 2020-12) of what may be written in tally.yaml, for
 * editors. It describes the input side: durations are the strings (or
 * seconds) a user types, not the milliseconds the agent works with.
 * config/tally.schema.json is this object, rewritten by
 * scripts/gen-config-schema.mjs.
 */
export function configJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(configSchema, { target: 'draft-2020-12', io: 'input' });
  const { $schema, ...rest } = generated;
  return {
    $schema,
    title: 'Tally agent configuration',
    description: 'Configuration of tally-agent (config/tally.yaml). Every key is optional; omitted keys take their default.',
    ...rest,
  };
}
