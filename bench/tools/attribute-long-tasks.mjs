// Names what ran in each long callback long-tasks.mjs logged: the functions
// with the most samples of the CPU profile inside it, by self time and with
// their callers. See long-tasks.mjs for the command lines.
//
//   node bench/tools/attribute-long-tasks.mjs AGENT_STDERR PROFILE.cpuprofile [--top 12]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '12' } } });
if (positionals.length !== 2) {
  console.error('usage: attribute-long-tasks.mjs AGENT_STDERR PROFILE.cpuprofile [--top N]');
  process.exit(2);
}
const top = Number(values.top);
const prof = JSON.parse(readFileSync(positionals[1], 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const where = (n) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
let t = prof.startTime;
const times = prof.timeDeltas.map((d) => (t += d));
const tasks = readFileSync(positionals[0], 'utf8')
  .split('\n')
  .filter((l) => l.startsWith('LONGTASK '))
  .map((l) => {
    const [, type, start, end, ms] = l.split(' ');
    return { type, start: Number(start), end: Number(end), ms };
  });
for (const task of tasks) {
  const self = new Map();
  const total = new Map();
  for (let i = 0; i < prof.samples.length; i++) {
    if (times[i] < task.start || times[i] > task.end) continue;
    const leaf = byId.get(prof.samples[i]);
    self.set(where(leaf), (self.get(where(leaf)) ?? 0) + 1);
    const seen = new Set();
    for (let id = leaf.id; id !== undefined; id = parent.get(id)) {
      const w = where(byId.get(id));
      if (!seen.has(w)) total.set(w, (total.get(w) ?? 0) + 1);
      seen.add(w);
    }
  }
  const list = (m) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([w, n]) => `    ${String(n).padStart(5)}  ${w}`).join('\n');
  console.log(`${task.type} ${task.ms}\n  self (samples):\n${list(self)}\n  with callees (samples):\n${list(total)}`);
}
