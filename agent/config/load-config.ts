import { readFileSync } from 'node:fs';
import { mappingWarnings } from '../mapping/mapping-warnings.js';
import { ConfigError, describeReadError, ROOT_KEY } from '../shared/config-error.js';
import { parseYamlDocumentWithSchema } from '../shared/yaml-issues.js';
import { configSchema, type TallyConfig } from './schema.js';

export function defaultConfig(): TallyConfig {
  return configSchema.parse({});
}

export function loadConfigFile(path: string): TallyConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([
      { file: path, line: 1, column: 1, key: ROOT_KEY, message: `cannot read config file: ${describeReadError(err)}` },
    ]);
  }
  return parseConfigText(text, path);
}

/**
 * The config, checked in one pass, inline mapping rules included; the rules'
 * warnings are read off the same document, at the config file's lines.
 */
export function parseConfigText(text: string, file: string): TallyConfig {
  const { value, doc, lineCounter } = parseYamlDocumentWithSchema(configSchema, text, file);
  if (value.mapping === undefined) return value;
  return { ...value, mapping: { ...value.mapping, warnings: mappingWarnings(doc, lineCounter, file, ['mapping']) } };
}
