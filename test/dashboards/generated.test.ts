/**
 * The committed dashboards/*.json are exactly what the TypeScript sources
 * produce: compared in-process (fast, with a readable diff), and through
 * `npm run dashboards` itself (write and --check), so the script and the
 * committed files cannot drift apart.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARDS } from '../../dashboards/src/index.js';
import { serializeDashboard } from '../../dashboards/src/serialize.js';
import { ROOT } from '../support/agent-process.js';
import { DASHBOARD_FILES } from '../support/dashboards.js';

const SCRIPT = join(ROOT, 'scripts', 'dashboards.mjs');
const run = (args: string[]) => spawnSync(process.execPath, [SCRIPT, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });

describe('generated dashboards', () => {
  it('the sources list exactly the shipped files', () => {
    expect(DASHBOARDS.map((d) => join(ROOT, 'dashboards', d.file))).toEqual(DASHBOARD_FILES);
  });

  for (const d of DASHBOARDS) {
    it(`dashboards/${d.file} equals what dashboards/src produces now`, async () => {
      const committed = await readFile(join(ROOT, 'dashboards', d.file), 'utf8');
      expect(committed).toBe(serializeDashboard(d.build()));
    });
  }

  it('serializes deterministically: sorted keys at every level, two-space indent, trailing newline', () => {
    const text = serializeDashboard({ b: 1, a: { d: [{ z: 1, y: 2 }], c: undefined, f: () => 0 } });
    expect(text).toBe('{\n  "a": {\n    "d": [\n      {\n        "y": 2,\n        "z": 1\n      }\n    ]\n  },\n  "b": 1\n}\n');
    for (const d of DASHBOARDS) expect(serializeDashboard(d.build())).toBe(serializeDashboard(d.build()));
  });

  describe('scripts/dashboards.mjs', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'tally-dashboards-'));
    });
    afterAll(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('writes the same files as are committed', async () => {
      const r = run(['--dir', dir]);
      expect(r.status, r.stderr).toBe(0);
      for (const file of DASHBOARD_FILES) {
        const name = file.slice(file.lastIndexOf('/') + 1);
        expect(await readFile(join(dir, name), 'utf8'), name).toBe(await readFile(file, 'utf8'));
      }
    }, 60_000);

    it('--check passes on the committed files and fails, naming the file, on a changed one', async () => {
      const ok = run(['--check']);
      expect(ok.status, ok.stderr).toBe(0);
      const changed = join(dir, 'feature-usage.json');
      const json = JSON.parse(await readFile(changed, 'utf8'));
      json.title = 'Edited by hand';
      await writeFile(changed, serializeDashboard(json));
      const stale = run(['--check', '--dir', dir]);
      expect(stale.status).toBe(1);
      expect(stale.stderr).toMatch(/out of date.*feature-usage\.json/);
      expect(stale.stderr).not.toMatch(/tally-agent\.json/);
    }, 120_000);

    it('--preview hands the arguments to dashboards/preview/preview.mjs', () => {
      // Without a URL the preview answers with its own usage and a non-zero exit.
      const r = run(['--preview']);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/usage: npm run dashboards -- --preview URL/);
    });

    it('refuses an unknown argument', () => {
      const r = run(['--frobnicate']);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/unknown argument: --frobnicate/);
    });
  });
});
