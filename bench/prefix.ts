/**
 * `npm run bench`, prefix pools (issue 15): the allocation rate of /64 blocks from a /48 prefix pool
 * against single addresses from an ordinary /16 pool, in one run on one FRESH data dir, through the
 * local service as `npm start` runs it (signed HTTP, CONCURRENCY-way, unique vm each), and through
 * an engine in this process on the same DynamoDB Local. The phases alternate (/16, /48, /16, /48) so
 * that the table growing under them weighs on both alike; each side's rate is the sum of its two
 * phases. Target: the prefix pool within 10% of the /16 pool.
 *
 *   npm run bench:prefix                                  # BENCH_SECONDS=20 per phase, BENCH_WARMUP=10
 *   BENCH_SECONDS=3 BENCH_WARMUP=1 npm run bench:prefix   # a quick check that it works
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { ensureTable, LOCAL_CREDENTIALS } from '../lib/local/dynamodb-local.js';
import { documentClient, DynamoStore } from '../lib/dynamo/store.js';
import { Ipam } from '../lib/engine/ipam.js';
import { CONCURRENCY, f0, f1, line, rate, type Rate } from './measure.js';
import { benchOnFreshService } from './service.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 10);
const ctx = { principal: 'bench' };

/** Two phases of one side as one rate: all calls over all their time. */
const both = (a: Rate, b: Rate): Rate => ({ n: a.n + b.n, perSec: (a.n + b.n) / (a.secs + b.secs), p50: (a.p50 + b.p50) / 2, p99: Math.max(a.p99, b.p99), errors: a.errors + b.errors, secs: a.secs + b.secs });

const started = new Date();
benchOnFreshService('prefix', async (svc, raw, dataDir) => {
  console.log(`prefix pool benchmark: fresh data dir ${dataDir}; ${os.cpus().length} cores (${os.cpus()[0]?.model}), node ${process.version}, concurrency ${CONCURRENCY}, ${SECONDS} s per phase after ${WARMUP} s warm-up`);
  const engineTable = `bench-prefix-${randomBytes(3).toString('hex')}`;
  await ensureTable(raw, engineTable);
  const engine = new Ipam(new DynamoStore(documentClient({ endpoint: svc.ddb, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 5 }), engineTable, { readAfterWrite: true }));
  const c = svc.client;
  const pools = { v4: { ranges: ['10.32.0.0/16'] }, v6: { ranges: ['2001:db8:7700::/48'], prefixLength: 64 }, warm4: { ranges: ['10.33.0.0/16'] }, warm6: { ranges: ['2001:db8:7701::/48'], prefixLength: 64 } };
  for (const [name, spec] of Object.entries(pools)) {
    await c.createPool('bench', 'z', name, spec);
    await engine.createPool('bench', 'z', name, spec, ctx);
  }
  const http = (pool: string, tag: string) => (i: number) => c.allocate('bench', 'z', pool, { vm: `${tag}-${i}` });
  const inProcess = (pool: string, tag: string) => (i: number) => engine.allocate({ cloud: 'bench', zone: 'z', pool, holder: { kind: 'vm', id: `${tag}-${i}` } }, ctx);
  if (WARMUP > 0) {
    console.log(`warming up (${WARMUP} s each)...`);
    for (const [pool, tag] of [['warm4', 'w4'], ['warm6', 'w6']] as const) {
      await rate('warm-up HTTP', WARMUP, http(pool, tag));
      await rate('warm-up engine', WARMUP, inProcess(pool, tag));
    }
  }
  const phase = async (label: string, fn: (i: number) => Promise<unknown>) => {
    const r = await rate(label, SECONDS, fn);
    line(`  ${label}`, r);
    return r;
  };
  // Each phase numbers its vms apart, so no phase repeats an earlier one's (pool, holder, name).
  const h4a = await phase('HTTP, /16 pool, single addresses (1)', http('v4', 'h4a'));
  const h6a = await phase('HTTP, /48 prefix pool, /64 blocks (1)', http('v6', 'h6a'));
  const h4b = await phase('HTTP, /16 pool, single addresses (2)', http('v4', 'h4b'));
  const h6b = await phase('HTTP, /48 prefix pool, /64 blocks (2)', http('v6', 'h6b'));
  const e4a = await phase('engine, /16 pool, single addresses (1)', inProcess('v4', 'e4a'));
  const e6a = await phase('engine, /48 prefix pool, /64 blocks (1)', inProcess('v6', 'e6a'));
  const e4b = await phase('engine, /16 pool, single addresses (2)', inProcess('v4', 'e4b'));
  const e6b = await phase('engine, /48 prefix pool, /64 blocks (2)', inProcess('v6', 'e6b'));
  const [h4, h6, e4, e6] = [both(h4a, h4b), both(h6a, h6b), both(e4a, e4b), both(e6a, e6b)];
  const errors = h4.errors + h6.errors + e4.errors + e6.errors;
  const v6 = await c.getPool('bench', 'z', 'v6');
  console.log('');
  for (const [k, v] of [['HTTP: /64 blocks from a /48 / addresses from a /16', h6.perSec / h4.perSec], ['engine: /64 blocks from a /48 / addresses from a /16', e6.perSec / e4.perSec]] as const) {
    console.log(`${k.padEnd(58)} ${v.toFixed(2)}   (target ≥ 0.9: ${v >= 0.9 ? 'met' : 'NOT met'})`);
  }
  console.log(`prefix pool check: ${v6.blocks?.allocated} /64 blocks allocated over HTTP after ${h6.n} allocations; ${errors} errors`);
  const row = (label: string, r: Rate, ratio = '') => `| ${label} | ${f0(r.perSec)} /s | ${f1(r.p50)} ms | ${f1(r.p99)} ms | ${ratio} |`;
  console.log(
    [
      '',
      `Fresh data dir, one run, ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC; ${os.cpus().length} cores (${os.cpus()[0]?.model}), node ${process.version}; ${CONCURRENCY}-way, 2 × ${SECONDS} s per figure (alternating) after ${WARMUP} s warm-up each.`,
      '',
      '| figure | rate | p50 | p99 | ratio |',
      '|---|---|---|---|---|',
      row('HTTP allocations, /16 pool, single addresses', h4),
      row('HTTP allocations, /48 prefix pool, /64 blocks', h6, `${(h6.perSec / h4.perSec).toFixed(2)} of the /16 pool`),
      row('engine in process, /16 pool, single addresses', e4),
      row('engine in process, /48 prefix pool, /64 blocks', e6, `${(e6.perSec / e4.perSec).toFixed(2)} of the /16 pool`),
    ].join('\n'),
  );
  if (errors > 0 || v6.blocks?.allocated !== String(h6.n)) process.exitCode = 1;
});
