import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isMap, isScalar, parseDocument, type YAMLMap } from 'yaml';
import { defaultConfig, loadConfigFile } from '../../agent/config/load-config.js';
import { configJsonSchema } from '../../agent/config/json-schema.js';

const configDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'config');
const tallyYaml = join(configDir, 'tally.yaml');

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
}

function schemaLeafPaths(node: SchemaNode, prefix = ''): string[] {
  if (!node.properties) return [prefix];
  return Object.entries(node.properties).flatMap(([k, child]) => schemaLeafPaths(child, prefix ? `${prefix}.${k}` : k));
}

/** Leaf keys of the YAML file with the comment that documents each. */
function yamlLeaves(map: YAMLMap, prefix = '', docComment?: string | null): { path: string; comment: string }[] {
  return map.items.flatMap((pair, index) => {
    const name = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    const path = prefix ? `${prefix}.${name}` : name;
    // An empty map (`attributes: {}`) or a flow map (`{ min: 0.001, ... }`) is a leaf: its default is spelled out as it is.
    if (isMap(pair.value) && pair.value.items.length > 0 && !pair.value.flow) return yamlLeaves(pair.value, path);
    // yaml attaches a comment above a mapping's first entry to the mapping
    // (or the document) rather than to that entry's key.
    const first = index === 0 ? (map.commentBefore ?? docComment) : undefined;
    const key = isScalar(pair.key) ? pair.key : undefined;
    const comment = key?.commentBefore ?? first ?? (isScalar(pair.value) ? pair.value.comment : undefined) ?? '';
    return [{ path, comment }];
  });
}

describe('config/tally.yaml', () => {
  it('parses to exactly the built-in defaults', () => {
    expect(loadConfigFile(tallyYaml)).toEqual(defaultConfig());
  });

  it('spells out every key the schema knows, each with a comment', () => {
    const doc = parseDocument(readFileSync(tallyYaml, 'utf8'));
    expect(doc.errors).toEqual([]);
    expect(isMap(doc.contents)).toBe(true);
    const leaves = yamlLeaves(doc.contents as YAMLMap, '', doc.commentBefore);
    // Keys that are off unless set have no default to spell out: they appear as a commented example.
    const unsetByDefault = ['mappings_file', 'http.collect.bearer_token', 'http.collect.bearer_token_file', 'statsd.unix.path', 'statsd.unixgram.path'];
    // Whole sections unset by default, shown as a commented example block.
    const unsetSections = ['mapping'];
    const expected = schemaLeafPaths(configJsonSchema() as SchemaNode).filter(
      (p) => !unsetByDefault.includes(p) && !unsetSections.some((section) => p.startsWith(`${section}.`)),
    );
    for (const section of unsetSections) expect(readFileSync(tallyYaml, 'utf8')).toMatch(new RegExp(`^# ${section}:$`, 'm'));
    expect(leaves.map((l) => l.path).sort()).toEqual(expected.sort());
    for (const leaf of leaves) expect(leaf.comment.trim(), `comment for ${leaf.path}`).not.toBe('');
    for (const key of unsetByDefault) {
      const leaf = key.split('.').pop()!;
      const indent = '  '.repeat(key.split('.').length - 1);
      expect(readFileSync(tallyYaml, 'utf8')).toMatch(new RegExp(`^${indent}# ${leaf}: `, 'm'));
    }
  });

  it('points the YAML language server at the JSON Schema next to it', () => {
    const firstLine = readFileSync(tallyYaml, 'utf8').split('\n')[0];
    expect(firstLine).toBe('# yaml-language-server: $schema=./tally.schema.json');
  });
});
