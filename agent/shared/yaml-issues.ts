import { LineCounter, parseDocument, visit } from 'yaml';
import type { Document, YAMLError } from 'yaml';
import type { z } from 'zod';
import { ConfigError, ROOT_KEY, type ConfigIssue } from './config-error.js';
import { firstDefinitionOfDuplicate, formatPath, pathAtOffset, type At } from './yaml-positions.js';
import { zodIssueToConfigIssues } from './zod-issues.js';

/**
 * Parses YAML and checks it against a zod schema, every problem reported as
 * a ConfigIssue at its file:line:column: the config file and the mapping
 * file alike.
 */
export function parseYamlWithSchema<S extends z.ZodType>(schema: S, text: string, file: string): z.output<S> {
  return parseYamlDocumentWithSchema(schema, text, file).value;
}

/** A document checked against its schema: the value, and the parsed document with its line positions. */
export interface CheckedYaml<T> {
  value: T;
  doc: Document.Parsed;
  lineCounter: LineCounter;
}

/**
 * parseYamlWithSchema, keeping the parsed document: what reads the file
 * further (the mapping rules' warnings, inline in a config or in their own
 * file) reads this one, so a file is parsed once.
 */
export function parseYamlDocumentWithSchema<S extends z.ZodType>(schema: S, text: string, file: string): CheckedYaml<z.output<S>> {
  const lineCounter = new LineCounter();
  // prettyErrors would append a source excerpt to each message; positions are
  // reported separately, and each issue must stay on one line.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const at = (offset: number, key: string, message: string): ConfigIssue => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col, key, message: oneLine(message) };
  };

  // Schema checks wait until the YAML itself is sound: a half-parsed tree
  // only yields misleading follow-on errors.
  if (doc.errors.length > 0) {
    throw new ConfigError(sortIssues(doc.errors.map((e) => yamlErrorIssue(doc, e, at, lineCounter))));
  }

  let input: unknown;
  try {
    input = doc.toJS();
  } catch (err) {
    throw new ConfigError(aliasIssues(doc, err, at));
  }
  // An empty file, or one holding only comments, means "all defaults".
  if (input === null || input === undefined) input = {};

  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return { value: result.data, doc, lineCounter };
  const issues = result.error.issues.flatMap((issue) => zodIssueToConfigIssues(doc, schema, issue, at));
  throw new ConfigError(sortIssues(issues));
}

function yamlErrorIssue(doc: Document.Parsed, error: YAMLError, at: At, lineCounter: LineCounter): ConfigIssue {
  const offset = error.pos[0];
  const path = pathAtOffset(doc, offset);
  let message = error.message;
  if (error.code === 'DUPLICATE_KEY') {
    const first = firstDefinitionOfDuplicate(doc, path);
    message = first === undefined ? 'duplicate key' : `duplicate key (first defined on line ${lineCounter.linePos(first).line})`;
  }
  return at(offset, formatPath(path), message);
}

function aliasIssues(doc: Document.Parsed, err: unknown, at: At): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  visit(doc, {
    Alias(_key, alias) {
      if (alias.resolve(doc) === undefined && alias.range) {
        const offset = alias.range[0];
        const message = `unknown alias *${alias.source} (an anchor must be defined before it is used)`;
        issues.push(at(offset, formatPath(pathAtOffset(doc, offset)), message));
      }
    },
  });
  if (issues.length > 0) return sortIssues(issues);
  // Anything else from toJS is document-wide, e.g. yaml's guard against
  // alias expansion bombs.
  return [at(0, ROOT_KEY, err instanceof Error ? err.message : String(err))];
}

function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => a.line - b.line || a.column - b.column);
}
