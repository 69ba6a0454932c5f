/**
 * Layers point one way (issue 14): a folder of agent/ imports only folders
 * below it in LAYERS. `node scripts/import-graph.mjs` prints the graph this
 * reads, edge by edge with the imports that make it.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { folderImports } from '../scripts/import-graph.mjs';

interface FolderImport {
  from: string;
  to: string;
  file: string;
  target: string;
}

/**
 * Lowest first. shared holds leaves every stage may use; telemetry is plain
 * counters that import nothing of the pipeline; then the pipeline in the
 * order data flows; config assembles the components' sections; cli and the
 * wiring (files directly under agent/) sit on top.
 */
const LAYERS = ['shared', 'telemetry', 'parse', 'mapping', 'aggregate', 'spool', 'export', 'ingest', 'config', 'cli', 'wiring'];

/** Each import from a folder to one above it, as `file -> target`. */
function againstOrder(edges: readonly FolderImport[]): string[] {
  return edges.filter((e) => LAYERS.indexOf(e.to) > LAYERS.indexOf(e.from)).map((e) => `${e.file} -> ${e.target}`);
}

describe('architecture', () => {
  const edges: FolderImport[] = folderImports();

  it('knows every folder of agent/', () => {
    const folders = new Set(edges.flatMap((e) => [e.from, e.to]));
    expect([...folders].filter((f) => !LAYERS.includes(f))).toEqual([]);
  });

  it('has no import from a folder to one above it', () => {
    const against = edges.filter((e) => LAYERS.indexOf(e.to) > LAYERS.indexOf(e.from)).map((e) => `${e.file} -> ${e.target}`);
    expect(against).toEqual([]);
  });

  it('sees an import against the order when there is one', () => {
    // The check itself: the graph of this file's own fixture tree, where telemetry reaches up into export.
    const fixture = folderImports(join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'architecture'));
    expect(fixture.map((e) => `${e.from} -> ${e.to}`)).toEqual(['export -> telemetry', 'telemetry -> export']);
  });
});
