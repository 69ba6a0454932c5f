import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from 'pino';
import type { IngestCounters } from '../telemetry/ingest-counters.js';
import type { Source } from './source.js';
import { bindBatchReceiver, loadMmsgAddon } from './batch-receiver.js';
import { KernelDrops, procUdpDrops } from './kernel-drops.js';
import { listenError } from '../shared/listen-error.js';

/** auto: recvmmsg where the native addon is built, node:dgram elsewhere. */
export type UdpReceiverKind = 'auto' | 'recvmmsg' | 'dgram';

export interface UdpListenerOptions {
  address: string;
  port: number;
  receiveBufferBytes: number;
  receiver?: UdpReceiverKind;
  counters: IngestCounters;
  logger: Logger;
  /** One datagram: bytes [start, end) of buf, valid only during the call. */
  onDatagram: (buf: Buffer, start: number, end: number) => void;
}

export interface UdpListener extends Source {
  address: string;
  port: number;
  /** SO_RCVBUF as the kernel granted it (Linux reports double the usable size). */
  receiveBufferBytes: number;
  /** Which receive path is in use. */
  receiver: 'recvmmsg' | 'dgram';
  /** Datagrams the kernel dropped on the socket (receive buffer full) since it was bound. */
  kernelDrops(): number;
}

export async function startUdpListener(opts: UdpListenerOptions): Promise<UdpListener> {
  const wanted = opts.receiver ?? 'auto';
  let listener: UdpListener;
  if (wanted === 'dgram') {
    listener = await startDgram(opts);
  } else {
    const addon = loadMmsgAddon();
    if (addon instanceof Error) {
      if (wanted === 'recvmmsg') {
        throw new Error(`statsd UDP: receiver "recvmmsg" needs the native addon tally-udp-mmsg, which did not load: ${addon.message}`);
      }
      opts.logger.info({ reason: addon.message }, 'statsd UDP: batched receive not available, using node:dgram');
      listener = await startDgram(opts);
    } else {
      listener = startBatched(addon, opts);
    }
  }
  if (opts.receiveBufferBytes > 0 && listener.receiveBufferBytes < opts.receiveBufferBytes) {
    opts.logger.warn(
      { requested: opts.receiveBufferBytes, granted: listener.receiveBufferBytes },
      'UDP receive buffer smaller than requested: raise net.core.rmem_max to absorb bursts without loss',
    );
  }
  return listener;
}

function startBatched(addon: Exclude<ReturnType<typeof loadMmsgAddon>, Error>, opts: UdpListenerOptions): UdpListener {
  const { counters, onDatagram } = opts;
  let receiver;
  try {
    receiver = bindBatchReceiver(addon, {
      family: isIPv6(opts.address) ? 'udp6' : 'udp4',
      address: opts.address,
      port: opts.port,
      receiveBufferBytes: opts.receiveBufferBytes,
      onDatagram: (buf, start, end) => {
        counters.packets.udp++;
        counters.bytes.udp += end - start;
        onDatagram(buf, start, end);
      },
      onError: (err) => opts.logger.error({ err }, 'statsd UDP socket error'),
    });
  } catch (err) {
    throw listenError('statsd UDP', opts.address, opts.port, err as NodeJS.ErrnoException);
  }
  const port = receiver.port;
  const drops = new KernelDrops([receiver.kernelDrops, () => procUdpDrops(opts.address, port)]);
  return {
    address: opts.address,
    port,
    receiveBufferBytes: receiver.receiveBufferBytes,
    receiver: 'recvmmsg',
    kernelDrops: () => drops.read(),
    close: async () => receiver.close(),
  };
}

async function startDgram(opts: UdpListenerOptions): Promise<UdpListener> {
  const socket: Socket = createSocket({ type: isIPv6(opts.address) ? 'udp6' : 'udp4' });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(listenError('statsd UDP', opts.address, opts.port, err));
    socket.once('error', onError);
    socket.bind(opts.port, opts.address, () => {
      socket.off('error', onError);
      resolve();
    });
  });
  try {
    if (opts.receiveBufferBytes > 0) socket.setRecvBufferSize(opts.receiveBufferBytes);
  } catch (err) {
    opts.logger.warn({ err, requested: opts.receiveBufferBytes }, 'could not set the UDP receive buffer size');
  }
  socket.on('error', (err) => opts.logger.error({ err }, 'statsd UDP socket error'));
  const { counters, onDatagram } = opts;
  socket.on('message', (packet) => {
    counters.packets.udp++;
    counters.bytes.udp += packet.length;
    onDatagram(packet, 0, packet.length);
  });
  const bound = socket.address();
  const drops = new KernelDrops([() => procUdpDrops(bound.address, bound.port)]);
  return {
    address: bound.address,
    port: bound.port,
    receiveBufferBytes: socket.getRecvBufferSize(),
    receiver: 'dgram',
    kernelDrops: () => drops.read(),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
