/**
 * Statsd over UDP: the default transport. Batching, bounds and drop counting
 * are DatagramTransport's; this is the socket: connected, so an absent agent
 * shows as ECONNREFUSED, and never keeping the application alive.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { DatagramTransport, type DatagramSocket, type DatagramSocketEvents } from './datagram-transport.js';
import type { DropListener } from './types.js';

export interface UdpTransportOptions {
  host: string;
  port: number;
  prefix?: string;
  globalTags?: Record<string, string>;
  /** Largest datagram cut from several lines (default 1432: fits a 1500-byte MTU with IPv6 and tunnel headers). */
  maxDatagramBytes?: number;
  /** How long a datagram waits for more lines after its first (default 5 ms). */
  flushIntervalMs?: number;
  /** Bytes handed to the socket and not yet sent, past which new datagrams are dropped (default 4 MiB). */
  maxQueuedBytes?: number;
  onDrop?: DropListener;
}

export class UdpTransport extends DatagramTransport {
  constructor(opts: UdpTransportOptions) {
    super('udp', (events) => new UdpSocket(opts.host, opts.port, events), { ...opts, maxDatagramBytes: opts.maxDatagramBytes ?? 1432 });
  }
}

/**
 * A connected socket, so the kernel reports ICMP "port unreachable" (no
 * agent) as ECONNREFUSED on a later send instead of losing it silently, and
 * a host name is looked up once rather than per datagram.
 */
class UdpSocket implements DatagramSocket {
  private readonly socket: Socket;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly events: DatagramSocketEvents,
  ) {
    this.socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
  }

  connect(): void {
    const socket = this.socket;
    // The socket must not keep the application alive; pending sends still do, until they are out.
    socket.on('error', (err) => {
      if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED') this.events.refusedEarlier(err);
      else this.events.failed(err);
    });
    socket.connect(this.port, this.host, () => {
      socket.unref();
      this.events.ready();
    });
    socket.unref();
  }

  send(buf: Buffer, length: number, done: (err: Error | null) => void): void {
    this.socket.send(buf, 0, length, done);
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        // already closed
        resolve();
      }
    });
  }
}
