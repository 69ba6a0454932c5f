import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { isIPv6 } from 'node:net';

/**
 * Datagrams the kernel dropped on a listener's socket because its receive
 * buffer was full: the loss UDP is known for, which the agent never sees.
 * Two sources, both cumulative 32-bit counts of the socket's drops:
 * SO_RXQ_OVFL through the recvmmsg addon (exact, but only as of the last
 * datagram read), and the drops column of /proc/net/udp(6), current at any
 * moment and there for the node:dgram receiver too. Either may be missing
 * (no addon; no /proc): the other is used, and with neither the count stays 0.
 */
export class KernelDrops {
  private total = 0;
  private last = 0;

  constructor(private readonly sources: Array<() => number | undefined>) {}

  /** Drops since the socket was bound. */
  read(): number {
    let raw: number | undefined;
    for (const source of this.sources) {
      const v = source();
      // The further along of the two, modulo 2^32.
      if (v !== undefined && (raw === undefined || ((v - raw) >>> 0) < 2 ** 31)) raw = v;
    }
    if (raw !== undefined) {
      this.total += (raw - this.last) >>> 0;
      this.last = raw;
    }
    return this.total;
  }
}

/**
 * The drops column of the socket bound to `address`:`port` in
 * /proc/net/udp or udp6 (this network namespace), or undefined if there is
 * no such file or line. Addresses there are hex of the kernel's 32-bit
 * words in host byte order.
 */
export function procUdpDrops(address: string, port: number): number | undefined {
  const v6 = isIPv6(address);
  let table: string;
  try {
    table = readFileSync(v6 ? '/proc/net/udp6' : '/proc/net/udp', 'latin1');
  } catch {
    return undefined;
  }
  const local = `${procAddressHex(address, v6)}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of table.split('\n')) {
    const f = line.trim().split(/\s+/);
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
    if (f[1] === local && f.length >= 13) {
      const drops = Number(f[12]);
      return Number.isSafeInteger(drops) ? drops : undefined;
    }
  }
  return undefined;
}

function procAddressHex(address: string, v6: boolean): string {
  const bytes = v6 ? ipv6Bytes(address) : Buffer.from(address.split('.').map(Number));
  const le = endianness() === 'LE';
  let hex = '';
  for (let i = 0; i < bytes.length; i += 4) {
    const word = bytes.subarray(i, i + 4);
    hex += Buffer.from(le ? [...word].reverse() : word).toString('hex');
  }
  return hex.toUpperCase();
}

function ipv6Bytes(address: string): Buffer {
  const zone = address.indexOf('%');
  const a = zone === -1 ? address : address.slice(0, zone);
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const words = (s: string | undefined) => (s === undefined || s === '' ? [] : s.split(':'));
  const h = words(head);
  const t = words(tail);
  // An embedded IPv4 tail (::ffff:127.0.0.1) is two words.
  const expand = (ws: string[]) =>
    ws.flatMap((w) => {
      if (!w.includes('.')) return [parseInt(w, 16)];
      const [a1, b1, c1, d1] = w.split('.').map(Number) as [number, number, number, number];
      return [(a1 << 8) | b1, (c1 << 8) | d1];
    });
  const hw = expand(h);
  const tw = expand(t);
  const all = tail === undefined ? hw : [...hw, ...Array<number>(8 - hw.length - tw.length).fill(0), ...tw];
  const out = Buffer.alloc(16);
  all.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}
