import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from '../shared/request-handler.js';

/**
 * Wraps a /metrics handler so the text `more()` returns, made at response
 * time, follows the handler's own exposition in the same body. Used for the
 * summaries the OpenTelemetry Prometheus exporter cannot serialize: that
 * exporter answers with a single `res.end(text)` once its collection
 * resolves, and this joins the two there, so the exporter keeps its own
 * settings and headers. Should `more()` throw, the exposition is still
 * served, with a comment saying what is missing. pipeline.ts no longer
 * serves /metrics this way (streamed-metrics.ts does); the exposition
 * writer's tests and bench/scrape.mjs keep it as the reference it matches.
 */
export function appendToExposition(handler: RequestHandler, more: () => string): RequestHandler {
  return (req: IncomingMessage, res: ServerResponse) => {
    const end = res.end;
    res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
      res.end = end;
      let body = chunk;
      if (typeof chunk === 'string') {
        let extra: string;
        try {
          extra = more();
        } catch (err) {
          extra = `# failed to export summaries: ${String(err).replace(/\n/g, ' ')}\n`;
        }
        body = extra === '' || chunk === '' || chunk.endsWith('\n') ? chunk + extra : `${chunk}\n${extra}`;
      }
      return (end as (...args: unknown[]) => ServerResponse).call(this, body, ...rest);
    } as typeof res.end;
    handler(req, res);
  };
}
