import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { HostCheck } from './ingest/collect/header-checks.js';
import { listenError } from './shared/listen-error.js';
import type { RequestHandler } from './shared/request-handler.js';

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
  /** Why the agent cannot take data durably now (collect not durable, a queue refusing flushes); empty when it can. */
  unready?: () => string[];
  /** Why the agent is unhealthy (a sink stalled, refusing everything, dropping data); empty when healthy. */
  unhealthy?: () => string[];
  /**
   * The DNS-rebinding guard (see ingest/collect/header-checks.ts) for /metrics, which
   * shows every series name and label a page could otherwise read through a
   * rebound name; undefined when off. /v1/collect applies its own; /healthz
   * and /readyz say nothing worth stealing and must answer any probe.
   */
  hostCheck?: HostCheck;
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
        // PUT too: statsd-client's HTTP transport PUTs its statsd lines (and ignores the answer, so a 405 lost them silently).
        if (req.method === 'POST' || req.method === 'PUT') opts.collect(req, res);
        else res.writeHead(405, { allow: 'POST, PUT', 'content-type': 'text/plain' }).end('method not allowed: POST or PUT\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
        return;
      }
      if (path === metricsPath) {
        if (opts.hostCheck !== undefined && !opts.hostCheck(req.headers.host, req.socket.localPort)) {
          res.writeHead(421, { 'content-type': 'text/plain' }).end('Host header not allowed (see http.collect.allowed_hosts)\n');
          return;
        }
        opts.metrics(req, res);
        return;
      }
      switch (path) {
        // statsd_exporter's probe paths too, so a pod spec written for it keeps working.
        case '/-/healthy':
        case '/healthz': {
          // A stuck agent, or one losing data, must not look healthy.
          const problems = opts.unhealthy?.() ?? [];
          if (problems.length === 0) res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
          else res.writeHead(503, { 'content-type': 'text/plain' }).end(problems.join('\n') + '\n');
          return;
        }
        case '/-/ready':
        case '/readyz': {
          const problems = opts.ready() ? (opts.unready?.() ?? []) : ['starting or stopping'];
          if (problems.length === 0) res.writeHead(200, { 'content-type': 'text/plain' }).end('ready\n');
          else res.writeHead(503, { 'content-type': 'text/plain' }).end(`not ready: ${problems.join('; ')}\n`);
          return;
        }
        default:
          res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: try ${metricsPath}, /healthz or /readyz\n`);
      }
    },
  );
  server.keepAliveTimeout = 5_000;
  // A client that shuts down its sending side after the request (nc -N, some
  // HTTP/1.0 clients) still reads the answer. By default Node ends the
  // connection on that FIN at once, so an answer that waits for the journal's
  // fsync was never sent, and the client retried what had been applied. With
  // this, the connection closes after the pending answer instead.
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
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
