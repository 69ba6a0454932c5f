/**
 * Statsd over a Unix datagram socket (the agent's `statsd.unixgram`
 * listener). Batching, bounds and drop counting are DatagramTransport's; this
 * is the socket. Node.js has no AF_UNIX datagram socket, so it needs the
 * native package `unix-dgram`, which the application installs: it is loaded
 * here, when this transport is chosen, and never otherwise, so the client
 * imports nothing but Node.js built-ins unless asked for this.
 */
import { createRequire } from 'node:module';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatagramTransport, type DatagramSocket, type DatagramSocketEvents } from './datagram-transport.js';
import type { DropListener } from './types.js';

export interface UnixgramTransportOptions {
  /** The agent's socket file. */
  path: string;
  prefix?: string;
  globalTags?: Record<string, string>;
  /** Largest datagram cut from several lines (default 8192, as the DogStatsD clients send over Unix sockets). */
  maxDatagramBytes?: number;
  /** How long a datagram waits for more lines after its first (default 5 ms). */
  flushIntervalMs?: number;
  /** Bytes handed to the socket and not yet sent, past which new datagrams are dropped (default 4 MiB). */
  maxQueuedBytes?: number;
  onDrop?: DropListener;
}

/** The part of unix-dgram used here (it ships no types). */
interface UnixDgramModule {
  createSocket(type: 'unix_dgram'): UnixDgramSocket;
}
interface UnixDgramSocket {
  on(event: 'error', listener: (err: Error) => void): unknown;
  connect(path: string): void;
  send(buf: Buffer, callback: (err?: Error & { code?: unknown }) => void): void;
  close(): void;
}

/** The package's name, in one place: package.test.ts checks this is the only one the client loads. */
const UNIX_DGRAM = 'unix-dgram';
/** After a connect that failed (no agent), datagrams are dropped without trying again for this long. */
const RETRY_MS = 1000;
/**
 * A socket of unix-dgram keeps the event loop alive while open (its poll
 * handle cannot be unreferenced), so it is closed once no datagram went for
 * this long: an application that is done exits that much later, and one that
 * keeps sending keeps its socket.
 */
const IDLE_CLOSE_MS = 20;

let loaded: UnixDgramModule | Error | undefined;
let warned = false;

/**
 * unix-dgram from where this package is installed, else from the
 * application's folder (package managers that keep each package's
 * dependencies apart, such as pnpm, do not let this package see the
 * application's).
 */
function loadUnixDgram(): UnixDgramModule | Error {
  if (loaded !== undefined) return loaded;
  const errors: string[] = [];
  for (const from of [import.meta.url, join(process.cwd(), 'package.json')]) {
    try {
      loaded = createRequire(from)(UNIX_DGRAM) as UnixDgramModule;
      return loaded;
    } catch (err) {
      errors.push((err as Error).message.split('\n')[0]!);
    }
  }
  loaded = new Error(`could not load ${UNIX_DGRAM}: ${[...new Set(errors)].join('; ')}`);
  return loaded;
}

/**
 * Where the agent puts the socket when its config names no path: dsd.sock
 * in $XDG_RUNTIME_DIR/tally-agent, else in tally-agent-<uid> in the temp
 * directory (the agent's defaultSocketDir, for an application run by the
 * same user).
 */
export function defaultUnixgramPath(env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  const dir = runtime !== undefined && runtime.startsWith('/') ? join(runtime, 'tally-agent') : join(tmpdir(), `tally-agent-${process.getuid?.() ?? 'user'}`);
  return join(dir, 'dsd.sock');
}

export class UnixgramTransport extends DatagramTransport {
  constructor(opts: UnixgramTransportOptions) {
    const mod = loadUnixDgram();
    if (mod instanceof Error && !warned) {
      warned = true;
      process.emitWarning(
        `tally client: transport "unixgram" needs the package ${UNIX_DGRAM} (npm install ${UNIX_DGRAM}), which did not load, so every call is dropped and counted as send_error (${mod.message})`,
        'TallyClientWarning',
      );
    }
    const open = (events: DatagramSocketEvents) => {
      // Not reached without the package: `unusable` drops every call before a datagram is cut.
      if (mod instanceof Error) throw mod;
      return new UnixgramSocket(mod, opts.path, events);
    };
    super('unixgram', open, {
      ...opts,
      maxDatagramBytes: opts.maxDatagramBytes ?? 8192,
      unusable: mod instanceof Error ? mod : undefined,
    });
  }
}

