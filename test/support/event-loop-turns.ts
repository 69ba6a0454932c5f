/**
 * Runs `fn` and counts the turns of the event loop it gave meanwhile: a
 * callback that re-queues itself in the check phase runs once per turn, and
 * a long task that never yields gives none.
 */
export async function countTurns<T>(fn: () => Promise<T>): Promise<{ result: T; turns: number }> {
  let turns = 0;
  let ticker: NodeJS.Immediate | undefined;
  const tick = () => {
    turns++;
    ticker = setImmediate(tick);
  };
  ticker = setImmediate(tick);
  try {
    const result = await fn();
    return { result, turns };
  } finally {
    clearImmediate(ticker);
  }
}
