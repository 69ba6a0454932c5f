import { readFileSync } from 'node:fs';
import { ConfigError, describeReadError, parseYamlWithSchema, ROOT_KEY } from '../shared/yaml-issues.js';
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

export function parseConfigText(text: string, file: string): TallyConfig {
  return parseYamlWithSchema(configSchema, text, file);
}
