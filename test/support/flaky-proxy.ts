/**
 * An HTTP proxy on 127.0.0.1 in front of a real receiver, for outage tests:
 * `up` forwards, `503` answers 503 (with Retry-After) without forwarding,
 * and `down` closes the listening socket, so the sender sees connection
 * refused exactly as with a stopped backend. It records, in order, every
 * request it forwarded and the answer it got.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ProxyMode = 'up' | '503' | 'down';

export interface Forwarded {
  headers: IncomingMessage['headers'];
  body: Buffer;
  status: number;
}

export interface FlakyProxy {
  url(path?: string): string;
  readonly forwarded: Forwarded[];
  /** Requests answered 503 or refused while down do not show up here. */
  refused503: number;
  setMode(mode: ProxyMode): Promise<void>;
  stop(): Promise<void>;
}

export async function startFlakyProxy(target: string): Promise<FlakyProxy> {
  const t = new URL(target);
  let mode: ProxyMode = 'up';
  let server: Server | undefined;
  let port = 0;
  const state = { forwarded: [] as Forwarded[], refused503: 0 };

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks);
          if (mode === '503') {
            state.refused503++;
            res.writeHead(503, { 'retry-after': '1', 'content-type': 'text/plain' }).end('unavailable for the test\n');
            return;
          }
          const headers = { ...req.headers, host: t.host };
          const fwd = request(
            { host: t.hostname, port: t.port, method: req.method, path: req.url, headers },
            (up) => {
              const back: Buffer[] = [];
              up.on('data', (c: Buffer) => back.push(c));
              up.on('end', () => {
                state.forwarded.push({ headers: req.headers, body, status: up.statusCode ?? 0 });
                res.writeHead(up.statusCode ?? 502, up.headers).end(Buffer.concat(back));
              });
            },
          );
          fwd.on('error', (err) => res.writeHead(502).end(String(err)));
          fwd.end(body);
        });
      });
      s.keepAliveTimeout = 1_000;
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as AddressInfo).port;
        server = s;
        resolve();
      });
    });
  const close = () =>
    new Promise<void>((resolve) => {
      const s = server;
      server = undefined;
      if (s === undefined) return resolve();
      s.close(() => resolve());
      s.closeAllConnections();
    });

  await listen();
  return {
    url: (path = t.pathname) => `http://127.0.0.1:${port}${path}`,
    get forwarded() {
      return state.forwarded;
    },
    get refused503() {
      return state.refused503;
    },
    async setMode(next) {
      if (next === 'down' && server !== undefined) await close();
      if (next !== 'down' && server === undefined) await listen();
      mode = next;
    },
    stop: close,
  };
}
