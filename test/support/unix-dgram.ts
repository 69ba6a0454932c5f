import { createRequire } from 'node:module';

/**
 * Why unix-dgram (the NAN addon hot-shots' uds protocol and the client's
 * unixgram transport use) does not load here, or undefined when it does.
 * `npm ci` builds it for the Node that ran it; CI's Node 24 pass reuses the
 * Node 20 build and these machines have no Node 24 headers to rebuild it.
 */
export function unixDgramLoadError(): string | undefined {
  try {
    createRequire(import.meta.url)('unix-dgram');
    return undefined;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

/** A test that cannot run says so loudly; on Node 20 under CI=true it must run, so there it throws. */
export function skipLoudlyUnlessNode20InCI(what: string, why: string | undefined): void {
  if (why === undefined) return;
  if (process.env.CI === 'true' && process.versions.node.startsWith('20.')) throw new Error(`${what} must run on Node 20 in CI: ${why}`);
  console.warn(`SKIPPED: ${what}, on Node ${process.versions.node}: ${why}`);
}
