import { chmod, unlink } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { IngestCounters } from '../telemetry/ingest-counters.js';
import type { Source } from './source.js';
import { bindBatchReceiver, loadMmsgAddon } from './batch-receiver.js';

export interface UnixgramListenerOptions {
  /** Socket file; a stale one with no reader is replaced, a live one is not. */
  path: string;
  /** Permissions of the socket file: a client needs write permission to send. */
  socketMode: number;
  receiveBufferBytes: number;
  counters: IngestCounters;
  logger: Logger;
  /** One datagram: bytes [start, end) of buf, valid only during the call. */
  onDatagram: (buf: Buffer, start: number, end: number) => void;
}

export interface UnixgramListener extends Source {
  path: string;
  receiveBufferBytes: number;
}

/**
 * The DogStatsD Unix datagram socket (SOCK_DGRAM, as hot-shots' `uds` protocol
 * and the Datadog clients send). Node has no unix datagram sockets, so this
 * needs the native addon; without it, turning the listener on fails start-up
 * with the reason rather than silently not listening.
 */
export async function startUnixgramListener(opts: UnixgramListenerOptions): Promise<UnixgramListener> {
  const addon = loadMmsgAddon();
  if (addon instanceof Error) {
    throw new Error(`statsd unixgram: needs the native addon tally-udp-mmsg, which did not load: ${addon.message}`);
  }
  const { counters, onDatagram } = opts;
  let receiver;
  try {
    receiver = bindBatchReceiver(addon, {
      family: 'unix',
      address: opts.path,
      port: 0,
      receiveBufferBytes: opts.receiveBufferBytes,
      onDatagram: (buf, start, end, truncated) => {
        counters.packets.unixgram++;
        counters.bytes.unixgram += end - start;
        if (truncated) counters.parseError('datagram_truncated');
        else onDatagram(buf, start, end);
      },
      onError: (err) => opts.logger.error({ err }, 'statsd unixgram socket error'),
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') throw new Error(`statsd unixgram socket ${opts.path} is in use by another process (or is not a socket)`);
    throw new Error(`statsd unixgram could not listen on ${opts.path}: ${e.message}`);
  }
  try {
    await chmod(opts.path, opts.socketMode);
  } catch (err) {
    receiver.close();
    throw new Error(`statsd unixgram: could not set the mode of ${opts.path}: ${(err as Error).message}`);
  }
  return {
    path: opts.path,
    receiveBufferBytes: receiver.receiveBufferBytes,
    async close() {
      receiver.close();
      await unlink(opts.path).catch(() => undefined);
    },
  };
}
