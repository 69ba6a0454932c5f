import { configJsonSchema } from './json-schema.js';

/** The part of a JSON Schema node the reference reads. */
interface Node {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  default?: unknown;
  description?: string;
  properties?: Record<string, Node>;
  items?: Node & { oneOf?: Node[] };
  anyOf?: Node[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  required?: string[];
}

/** A key's path, its schema, and whether a config must give it. */
type Row = [string, Node, boolean];

/** Sections whose keys are given by another format, documented elsewhere: described as one entry. */
const OPAQUE = new Set(['mapping']);

/**
 * docs/configuration.md: every key of the config with its type, default and
 * description, made from the same zod schema that validates a config file,
 * so the reference cannot drift from what the agent accepts.
 * scripts/gen-config-schema.mjs writes it; a test fails when it is stale.
 */
export function configReference(): string {
  const schema = configJsonSchema() as Node;
  const out: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated from the config schema (agent/config/schema.ts) by `npm run build && node scripts/gen-config-schema.mjs`; do not edit. -->',
    '',
    'Every key is optional: an omitted key takes its default, and `tally-agent` with no',
    'config file runs on these defaults. `config/tally.yaml` spells every default out',
    'with a comment; `tally-agent check-config FILE` checks a file. Durations are',
    'written `"500ms"`, `"10s"`, `"1m"`, `"1h"` or combined (`"1m30s"`); a bare number is',
    'seconds.',
    '',
  ];
  for (const [key, node] of Object.entries(schema.properties ?? {})) {
    out.push(`## \`${key}\``, '');
    if (node.description && (node.properties || OPAQUE.has(key) || node.items?.oneOf)) out.push(node.description, '');
    if (node.items?.oneOf) {
      for (const variant of node.items.oneOf) {
        const type = variant.properties?.type?.const;
        out.push(`### \`type: ${String(type)}\``, '', ...table(leaves(variant, '').filter(([k]) => k !== 'type')), '');
      }
      continue;
    }
    out.push(...table(node.properties && !OPAQUE.has(key) ? leaves(node, key) : [[key, node, false]]), '');
  }
  return out.join('\n').replace(/\n+$/, '\n');
}

function leaves(node: Node, prefix: string): Row[] {
  return Object.entries(node.properties ?? {}).flatMap(([k, child]): Row[] => {
    const path = prefix === '' ? k : `${prefix}.${k}`;
    // A map of free keys (headers, tags) is one entry; an object of named keys is walked.
    return child.properties && Object.keys(child.properties).length > 0 ? leaves(child, path) : [[path, child, node.required?.includes(k) ?? false]];
  });
}

function table(rows: Row[]): string[] {
  const defaultOf = (n: Node, required: boolean) => (n.default !== undefined ? code(JSON.stringify(n.default)) : required ? '(required)' : '(unset)');
  return [
    '| key | type | default | description |',
    '|---|---|---|---|',
    ...rows.map(([k, n, required]) => `| \`${k}\` | ${typeOf(n)} | ${defaultOf(n, required)} | ${cell(n.description ?? '')} |`),
  ];
}

function typeOf(n: Node): string {
  if (n.enum) return n.enum.map((v) => code(JSON.stringify(v))).join(' \\| ');
  if (n.anyOf) {
    const isDuration = n.anyOf.some((a) => a.type === 'string' && a.pattern?.includes('ms|s|m|h'));
    if (isDuration) return 'duration';
    return n.anyOf.map(typeOf).join(' or ');
  }
  const t = Array.isArray(n.type) ? n.type.join(' \\| ') : (n.type ?? 'any');
  if (t === 'array') return n.items?.type ? `list of ${typeOf(n.items)}` : 'list';
  if (t === 'object' && !n.properties) return 'map';
  return t;
}

function code(s: string): string {
  return `\`${s.replace(/\|/g, '\\|')}\``;
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
