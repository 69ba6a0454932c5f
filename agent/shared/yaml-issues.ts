import { LineCounter, isAlias, isMap, isNode, isScalar, isSeq, parseDocument, visit } from 'yaml';
import type { Document, Node, Pair, YAMLError } from 'yaml';
import type { z } from 'zod';

/**
 * One problem in a config file. `line` and `column` are 1-based. `key` is the
 * dotted path of the offending key (`statsd.udp.port`,
 * `aggregation.timer_buckets[2]`), or `(root)` when the problem is not inside
 * any key: the document as a whole, or a file that cannot be read.
 */
export interface ConfigIssue {
  file: string;
  line: number;
  column: number;
  key: string;
  message: string;
}

export class ConfigError extends Error {
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    // The CLI prints `message` verbatim, so it must be exactly the
    // human-readable report: one compiler-style line per issue.
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export function formatIssue(issue: ConfigIssue): string {
  return `${issue.file}:${issue.line}:${issue.column}: ${issue.key}: ${issue.message}`;
}

/** The key of an issue that is not inside any key: the document as a whole, or a file that cannot be read. */
export const ROOT_KEY = '(root)';

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

type At = (offset: number, key: string, message: string) => ConfigIssue;
type Segment = PropertyKey;

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

function zodIssueToConfigIssues(
  doc: Document.Parsed,
  schema: z.ZodType,
  issue: z.core.$ZodIssue,
  at: At,
): ConfigIssue[] {
  const path = issue.path;

  if (issue.code === 'unrecognized_keys') {
    const known = objectKeysAt(schema, path);
    return issue.keys.map((key) => {
      const full = [...path, key];
      const found = walk(doc, full);
      const offset = found.complete && found.keyNode?.range ? found.keyNode.range[0] : positionOf(found);
      return at(offset, formatPath(full), unknownKeyMessage(key, known));
    });
  }

  const found = walk(doc, path);
  let message = issue.message;
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    message = `missing required key (expected ${describeExpected(issue)})`;
  } else if (issue.code === 'invalid_union') {
    message = unionMessage(issue) ?? message;
  } else if (issue.code === 'invalid_type' && issue.expected === 'boolean' && isYaml11Boolean(issue.input)) {
    message += ` ("${String(issue.input)}" is only a boolean in YAML 1.1; write true or false)`;
  }
  return [at(positionOf(found), formatPath(path), message)];
}

interface Found {
  /** The deepest node reached along the path (the value itself when complete). */
  node: Node | null;
  /** The key whose value is `node`; null for sequence items and the root. */
  keyNode: Node | null;
  complete: boolean;
}

function walk(doc: Document.Parsed, path: readonly Segment[]): Found {
  let node: Node | null = doc.contents;
  let keyNode: Node | null = null;
  for (let i = 0; i < path.length; i++) {
    const target = deref(doc, node);
    const segment = path[i]!;
    if (isMap(target)) {
      const pair = target.items.find((p) => keyName(p.key) === String(segment));
      if (!pair) return { node, keyNode, complete: false };
      node = isNode(pair.value) ? pair.value : null;
      keyNode = isNode(pair.key) ? pair.key : null;
    } else if (isSeq(target) && typeof segment === 'number' && segment < target.items.length) {
      const item = target.items[segment];
      node = isNode(item) ? item : null;
      keyNode = null;
    } else {
      return { node, keyNode, complete: false };
    }
  }
  return { node, keyNode, complete: true };
}

/**
 * Where to point for a problem with `found.node`: a scalar's own text, but the
 * key of a block collection or empty value, since those start on the key's
 * line (or have no text at all). A path that stops short points at the
 * enclosing mapping's key.
 */
function positionOf(found: Found): number {
  const { node, keyNode } = found;
  const nodeStart = node?.range?.[0];
  const keyStart = keyNode?.range?.[0];
  const emptyScalar = isScalar(node) && node.value === null && (node.source === '' || node.source === undefined);
  if (nodeStart !== undefined && !emptyScalar && (isScalar(node) || isAlias(node) || keyStart === undefined)) {
    return nodeStart;
  }
  return keyStart ?? nodeStart ?? 0;
}

function deref(doc: Document.Parsed, node: Node | null): Node | null {
  return isAlias(node) ? (node.resolve(doc) ?? null) : node;
}

