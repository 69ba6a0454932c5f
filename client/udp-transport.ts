/**
 * Statsd over UDP: the default transport. Calls are written into the current
 * datagram and sent when it is full or a few milliseconds after its first
 * line. Nothing here blocks or throws into the application: every way a call
 * can fail to leave (nothing listening, a full socket buffer, too much
 * queued, a send error) is counted in stats() and told to onDrop.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { APPENDED, INVALID, MAX_UDP_PAYLOAD, StatsdWriter } from './statsd-writer.js';
import { emptyStats, type ClientStats, type DropListener, type DropReason, type Kind, type Tags, type Transport } from './types.js';

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

const RECONNECT_MS = 1000;
const MAX_SPARE_SLOTS = 64;

/** One datagram's buffer, with its send callback made once. */
interface Slot {
  buf: Buffer;
  length: number;
  lines: number;
  done: (err: Error | null) => void;
}

export class UdpTransport implements Transport {
  private readonly writer: StatsdWriter;
  private readonly counters = emptyStats('udp');
  private readonly host: string;
  private readonly port: number;
  private readonly flushIntervalMs: number;
  private readonly maxQueuedBytes: number;
  private readonly onDrop: DropListener | undefined;
  private socket: Socket | undefined;
  private connected = false;
  private reconnectAt = 0;
  /** Datagrams cut while the socket connects. */
  private waiting: Slot[] = [];
  /** Datagram buffers whose send completed, for the next datagrams: no buffer allocated per datagram. */
  private readonly spare: Slot[] = [];
  private readonly slotBytes: number;
  private queuedBytes = 0;
  /** Lines of the datagram sent last, which a late ECONNREFUSED is about. */
  private lastLines = 0;
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private armed = false;
  private closed = false;

  constructor(opts: UdpTransportOptions) {
    this.host = opts.host;
    this.port = opts.port;
    this.flushIntervalMs = opts.flushIntervalMs ?? 5;
    this.maxQueuedBytes = opts.maxQueuedBytes ?? 4 * 1024 * 1024;
    this.onDrop = opts.onDrop;
    this.slotBytes = Math.min(opts.maxDatagramBytes ?? 1432, MAX_UDP_PAYLOAD);
    this.writer = new StatsdWriter({
      prefix: opts.prefix,
      globalTags: opts.globalTags,
      maxDatagramBytes: this.slotBytes,
      onDatagram: (staging, length, lines) => this.ship(staging, length, lines),
    });
  }

  send(kind: Kind, name: string, value: number | string, tags: Tags | undefined, rate: number, outcome: string | undefined, raw: boolean): boolean {
    const c = this.counters;
    c.calls++;
    if (this.closed) return this.drop('closed', 1);
    if (rate < 1 && kind !== 'g' && kind !== 'e' && Math.random() >= rate) {
      c.sampledOut++;
      return true;
    }
    const r = this.writer.append(kind, name, value, tags, kind === 'g' || kind === 'e' ? 1 : rate, outcome, raw);
    if (r !== APPENDED) return this.drop(r === INVALID ? 'invalid' : 'too_large', 1);
    if (!this.armed && this.writer.bufferedBytes > 0) this.arm();
    return true;
  }

