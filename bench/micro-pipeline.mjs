import { pino } from 'pino';
import { Aggregator } from '../dist/agent/aggregate/aggregator.js';
import { StatsdParser } from '../dist/agent/parse/statsd-line.js';
import { IngestCounters } from '../dist/agent/telemetry/ingest-counters.js';
import { DEFAULT_TIMER_BUCKETS } from '../dist/agent/aggregate/aggregation-config.js';
const B=[0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10];
// TIMER_BUCKETS=11 times timers on the client libraries' 11 bounds instead of the default 128.
const timerBuckets = process.env.TIMER_BUCKETS === '11' ? B : DEFAULT_TIMER_BUCKETS;
const agg = new Aggregator({timerBuckets, histogramBuckets:B, counters:new IngestCounters(), logger:pino({level:'silent'})});
const types=['c','g','ms','h','s','c|@0.5'];
const packets=[];
for(let p=0;p<1000;p++){const lines=[];for(let j=0;j<10;j++){const s=(p*10+j)%1000;const t=types[s%6];lines.push(`bench.metric_${s%100}.${t[0]}:${(s*7)%500}|${t}|#env:prod,host:web-${s%10},route:/api/v${s%3}`)}packets.push(Buffer.from(lines.join('\n')))}
const FRESH=process.env.FRESH==="1";const parser=new StatsdParser();
for(let r=0;r<3;r++){const t0=process.hrtime.bigint();let n=0;for(let k=0;k<300;k++){for(const pk of packets){const c=Buffer.allocUnsafeSlow(pk.length);pk.copy(c);parser.parsePacket(FRESH?c:pk,agg);n+=10}}const dt=Number(process.hrtime.bigint()-t0)/1e9;console.log((n/dt/1e6).toFixed(2),'M metrics/s in-process', 'series', agg.seriesCount)}
