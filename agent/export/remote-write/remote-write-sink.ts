import type { Logger } from 'pino';
import type { Sink } from '../sink.js';
import { RemoteWriteSender, type RemoteWriteSenderOptions } from './http-sender.js';
import { RemoteWriteEncoder, type RemoteWriteEncoderOptions } from './remote-write-encoder.js';

export interface RemoteWriteSinkOptions extends RemoteWriteSenderOptions, Omit<RemoteWriteEncoderOptions, 'onSkipped'> {
  name: string;
  /** Told once per metric and reason when something cannot be sent. */
  logger?: Logger;
}

/**
 * The Prometheus remote-write 1.0 push sink: encode() makes the requests the
 * spool stores, send() makes one attempt and says whether to retry. Throws
 * at creation on options that could never work (reserved headers, invalid
 * external labels, two kinds of credentials).
 */
export function createRemoteWriteSink(opts: RemoteWriteSinkOptions): Sink {
  const warned = new Set<string>();
  const encoder = new RemoteWriteEncoder({
    version: opts.version,
    externalLabels: opts.externalLabels,
    maxSeriesPerRequest: opts.maxSeriesPerRequest,
    nativeHistograms: opts.nativeHistograms,
    onSkipped: (metric, reason) => {
      const key = `${metric}\u0000${reason}`;
      if (warned.has(key)) return;
      warned.add(key);
      opts.logger?.warn({ sink: opts.name, metric, reason }, 'remote write leaves a metric out');
    },
  });
  const sender = new RemoteWriteSender(opts);
  return {
    name: opts.name,
    encode: (snapshot) => encoder.encode(snapshot),
    send: (request, signal) => sender.send(request, signal),
    close: () => sender.close(),
  };
}
