import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { listenError } from '../ingest/listen-error.js';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface HttpServerOptions {
  address: string;
  port: number;
  logger: Logger;
  /** GET of metricsPath: the Prometheus exposition. */
  metrics: RequestHandler;
  /** Where the exposition is served; /metrics unless http.metrics_path (--web.telemetry-path) says otherwise. */
  metricsPath?: string;
  /** Readiness: true once every listener is bound. */
  ready: () => boolean;
  /** Health: the names of sinks stuck with a full queue and no delivery; empty when healthy. */
  stalled?: () => string[];
  /** POST /v1/collect; absent when the collect API is off. */
  collect?: RequestHandler;
  /** A client must have sent all its headers within this many ms. */
  headersTimeoutMs?: number;
  /** ... and its whole request, body included. */
  requestTimeoutMs?: number;
}

export interface HttpServer {
  address: string;
  port: number;
  close(): Promise<void>;
}

export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServer> {
  const headersTimeout = opts.headersTimeoutMs ?? 10_000;
  const requestTimeout = opts.requestTimeoutMs ?? 30_000;
  const metricsPath = opts.metricsPath ?? '/metrics';
  const server = createServer(
    {
      headersTimeout,
      requestTimeout,
      // Node checks the two timeouts on this period (30 s by default), so a short timeout needs a shorter period.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 4))),
    },
    (req, res) => {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const path = q === -1 ? url : url.slice(0, q);
      if (path === '/v1/collect' && opts.collect !== undefined) {
        if (req.method === 'POST') opts.collect(req, res);
        else res.writeHead(405, { allow: 'POST', 'content-type': 'text/plain' }).end('method not allowed: POST only\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
        return;
      }
      if (path === metricsPath) {
        opts.metrics(req, res);
        return;
      }
      switch (path) {
        // statsd_exporter's probe paths too, so a pod spec written for it keeps working.
        case '/-/healthy':
        case '/healthz': {
          // A stuck agent must not look healthy: a sink that delivers nothing while data waits fails the check.
          const stalled = opts.stalled?.() ?? [];
          if (stalled.length === 0) res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
          else res.writeHead(503, { 'content-type': 'text/plain' }).end(`sink stalled (nothing delivered within stall_timeout): ${stalled.join(', ')}\n`);
          return;
        }
        case '/-/ready':
        case '/readyz': {
          const ready = opts.ready();
          res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'not ready\n');
          return;
        }
        default:
          res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: try ${metricsPath}, /healthz or /readyz\n`);
      }
    },
  );
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(listenError('HTTP', opts.address, opts.port, err));
    server.once('error', onError);
    server.listen(opts.port, opts.address, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => opts.logger.error({ err }, 'HTTP server error'));
  const bound = server.address() as AddressInfo;
  return {
    address: bound.address,
    port: bound.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
