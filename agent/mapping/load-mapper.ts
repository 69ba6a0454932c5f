import type { Logger } from 'pino';
import { Mapper } from './mapper.js';
import { loadMappingFile } from './mapping-config.js';
import type { MappingConfig } from './mapping-rules.js';

/**
 * Loads a mapping file for the agent and says, in the log, what of it Tally
 * reads but does not act on, so nothing in the file is ignored silently.
 * Throws ConfigError (file:line:column: key: message) for an invalid file.
 */
export function loadMapper(path: string, logger: Logger, opts: { cacheSize?: number } = {}): Mapper {
  return createMapper(loadMappingFile(path), path, logger, opts);
}

/** `source` names where the rules came from, for the log. */
export function createMapper(config: MappingConfig, source: string, logger: Logger, opts: { cacheSize?: number } = {}): Mapper {
  for (const w of config.warnings) logger.warn({ file: w.file, line: w.line, key: w.key }, w.message);
  logger.info({ file: source, rules: config.mappings.length }, 'mapping rules loaded');
  return new Mapper(config, opts);
}
