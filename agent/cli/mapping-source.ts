import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../shared/yaml-issues.js';
import type { TallyConfig } from '../config/schema.js';
import { parseInlineMapping, type MappingConfig } from '../mapping/mapping-config.js';

export type MappingSource = { kind: 'none' } | { kind: 'file'; path: string } | { kind: 'inline'; config: MappingConfig };

/**
 * Where the mapping rules come from: the flag wins, then `mappings_file`
 * (relative to the config file's folder), then rules inline under `mapping:`.
 * Throws ConfigError for inline rules that do not validate, or for both keys at once.
 */
export function resolveMapping(flag: string | undefined, config: TallyConfig, configFile: string | undefined): MappingSource {
  if (configFile !== undefined && config.mapping !== undefined && config.mappings_file !== undefined) {
    throw new ConfigError([
      { file: configFile, line: 1, column: 1, key: 'mapping', message: 'set mapping or mappings_file, not both' },
    ]);
  }
  if (flag !== undefined) return { kind: 'file', path: flag };
  if (config.mappings_file !== undefined) {
    return { kind: 'file', path: resolve(configFile === undefined ? '.' : dirname(configFile), config.mappings_file) };
  }
  if (config.mapping !== undefined && configFile !== undefined) {
    const inline = parseInlineMapping(readFileSync(configFile, 'utf8'), configFile);
    if (inline !== undefined) return { kind: 'inline', config: inline };
  }
  return { kind: 'none' };
}