const ERRNO_NAMES = new Map<number, string>();
for (const [name, n] of Object.entries(constants.errno)) if (!ERRNO_NAMES.has(n)) ERRNO_NAMES.set(n, name);

/** unix-dgram's errors carry -errno as their code; the transport and onDrop get the name (ECONNREFUSED). */
function errnoError(err: Error & { code?: unknown }, path: string): Error {
  const code = err.code;
  if (code === 1) return Object.assign(new Error(`send to ${path}: congestion (the agent's socket queue is full)`), { code: 'EAGAIN' });
  if (typeof code === 'number' && code < 0) {
    const name = ERRNO_NAMES.get(-code) ?? `errno ${-code}`;
    return Object.assign(new Error(`${err.message.split(' ')[0]} ${path}: ${name}`), { code: name, errno: code });
  }
  return err;
}

/**
 * A connected socket, opened when a datagram is to go: connecting finds an
 * absent agent at once (ENOENT: no socket file; ECONNREFUSED: nobody reads
 * it), and a full agent queue comes back as EAGAIN instead of blocking.
 * unix-dgram sends synchronously, so done is called before send returns.
 * The descriptor is closed when idle and after the agent went away, so a
 * restarted agent (a new socket at the same path) is found again.
 */
class UnixgramSocket implements DatagramSocket {
  private socket: UnixDgramSocket | undefined;
  /** The error an 'error' event carried during connect (unix-dgram emits it synchronously). */
  private emitted: Error | undefined;
  private lastError: Error | undefined;
  private retryAt = 0;
  private idle: NodeJS.Timeout | undefined;
  private sentSinceTick = false;

  constructor(
    private readonly mod: UnixDgramModule,
    private readonly path: string,
    private readonly events: DatagramSocketEvents,
  ) {}

  connect(): void {
    // Connecting is synchronous and done by send, which reports a failure per datagram, with its reason.
    this.events.ready();
  }

  send(buf: Buffer, length: number, done: (err: Error | null) => void): void {
    const err = this.socket === undefined ? (Date.now() < this.retryAt ? this.lastError : this.open()) : undefined;
    if (err !== undefined) {
      done(err);
      return;
    }
    let result: Error | null = null;
    try {
      this.socket!.send(length === buf.length ? buf : buf.subarray(0, length), (e) => {
        if (e) result = errnoError(e, this.path);
      });
    } catch (e) {
      result = e as Error;
    }
    this.sentSinceTick = true;
    const code = (result as NodeJS.ErrnoException | null)?.code;
    // The reader is gone (agent stopped or restarted): the next datagram connects afresh.
    if (code === 'ECONNREFUSED' || code === 'ENOTCONN' || code === 'ECONNRESET' || code === 'EPIPE') this.shut();
    done(result);
  }

  close(): Promise<void> {
    this.shut();
    return Promise.resolve();
  }

  /** A new connected socket, or why there is none (then nothing is tried again for RETRY_MS). */
  private open(): Error | undefined {
    let socket: UnixDgramSocket | undefined;
    this.emitted = undefined;
    try {
      socket = this.mod.createSocket('unix_dgram');
      // Without a listener an 'error' event would throw into the application.
      socket.on('error', (e) => (this.emitted = errnoError(e, this.path)));
      socket.connect(this.path);
    } catch (e) {
      this.emitted = errnoError(e as Error, this.path);
    }
    if (this.emitted !== undefined || socket === undefined) {
      if (socket !== undefined) closeQuietly(socket);
      this.lastError = this.emitted ?? new Error(`could not open a socket to ${this.path}`);
      this.retryAt = Date.now() + RETRY_MS;
      return this.lastError;
    }
    this.socket = socket;
    this.sentSinceTick = true;
    if (this.idle === undefined) {
      this.idle = setInterval(() => this.tick(), IDLE_CLOSE_MS);
      // The open socket keeps the loop alive until it is closed; the timer need not.
      this.idle.unref();
    }
    return undefined;
  }

  /** Closes the socket when nothing was sent since the last tick; one interval, not a timer per datagram. */
  private tick(): void {
    if (this.sentSinceTick) {
      this.sentSinceTick = false;
      return;
    }
    this.shut();
  }

  private shut(): void {
    if (this.idle !== undefined) {
      clearInterval(this.idle);
      this.idle = undefined;
    }
    const s = this.socket;
    this.socket = undefined;
    if (s !== undefined) closeQuietly(s);
  }
}

function closeQuietly(socket: UnixDgramSocket): void {
  try {
    socket.close();
  } catch {
    // close(2) failing leaves nothing to do: the descriptor is gone either way.
  }
}
