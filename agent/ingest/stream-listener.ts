import { chmod, lstat, stat, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { LineFramer } from './line-framer.js';
import { listenError } from '../shared/listen-error.js';
import { WarnLimiter } from '../shared/warn-limiter.js';
import type { IngestCounters } from '../telemetry/ingest-counters.js';
import type { Source } from './source.js';

export interface StreamListenerOptions {
  kind: 'tcp' | 'unix';
  /** Host for tcp, socket path for unix. */
  address: string;
  /** tcp only; 0 picks a free port. */
  port?: number;
  /** Connections beyond this are closed as soon as they are accepted and counted as connection_refused; 0 means no limit. */
  maxConnections: number;
  /** A connection that sends nothing for this long is closed; 0 never closes one. */
  idleTimeoutMs: number;
  maxLineBytes: number;
  /** unix only: permissions of the socket file; default 0o660 (owner and group may send). */
  socketMode?: number;
  /** How long close() lets open connections finish before destroying them; default 1000. */
  closeTimeoutMs?: number;
  logger: Logger;
  /** Runs of complete lines, newline-separated; the buffer may be a view of the socket's read. */
  onLines: (buf: Buffer) => void;
  /** Reads, bytes, connections (accepted, refused, error) and lines too long, counted under this listener's kind. */
  counters: IngestCounters;
}

export interface StreamListener extends Source {
  kind: 'tcp' | 'unix';
  /** The bound host for tcp, the socket path for unix. */
  address: string;
  port?: number;
  connections(): number;
  /**
   * Stops accepting, lets open connections send what they have in flight
   * (their last unterminated line included), then destroys the stragglers.
   * No onLines call happens after it resolves.
   */
  close(): Promise<void>;
}

const DEFAULT_SOCKET_MODE = 0o660;
const DEFAULT_CLOSE_TIMEOUT_MS = 1000;
// Refusals and oversize lines come in floods during an incident; one warning
// per kind per interval is enough to notice, and the counters keep the tally.
const WARN_INTERVAL_MS = 60_000;

export async function startStreamListener(opts: StreamListenerOptions): Promise<StreamListener> {
  const what = opts.kind === 'tcp' ? 'statsd TCP' : 'statsd unix socket';
  const { logger, onLines, counters, kind, maxLineBytes, idleTimeoutMs } = opts;
  const conns = new Set<Socket>();
  let drained: (() => void) | undefined;

  const warnings = new WarnLimiter(WARN_INTERVAL_MS, 0, 64);
  const warnSometimes = (key: string, obj: object, msg: string) => {
    const suppressed = warnings.allow(key, Date.now());
    if (suppressed !== undefined) logger.warn({ ...obj, suppressed }, msg);
  };

  // allowHalfOpen false: a client's FIN means it is done sending, so our side ends too.
  const server: Server = createServer({ allowHalfOpen: false, pauseOnConnect: false });
  // Set only when positive: Node versions disagree on whether 0 means "none" or "no limit".
  if (opts.maxConnections > 0) server.maxConnections = opts.maxConnections;
  server.on('drop', (data) => {
    counters.connection(kind, 'refused');
    warnSometimes(
      'refused',
      { listener: opts.kind, max_connections: opts.maxConnections, remote: data?.remoteAddress },
      `${what}: connection refused, max_connections reached`,
    );
  });

  server.on('connection', (socket: Socket) => {
    counters.connection(kind, 'accepted');
    conns.add(socket);
    const framer = new LineFramer({
      maxLineBytes,
      onLines,
      onOversize: (bytes) => {
        counters.parseError('line_too_long');
        warnSometimes(
          'oversize',
          { listener: opts.kind, bytes, max_line_bytes: maxLineBytes },
          `${what}: line longer than max_line_bytes dropped`,
        );
      },
    });
    // The agent handles each read synchronously, so the stream never queues
    // data in user space: when the agent falls behind, the kernel buffers
    // fill and TCP flow control slows the sender. No pause/resume needed.
    socket.on('data', (chunk: Buffer) => {
      counters.packets[kind]++;
      counters.bytes[kind] += chunk.length;
      framer.push(chunk);
    });
    if (idleTimeoutMs > 0) {
      socket.setTimeout(idleTimeoutMs, () => {
        logger.debug({ listener: opts.kind, idle_timeout_ms: idleTimeoutMs }, `${what}: closing idle connection`);
        socket.destroy();
      });
    }
    socket.on('error', (err: NodeJS.ErrnoException) => {
      counters.connection(kind, 'error');
      // Resets are routine (clients crash, restart, drop); debug keeps them out of the log unless asked for.
      logger.debug({ err, listener: opts.kind }, `${what}: connection error`);
    });
    socket.on('close', (hadError: boolean) => {
      // A clean close (FIN, idle timeout, our shutdown) makes the tail a line: clients often omit the last newline.
      // After a reset the tail is as likely cut off, so it is dropped. Best effort: a reset that races
      // accept() can reach us as a clean end.
      if (!hadError) framer.end();
      conns.delete(socket);
      if (conns.size === 0 && drained) drained();
    });
  });

  // Once listening, accept() can still fail (EMFILE when out of file
  // descriptors); without a handler that would crash the agent. Bind errors
  // before that are listen()'s to report.
  let listening = false;
  server.on('error', (err: NodeJS.ErrnoException) => {
    if (!listening) return;
    counters.connection(kind, 'error');
    warnSometimes(`server:${err.code}`, { err, listener: opts.kind }, `${what}: accepting a connection failed`);
  });

  let boundAddress = opts.address;
  let boundPort: number | undefined;
  let socketIno: number | undefined;
  if (opts.kind === 'tcp') {
    const port = opts.port ?? 0;
    await listen(server, { host: opts.address, port }).catch((err: NodeJS.ErrnoException) => {
      throw listenError(what, opts.address, port, err);
    });
    const a = server.address();
    if (a !== null && typeof a === 'object') {
      boundAddress = a.address;
      boundPort = a.port;
    }
    listening = true;
  } else {
    await listenUnix(server, opts.address, what);
    listening = true;
    try {
      // chmod after bind leaves a moment with the umask's mode; setting the umask
      // instead would change it for the whole process.
      await chmod(opts.address, opts.socketMode ?? DEFAULT_SOCKET_MODE);
      socketIno = (await lstat(opts.address)).ino;
    } catch (err) {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of conns) s.destroy();
      await closed;
      throw new Error(`${what} ${opts.address}: could not set its permissions: ${(err as Error).message}`);
    }
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const serverClosed = new Promise<void>((r) => server.close(() => r()));
      if (conns.size > 0) {
        const allGone = new Promise<void>((r) => (drained = r));
        // end() sends our FIN but keeps reading: what the client already sent still arrives and is handled.
        for (const s of conns) s.end();
        const timer = setTimeout(() => {
          for (const s of conns) s.destroy();
        }, opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS);
        await allGone;
        clearTimeout(timer);
      }
      await serverClosed;
      if (opts.kind === 'unix') await removeOwnSocketFile(opts.address, socketIno);
    })();
    return closing;
  };

  return {
    kind: opts.kind,
    address: boundAddress,
    port: boundPort,
    connections: () => conns.size,
    close,
  };
}

