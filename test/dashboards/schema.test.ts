/**
 * Every shipped dashboard validates against Grafana's JSON Schemas as the
 * foundation SDK repository publishes them (../shared/grafana-schema, read in
 * place): the dashboard model, each panel kind's options and custom field
 * config, and the Prometheus query model for every target.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import AjvModule, { type ValidateFunction } from 'ajv';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/agent-process.js';
import { allPanels, loadDashboards, panelTargets } from '../support/dashboards.js';

const Ajv = AjvModule.default;
const SCHEMA_DIR = resolve(ROOT, '..', 'shared', 'grafana-schema');
/** Only DashboardMeta (which generated dashboards do not carry) uses this format; ajv has no built-in for it. */
const DATE_TIME = { 'date-time': true as const };

const readSchema = (name: string): any => JSON.parse(readFileSync(join(SCHEMA_DIR, `${name}.jsonschema.json`), 'utf8'));

/**
 * The panel-kind schemas hold only definitions (no root): `Options` is a
 * panel's `options`, and `FieldConfig`, where the kind has one, is its
 * `fieldConfig.defaults.custom`. A kind without FieldConfig takes no custom.
 */
const PANEL_KINDS = ['timeseries', 'stat', 'table', 'bargauge'] as const;

function compilePanelKinds(): Record<string, { options: ValidateFunction; custom?: ValidateFunction }> {
  const out: Record<string, { options: ValidateFunction; custom?: ValidateFunction }> = {};
  for (const kind of PANEL_KINDS) {
    const schema = readSchema(kind);
    const ajv = new Ajv({ allErrors: true, strict: false, formats: DATE_TIME });
    ajv.addSchema(schema, kind);
    out[kind] = {
      options: ajv.getSchema(`${kind}#/definitions/Options`)!,
      custom: schema.definitions.FieldConfig ? ajv.getSchema(`${kind}#/definitions/FieldConfig`)! : undefined,
    };
  }
  return out;
}

function compileRoot(name: string): ValidateFunction {
  return new Ajv({ allErrors: true, strict: false, formats: DATE_TIME }).compile(readSchema(name));
}

const errorsOf = (v: ValidateFunction): string => JSON.stringify(v.errors, null, 1);

describe('dashboard JSON Schemas', () => {
  const dashboards = loadDashboards();
  const dashboardSchema = compileRoot('dashboard');
  const querySchema = compileRoot('prometheus');
  const kinds = compilePanelKinds();

  it('reads the schemas from ../shared/grafana-schema, not from a copy in the project', () => {
    expect(SCHEMA_DIR.startsWith(ROOT)).toBe(false);
    expect(readSchema('dashboard').$ref).toBe('#/definitions/Dashboard');
  });

  for (const { file, json } of dashboards) {
    const name = file.slice(file.lastIndexOf('/') + 1);

    it(`${name} validates against dashboard.jsonschema.json`, () => {
      expect(dashboardSchema(json), errorsOf(dashboardSchema)).toBe(true);
    });

    it(`${name}: every panel's options and custom field config validate against its kind's schema`, () => {
      const panels = allPanels(json).filter((p) => p.type !== 'row');
      expect(panels.length).toBeGreaterThan(0);
      for (const panel of panels) {
        const kind = kinds[panel.type];
        expect(kind, `panel ${panel.id} "${panel.title}" has type ${panel.type}, which has no schema here`).toBeDefined();
        expect(kind!.options(panel.options ?? {}), `panel ${panel.id} "${panel.title}" options: ${errorsOf(kind!.options)}`).toBe(true);
        const custom = panel.fieldConfig?.defaults?.custom;
        if (kind!.custom) {
          expect(kind!.custom(custom ?? {}), `panel ${panel.id} "${panel.title}" custom: ${errorsOf(kind!.custom)}`).toBe(true);
        } else {
          expect(custom, `panel ${panel.id} "${panel.title}": a ${panel.type} panel takes no custom field config`).toBeUndefined();
        }
      }
    });

    it(`${name}: every target validates against prometheus.jsonschema.json`, () => {
      const pairs = panelTargets(json);
      expect(pairs.length).toBeGreaterThan(0);
      for (const { panel, target } of pairs) {
        expect(querySchema(target), `panel ${panel.id} target ${target.refId}: ${errorsOf(querySchema)}`).toBe(true);
      }
    });
  }

  it('the schemas reject what they should (so a pass means something)', () => {
    const { json } = dashboards[0]!;
    expect(dashboardSchema({ ...json, schemaVersion: 'forty-two' })).toBe(false);
    expect(dashboardSchema({ ...json, panelz: [] })).toBe(false);
    const stat = allPanels(json).find((p) => p.type === 'stat')!;
    expect(kinds.stat!.options({ ...stat.options, graphMode: 'sparkline' })).toBe(false);
    const ts = allPanels(json).find((p) => p.type === 'timeseries')!;
    expect(kinds.timeseries!.custom!({ ...ts.fieldConfig.defaults.custom, drawStyle: 'squiggle' })).toBe(false);
    const { target } = panelTargets(json)[0]!;
    expect(querySchema({ ...target, format: 'csv' })).toBe(false);
    expect(querySchema({ ...target, expr: 42 })).toBe(false);
  });
});
