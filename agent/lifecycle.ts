import type { Logger } from 'pino';

/**
 * What the agent opened, closed in the reverse order: the last thing opened
 * (the ways in) first, the first (the meter) last. One list instead of a
 * cleanup per step, so a start that fails half way closes exactly what it
 * opened, and a stop closes everything.
 */
export class Lifecycle {
  private readonly closers: Array<{ what: string; close: () => void | Promise<void> }> = [];

  constructor(private readonly logger: Logger) {}

  /** `close` runs at closeAll(), before everything added earlier. */
  defer(what: string, close: () => void | Promise<void>): void {
    this.closers.push({ what, close });
  }

  /** Closes in reverse order; a closer that fails is logged and the rest still run. Each runs once. */
  async closeAll(): Promise<void> {
    for (let c = this.closers.pop(); c !== undefined; c = this.closers.pop()) {
      try {
        await c.close();
      } catch (err) {
        this.logger.error({ err, what: c.what }, 'could not close cleanly');
      }
    }
  }
}
