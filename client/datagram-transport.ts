/**
 * What the statsd transports (UDP, Unix datagram) share: calls are written
 * into the current datagram and handed to a DatagramSocket when it is full or
 * a few milliseconds after its first line. Nothing here blocks or throws into
 * the application: every way a call can fail to leave (nothing listening, a
 * full socket buffer, too much queued, a send error) is counted in stats()
 * and told to onDrop. The socket kinds differ only in how they connect, send
 * and fail, which is what DatagramSocket covers.
 */
import { APPENDED, INVALID, MAX_UDP_PAYLOAD, StatsdWriter } from './statsd-writer.js';
import { emptyStats, type ClientStats, type DropListener, type DropReason, type Kind, type Tags, type Transport } from './types.js';

/** What a socket tells the transport that owns it. */
export interface DatagramSocketEvents {
  /** Connected: datagrams cut while it connected may go. */
  ready(): void;
  /** Could not connect, or broke: what waits is dropped, and no new socket is tried for a second. */
  failed(err: Error): void;
  /** A datagram already counted as sent was refused after all (UDP's late "port unreachable"). */
  refusedEarlier(err: Error): void;
}

/** One socket to the agent, opened by the transport when it has a datagram to send. */
export interface DatagramSocket {
  /** Starts connecting; calls ready() or failed(), possibly before it returns. */
  connect(): void;
  /**
   * Sends bytes [0, length) of buf, which is left alone until done is
   * called, once (possibly before send returns). Throwing is taken as
   * done(err).
   */
  send(buf: Buffer, length: number, done: (err: Error | null) => void): void;
  close(): Promise<void>;
}

export type OpenDatagramSocket = (events: DatagramSocketEvents) => DatagramSocket;

export interface DatagramTransportOptions {
  prefix?: string;
  globalTags?: Record<string, string>;
  maxDatagramBytes: number;
  /** How long a datagram waits for more lines after its first (default 5 ms). */
  flushIntervalMs?: number;
  /** Bytes handed to the socket and not yet sent, past which new datagrams are dropped (default 4 MiB). */
  maxQueuedBytes?: number;
  onDrop?: DropListener;
  /** Set when this transport cannot send at all: every call is dropped at once as `send_error`, with this error. */
  unusable?: Error;
}

const RECONNECT_MS = 1000;
const MAX_SPARE_SLOTS = 64;

/**
 * Why a datagram did not leave, from the errno of a failed connect or send:
 * nobody to receive it (a UDP port nobody listens on, a socket file that is
 * missing or that no process reads) is `refused`, a full queue is
 * `buffer_full`, anything else `send_error`.
 */
export function dropReasonOf(err: Error): DropReason {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED' || code === 'ENOENT') return 'refused';
  if (code === 'EAGAIN' || code === 'ENOBUFS' || code === 'EWOULDBLOCK') return 'buffer_full';
  return 'send_error';
}

/** One datagram's buffer, with its send callback made once. */
interface Slot {
  buf: Buffer;
  length: number;
  lines: number;
  done: (err: Error | null) => void;
}

export class DatagramTransport implements Transport {
  private readonly writer: StatsdWriter;
  private readonly counters: ClientStats;
  private readonly open: OpenDatagramSocket;
  private readonly flushIntervalMs: number;
  private readonly maxQueuedBytes: number;
  private readonly onDrop: DropListener | undefined;
  private socket: DatagramSocket | undefined;
  private connected = false;
  private reconnectAt = 0;
  /** Why the last socket failed, for the datagrams dropped until the next is tried. */
  private downError: Error | undefined;
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
  /** Inside ship(), which the writer calls while it cuts a datagram (see drop()). */
  private shipping = false;
  private readonly unusable: Error | undefined;

  constructor(name: ClientStats['transport'], open: OpenDatagramSocket, opts: DatagramTransportOptions) {
    this.counters = emptyStats(name);
    this.open = open;
    this.flushIntervalMs = opts.flushIntervalMs ?? 5;
    this.maxQueuedBytes = opts.maxQueuedBytes ?? 4 * 1024 * 1024;
    this.onDrop = opts.onDrop;
    this.unusable = opts.unusable;
    this.slotBytes = Math.min(opts.maxDatagramBytes, MAX_UDP_PAYLOAD);
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
    if (this.unusable !== undefined) return this.drop('send_error', 1, this.unusable);
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
    if (s) await s.close();
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
      // While the writer cuts a datagram, a listener that makes a call would write into the
      // datagram being cut and that call would be lost: it is told once the cut is done.
      if (this.shipping) queueMicrotask(() => this.tell(reason, lines, error));
      else this.tell(reason, lines, error);
    }
    return false;
  }

  private tell(reason: DropReason, lines: number, error: Error | undefined): void {
    try {
      this.onDrop!(reason, lines, error);
    } catch {
      // A listener's own failure must not reach the call that dropped.
    }
  }

  private ship(staging: Buffer, length: number, lines: number): void {
    this.shipping = true;
    try {
      this.shipNow(staging, length, lines);
    } finally {
      this.shipping = false;
    }
  }

  private shipNow(staging: Buffer, length: number, lines: number): void {
    if (this.queuedBytes + length > this.maxQueuedBytes) {
      this.drop('buffer_full', lines);
      return;
    }
    if (!this.connected) {
      this.connect();
      if (this.socket === undefined) {
        const err = this.downError;
        this.drop(err === undefined ? 'send_error' : dropReasonOf(err), lines, err);
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
      this.socket!.send(slot.buf, slot.length, slot.done);
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
      this.drop(dropReasonOf(err), lines, err);
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

  private connect(): void {
    if (this.socket !== undefined || this.closed) return;
    if (Date.now() < this.reconnectAt) return;
    // Declared before open() so the events, which may come before connect() returns, know their socket.
    let socket: DatagramSocket | undefined;
    const events: DatagramSocketEvents = {
      ready: () => {
        if (this.socket !== socket || socket === undefined) return;
        this.connected = true;
        const w = this.waiting;
        this.waiting = [];
        for (const slot of w) this.transmit(slot);
        this.settle();
      },
      failed: (err) => {
        if (this.socket === socket && socket !== undefined) this.failed(socket, err);
      },
      refusedEarlier: (err) => this.refusedEarlier(err),
    };
    try {
      socket = this.open(events);
    } catch (err) {
      // No socket at all (out of file descriptors): like a failed connect.
      this.down(err as Error);
      return;
    }
    this.socket = socket;
    socket.connect();
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

  private failed(socket: DatagramSocket, err: Error): void {
    // Connect failed (a name that does not resolve, no socket file) or the socket broke: drop what waits, retry later.
    this.socket = undefined;
    this.connected = false;
    void socket.close().catch(() => undefined);
    this.down(err);
    const w = this.waiting;
    this.waiting = [];
    const reason = dropReasonOf(err);
    for (const slot of w) {
      this.queuedBytes -= slot.length;
      this.drop(reason, slot.lines, err);
    }
    this.settle();
  }

  private down(err: Error): void {
    this.downError = err;
    this.reconnectAt = Date.now() + RECONNECT_MS;
  }
}