function listen(server: Server, options: { host?: string; port?: number; path?: string }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(options, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/**
 * Binds a unix socket path, taking it over when it is a leftover of a
 * process that died without removing it, and refusing when a live process
 * still accepts connections there or the path is not a socket at all.
 */
async function listenUnix(server: Server, path: string, what: string): Promise<void> {
  try {
    await listen(server, { path });
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw await unixListenError(what, path, err as NodeJS.ErrnoException);
  }
  const st = await lstat(path).catch(() => undefined);
  if (st !== undefined && !st.isSocket()) {
    throw new Error(`${what} ${path} exists and is not a socket; remove it or choose another path`);
  }
  if (await someoneListens(path)) throw new Error(`${what} ${path} is in use by another process that is listening on it`);
  await unlink(path).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw await unixListenError(what, path, err);
  });
  await listen(server, { path }).catch(async (err: NodeJS.ErrnoException) => {
    throw await unixListenError(what, path, err);
  });
}

function someoneListens(path: string): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const probe = createConnection({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    // ECONNREFUSED (nobody accepts) or ENOENT (gone meanwhile): the path is free to take.
    // Anything else (EACCES, EAGAIN from a full backlog) means it may be live: leave it alone.
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code !== 'ECONNREFUSED' && err.code !== 'ENOENT'));
  });
}

async function unixListenError(what: string, path: string, err: NodeJS.ErrnoException): Promise<Error> {
  // libuv reports a missing directory as EACCES, so look before blaming permissions.
  const dirMissing = await stat(dirname(path)).then(
    () => false,
    (e: NodeJS.ErrnoException) => e.code === 'ENOENT' || e.code === 'ENOTDIR',
  );
  if (err.code === 'ENOENT' || dirMissing) return new Error(`${what} ${path}: its directory does not exist`);
  if (err.code === 'EACCES') return new Error(`${what} ${path}: permission denied`);
  if (err.code === 'EADDRINUSE') return new Error(`${what} ${path} is already in use by another process`);
  return new Error(`${what} could not listen on ${path}: ${err.message}`);
}

/**
 * libuv unlinks the path on close; this covers the cases where it could not,
 * without touching a socket another process has bound there since.
 */
async function removeOwnSocketFile(path: string, ino: number | undefined): Promise<void> {
  if (ino === undefined) return;
  const st = await lstat(path).catch(() => undefined);
  if (st !== undefined && st.isSocket() && st.ino === ino) await unlink(path).catch(() => {});
}
