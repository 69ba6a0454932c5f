/**
 * startUdpListener over real sockets on 127.0.0.1 and ::1, once with each
 * receive path: recvmmsg through the native addon, and node:dgram.
 */
import { createSocket, type Socket } from 'node:dgram';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { bindBatchReceiver, loadMmsgAddon } from '../../agent/ingest/batch-receiver.js';
import { procUdpDrops } from '../../agent/ingest/kernel-drops.js';
import { startUdpListener, type UdpListener } from '../../agent/ingest/udp-listener.js';
import { IngestCounters } from '../../agent/telemetry/ingest-counters.js';
import { waitFor } from '../support/agent-process.js';

const silent = pino({ level: 'silent' });
const MAX_DATAGRAM = 65_507;

describe('the native recvmmsg addon', () => {
  it.runIf(process.env.CI === 'true')('is built in CI, so the fast path is what the tests exercise', () => {
    const addon = loadMmsgAddon();
    expect(addon instanceof Error ? addon.message : 'loaded').toBe('loaded');
  });
});

/** Sends `n` datagrams to a port from another process while this one's event loop is blocked (spawnSync): none is read meanwhile. */
function floodWhileBlocked(port: number, n: number, address = '127.0.0.1'): void {
  const code = `
    const s = require('node:dgram').createSocket(${JSON.stringify(address.includes(':') ? 'udp6' : 'udp4')});
    let left = ${n};
    const next = () => (left-- > 0 ? s.send('x:1|c', ${port}, ${JSON.stringify(address)}, next) : s.close());
    next();`;
  const r = spawnSync(process.execPath, ['-e', code], { stdio: 'inherit', timeout: 20_000 });
  expect(r.status).toBe(0);
}

describe('kernel drop counts', () => {
  it.skipIf(loadMmsgAddon() instanceof Error)('the addon reads SO_RXQ_OVFL: every datagram is read or counted as dropped', async () => {
    const addon = loadMmsgAddon();
    if (addon instanceof Error) throw addon;
    let got = 0;
    const r = bindBatchReceiver(addon, {
      family: 'udp4',
      address: '127.0.0.1',
      port: 0,
      receiveBufferBytes: 4096,
      onDatagram: () => got++,
      onError: (err) => {
        throw err;
      },
    });
    try {
      expect(r.kernelDrops()).toBe(0);
      floodWhileBlocked(r.port, 500);
      await waitFor(() => got > 0, 5000);
      // The count comes with each datagram: one read after the flood carries all of it (sent again while the buffer may still be full).
      const s = sender();
      let sent = 500;
      await waitFor(async () => {
        await new Promise<void>((res, rej) => s.send('after:1|c', r.port, '127.0.0.1', (e) => (e ? rej(e) : res())));
        sent++;
        await new Promise((res) => setTimeout(res, 20));
        expect(got + r.kernelDrops()!).toBe(sent);
      }, 5000, 50);
      expect(r.kernelDrops()).toBeGreaterThan(250);
    } finally {
      r.close();
    }
  });

  it.each(['127.0.0.1', '::1'])('/proc/net/udp shows the drops of the socket on %s', async (address) => {
    const s = createSocket({ type: address.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 4096 });
    open.push(s);
    await new Promise<void>((res) => s.bind(0, address, () => res()));
    const port = s.address().port;
    expect(procUdpDrops(address, port)).toBe(0);
    floodWhileBlocked(port, 300, address);
    expect(procUdpDrops(address, port)).toBeGreaterThan(150);
  });
});

const open: Array<UdpListener | Socket> = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    if ('receiver' in o) await o.close();
    else o.close();
  }
});

async function listen(receiver: 'recvmmsg' | 'dgram', address = '127.0.0.1') {
  const counters = new IngestCounters();
  const got: string[] = [];
  const listener = await startUdpListener({
    address,
    port: 0,
    receiveBufferBytes: 8 << 20,
    receiver,
    counters,
    logger: silent,
    onDatagram: (buf, start, end) => got.push(buf.toString('latin1', start, end)),
  });
  open.push(listener);
  return { listener, counters, got };
}

