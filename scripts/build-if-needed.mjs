// Rebuilds dist/ when any TypeScript source is newer than the last build, so
// `npm start` and `npm test` work straight after `npm ci` or an edit.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

// tsc rewrites every output on each build, so an entry point's mtime is the build time.
// The agent (agent/ → dist/agent/) and the client (client/ → dist/client/, with
// declarations) are separate compilations, each rebuilt when its own sources change.
const builds = [
  { sources: join(root, 'agent'), config: join(root, 'tsconfig.json'), stamp: join(root, 'dist', 'agent', 'main.js'), configs: [join(root, 'tsconfig.json')] },
  {
    sources: join(root, 'client'),
    config: join(root, 'client', 'tsconfig.json'),
    stamp: join(root, 'dist', 'client', 'index.d.ts'),
    configs: [join(root, 'tsconfig.json'), join(root, 'client', 'tsconfig.json')],
  },
];

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

for (const b of builds) {
  if (!existsSync(b.sources)) continue;
  const sources = Math.max(newestMtime(b.sources), ...b.configs.map((c) => statSync(c).mtimeMs));
  if (!existsSync(b.stamp) || statSync(b.stamp).mtimeMs < sources) {
    execFileSync(process.execPath, [tsc, '-p', b.config], { stdio: 'inherit' });
  }
}
