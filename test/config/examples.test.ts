import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseConfigText } from '../../agent/config/load-config.js';
import { AGENT_MAIN, findOnPath, ROOT } from '../support/agent-process.js';

const EXAMPLES = join(ROOT, 'config', 'examples');

describe('config/examples/kubernetes-sidecar.yaml', () => {
  const docs = parseAllDocuments(readFileSync(join(EXAMPLES, 'kubernetes-sidecar.yaml'), 'utf8'));
  for (const d of docs) expect(d.errors).toEqual([]);
  const [configMap, deployment] = docs.map((d) => d.toJS()) as [any, any];
  const config = parseConfigText(configMap.data['tally.yaml'], 'kubernetes-sidecar.yaml#tally.yaml');
  const pod = deployment.spec.template.spec;
  const tally = pod.containers.find((c: any) => c.name === 'tally');

  it('holds a tally.yaml the agent accepts, naming only keys it knows', () => {
    expect(configMap.kind).toBe('ConfigMap');
    expect(config.sinks.map((s) => s.type)).toEqual(['prometheus_remote_write']);
    expect(config.http.port).toBe(9102);
  });

  it('mounts that config where the agent is told to read it, and the spool where the config puts it', () => {
    const configMount = tally.volumeMounts.find((m: any) => m.name === 'tally-config');
    expect(tally.command.at(-1)).toBe(`${configMount.mountPath}/tally.yaml`);
    const volume = pod.volumes.find((v: any) => v.name === 'tally-config');
    expect(volume.configMap.name).toBe(configMap.metadata.name);
    expect(tally.volumeMounts.find((m: any) => m.name === 'tally-spool').mountPath).toBe(config.spool.dir);
  });

  it('probes /readyz and /healthz on the port the agent serves, which Prometheus is told to scrape', () => {
    const port = tally.ports.find((p: any) => p.name === tally.readinessProbe.httpGet.port).containerPort;
    expect(port).toBe(config.http.port);
    expect(tally.readinessProbe.httpGet.path).toBe('/readyz');
    expect(tally.livenessProbe.httpGet.path).toBe('/healthz');
    expect(deployment.spec.template.metadata.annotations['prometheus.io/port']).toBe(String(config.http.port));
  });

  it('names service, version and environment with the resource attributes the agent turns into tags', () => {
    const env = Object.fromEntries(tally.env.map((e: any) => [e.name, e.value]));
    expect(env.OTEL_SERVICE_NAME).toBe('checkout');
    const keys = String(env.OTEL_RESOURCE_ATTRIBUTES).split(',').map((kv) => kv.split('=')[0]);
    expect(keys).toEqual(expect.arrayContaining(['service.version', 'deployment.environment.name', 'service.instance.id']));
  });
});

const systemdAnalyze = findOnPath('systemd-analyze');
if (!systemdAnalyze) console.warn('\n*** systemd-analyze is not on PATH: SKIPPING the systemd unit check (config/examples/tally-agent.service). ***\n');

describe('config/examples/tally-agent.service', () => {
  const unit = readFileSync(join(EXAMPLES, 'tally-agent.service'), 'utf8');

  it('runs the agent with a config file, as a transient user whose state directory is its working directory', () => {
    expect(unit).toMatch(/^ExecStart=\S*node \S*\/dist\/agent\/main\.js --config \/etc\/tally\/tally\.yaml$/m);
    expect(unit).toMatch(/^DynamicUser=yes$/m);
    const state = /^StateDirectory=(.+)$/m.exec(unit)![1];
    expect(unit).toMatch(new RegExp(`^WorkingDirectory=/var/lib/${state}$`, 'm'));
  });

  it.skipIf(!systemdAnalyze)('passes systemd-analyze verify, with ExecStart pointing at this checkout', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-unit-'));
    try {
      const config = join(dir, 'tally.yaml');
      writeFileSync(config, '{}\n');
      const local = unit.replace(/^ExecStart=.*$/m, `ExecStart=${process.execPath} ${AGENT_MAIN} --config ${config}`);
      const file = join(dir, 'tally-agent.service');
      writeFileSync(file, local);
      const r = spawnSync(systemdAnalyze!, ['verify', file], { encoding: 'utf8' });
      // verify exits 1 only for some errors; a key or value it cannot parse is a warning naming file:line, which counts too.
      const aboutTheUnit = r.stderr.split('\n').filter((l) => l.includes('tally-agent.service'));
      expect({ status: r.status, aboutTheUnit }).toEqual({ status: 0, aboutTheUnit: [] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
