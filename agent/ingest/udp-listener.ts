import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from 'pino';
import type { IngestCounters } from '../telemetry/ingest-counters.js';
import { listenError } from './listen-error.js';

export interface UdpListenerOptions {
  address: string;
  port: number;
  receiveBufferBytes: number;
  counters: IngestCounters;
  logger: Logger;
  onPacket: (packet: Buffer) => void;
}

export interface UdpListener {
  address: string;
  port: number;
  /** SO_RCVBUF as the kernel granted it (Linux reports double the usable size). */
  receiveBufferBytes: number;
  close(): Promise<void>;
}

export async function startUdpListener(opts: UdpListenerOptions): Promise<UdpListener> {
  const socket: Socket = createSocket({ type: isIPv6(opts.address) ? 'udp6' : 'udp4' });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(listenError('statsd UDP', opts.address, opts.port, err));
    socket.once('error', onError);
    socket.bind(opts.port, opts.address, () => {
      socket.off('error', onError);
      resolve();
    });
  });
  let granted = 0;
  try {
    if (opts.receiveBufferBytes > 0) socket.setRecvBufferSize(opts.receiveBufferBytes);
  } catch (err) {
    opts.logger.warn({ err, requested: opts.receiveBufferBytes }, 'could not set the UDP receive buffer size');
  }
  granted = socket.getRecvBufferSize();
  if (opts.receiveBufferBytes > 0 && granted < opts.receiveBufferBytes) {
    opts.logger.warn(
      { requested: opts.receiveBufferBytes, granted },
      'UDP receive buffer smaller than requested: raise net.core.rmem_max to absorb bursts without loss',
    );
  }
  socket.on('error', (err) => opts.logger.error({ err }, 'statsd UDP socket error'));
  const counters = opts.counters;
  const onPacket = opts.onPacket;
  socket.on('message', (packet) => {
    counters.packets.udp++;
    counters.bytes.udp += packet.length;
    onPacket(packet);
  });
  const bound = socket.address();
  return {
    address: bound.address,
    port: bound.port,
    receiveBufferBytes: granted,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
