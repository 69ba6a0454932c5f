import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configReference } from '../../agent/config/config-reference.js';
import { configJsonSchema } from '../../agent/config/json-schema.js';
import { ROOT } from '../support/agent-process.js';

describe('docs/configuration.md', () => {
  const committed = readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8');

  it('is what the config schema generates now (regenerate: npm run build && node scripts/gen-config-schema.mjs)', () => {
    expect(committed).toBe(configReference());
  });

  it('has a row for every key of the schema, with its default', () => {
    const schema = configJsonSchema() as { properties: Record<string, { properties?: Record<string, unknown> }> };
    const walk = (node: any, path: string): string[] =>
      node.properties && Object.keys(node.properties).length > 0 && path !== 'mapping'
        ? Object.entries(node.properties).flatMap(([k, v]) => walk(v, path ? `${path}.${k}` : k))
        : [path];
    for (const key of walk(schema, '').filter((k) => k !== 'sinks')) {
      expect(committed, key).toContain(`| \`${key}\` |`);
    }
    expect(committed).toContain('| `aggregation.timer_buckets` | list of number or object | `{"min":0.001,"max":60,"per_octave":8}` |');
    for (const type of ['otlp', 'prometheus_remote_write', 'module']) expect(committed).toContain(`### \`type: ${type}\``);
  });
});
