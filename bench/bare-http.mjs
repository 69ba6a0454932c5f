// Baseline server for bench/http-collect.mjs: a bare node:http server that
// reads each request body and answers 202 {"accepted":1}, as the agent does
// for a single event, but checks and records nothing. It has the agent's
// server options (timeouts, keep-alive), so the gap between its figures and
// the agent's is what the agent does per request; its own figures are the
// floor of any Node.js HTTP/1.1 server on this core.
//
//   node bench/bare-http.mjs [--address 127.0.0.1] [--port 0]
//
// stdout: {"event":"listening","http":"127.0.0.1:PORT"}; exits on SIGTERM.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: { address: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '0' } },
});

// The agent's 202 to the byte: same body, same headers, Content-Length (not chunked).
const BODY = '{"accepted":1}\n';
const HEADERS = ['content-type', 'application/json', 'cache-control', 'no-store', 'content-length', String(BODY.length)];
let requests = 0;
const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 1000 }, (req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    requests++;
    res.writeHead(202, HEADERS).end(BODY);
  });
});
server.keepAliveTimeout = 5_000;
server.listen(Number(args.port), args.address, () => {
  const { address, port } = server.address();
  process.stdout.write(JSON.stringify({ event: 'listening', http: `${address}:${port}` }) + '\n');
});
const stop = () => {
  process.stdout.write(JSON.stringify({ event: 'final', requests }) + '\n');
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