  flush(): Promise<void> {
    this.writer.cut();
    if (this.inFlight === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const s = this.socket;
    this.socket = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  stats(): ClientStats {
    const c = this.counters;
    return { ...c, dropped: { ...c.dropped }, pending: this.writer.bufferedLines + this.waiting.reduce((n, w) => n + w.lines, 0) };
  }

  /**
   * The flush timer stays referenced: it fires once within flushIntervalMs, so
   * an application that ends right after a call waits that long for its last
   * lines to leave, and no longer.
   */
  private arm(): void {
    this.armed = true;
    if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.armed = false;
        this.writer.cut();
      }, this.flushIntervalMs);
    } else {
      // One timer, re-armed: no timer object per datagram.
      this.timer.refresh();
    }
  }

  private drop(reason: DropReason, lines: number, error?: Error): false {
    this.counters.dropped[reason] += lines;
    if (this.onDrop) {
      try {
        this.onDrop(reason, lines, error);
      } catch {
        // A listener's own failure must not reach the call that dropped.
      }
    }
    return false;
  }

  private ship(staging: Buffer, length: number, lines: number): void {
    if (this.queuedBytes + length > this.maxQueuedBytes) {
      this.drop('buffer_full', lines);
      return;
    }
    if (!this.connected) {
      this.connect();
      if (this.socket === undefined) {
        this.drop('send_error', lines);
        return;
      }
    }
    const slot = length <= this.slotBytes ? this.spare.pop() ?? this.newSlot(this.slotBytes) : this.newSlot(length);
    staging.copy(slot.buf, 0, 0, length);
    slot.length = length;
    slot.lines = lines;
    this.queuedBytes += length;
    if (!this.connected) this.waiting.push(slot);
    else this.transmit(slot);
  }

  private newSlot(bytes: number): Slot {
    const slot: Slot = { buf: Buffer.allocUnsafeSlow(bytes), length: 0, lines: 0, done: (err) => this.sent(err, slot) };
    return slot;
  }

  private transmit(slot: Slot): void {
    this.inFlight++;
    try {
      this.socket!.send(slot.buf, 0, slot.length, slot.done);
    } catch (err) {
      // A socket closed under us throws synchronously.
      this.sent(err as Error, slot);
    }
  }

  private sent(err: Error | null | undefined, slot: Slot): void {
    this.queuedBytes -= slot.length;
    this.inFlight--;
    const lines = slot.lines;
    if (slot.buf.length === this.slotBytes && this.spare.length < MAX_SPARE_SLOTS) this.spare.push(slot);
    if (err) {
      const code = (err as NodeJS.ErrnoException).code;
      this.drop(code === 'ECONNREFUSED' ? 'refused' : code === 'EAGAIN' || code === 'ENOBUFS' || code === 'EWOULDBLOCK' ? 'buffer_full' : 'send_error', lines, err);
    } else {
      this.counters.sent += lines;
      this.counters.packets++;
      this.lastLines = lines;
    }
    this.settle();
  }

  private settle(): void {
    if (this.inFlight === 0 && this.waiting.length === 0 && this.idleWaiters.length > 0) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const r of w) r();
    }
  }

  /**
   * A connected socket, so the kernel reports ICMP "port unreachable" (no
   * agent) as ECONNREFUSED on a later send instead of losing it silently, and
   * a host name is looked up once rather than per datagram.
   */
  private connect(): void {
    if (this.socket !== undefined || this.closed) return;
    if (Date.now() < this.reconnectAt) return;
    const socket = createSocket({ type: isIPv6(this.host) ? 'udp6' : 'udp4' });
    this.socket = socket;
    // The socket must not keep the application alive; pending sends still do, until they are out.
    socket.on('error', (err) => {
      if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED') this.refusedEarlier(err);
      else this.failed(socket, err);
    });
    socket.connect(this.port, this.host, () => {
      if (this.socket !== socket) return;
      socket.unref();
      this.connected = true;
      const w = this.waiting;
      this.waiting = [];
      for (const slot of w) this.transmit(slot);
      this.settle();
    });
    socket.unref();
  }

  /**
   * The kernel's "port unreachable" for a datagram already sent, reported on
   * the socket rather than a send. On loopback it answers each datagram, just
   * after it left, so it is taken for the latest one; over a network ICMP is
   * rate-limited and the count is a lower bound.
   */
  private refusedEarlier(err: Error): void {
    const lines = Math.min(this.lastLines, this.counters.sent);
    this.lastLines = 0;
    if (lines === 0) return;
    this.counters.sent -= lines;
    this.counters.packets--;
    this.drop('refused', lines, err);
  }

  private failed(socket: Socket, err: Error): void {
    if (this.socket !== socket) return;
    // Connect failed (a name that does not resolve) or the socket broke: drop what waits, retry later.
    this.socket = undefined;
    this.connected = false;
    this.reconnectAt = Date.now() + RECONNECT_MS;
    try {
      socket.close();
    } catch {
      // already closed
    }
    const w = this.waiting;
    this.waiting = [];
    for (const slot of w) {
      this.queuedBytes -= slot.length;
      this.drop('send_error', slot.lines, err);
    }
    this.settle();
  }
}
