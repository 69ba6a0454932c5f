// Rewrites config/tally.schema.json from the zod config schema. It imports the
// compiled module, so run it after `npm run build`:
//   npm run build && node scripts/gen-config-schema.mjs
// test/config/json-schema.test.ts fails whenever the committed file is stale.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configJsonSchema } from '../dist/agent/config/json-schema.js';

const target = join(dirname(fileURLToPath(import.meta.url)), '..', 'config', 'tally.schema.json');
writeFileSync(target, JSON.stringify(configJsonSchema(), null, 2) + '\n');
console.log(`wrote ${target}`);