function keyName(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

/** The path of the innermost key whose extent contains `offset`. */
function pathAtOffset(doc: Document.Parsed, offset: number): Segment[] {
  const path: Segment[] = [];
  let node: unknown = doc.contents;
  for (;;) {
    if (isMap(node)) {
      const pair = node.items.find((p) => pairContains(p, offset));
      if (!pair) break;
      path.push(keyName(pair.key));
      node = pair.value;
    } else if (isSeq(node)) {
      const index = node.items.findIndex((item) => isNode(item) && item.range && item.range[0] <= offset && offset < item.range[2]);
      if (index < 0) break;
      path.push(index);
      node = node.items[index];
    } else {
      break;
    }
  }
  return path;
}

function pairContains(pair: Pair, offset: number): boolean {
  const key = isNode(pair.key) ? pair.key.range : undefined;
  const value = isNode(pair.value) ? pair.value.range : undefined;
  const start = key?.[0] ?? value?.[0];
  const end = Math.max(key?.[2] ?? -1, value?.[2] ?? -1);
  return start !== undefined && start <= offset && offset <= end;
}

function firstDefinitionOfDuplicate(doc: Document.Parsed, path: Segment[]): number | undefined {
  if (path.length === 0) return undefined;
  const parent = deref(doc, walk(doc, path.slice(0, -1)).node);
  if (!isMap(parent)) return undefined;
  const name = String(path[path.length - 1]);
  const first = parent.items.find((p) => keyName(p.key) === name);
  return isNode(first?.key) ? first.key.range?.[0] : undefined;
}

function formatPath(path: readonly Segment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out === '' ? ROOT_KEY : out;
}

function unknownKeyMessage(key: string, known: string[] | undefined): string {
  if (!known || known.length === 0) return 'unknown key';
  const suggestion = closest(key, known);
  if (suggestion !== undefined) return `unknown key (did you mean "${suggestion}"?)`;
  return `unknown key (expected one of: ${known.join(', ')})`;
}

function closest(word: string, candidates: string[]): string | undefined {
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d <= limit && d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions ("prot" → "port"). */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[rows - 1]![cols - 1]!;
}

interface LooseDef {
  type: string;
  shape?: Record<string, z.core.$ZodType>;
  innerType?: z.core.$ZodType;
  in?: z.core.$ZodType;
  element?: z.core.$ZodType;
}

/** The keys the schema allows in the object at `path`, looking through wrappers such as defaults. */
function objectKeysAt(schema: z.core.$ZodType, path: readonly Segment[]): string[] | undefined {
  let current: z.core.$ZodType | undefined = schema;
  let i = 0;
  while (current) {
    const def = current._zod.def as unknown as LooseDef;
    if (def.innerType) current = def.innerType;
    else if (def.type === 'pipe') current = def.in;
    else if (def.type === 'object' && def.shape) {
      if (i === path.length) return Object.keys(def.shape);
      current = def.shape[String(path[i++])];
    } else if (def.type === 'array' && i < path.length) {
      i++;
      current = def.element;
    } else return undefined;
  }
  return undefined;
}

function describeExpected(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') return issue.expected;
  if (issue.code === 'invalid_union') return unionExpected(issue)?.join(' or ') ?? 'a value';
  return 'a value';
}

function unionExpected(issue: z.core.$ZodIssueInvalidUnion): string[] | undefined {
  const expected: string[] = [];
  for (const branch of issue.errors) {
    const only = branch.length === 1 ? branch[0] : undefined;
    if (only?.code !== 'invalid_type' || only.path.length > 0) return undefined;
    expected.push(only.expected);
  }
  return expected.length > 0 ? expected : undefined;
}

// zod says only "Invalid input" when every branch of a union rejects the
// value's type; spelling out the accepted types is what the user needs.
function unionMessage(issue: z.core.$ZodIssueInvalidUnion): string | undefined {
  const expected = unionExpected(issue);
  if (!expected) return undefined;
  return `Invalid input: expected ${expected.join(' or ')}, received ${typeName(issue.input)}`;
}

function isYaml11Boolean(value: unknown): boolean {
  return typeof value === 'string' && /^(y|yes|n|no|on|off)$/i.test(value);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

export function describeReadError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => a.line - b.line || a.column - b.column);
}
