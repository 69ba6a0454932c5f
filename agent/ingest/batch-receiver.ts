import { createRequire } from 'node:module';

/** The native addon in native/udp-mmsg (built by `npm ci`; optional). */
interface MmsgAddon {
  bind(
    family: 'udp4' | 'udp6' | 'unix',
    address: string,
    port: number,
    receiveBufferBytes: number,
    buffer: Buffer,
    lengths: Int32Array,
    slotBytes: number,
    onBatch: (n: number) => void,
  ): object;
  info(handle: object): [port: number, receiveBufferBytes: number];
  /** SO_RXQ_OVFL: the socket's kernel drop count as of the latest read (absent from builds before it). */
  drops?(handle: object): number;
  close(handle: object): void;
}

// Slots per recvmmsg call. 64 datagrams of statsd are ~100 µs of parsing, short
// enough that one batch never holds up timers or HTTP noticeably.
const SLOTS = 64;
// Room for the largest UDP payload (65,507 bytes), and a stride that is not a
// power of two so consecutive slots do not all land in the same cache sets.
const SLOT_BYTES = 65536 + 64;

let loaded: MmsgAddon | Error | undefined;

/** The addon, or the reason it is not there (not built, not Linux). Loaded once per process: it is code, not state. */
export function loadMmsgAddon(): MmsgAddon | Error {
  if (loaded === undefined) {
    try {
      loaded = createRequire(import.meta.url)('tally-udp-mmsg') as MmsgAddon;
    } catch (err) {
      loaded = err instanceof Error ? err : new Error(String(err));
    }
  }
  return loaded;
}

export interface BatchReceiverOptions {
  family: 'udp4' | 'udp6' | 'unix';
  /** IP address, or the socket path for unix. */
  address: string;
  port: number;
  receiveBufferBytes: number;
  /** One datagram: bytes [start, end) of buf. A truncated one has `truncated` set and is not to be parsed. */
  onDatagram: (buf: Buffer, start: number, end: number, truncated: boolean) => void;
  /** A receive error from the kernel (rare: ENOMEM and the like); receiving goes on. */
  onError: (err: NodeJS.ErrnoException) => void;
}

export interface BatchReceiver {
  port: number;
  receiveBufferBytes: number;
  /** The kernel's count of datagrams it dropped on this socket (modulo 2^32), or undefined when the addon cannot tell. */
  kernelDrops(): number | undefined;
  close(): void;
}

/** Binds a datagram socket read with recvmmsg: many datagrams per system call and one JavaScript call per batch. */
export function bindBatchReceiver(addon: MmsgAddon, opts: BatchReceiverOptions): BatchReceiver {
  const buffer = Buffer.allocUnsafeSlow(SLOTS * SLOT_BYTES);
  const lengths = new Int32Array(SLOTS);
  const { onDatagram, onError } = opts;
  const handle = addon.bind(opts.family, opts.address, opts.port, opts.receiveBufferBytes, buffer, lengths, SLOT_BYTES, (n) => {
    if (n < 0) {
      const err: NodeJS.ErrnoException = new Error(`recvmmsg failed: errno ${-n}`);
      err.errno = n;
      onError(err);
      return;
    }
    for (let i = 0; i < n; i++) {
      const len = lengths[i]!;
      const start = i * SLOT_BYTES;
      if (len >= 0) onDatagram(buffer, start, start + len, false);
      else onDatagram(buffer, start, start + (-len - 1), true);
    }
  });
  const [port, receiveBufferBytes] = addon.info(handle);
  let closed = false;
  return {
    port,
    receiveBufferBytes,
    kernelDrops: () => (closed ? undefined : addon.drops?.(handle)),
    close() {
      if (closed) return;
      closed = true;
      addon.close(handle);
    },
  };
}
