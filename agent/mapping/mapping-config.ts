import { readFileSync } from 'node:fs';
import { ConfigError } from '../shared/config-error.js';
import { parseYamlDocumentWithSchema } from '../shared/yaml-issues.js';
import type { MappingConfig } from './mapping-rules.js';
import { mappingFileSchema, type RawFile } from './mapping-schema.js';
import { mappingWarnings } from './mapping-warnings.js';
import { resolve } from './resolve-rules.js';

/**
 * Loads a statsd_exporter mapping file (`--statsd.mapping-config`): checked
 * against mapping-schema.ts, resolved into rules (resolve-rules.ts), with the
 * warnings of mapping-warnings.ts.
 */

export function parseMappingText(source: string, file: string): MappingConfig {
  const { value, doc, lineCounter } = parseYamlDocumentWithSchema(mappingFileSchema, source, file);
  return { ...resolve(value as RawFile), warnings: mappingWarnings(doc, lineCounter, file, []) };
}

export function loadMappingFile(path: string): MappingConfig {
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new ConfigError([{ file: path, line: 1, column: 1, key: '(root)', message: `cannot read mapping file: ${reason}` }]);
  }
  return parseMappingText(source, path);
}
