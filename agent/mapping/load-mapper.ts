import type { Logger } from 'pino';
import { Mapper } from './mapper.js';
import { loadMappingFile, type MappingConfig } from './mapping-config.js';

/**
 * Loads a mapping file for the agent and says, in the log, what of it Tally
 * reads but does not yet act on, so nothing in the file is ignored silently.
 * Throws ConfigError (file:line:column: key: message) for an invalid file.
 */
export function loadMapper(path: string, logger: Logger): Mapper {
  return createMapper(loadMappingFile(path), path, logger);
}

/** `source` names where the rules came from, for the log. */
export function createMapper(config: MappingConfig, source: string, logger: Logger): Mapper {
  const path = source;
  for (const w of config.warnings) logger.warn({ file: w.file, line: w.line, key: w.key }, w.message);
  const notYet = (what: string, rules: number[]) => {
    if (rules.length > 0) logger.warn({ file: path, rules }, what);
  };
  const rules = config.mappings.map((rule, index) => ({ rule, index }));
  const summaries = rules.filter(({ rule }) => (rule.observerType ?? config.defaults.observerType) === 'summary');
  notYet('observer_type summary is not supported yet: these rules produce histograms', summaries.map((r) => r.index));
  notYet('scale is not applied yet: values are kept as sent', rules.filter(({ rule }) => rule.scale !== undefined).map((r) => r.index));
  notYet('help is not shown yet', rules.filter(({ rule }) => rule.help !== undefined).map((r) => r.index));
  logger.info({ file: path, rules: config.mappings.length }, 'mapping rules loaded');
  return new Mapper(config);
}
