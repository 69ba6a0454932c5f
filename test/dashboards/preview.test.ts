/**
 * The dashboards preview end to end: two real agents (versions 1.4 and 1.5)
 * take the answer workload, a real Prometheus 2.42 scrapes them (and takes
 * one small sink's remote write, so the agent dashboard's sink panels have a
 * sink), the preview renders every shipped dashboard, and Debian's chromium
 * opens each page: every panel must have drawn data, show no error, and the
 * answer panels must read what the workload makes true.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main as preview, type PreviewResult } from '../../dashboards/preview/preview.mjs';
import { agentTagsEnv, sendAnswerWorkload, VERSION_A, VERSION_B, type WorkloadTruth } from '../../scripts/answer-workload.mjs';
import { findOnPath, freeTcpPort, startAgent, waitFor, type AgentHandle } from '../support/agent-process.js';
import { allPanels, DASHBOARD_FILES, loadDashboards } from '../support/dashboards.js';
import { promQuery, startPrometheus, type MetricsBackend } from '../support/metrics-backends.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const prometheusBin = findOnPath('prometheus');
const chromiumPresent = existsSync(CHROMIUM);
const inCI = process.env.CI === 'true';
const runnable = Boolean(prometheusBin) && chromiumPresent;

if (!runnable && !inCI) {
  console.warn(
    `\n*** SKIPPING the dashboards preview test: ${prometheusBin ? '' : 'prometheus is not on PATH; '}${chromiumPresent ? '' : `${CHROMIUM} is missing; `}CI installs both. ***\n`,
  );
}

describe('the test environment', () => {
  it.runIf(inCI && !prometheusBin)('has prometheus on PATH in CI', () => {
    throw new Error('`prometheus` is not on PATH, and CI=true requires it');
  });
  it.runIf(inCI && !chromiumPresent)('has Debian chromium in CI', () => {
    throw new Error(`${CHROMIUM} is missing, and CI=true requires it (apt-get install chromium)`);
  });
});

interface PanelView {
  title: string;
  type: string;
  kind: string;
  status: string;
  points: number;
  drawnPoints: number;
  errors: string[];
  /** Saturated (series-coloured) pixels on a chart's canvas; -1 for panels without one. */
  colouredPixels: number;
  text: string;
}

/**
 * Runs in the page (as text: the tests are type-checked without the DOM
 * library): what each panel shows, and for charts how many pixels of the
 * canvas carry a series colour (grid and axes are grey), i.e. lines drawn.
 */
const SCAN_PANELS = `[...document.querySelectorAll('section.panel')].map((el) => {
  let coloured = -1;
  const canvas = el.querySelector('canvas');
  if (canvas) {
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    coloured = 0;
    for (let i = 0; i < data.length; i += 4) {
      const max = Math.max(data[i], data[i + 1], data[i + 2]);
      const min = Math.min(data[i], data[i + 1], data[i + 2]);
      if (data[i + 3] > 0 && max - min > 60) coloured++;
    }
  }
  return {
    title: el.dataset.title ?? '',
    type: el.dataset.type ?? '',
    kind: el.dataset.kind ?? '',
    status: el.dataset.status ?? '',
    points: Number(el.dataset.points),
    drawnPoints: Number(el.dataset.drawnPoints),
    errors: [...el.querySelectorAll('.panel-errors li:not(.warning)')].map((li) => li.textContent ?? ''),
    colouredPixels: coloured,
    text: el.querySelector('.panel-body')?.textContent ?? '',
  };
})`;

