import { isAlias, isMap, isNode, isScalar, isSeq } from 'yaml';
import type { Document, Node, Pair } from 'yaml';
import { ROOT_KEY, type ConfigIssue } from './config-error.js';

/**
 * Where a path is in a parsed YAML document, and which path an offset is in:
 * what puts a config problem at its file:line:column and names its key.
 */

export type At = (offset: number, key: string, message: string) => ConfigIssue;
export type Segment = PropertyKey;

interface Found {
  /** The deepest node reached along the path (the value itself when complete). */
  node: Node | null;
  /** The key whose value is `node`; null for sequence items and the root. */
  keyNode: Node | null;
  complete: boolean;
}

export function walk(doc: Document.Parsed, path: readonly Segment[]): Found {
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
export function positionOf(found: Found): number {
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
export function pathAtOffset(doc: Document.Parsed, offset: number): Segment[] {
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

export function firstDefinitionOfDuplicate(doc: Document.Parsed, path: Segment[]): number | undefined {
  if (path.length === 0) return undefined;
  const parent = deref(doc, walk(doc, path.slice(0, -1)).node);
  if (!isMap(parent)) return undefined;
  const name = String(path[path.length - 1]);
  const first = parent.items.find((p) => keyName(p.key) === name);
  return isNode(first?.key) ? first.key.range?.[0] : undefined;
}

export function formatPath(path: readonly Segment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out === '' ? ROOT_KEY : out;
}
