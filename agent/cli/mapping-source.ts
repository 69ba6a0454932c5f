import { dirname, resolve } from 'node:path';
import type { TallyConfig } from '../config/schema.js';
import type { MappingConfig } from '../mapping/mapping-rules.js';

export type MappingSource = { kind: 'none' } | { kind: 'file'; path: string } | { kind: 'inline'; config: MappingConfig };

/**
 * Where the mapping rules come from: the flag wins, then `mappings_file`
 * (relative to the config file's folder), then the rules inline under
 * `mapping:`, which the config's own load checked (and which it refuses
 * beside `mappings_file`).
 */
export function resolveMapping(flag: string | undefined, config: TallyConfig, configFile: string | undefined): MappingSource {
  if (flag !== undefined) return { kind: 'file', path: flag };
  if (config.mappings_file !== undefined) {
    return { kind: 'file', path: resolve(configFile === undefined ? '.' : dirname(configFile), config.mappings_file) };
  }
  if (config.mapping !== undefined) return { kind: 'inline', config: config.mapping };
  return { kind: 'none' };
}