describe.skipIf(!runnable)('the dashboards preview in headless chromium', () => {
  const agents: AgentHandle[] = [];
  let prom: MetricsBackend | undefined;
  let browser: Browser | undefined;
  let outDir = '';
  let truth: WorkloadTruth;
  let result: PreviewResult;

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'tally-preview-'));
    // The agents' sink names Prometheus' port before Prometheus can name the agents' ports.
    const promPort = await freeTcpPort();
    for (const version of [VERSION_A, VERSION_B]) {
      agents.push(
        await startAgent({
          config: {
            aggregation: { flush_interval: '1s' },
            sinks: [
              {
                name: 'prometheus',
                type: 'prometheus_remote_write',
                endpoint: `http://127.0.0.1:${promPort}/api/v1/write`,
                match: { names: ['runtime_memory_*'] },
              },
            ],
          },
          env: { TALLY_TAGS: agentTagsEnv(version) },
        }),
      );
    }
    prom = await startPrometheus({
      bin: prometheusBin!,
      scrapeIntervalS: 1,
      jobs: [{ job: 'shop', targets: agents.map((a) => `127.0.0.1:${a.httpPort}`) }],
      remoteWriteReceiver: true,
      port: promPort,
    });
    await waitFor(
      async () => {
        const up = await promQuery(prom!.url, 'instant', { query: 'sum(up{job="shop"})' });
        expect(up.result[0]?.value?.[1]).toBe('2');
      },
      20_000,
      250,
    );
    // Lines the agent rejects, so the parse-error panel has something to draw.
    await agents[0]!.sendUdp('shop.bad:abc|c\nshop.bad:1|q');
    truth = await sendAnswerWorkload({ a: agents[0]!, b: agents[1]! }, { durationMs: 6_000 });
    // The last flush, and scrapes after it.
    await waitFor(
      async () => {
        const r = await promQuery(prom!.url, 'instant', { query: `sum(${truth.timer.metric}_count)` });
        expect(Number(r.result[0]?.value?.[1])).toBe(truth.timer.perVersion[VERSION_A]!.count + truth.timer.perVersion[VERSION_B]!.count);
      },
      15_000,
      500,
    );
    await new Promise((r) => setTimeout(r, 2_000));

    result = await preview([
      prom.url,
      '--out', outDir,
      '--from', String(Math.floor(truth.startedAtS) - 10),
      '--to', String(Math.ceil(Date.now() / 1000)),
      '--var', `version_a=${truth.versionA}`,
      '--var', `version_b=${truth.versionB}`,
      '--var', `metric=${truth.timer.metric}`,
      ...DASHBOARD_FILES.flatMap((f) => ['--dashboard', f]),
    ]);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await prom?.stop();
    for (const a of agents) await a.stop();
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  async function openPage(page: string): Promise<{ panels: PanelView[]; pageErrors: string[]; notice: string }> {
    const tab = await browser!.newPage({ viewport: { width: 1600, height: 1000 } });
    const pageErrors: string[] = [];
    tab.on('pageerror', (e) => pageErrors.push(e.message));
    tab.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    // A self-contained page needs nothing from the network; anything it asks for is a fault.
    await tab.route(/^https?:/, (route) => {
      pageErrors.push(`network request: ${route.request().url()}`);
      return route.abort();
    });
    try {
      await tab.goto(pathToFileURL(page).href);
      await tab.waitForSelector('body[data-rendered="true"]', { timeout: 15_000 });
      const notice = await tab.locator('.not-grafana').innerText();
      const panels = (await tab.evaluate(SCAN_PANELS)) as PanelView[];
      return { panels, pageErrors, notice };
    } finally {
      await tab.close();
    }
  }

  it('renders one page per shipped dashboard, every dashboard panel on it', () => {
    expect(result.exitCode).toBe(0);
    expect(result.dashboards.map((d) => d.file)).toEqual(DASHBOARD_FILES);
    for (const { file, json } of loadDashboards()) {
      const d = result.dashboards.find((x) => x.file === file)!;
      expect(d.problems, file).toEqual([]);
      expect(d.panels.length, file).toBe(allPanels(json).filter((p) => p.type !== 'row').length);
    }
  });

  for (const file of DASHBOARD_FILES) {
    it(`${file.split('/').pop()}: every panel drew data in chromium, none shows an error`, async () => {
      const d = result.dashboards.find((x) => x.file === file)!;
      const { panels, pageErrors, notice } = await openPage(d.page);
      expect(pageErrors).toEqual([]);
      expect(notice).toMatch(/not Grafana's renderer/);
      expect(panels.length).toBe(d.panels.length);
      const bad = panels
        .filter((p) => p.status !== 'ok' || p.errors.length > 0 || !(p.drawnPoints > 0) || (p.kind === 'chart' && p.colouredPixels < 20))
        .map((p) => `${p.title} (${p.type}): status ${p.status}, ${p.points} points, ${p.drawnPoints} drawn, ${p.colouredPixels} coloured pixels ${p.errors.join('; ')}`);
      expect(bad, `panels without data or with errors; queries in ${d.page}`).toEqual([]);
    });
  }

  it('a panel whose query fails, finds nothing, or has a type the preview cannot draw is marked so, and --strict fails', async () => {
    const broken = {
      uid: 'broken',
      title: 'Broken on purpose',
      templating: { list: [] },
      panels: [
        { id: 1, type: 'timeseries', title: 'bad PromQL', gridPos: { x: 0, y: 0, w: 12, h: 8 }, targets: [{ refId: 'A', expr: 'rate(up[' }] },
        { id: 2, type: 'stat', title: 'no such metric', gridPos: { x: 12, y: 0, w: 12, h: 8 }, targets: [{ refId: 'A', expr: 'no_such_metric_anywhere', instant: true }] },
        { id: 3, type: 'piechart', title: 'unknown type', gridPos: { x: 0, y: 8, w: 24, h: 8 }, targets: [{ refId: 'A', expr: 'up' }] },
      ],
    };
    const file = join(outDir, 'broken.json');
    await writeFile(file, JSON.stringify(broken));
    const r = await preview([prom!.url, '--out', join(outDir, 'broken'), '--range', '1m', '--dashboard', file, '--strict']);
    expect(r.exitCode).toBe(1);
    const { panels, pageErrors } = await openPage(r.dashboards[0]!.page);
    expect(pageErrors).toEqual([]);
    const byTitle = Object.fromEntries(panels.map((p) => [p.title, p]));
    expect(byTitle['bad PromQL']!.status).toBe('error');
    expect(byTitle['bad PromQL']!.errors.join()).toMatch(/parse error/);
    expect(byTitle['no such metric']!.status).toBe('empty');
    expect(byTitle['no such metric']!.drawnPoints).toBe(0);
    expect(byTitle['unknown type']!.status).toBe('error');
    expect(byTitle['unknown type']!.errors.join()).toMatch(/"piechart" is not one the preview can draw/);
  });

  it('the answer panels read the truth: B over A p99 and the most used feature', async () => {
    const version = result.dashboards.find((x) => x.uid === 'tally-version-compare')!;
    const ratio = (await openPage(version.page)).panels.find((p) => p.title === 'p99: B over A')!;
    // The stat is percentunit: "151%" for 1.51.
    const shown = Number(/([\d.]+)\s*%/.exec(ratio.text)?.[1]) / 100;
    expect(Math.abs(shown - truth.timer.p99Ratio) / truth.timer.p99Ratio).toBeLessThan(0.1);

    const features = result.dashboards.find((x) => x.uid === 'tally-feature-usage')!;
    const bars = (await openPage(features.page)).panels.find((p) => p.title === 'Most used features')!;
    const order = truth.features.order;
    const positions = order.map((f) => bars.text.indexOf(f));
    expect(positions.every((pos) => pos >= 0), `${bars.text} lists ${order.join(', ')}`).toBe(true);
    expect([...positions].sort((x, y) => x - y)).toEqual(positions);
  });
});
