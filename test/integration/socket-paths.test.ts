/**
 * Default Unix socket paths: in a folder of the agent's user that no other
 * user can write to, never a fixed name in /tmp that anyone could bind first
 * and so receive what applications send. A folder already there that another
 * user could have prepared is refused.
 */
import { chmodSync, chownSync, mkdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultSocketDir } from '../../agent/ingest/socket-dir.js';
import { startAgent, waitFor } from '../support/agent-process.js';
import { sampleValue } from '../support/prom-text.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function runtimeDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tally-xdg-'));
  dirs.push(d);
  return d;
}

describe('default Unix socket paths', () => {
  it('are in $XDG_RUNTIME_DIR/tally-agent (made 0750), or tally-agent-<uid> in the temp folder', () => {
    expect(defaultSocketDir({ XDG_RUNTIME_DIR: '/run/user/1000' })).toBe('/run/user/1000/tally-agent');
    expect(defaultSocketDir({})).toBe(join(tmpdir(), `tally-agent-${process.getuid!()}`));
  });

  it('the agent listens there by default, and statsd sent to it arrives', async () => {
    const xdg = await runtimeDir();
    const agent = await startAgent({ config: { statsd: { unix: { enabled: true } } }, env: { XDG_RUNTIME_DIR: xdg } });
    try {
      const folder = join(xdg, 'tally-agent');
      expect(statSync(folder).mode & 0o777).toBe(0o750);
      const path = join(folder, 'statsd.sock');
      expect(statSync(path).isSocket()).toBe(true);
      const sock = connect(path);
      await new Promise<void>((res, rej) => sock.once('connect', res).once('error', rej));
      sock.end('via.default.socket:1|c\n');
      await waitFor(async () => expect(sampleValue(await agent.metricsText(), 'via_default_socket_total')).toBe(1), 5000);
    } finally {
      await agent.stop();
    }
  });

  it('a default folder others may write to is refused, naming it', async () => {
    const xdg = await runtimeDir();
    const folder = join(xdg, 'tally-agent');
    mkdirSync(folder);
    chmodSync(folder, 0o777);
    const err = await startAgent({ config: { statsd: { unix: { enabled: true } } }, env: { XDG_RUNTIME_DIR: xdg } }).then(
      async (a) => {
        await a.stop();
        return undefined;
      },
      (e: Error) => e.message,
    );
    expect(err).toContain(`socket directory ${folder} may be written by others (mode 777)`);
  });

  it.runIf(process.getuid?.() === 0)('a default folder of another user is refused (run as root, which can make one)', async () => {
    const xdg = await runtimeDir();
    const folder = join(xdg, 'tally-agent');
    mkdirSync(folder, { mode: 0o755 });
    chownSync(folder, 65534, 65534);
    const err = await startAgent({ config: { statsd: { unixgram: { enabled: true } } }, env: { XDG_RUNTIME_DIR: xdg } }).then(
      async (a) => {
        await a.stop();
        return undefined;
      },
      (e: Error) => e.message,
    );
    expect(err).toContain(`socket directory ${folder} belongs to uid 65534`);
  });
});
