/**
 * The file-provisioning provider shipped in dashboards/provisioning/ is a
 * Grafana provider file, and the dashboards are shaped for provisioning: a
 * fixed uid, no instance-specific id, no data source uid baked in.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/agent-process.js';
import { allPanels, loadDashboards } from '../support/dashboards.js';

describe('dashboard provisioning', () => {
  it('dashboards.yaml is a file provider (apiVersion 1) with a path', () => {
    const doc = parse(readFileSync(join(ROOT, 'dashboards', 'provisioning', 'dashboards.yaml'), 'utf8'));
    expect(doc.apiVersion).toBe(1);
    expect(doc.providers).toHaveLength(1);
    const [p] = doc.providers;
    expect(p).toMatchObject({ name: 'tally', type: 'file', folder: 'Tally' });
    expect(typeof p.options.path).toBe('string');
    expect(p.options.path.startsWith('/')).toBe(true);
  });

  it('every dashboard has its uid, no id, and names no data source but ${datasource}', () => {
    for (const { file, json } of loadDashboards()) {
      expect(json.uid, file).toMatch(/^tally-[a-z-]+$/);
      expect(json.uid.length).toBeLessThanOrEqual(40);
      expect(json.id ?? null, file).toBeNull();
      const uids = new Set<string>();
      const walk = (v: any): void => {
        if (Array.isArray(v)) v.forEach(walk);
        else if (v && typeof v === 'object') {
          if (v.datasource && typeof v.datasource === 'object') uids.add(String(v.datasource.uid));
          Object.values(v).forEach(walk);
        }
      };
      walk(json);
      expect([...uids], file).toEqual(['${datasource}']);
      expect(allPanels(json).length).toBeGreaterThan(0);
    }
  });
});
