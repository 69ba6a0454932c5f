import type { IncomingMessage, ServerResponse } from 'node:http';

/** What the agent's one HTTP server (agent/http-server.ts) hands a request to: /metrics, /v1/collect. */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;
