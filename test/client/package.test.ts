/**
 * The client as an application gets it: through the package's exports, with
 * type declarations, importing nothing but Node.js built-ins and nothing
 * from the agent.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as viaRoot from 'tally-agent';
import * as viaClient from 'tally-agent/client';
import { ROOT } from '../support/agent-process.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, { types: string; import: string }>;
  files: string[];
};

function unixDgramLoads(): boolean {
  try {
    createRequire(join(ROOT, 'package.json'))('unix-dgram');
    return true;
  } catch {
    return false;
  }
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => (m[1] ?? m[2])!);
}

describe('the tally-agent/client package entry', () => {
  it('exports the one-liners and createClient, the same module from "tally-agent" and "tally-agent/client"', () => {
    for (const name of ['collect', 'count', 'gauge', 'timer', 'histogram', 'distribution', 'event', 'time', 'timed', 'collectRuntime', 'flush', 'close', 'createClient', 'configure', 'defaultClient']) {
      expect(typeof (viaClient as Record<string, unknown>)[name], name).toBe('function');
    }
    expect(viaRoot.createClient).toBe(viaClient.createClient);
  });

  it('ships declarations and JavaScript under dist/, which package.json publishes', () => {
    const entry = pkg.exports['./client']!;
    expect(readFileSync(join(ROOT, entry.types), 'utf8')).toMatch(/export declare function collect\(/);
    expect(readFileSync(join(ROOT, entry.import), 'utf8')).toMatch(/export function collect\(/);
    expect(pkg.files).toContain('dist');
  });

  it('imports only Node.js built-ins and its own modules, never the agent', () => {
    const sources = readdirSync(join(ROOT, 'client')).filter((f) => f.endsWith('.ts'));
    expect(sources.length).toBeGreaterThan(3);
    for (const f of sources) {
      for (const spec of importsOf(join(ROOT, 'client', f))) {
        expect(spec.startsWith('node:') || /^\.\/[\w-]+\.js$/.test(spec), `${f} imports ${spec}`).toBe(true);
      }
    }
  });

  it('loads unix-dgram (the one package outside Node.js) only in the unixgram transport, and only once it is chosen', async () => {
    const sources = readdirSync(join(ROOT, 'client')).filter((f) => f.endsWith('.ts'));
    for (const f of sources) {
      const text = readFileSync(join(ROOT, 'client', f), 'utf8');
      expect(/\bcreateRequire\b|\brequire\(/.test(text), `${f} loads modules at run time`).toBe(f === 'unixgram-transport.ts');
    }
    const script = `
      import { createRequire } from 'node:module';
      import { createClient } from 'tally-agent/client';
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('unix-dgram'));
      const udp = createClient({ globalTags: false });
      const http = createClient({ transport: 'http', globalTags: false });
      const before = loaded();
      const ux = createClient({ transport: 'unixgram', path: '/nonexistent/dsd.sock', globalTags: false });
      console.log(JSON.stringify({ before, after: loaded() }));
      await Promise.all([udp.close(), http.close(), ux.close()]);
    `;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    // Where unix-dgram cannot load (a Node it was not built for), the attempt leaves nothing in the cache.
    expect(JSON.parse(out)).toEqual({ before: false, after: unixDgramLoads() });
  });

  it('resolves by name in a process started in the package (self-reference through exports)', async () => {
    const script = `import { collect, createClient } from 'tally-agent/client'; console.log(typeof collect, typeof createClient);`;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    expect(out.trim()).toBe('function function');
  });
});
