import type { Logger } from 'pino';
import type { CollectJournal } from './ingest/collect/journal.js';
import type { CollectHandler } from './ingest/collect/handler.js';

/**
 * Applies again the collect requests a crash left in the journal: they were
 * answered 2xx but had not reached the sink queues. They join the next flush.
 */
export async function replayJournal(journal: CollectJournal, collect: CollectHandler, logger: Logger): Promise<void> {
  let requests = 0;
  let accepted = 0;
  let rejected = 0;
  let damaged = 0;
  for await (const r of journal.pending()) {
    if ('error' in r) {
      damaged++;
      logger.error({ seq: r.seq }, r.error);
    } else {
      const out = collect.replay(r.type, r.body, r.receivedAtMs);
      requests++;
      accepted += out.accepted;
      rejected += out.rejected;
    }
    journal.markApplied(r.seq);
  }
  if (requests + damaged > 0 || journal.stats().records > 0) {
    logger.info({ requests, items_accepted: accepted, items_rejected: rejected, damaged, recovery: journal.recovery }, 'replayed the HTTP collect journal');
  }
}
