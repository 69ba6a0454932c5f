// Finds what holds the event loop: preloaded into the agent, it writes one
// line to stderr for every callback that runs longer than LONG_TASK_MS (30)
// with its start and end on the clock a CPU profile uses; then
// attribute-long-tasks.mjs reads those lines and the profile and names the
// functions that ran in each. Promise hooks slow the agent down, so read the
// causes from it, not the times.
//
//   node --import ./bench/tools/long-tasks.mjs --cpu-prof --cpu-prof-dir=/tmp/prof \
//        --cpu-prof-interval 500 dist/agent/main.js --config tally.yaml 2> agent.err
//   node bench/tools/attribute-long-tasks.mjs agent.err /tmp/prof/*.cpuprofile
import { createHook } from 'node:async_hooks';
import { writeSync } from 'node:fs';

const thresholdNs = BigInt(Number(process.env.LONG_TASK_MS ?? 30) * 1e6);
const types = new Map();
const starts = new Map();
createHook({
  init(id, type) {
    types.set(id, type);
  },
  before(id) {
    starts.set(id, process.hrtime.bigint());
  },
  after(id) {
    const t0 = starts.get(id);
    if (t0 === undefined) return;
    starts.delete(id);
    const t1 = process.hrtime.bigint();
    // hrtime and V8's profile clock are both CLOCK_MONOTONIC: microseconds line up.
    if (t1 - t0 > thresholdNs) writeSync(2, `LONGTASK ${types.get(id)} ${t0 / 1000n} ${t1 / 1000n} ${(t1 - t0) / 1000000n}ms\n`);
  },
  destroy(id) {
    types.delete(id);
    starts.delete(id);
  },
}).enable();
