import { readFileSync } from 'node:fs';
import { isMap, isScalar, parseDocument } from 'yaml';
import { loadConfigFile } from '../config/load-config.js';
import { ConfigError, formatIssue } from '../shared/config-error.js';
import { loadMappingFile } from '../mapping/mapping-config.js';
import type { MappingConfig } from '../mapping/mapping-rules.js';
import { resolveMapping } from './mapping-source.js';

// The only top-level keys of a statsd_exporter mapping file; no Tally config key is among them.
const MAPPING_FILE_KEYS = new Set(['defaults', 'mappings']);

/**
 * True when the file reads as a statsd_exporter mapping file rather than a
 * Tally config, so `check-config mapping.yml` checks it as what it is.
 * Unreadable or unparsable files are left to the config check to report.
 */
export function looksLikeMappingFile(path: string): boolean {
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch {
    return false;
  }
  const root = parseDocument(source).contents;
  if (!isMap(root) || root.items.length === 0) return false;
  return root.items.every((pair) => isScalar(pair.key) && MAPPING_FILE_KEYS.has(String(pair.key.value)));
}

export interface CheckResult {
  code: 0 | 1;
  /** Lines for stdout: what was checked and found valid. */
  out: string[];
  /** Lines for stderr: errors, or warnings about a valid file. */
  err: string[];
}

/**
 * `tally-agent check-config [CONFIG] [--mapping FILE]`: validates the config
 * (and the mapping file it names), and a mapping file given by flag or
 * recognised by its keys. The rules are found as the agent finds them at
 * start, so check and start agree.
 */
export function checkConfig(configFile: string | undefined, mappingFlag: string | undefined): CheckResult {
  const result: CheckResult = { code: 0, out: [], err: [] };
  const report = (mapping: MappingConfig, path: string) => {
    for (const w of mapping.warnings) result.err.push(formatIssue(w));
    result.out.push(`${path}: ok (statsd_exporter mapping file, ${mapping.mappings.length} rules)`);
  };
  try {
    if (configFile === undefined || (mappingFlag === undefined && looksLikeMappingFile(configFile))) {
      const path = (mappingFlag ?? configFile)!;
      report(loadMappingFile(path), path);
      return result;
    }
    const source = resolveMapping(mappingFlag, loadConfigFile(configFile), configFile);
    result.out.push(`${configFile}: ok`);
    if (source.kind === 'file') report(loadMappingFile(source.path), source.path);
    else if (source.kind === 'inline') report(source.config, `${configFile} (mapping:)`);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    result.code = 1;
    result.err.push(err.message);
  }
  return result;
}
