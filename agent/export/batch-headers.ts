/** Carries the flush's batch id, so a receiver (or a proxy in front of it) can drop a replayed duplicate. */
export const BATCH_ID_HEADER = 'x-tally-batch-id';
/** "k/n": the k-th of the n requests one batch became; a receiver that de-duplicates keys on the id and the part. */
export const BATCH_PART_HEADER = 'x-tally-batch-part';

/**
 * Headers no configured `headers:` entry may set, whatever the sink: the
 * batch headers, and those the HTTP client owns. Each sink adds the ones its
 * protocol reserves.
 */
export const CLIENT_OWNED_HEADERS: readonly string[] = [
  BATCH_ID_HEADER,
  BATCH_PART_HEADER,
  'content-length',
  'transfer-encoding',
  'host',
  'connection',
  'keep-alive',
  'upgrade',
  'expect',
];
