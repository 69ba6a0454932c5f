// The demo's application: a small shop written with the Tally client, run
// once as version 1.4 and once as 1.5. It knows nothing of where its data
// goes; every measurement is one line. Version 1.5 is slower on /checkout and
// holds more memory, and "Export PDF" is used far more than "Print", which is
// used once. `node demo/run.mjs` starts it; it is not meant to run alone.
import { collect, collectRuntime, close, time } from 'tally-agent/client';

const version = process.env.DEMO_VERSION ?? '1.4';
const durationMs = Number(process.env.DEMO_DURATION_MS ?? 20_000);
// 1.5 renders the cart twice: checkout takes 1.6 times as long.
const slowdown = version === '1.5' ? 1.6 : 1;
// 1.5 also keeps a cache it never trims: about 60 MB more resident memory.
const cache = version === '1.5' ? Array.from({ length: 60 }, () => Buffer.alloc(1 << 20, 1)) : [];

collectRuntime();

/** A latency in seconds from a log-normal distribution with this median, so p99 sits well above p50. */
function latencySeconds(median) {
  const normal = Math.sqrt(-2 * Math.log(Math.random())) * Math.cos(2 * Math.PI * Math.random());
  return median * Math.exp(0.45 * normal);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function checkout() {
  // Simulated work: the real time is short, the reported duration is what a shop would see.
  await time('checkout.time', async () => {
    await sleep(1);
    if (Math.random() < 0.02 * slowdown) throw new Error('payment declined');
  }, { route: '/checkout' }).catch(() => {});
  collect('checkout.latency', { s: latencySeconds(0.12 * slowdown) }, { route: '/checkout' });
}

const features = [
  ['Export PDF', 0.5],
  ['Search', 0.3],
  ['Share link', 0.15],
  ['Dark mode', 0.05],
];

const end = Date.now() + durationMs;
let printed = false;
while (Date.now() < end) {
  for (let i = 0; i < 20; i++) await checkout();
  collect('page.views', 20, { route: '/checkout' });
  const r = Math.random();
  let acc = 0;
  for (const [feature, share] of features) {
    acc += share;
    if (r < acc) {
      collect('feature-used', feature);
      break;
    }
  }
  // Printing is rare: one person pressed it once, in version 1.4.
  if (!printed && version === '1.4') {
    collect('feature-used', 'Print');
    printed = true;
  }
  await sleep(20);
}
void cache.length;
await close();
