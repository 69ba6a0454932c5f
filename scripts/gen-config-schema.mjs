// Rewrites config/tally.schema.json and docs/configuration.md from the zod config schema. It imports the
// compiled module, so run it after `npm run build`:
//   npm run build && node scripts/gen-config-schema.mjs
// test/config/json-schema.test.ts fails whenever the committed file is stale.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configJsonSchema } from '../dist/agent/config/json-schema.js';

const target = join(dirname(fileURLToPath(import.meta.url)), '..', 'config', 'tally.schema.json');
writeFileSync(target, JSON.stringify(configJsonSchema(), null, 2) + '\n');
console.log(`wrote ${target}`);

const { configReference } = await import('../dist/agent/config/config-reference.js');
const reference = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'configuration.md');
mkdirSync(dirname(reference), { recursive: true });
writeFileSync(reference, configReference());
console.log(`wrote ${reference}`);
