/**
 * POST /v1/collect: metrics and events over HTTP, as JSON items or as statsd
 * lines. With a journal, a 2xx means the request is durable on disk: it is
 * replayed after a crash until a flush has put it into the sink queues.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { CollectStats } from '../../telemetry/collect-stats.js';
import type { Source } from '../source.js';
import { bodyRefusal, createAdmission, type AdmissionOptions, type Admitted } from './admission.js';
import { CollectAnswers, refusal, type Applied } from './answers.js';
import { BodyDecoder, type BodyDecoderOptions } from './body-decoder.js';
import type { CollectBodyType, CollectJournal } from './journal.js';
import { readBody, type BodyOutcome } from './request-body.js';

export interface CollectOptions extends AdmissionOptions, BodyDecoderOptions {
  logger: Logger;
  /** Responses, refusals and items are counted here, as a listener counts in the IngestCounters it is given. */
  counters: CollectStats;
  /** Write-ahead journal; absent, a 2xx means aggregated in memory only. */
  journal?: Pick<CollectJournal, 'append' | 'markApplied'>;
}

export interface CollectHandler extends Source {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Applies a journaled body again (start-up replay): the same checks and counts as when it first came in. */
  replay(type: CollectBodyType, body: Buffer, receivedAtMs: number): { accepted: number; rejected: number };
  /**
   * Turns requests away from now on and resolves once those already taken
   * are applied or given up, so a last flush after it holds everything this
   * source took in; a journaled request waits out its fsync first (no
   * timeout: a write that never ends would hold the spool's close after it
   * just the same). It does not wait for their answers. In the agent the
   * HTTP server closes first, and every connection with it: a body still
   * arriving is given up as aborted, and a client whose request was applied
   * here may see no answer and send it again (at least once, as after a
   * crash). So no request reaches a closed source there; one that does
   * has its connection closed unanswered and uncounted, as the server's
   * close does: nothing was taken, and a client resends over a connection
   * that failed. Journal replay is not held: the spool drives it, and a
   * replay after the last flush is not released, so it runs again at the
   * next start.
   */
  close(): Promise<void>;
}

const JOURNAL_UNAVAILABLE = refusal(503, 'journal_unavailable', 'the request could not be stored durably; retry later', { 'retry-after': '1' });

export function createCollectHandler(opts: CollectOptions): CollectHandler {
  const { counters, logger } = opts;
  const admit = createAdmission(opts);
  const decoder = new BodyDecoder(opts);
  const answers = new CollectAnswers(counters);

  let closed = false;
  let closing: Promise<void> | undefined;
  // Requests taken whose body is being read or journaled: they may still reach the aggregator.
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const settled = () => {
    if (--inFlight === 0 && drained !== undefined) drained();
  };

  const countItems = (r: Applied) => {
    counters.itemsAccepted += r.accepted;
    for (const b of r.bad) counters.bump(counters.items, b.reason);
  };
  const answer = (res: ServerResponse, r: Applied) => {
    countItems(r);
    answers.applied(res, r);
  };
  const internalError = (res: ServerResponse, err: unknown) => {
    logger.error({ err }, 'HTTP collect failed');
    answers.internalError(res);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (closed) {
      req.socket.destroy();
      return;
    }
    const admitted = admit(req);
    if (!admitted.ok) {
      answers.refuse(req, res, admitted);
      return;
    }
    inFlight++;
    readBody(req, admitted.gzip, opts.maxBodyBytes, (result) => {
      const journaling = take(req, res, admitted, result);
      if (journaling === undefined) settled();
      else void journaling.finally(settled);
    });
  };

  /** Decodes, journals, applies and answers a body; a promise while it waits on the journal. */
  const take = (req: IncomingMessage, res: ServerResponse, admitted: Admitted, result: BodyOutcome): Promise<void> | undefined => {
    if (result === undefined) {
      // The client went away mid-body: nobody to answer.
      counters.bump(counters.requestErrors, 'aborted');
      return undefined;
    }
    if (typeof result === 'string') {
      answers.refuse(req, res, bodyRefusal(result, opts.maxBodyBytes, admitted.gzip));
      return undefined;
    }
    try {
      if (!admitted.json) return durably(req, res, 'text', result, () => decoder.applyText(result));
      // A body that is not JSON is refused before it reaches the journal.
      const decoded = decoder.decodeJson(result);
      if (!decoded.ok) {
        answers.refuse(req, res, decoded);
        return undefined;
      }
      return durably(req, res, 'json', result, (receivedAtMs) => decoder.applyJson(decoded, receivedAtMs));
    } catch (err) {
      internalError(res, err);
      return undefined;
    }
  };

  /**
   * Journals the body, then applies it and answers. Nothing is applied and
   * the client is told to retry when the journal cannot take the request.
   */
  const durably = (
    req: IncomingMessage,
    res: ServerResponse,
    type: CollectBodyType,
    body: Buffer,
    apply: (receivedAtMs: number) => Applied,
  ): Promise<void> | undefined => {
    const receivedAtMs = Date.now();
    const journal = opts.journal;
    if (journal === undefined) {
      answer(res, apply(receivedAtMs));
      return undefined;
    }
    return journal.append(type, body, receivedAtMs).then(
      (seq) => {
        let r: Applied;
        try {
          r = apply(receivedAtMs);
        } catch (err) {
          internalError(res, err);
          return;
        } finally {
          journal.markApplied(seq);
        }
        answer(res, r);
      },
      (err: unknown) => {
        logger.error({ err }, 'HTTP collect: could not journal the request; answered 503');
        answers.refuse(req, res, JOURNAL_UNAVAILABLE);
      },
    );
  };

  const replayJson = (body: Buffer, receivedAtMs: number): Applied => {
    const decoded = decoder.decodeJson(body);
    return decoded.ok ? decoder.applyJson(decoded, receivedAtMs) : { accepted: 0, bad: [{ index: 0, reason: decoded.reason }] };
  };

  const replay = (type: CollectBodyType, body: Buffer, receivedAtMs: number) => {
    const r = type === 'json' ? replayJson(body, receivedAtMs) : decoder.applyText(body);
    countItems(r);
    return { accepted: r.accepted, rejected: r.bad.length };
  };

  const close = (): Promise<void> => {
    closed = true;
    closing ??= inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => (drained = resolve));
    return closing;
  };

  return { handle, replay, close };
}
