// The folder-level import graph of agent/: which stage folder imports which.
// Files directly under agent/ (main.ts, pipeline.ts, ...) are the wiring.
// test/architecture.test.ts checks the graph against the layer order.
//
//   node scripts/import-graph.mjs [agent-dir]   prints each edge with the imports that make it
//                                               (agent-dir: another tree's agent/, to compare)
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const AGENT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'agent');

/** The folder a source file belongs to: its first directory under the root (agent/), or "wiring". */
export function folderOf(file, dir = AGENT_DIR) {
  const rel = relative(dir, file);
  const slash = rel.indexOf('/');
  return slash === -1 ? 'wiring' : rel.slice(0, slash);
}

/** Every import between two folders: [{ from, to, file, target }], type-only imports included (a type is a dependency too). */
export function folderImports(dir = AGENT_DIR) {
  const edges = [];
  for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    if (!name.endsWith('.ts')) continue;
    const file = join(dir, name);
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const target = resolve(dirname(file), fileName).replace(/\.js$/, '.ts');
      const from = folderOf(file, dir);
      const to = folderOf(target, dir);
      if (from !== to) edges.push({ from, to, file: relative(dir, file), target: relative(dir, target) });
    }
  }
  return edges.sort((a, b) => a.from.localeCompare(b.from) || a.to.localeCompare(b.to) || a.file.localeCompare(b.file));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const byEdge = new Map();
  for (const e of folderImports(process.argv[2] === undefined ? AGENT_DIR : resolve(process.argv[2]))) {
    const key = `${e.from} -> ${e.to}`;
    byEdge.set(key, [...(byEdge.get(key) ?? []), `${e.file} -> ${e.target}`]);
  }
  for (const [edge, imports] of byEdge) console.log(`${edge} (${imports.length})\n    ${imports.join('\n    ')}`);
}
