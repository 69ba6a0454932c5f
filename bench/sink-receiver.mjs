// A receiver that takes whatever is POSTed, counts it and answers 200:
// the fastest backend a sink can have, so a replay measures the agent.
//   node bench/sink-receiver.mjs PORT   → prints {"event":"listening","port":N}, then a counts line on SIGUSR2
import { createServer } from 'node:http';

let requests = 0;
let bytes = 0;
const server = createServer((req, res) => {
  req.on('data', (c) => (bytes += c.length));
  req.on('end', () => {
    requests++;
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
});
server.keepAliveTimeout = 10_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => console.log(JSON.stringify({ event: 'listening', port: server.address().port })));
process.on('SIGUSR2', () => console.log(JSON.stringify({ event: 'counts', requests, bytes })));
