// Baseline receiver for `npm run bench`: a bare Node.js dgram socket that only
// counts packets and bytes. If this loses packets at a given rate, no Node.js
// statsd receiver on the same core can do better, so it bounds what the agent
// can be expected to reach.
//
//   node bench/bare-udp.mjs [--address 127.0.0.1] [--port 0] [--rcvbuf 33554432] [--interval-ms 250]
//
// stdout, one JSON object per line:
//   {"event":"listening","udp":"127.0.0.1:PORT","rcvbuf_requested":N,"rcvbuf":N}
//   {"event":"counts","packets":N,"bytes":N}     every --interval-ms
//   {"event":"final","packets":N,"bytes":N}      on SIGTERM/SIGINT, then exit
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    address: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    // Same SO_RCVBUF request as the agent's default receive_buffer_bytes, so
    // the baseline differs from the agent only in what happens per packet.
    rcvbuf: { type: 'string', default: '33554432' },
    'interval-ms': { type: 'string', default: '250' },
  },
});

let packets = 0;
let bytes = 0;
const rcvbufRequested = Number(args.rcvbuf);
const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: rcvbufRequested });

socket.on('message', (msg) => {
  packets++;
  bytes += msg.length;
});

socket.on('error', (err) => {
  process.stderr.write(`bare-udp: ${err.message}\n`);
  process.exit(1);
});

const line = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

socket.bind(Number(args.port), args.address, () => {
  const { address, port } = socket.address();
  // Linux reports twice the granted size (the kernel doubles it for overhead).
  line({ event: 'listening', udp: `${address}:${port}`, rcvbuf_requested: rcvbufRequested, rcvbuf: socket.getRecvBufferSize() });
});

const timer = setInterval(() => line({ event: 'counts', packets, bytes }), Number(args['interval-ms']));

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    clearInterval(timer);
    line({ event: 'final', packets, bytes });
    socket.close();
    process.exit(0);
  });
}
