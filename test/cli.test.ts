/**
 * The agent as an operator meets it: its command line, its start-up failures,
 * and what it does with garbage on the statsd port.
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import HotShots from 'hot-shots';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runAgent, startAgent, waitFor, writeTempConfig, type AgentHandle } from './support/agent-process.js';
import { StatsdClientCtor } from './support/statsd-client.js';
import { parsePromText, sampleValue, sumSamples, type Exposition } from './support/prom-text.js';
import { skipLoudlyUnlessNode20InCI, unixDgramLoadError } from './support/unix-dgram.js';

const GOOD_CONFIG = 'test/fixtures/config/good.yaml';
const BAD_CONFIG = 'test/fixtures/config/bad.yaml';
// Where bad.yaml is wrong: the line of each offending key, and the key path the message must name.
const BAD_CONFIG_ERRORS = [
  { line: 5, key: 'statsd.udp.port' },
  { line: 7, key: 'http.adress' },
  { line: 9, key: 'aggregation.flush_interval' },
  { line: 11, key: 'log.level' },
];
// The largest UDP payload IPv4 can carry (65535 minus the IP and UDP headers).
const MAX_DATAGRAM = 65_507;

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function expectExited(r: { timedOut: boolean; code: number | null }) {
  expect(r.timedOut, 'the agent did not exit by itself').toBe(false);
  expect(r.code).not.toBeNull();
}

describe('runtime', () => {
  const wanted = process.env.TALLY_EXPECT_NODE_MAJOR;
  // .ci/run sets this for its second pass, to prove the tests (and the agents they spawn with process.execPath) did not fall back to the system node.
  it.runIf(wanted !== undefined)(`runs on Node ${wanted ?? '(any)'}, as CI asked`, () => {
    console.log(`tests running on node ${process.version} (${process.execPath})`);
    expect(process.versions.node.split('.')[0]).toBe(wanted);
  });
});

describe('command line', () => {
  it('--help prints usage and exits 0', async () => {
    const r = await runAgent(['--help']);
    expectExited(r);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/usage/i);
    expect(r.stdout).toContain('--config');
    expect(r.stdout).toContain('check-config');
    expect(r.stdout).toContain('--version');
  });

  it('--version prints the package.json version', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await runAgent(['--version']);
    expectExited(r);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('check-config accepts a valid file', async () => {
    const r = await runAgent(['check-config', GOOD_CONFIG]);
    expectExited(r);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\bok\b/);
  });

  it('check-config reports every error of an invalid file as file:line:column: key: message', async () => {
    const r = await runAgent(['check-config', BAD_CONFIG]);
    expectExited(r);
    expect(r.code).not.toBe(0);
    for (const { line, key } of BAD_CONFIG_ERRORS) {
      expect(r.stderr).toMatch(new RegExp(`^${escapeRe(BAD_CONFIG)}:${line}:[1-9]\\d*: ${escapeRe(key)}: \\S.*$`, 'm'));
    }
  });

  it('check-config on a missing file fails and names the file', async () => {
    const r = await runAgent(['check-config', 'test/fixtures/config/does-not-exist.yaml']);
    expectExited(r);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('does-not-exist.yaml');
  });

  it('refuses to start with an invalid config, with the same located errors', async () => {
    const r = await runAgent(['--config', BAD_CONFIG]);
    expectExited(r);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^${escapeRe(BAD_CONFIG)}:5:[1-9]\\d*: statsd\\.udp\\.port: `, 'm'));
  });
});

describe('start-up failures', () => {
  it('exits non-zero naming the address and port when the UDP port is taken', async () => {
    const holder = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      holder.once('error', reject);
      holder.bind(0, '127.0.0.1', () => resolve());
    });
    const { port } = holder.address();
    const cfg = await writeTempConfig({ statsd: { udp: { port } } });
    try {
      const r = await runAgent(['--config', cfg.file]);
      expectExited(r);
      expect(r.code).not.toBe(0);
      const said = r.stderr + r.stdout;
      expect(said).toContain(`127.0.0.1:${port}`);
      expect(said).toMatch(/in use|EADDRINUSE/i);
    } finally {
      await new Promise<void>((r) => holder.close(() => r()));
      await cfg.remove();
    }
  });

  it('exits non-zero naming the address and port when the HTTP port is taken', async () => {
    const holder = createServer();
    await new Promise<void>((resolve, reject) => {
      holder.once('error', reject);
      holder.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = holder.address() as { port: number };
    const cfg = await writeTempConfig({ http: { port } });
    try {
      const r = await runAgent(['--config', cfg.file]);
      expectExited(r);
      expect(r.code).not.toBe(0);
      const said = r.stderr + r.stdout;
      expect(said).toContain(`127.0.0.1:${port}`);
      expect(said).toMatch(/in use|EADDRINUSE/i);
    } finally {
      await new Promise<void>((r) => holder.close(() => r()));
      await cfg.remove();
    }
  });
});

describe('bad statsd input', () => {
  let agent: AgentHandle;
  beforeAll(async () => {
    agent = await startAgent({ config: { aggregation: { flush_interval: '1s' } } });
  });
  afterAll(async () => {
    await agent?.stop();
  });

  const scrape = async (): Promise<Exposition> => parsePromText(await agent.metricsText());

  const hugeLine = (bytes: number) => `huge:${'x'.repeat(bytes - 'huge:|c'.length)}|c`;
  const cases: Array<{ what: string; bad: (room: number) => Buffer }> = [
    { what: 'a non-numeric value (foo:abc|c)', bad: () => Buffer.from('foo:abc|c') },
    { what: 'an empty name (:1|c)', bad: () => Buffer.from(':1|c') },
    { what: 'an unknown type (x:1|zz)', bad: () => Buffer.from('x:1|zz') },
    { what: 'a name that is not UTF-8', bad: () => Buffer.concat([Buffer.from('bad'), Buffer.from([0xc3, 0x28]), Buffer.from(':1|c')]) },
    { what: 'a line filling a maximum-size (64 KiB) datagram', bad: (room) => Buffer.from(hugeLine(room)) },
  ];

  cases.forEach(({ what, bad }, i) => {
    it(`counts ${what} in tally_parse_errors_total; good lines in the same packet still land`, async () => {
      const before = await scrape();
      const first = Buffer.from(`cli.good${i}.first:1|c\n`);
      const last = Buffer.from(`\ncli.good${i}.last:2|g`);
      const packet = Buffer.concat([first, bad(MAX_DATAGRAM - first.length - last.length), last]);
      expect(packet.length).toBeLessThanOrEqual(MAX_DATAGRAM);
      await agent.sendUdp(packet);

      const after = await waitFor(async () => {
        const e = await scrape();
        expect(sampleValue(e, `cli_good${i}_first_total`)).toBe(1);
        expect(sampleValue(e, `cli_good${i}_last`)).toBe(2);
        return e;
      }, 3_000);
      expect(sumSamples(after, 'tally_parse_errors_total') - sumSamples(before, 'tally_parse_errors_total')).toBe(1);
      expect(sampleValue(after, 'tally_metrics_received_total') - sampleValue(before, 'tally_metrics_received_total')).toBe(2);
      // The rejected line must not have made a series of its own.
      expect(sampleValue(after, 'tally_series') - sampleValue(before, 'tally_series')).toBe(2);
      const udp = { listener: 'udp' };
      expect(sampleValue(after, 'tally_bytes_received_total', udp) - sampleValue(before, 'tally_bytes_received_total', udp)).toBe(
        packet.length,
      );
    });
  });

  it('takes every line of a maximum-size datagram of good lines', async () => {
    const line = 'cli.many:1|c\n';
    const n = Math.floor(MAX_DATAGRAM / line.length);
    const packet = line.repeat(n);
    await agent.sendUdp(packet);
    await waitFor(async () => expect(sampleValue(await scrape(), 'cli_many_total')).toBe(n), 3_000);
  });
});

describe('statsd_exporter mapping file', () => {
  const mapping = join(ROOT, 'test/fixtures/mapping/checkout.yaml');
  const bad = join(ROOT, 'test/fixtures/mapping/bad.yaml');

  it('maps names to labelled metrics and drops what a rule drops, with --statsd-exporter-mapping', async () => {
    const agent = await startAgent({ args: ['--statsd-exporter-mapping', mapping] });
    try {
      await agent.sendUdp('checkout.pay.latency:200|ms\ncheckout.ship.latency:700|ms\ndebug.x:1|c\nplain.count:1|c');
      const exp = await waitFor(async () => {
        const e = parsePromText(await agent.metricsText());
        expect(sampleValue(e, 'checkout_step_latency_bucket', { step: 'pay', le: '0.5' })).toBe(1);
        expect(sampleValue(e, 'checkout_step_latency_bucket', { step: 'ship', le: '0.5' })).toBe(0);
        expect(sampleValue(e, 'plain_count_total')).toBe(1);
        return e;
      }, 5000);
      expect(sampleValue(exp, 'tally_metrics_dropped_total', { reason: 'mapping_drop' })).toBe(1);
      expect(exp.samples.some((s) => s.name.startsWith('debug'))).toBe(false);
    } finally {
      await agent.stop();
    }
  });

  it('reads mappings_file from the config, relative to the config file', async () => {
    const cfg = await writeTempConfig('mappings_file: ../does-not-exist.yaml\n');
    try {
      const r = await runAgent(['check-config', cfg.file]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(join(cfg.dir, '..', 'does-not-exist.yaml').replace(/\/[^/]+\/\.\.\//, '/'));
    } finally {
      await cfg.remove();
    }
  });

  it('applies rules written inline under mapping:, and reports their errors at the config file\'s lines', async () => {
    const good = await writeTempConfig(
      [
        'statsd: { udp: { port: 0 } }',
        'http: { port: 0 }',
        'mapping:',
        '  mappings:',
        '    - match: "inline.*.hits"',
        '      name: "inline_hits"',
        '      labels: { page: "$1" }',
        '',
      ].join('\n'),
    );
    const bad = await writeTempConfig(['mapping:', '  mappings:', '    - match: "a.*"', '      name: "a"', '      labelz: { x: "$1" }', ''].join('\n'));
    try {
      const r = await runAgent(['check-config', bad.file]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${bad.file}:5:7: mapping.mappings[0].labelz: unknown key`);
      const agent = await startAgent({ args: ['--config', good.file] });
      try {
        await agent.sendUdp('inline.home.hits:1|c');
        await waitFor(async () => {
          expect(sampleValue(parsePromText(await agent.metricsText()), 'inline_hits_total', { page: 'home' })).toBe(1);
        }, 5000);
      } finally {
        await agent.stop();
      }
    } finally {
      await good.remove();
      await bad.remove();
    }
  });

  const deprecated = join(ROOT, 'test/mapping/fixtures/valid/deprecated-keys.yaml');

  it('check-config takes a mapping file by --mapping or recognises one, and prints its deprecation warnings', async () => {
    for (const args of [['check-config', '--mapping', deprecated], ['check-config', deprecated]]) {
      const r = await runAgent(args);
      expectExited(r);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toContain(`${deprecated}: ok (statsd_exporter mapping file, 4 rules)`);
      expect(r.stderr).toContain(`${deprecated}:6:3: defaults.timer_type: deprecated: timer_type is the old name of observer_type`);
      expect(r.stderr).toContain(`${deprecated}:22:3: mappings[1].buckets: deprecated: using the top level buckets is deprecated`);
    }
    const both = await runAgent(['check-config', GOOD_CONFIG, '--mapping', deprecated]);
    expect(both.code).toBe(0);
    expect(both.stdout).toContain(`${GOOD_CONFIG}: ok`);
    expect(both.stdout).toContain(`${deprecated}: ok`);
    const invalid = await runAgent(['check-config', '--mapping', bad]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain(`${bad}:4:5: mappings[0].labelz: unknown key`);
  });

  it('starts with a mapping file written with the deprecated keys and logs each warning', async () => {
    const agent = await startAgent({ args: ['--mapping', deprecated] });
    try {
      const warnings = agent.stdout.map((l) => JSON.parse(l) as { level: number; key?: string; msg: string }).filter((o) => o.level === 40);
      expect(warnings.map((w) => w.key)).toEqual(expect.arrayContaining(['defaults.timer_type', 'defaults.buckets', 'mappings[2].quantiles']));
      await agent.sendUdp('api.timing.cart:30|ms');
      await waitFor(async () => {
        const e = parsePromText(await agent.metricsText());
        expect(sampleValue(e, 'api_timer_bucket', { route: 'cart', le: '0.025' })).toBe(0);
        expect(sampleValue(e, 'api_timer_bucket', { route: 'cart', le: '0.05' })).toBe(1);
      }, 5000);
    } finally {
      await agent.stop();
    }
  });

  it('rejects an invalid mapping file with file:line:column: key: message', async () => {
    const r = await runAgent(['check-config', GOOD_CONFIG, '--statsd-exporter-mapping', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${bad}:4:5: mappings[0].labelz: unknown key`);
  });
});


describe('TCP and Unix stream listeners, end to end', () => {
  it('accepts statsd-client over TCP and raw lines over a Unix socket into the same series', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tally-unix-'));
    const socketPath = join(dir, 'statsd.sock');
    const agent = await startAgent({
      config: { statsd: { udp: { port: 0 }, tcp: { enabled: true, port: 0 }, unix: { enabled: true, path: socketPath } }, http: { port: 0 } },
    });
    try {
      const listening = agent.stdout.map((l) => JSON.parse(l)).find((o) => o.msg === 'tally-agent listening');
      expect(listening.unix).toBe(socketPath);
      const tcpPort = Number(String(listening.tcp).split(':').pop());
      const client = new StatsdClientCtor({ host: '127.0.0.1', port: tcpPort, tcp: true });
      client.increment('stream.hits', 2, { via: 'tcp' });
      client.gauge('stream.level', 7);
      await new Promise<void>((resolve, reject) => {
        const sock = connect(socketPath, () => sock.end('stream.hits:3|c|#via:unix\nstream.hits:1|c|#via:tcp', () => resolve()));
        sock.on('error', reject);
      });
      const exp = await waitFor(async () => {
        const e = parsePromText(await agent.metricsText());
        expect(sampleValue(e, 'stream_hits_total', { via: 'tcp' })).toBe(3);
        expect(sampleValue(e, 'stream_hits_total', { via: 'unix' })).toBe(3);
        expect(sampleValue(e, 'stream_level')).toBe(7);
        return e;
      }, 5000);
      client.close();
      expect(sampleValue(exp, 'tally_connections_total', { listener: 'unix', outcome: 'accepted' })).toBe(1);
      expect(sampleValue(exp, 'tally_packets_received_total', { listener: 'tcp' })).toBeGreaterThan(0);
    } finally {
      await agent.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('hot-shots in DogStatsD mode over a Unix stream socket', () => {
  it('delivers tags, distributions, events and service checks', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tally-hs-'));
    const socketPath = join(dir, 'dsd.sock');
    const agent = await startAgent({ config: { statsd: { udp: { port: 0 }, unix: { enabled: true, path: socketPath } }, http: { port: 0 } } });
    const stream = connect(socketPath);
    await new Promise<void>((resolve, reject) => stream.once('connect', resolve).once('error', reject));
    const client = new HotShots({ protocol: 'stream', stream, globalTags: { env: 'test' } });
    try {
      const sent = (fn: (cb: (err?: Error) => void) => void) =>
        new Promise<void>((resolve, reject) => fn((err) => (err ? reject(err) : resolve())));
      await sent((cb) => client.increment('uds.hits', 2, { route: '/a' }, cb));
      await sent((cb) => client.distribution('uds.size', 42, { route: '/a' }, cb));
      await sent((cb) => client.event('deploy', 'v1.2.3', { alert_type: 'info' }, ['team:core'], cb));
      await sent((cb) => client.check('db.up', client.CHECKS.WARNING, { message: 'slow' }, ['db:main'], cb));
      await waitFor(async () => {
        const e = parsePromText(await agent.metricsText());
        expect(sampleValue(e, 'uds_hits_total', { env: 'test', route: '/a' })).toBe(2);
        expect(sampleValue(e, 'uds_size_count', { env: 'test', route: '/a' })).toBe(1);
        expect(sampleValue(e, 'deploy_total', { alert_type: 'info', env: 'test', team: 'core' })).toBe(1);
        expect(sampleValue(e, 'service_check_status', { check: 'db.up', db: 'main', env: 'test' })).toBe(1);
      }, 5000);
    } finally {
      await new Promise<void>((resolve) => client.close(() => resolve()));
      stream.destroy();
      await agent.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// hot-shots sends uds datagrams through unix-dgram, a NAN addon (approved in allowScripts) that
// `npm ci` builds for the Node that ran it. Node 24 in CI reuses that install, and these machines
// have no Node 24 headers to rebuild it, so there the client cannot load; our listener's own
// addon is N-API and is tested on both (test/ingest/unixgram-listener.test.ts).
const unixDgramMissing = unixDgramLoadError();
skipLoudlyUnlessNode20InCI('hot-shots uds test', unixDgramMissing);

describe.skipIf(unixDgramMissing !== undefined)('hot-shots in DogStatsD mode over a Unix datagram socket (protocol "uds")', () => {
  it('delivers tags, distributions, events and service checks', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tally-hsu-'));
    const socketPath = join(dir, 'dsd.sock');
    const agent = await startAgent({
      config: { statsd: { udp: { port: 0 }, unixgram: { enabled: true, path: socketPath } }, http: { port: 0 } },
    });
    const errors: Error[] = [];
    // hot-shots sends uds datagrams through the native unix-dgram package, approved in allowScripts.
    const client = new HotShots({ protocol: 'uds', path: socketPath, globalTags: { env: 'test' }, errorHandler: (e) => errors.push(e) });
    try {
      const listening = agent.stdout.map((l) => JSON.parse(l)).find((o) => o.msg === 'tally-agent listening');
      expect(listening.unixgram).toBe(socketPath);
      const sent = (fn: (cb: (err?: Error) => void) => void) =>
        new Promise<void>((resolve, reject) => fn((err) => (err ? reject(err) : resolve())));
      await sent((cb) => client.increment('udsg.hits', 2, { route: '/a' }, cb));
      await sent((cb) => client.distribution('udsg.size', 42, { route: '/a' }, cb));
      await sent((cb) => client.event('udsg_deploy', 'v1.2.3', { alert_type: 'info' }, ['team:core'], cb));
      await sent((cb) => client.check('udsg.up', client.CHECKS.WARNING, { message: 'slow' }, ['db:main'], cb));
      const e = await waitFor(async () => {
        const e = parsePromText(await agent.metricsText());
        expect(sampleValue(e, 'udsg_hits_total', { env: 'test', route: '/a' })).toBe(2);
        expect(sampleValue(e, 'udsg_size_count', { env: 'test', route: '/a' })).toBe(1);
        expect(sampleValue(e, 'udsg_deploy_total', { alert_type: 'info', env: 'test', team: 'core' })).toBe(1);
        expect(sampleValue(e, 'service_check_status', { check: 'udsg.up', db: 'main', env: 'test' })).toBe(1);
        return e;
      }, 5000);
      // hot-shots may pack several metrics into one datagram.
      expect(sampleValue(e, 'tally_packets_received_total', { listener: 'unixgram' })).toBeGreaterThanOrEqual(1);
      expect(errors).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => client.close(() => resolve()));
      await agent.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
