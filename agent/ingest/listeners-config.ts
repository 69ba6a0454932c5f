import { z } from 'zod';
import { duration } from '../shared/duration-schema.js';
import type { LimitsConfig } from '../aggregate/aggregation-config.js';
import type { StatsdParserOptions } from '../parse/statsd-line.js';
import { socketPath } from './socket-dir.js';
import type { StreamListenerOptions } from './stream-listener.js';
import type { UdpListenerOptions } from './udp-listener.js';
import type { UnixgramListenerOptions } from './unixgram-listener.js';

/** The config's `statsd:` section: the four statsd listeners, beside them, and their options made from it. */

export const portSchema = z.number().int().min(0).max(65535);


const receiveBufferBytes = z
  .number()
  .int()
  .min(0)
  .default(33554432)
  .describe('Requested SO_RCVBUF; the kernel caps it at net.core.rmem_max and the size obtained is logged.');

const socketMode = z
  .string()
  .regex(/^0?[0-7]{3}$/, 'an octal file mode such as "0660"')
  .default('0660')
  .describe('Permissions of the socket file, octal.');

const udpSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Listen for statsd datagrams over UDP.'),
    address: z.string().min(1).default('127.0.0.1').describe('Address to bind; use 0.0.0.0 to accept from other hosts.'),
    port: portSchema.default(8125).describe('UDP port; 0 picks a free one.'),
    receive_buffer_bytes: receiveBufferBytes,
    receiver: z
      .enum(['auto', 'recvmmsg', 'dgram'])
      .default('auto')
      .describe('How datagrams are read: recvmmsg (batched, native addon), dgram (node:dgram), auto (recvmmsg where built).'),
  })
  .strict();

const unixgramSchema = z
  .object({
    enabled: z.boolean().default(false).describe('Listen for DogStatsD datagrams on a Unix datagram socket (needs the native addon).'),
    path: z
      .string()
      .min(1)
      .optional()
      .describe('Socket file; a stale one with no reader is replaced. Default: dsd.sock in $XDG_RUNTIME_DIR/tally-agent, else in /tmp/tally-agent-<uid> (a folder of this user\'s that no one else can write to).'),
    mode: socketMode,
    receive_buffer_bytes: receiveBufferBytes,
  })
  .strict();

const streamCommon = {
  max_connections: z
    .number()
    .int()
    .min(0)
    .default(1024)
    .describe('Connections held at once; more are closed on accept and counted. 0 means no limit.'),
  idle_timeout: duration.prefault('5m').describe('A connection silent this long is closed; 0 never closes one.'),
};

const tcpSchema = z
  .object({
    enabled: z.boolean().default(false).describe('Accept newline-delimited statsd over TCP.'),
    address: z.string().min(1).default('127.0.0.1').describe('Address to bind; use 0.0.0.0 to accept from other hosts.'),
    port: portSchema.default(8125).describe('TCP port; 0 picks a free one.'),
    ...streamCommon,
  })
  .strict();

const unixSchema = z
  .object({
    enabled: z.boolean().default(false).describe('Accept newline-delimited statsd over a Unix stream socket.'),
    path: z
      .string()
      .min(1)
      .optional()
      .describe('Socket file; a stale one left by a dead agent is replaced. Default: statsd.sock in the folder of unixgram.path\'s default.'),
    mode: socketMode,
    ...streamCommon,
  })
  .strict();

export const statsdSchema = z
  .object({
    udp: udpSchema.prefault({}),
    tcp: tcpSchema.prefault({}),
    unix: unixSchema.prefault({}),
    unixgram: unixgramSchema.prefault({}),
  })
  .strict();

export type StatsdConfig = z.output<typeof statsdSchema>;

/**
 * What each listener's parser takes from `limits:`. `negativeCounters` is
 * whether any counter is an up-down counter: only then can a name need a
 * negative count; otherwise the parser refuses them before any series is made.
 */
export function parserOptions(limits: LimitsConfig, negativeCounters: boolean): StatsdParserOptions {
  return { maxLineBytes: limits.max_line_bytes, maxEventTextBytes: limits.max_event_text_bytes, negativeCounters };
}

/** What the UDP listener takes from `statsd.udp`. */
export function udpSettings(c: StatsdConfig['udp']): Pick<UdpListenerOptions, 'address' | 'port' | 'receiveBufferBytes' | 'receiver'> {
  return { address: c.address, port: c.port, receiveBufferBytes: c.receive_buffer_bytes, receiver: c.receiver };
}

/** What the unixgram listener takes from `statsd.unixgram`; the socket's default folder is made if missing. */
export async function unixgramSettings(c: StatsdConfig['unixgram']): Promise<Pick<UnixgramListenerOptions, 'path' | 'socketMode' | 'receiveBufferBytes'>> {
  return { path: await socketPath(c.path, 'dsd.sock'), socketMode: parseInt(c.mode, 8), receiveBufferBytes: c.receive_buffer_bytes };
}

/** What a stream listener takes from `statsd.tcp` or `statsd.unix`, and from `limits:`. */
export async function streamSettings(
  kind: 'tcp' | 'unix',
  statsd: StatsdConfig,
  limits: LimitsConfig,
): Promise<Pick<StreamListenerOptions, 'kind' | 'address' | 'port' | 'socketMode' | 'maxConnections' | 'idleTimeoutMs' | 'maxLineBytes'>> {
  const c = statsd[kind];
  return {
    kind,
    address: kind === 'unix' ? await socketPath(statsd.unix.path, 'statsd.sock') : statsd.tcp.address,
    port: kind === 'tcp' ? statsd.tcp.port : undefined,
    socketMode: kind === 'unix' ? parseInt(statsd.unix.mode, 8) : undefined,
    maxConnections: c.max_connections,
    idleTimeoutMs: c.idle_timeout,
    maxLineBytes: limits.max_line_bytes,
  };
}