function sender(type: 'udp4' | 'udp6' = 'udp4'): Socket {
  const s = createSocket(type);
  open.push(s);
  return s;
}

function send(s: Socket, msg: string | Buffer, port: number, address = '127.0.0.1'): Promise<void> {
  return new Promise((resolve, reject) => s.send(msg, port, address, (err) => (err ? reject(err) : resolve())));
}

describe.each(['recvmmsg', 'dgram'] as const)('startUdpListener with receiver %s', (receiver) => {
  it.skipIf(receiver === 'recvmmsg' && loadMmsgAddon() instanceof Error)('uses the receive path asked for', async () => {
    const { listener } = await listen(receiver);
    expect(listener.receiver).toBe(receiver);
    expect(listener.port).toBeGreaterThan(0);
    expect(listener.receiveBufferBytes).toBeGreaterThan(0);
  });

  it.skipIf(receiver === 'recvmmsg' && loadMmsgAddon() instanceof Error)(
    'delivers every datagram of a burst many batches long, each whole and in order',
    async () => {
      const { listener, counters, got } = await listen(receiver);
      const s = sender();
      const sent: string[] = [];
      // Sent without waiting for each callback, so the socket queue holds many batches at once.
      const pending: Promise<void>[] = [];
      for (let i = 0; i < 2000; i++) {
        const msg = `burst.${i}:${i}|c|#n:${'x'.repeat(i % 97)}`;
        sent.push(msg);
        pending.push(send(s, msg, listener.port));
      }
      await Promise.all(pending);
      await waitFor(() => expect(got.length).toBe(sent.length), 5000);
      expect(got).toEqual(sent);
      expect(counters.packets.udp).toBe(2000);
      expect(counters.bytes.udp).toBe(sent.reduce((a, m) => a + m.length, 0));
    },
  );

  it.skipIf(receiver === 'recvmmsg' && loadMmsgAddon() instanceof Error)('takes the largest IPv4 datagram whole', async () => {
    const { listener, got } = await listen(receiver);
    const big = Buffer.alloc(MAX_DATAGRAM, 'a');
    big.write('big:1|c\n', 0);
    await send(sender(), big, listener.port);
    await waitFor(() => expect(got).toHaveLength(1), 5000);
    expect(got[0]!.length).toBe(MAX_DATAGRAM);
    expect(got[0]!.startsWith('big:1|c\naaa')).toBe(true);
  });

  it.skipIf(receiver === 'recvmmsg' && loadMmsgAddon() instanceof Error)('listens on IPv6', async () => {
    const { listener, got } = await listen(receiver, '::1');
    await send(sender('udp6'), 'v6:1|c', listener.port, '::1');
    await waitFor(() => expect(got).toEqual(['v6:1|c']), 5000);
  });

  it.skipIf(receiver === 'recvmmsg' && loadMmsgAddon() instanceof Error)(
    'refuses a port another socket holds, naming it; after close the port is free again',
    async () => {
      const { listener } = await listen(receiver);
      const again = startUdpListener({
        address: '127.0.0.1',
        port: listener.port,
        receiveBufferBytes: 0,
        receiver,
        counters: new IngestCounters(),
        logger: silent,
        onDatagram: () => undefined,
      });
      await expect(again).rejects.toThrow(`statsd UDP address 127.0.0.1:${listener.port} is already in use by another process`);
      await listener.close();
      open.splice(open.indexOf(listener), 1);
      const { listener: rebound, got } = await listen(receiver);
      expect(rebound.port).toBeGreaterThan(0);
      await send(sender(), 'after:1|c', rebound.port);
      await waitFor(() => expect(got).toEqual(['after:1|c']), 5000);
    },
  );

  it.skipIf(receiver === 'recvmmsg' && loadMmsgAddon() instanceof Error)('delivers nothing after close', async () => {
    const { listener, got } = await listen(receiver);
    const port = listener.port;
    await listener.close();
    open.splice(open.indexOf(listener), 1);
    await send(sender(), 'late:1|c', port).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toEqual([]);
  });
});
