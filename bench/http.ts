/**
 * `npm run bench`, first table (issue 14): the HTTP path against the engine and raw DynamoDB, all in one
 * run on one FRESH data dir, with the service started as `npm start` starts it (bin/local.ts: DynamoDB
 * Local persisted under the data dir with its default heap, the read-after-write barrier, group commit,
 * the security-event stream reader; IPAM_QUIET=1). Every phase is CONCURRENCY-way (default 32):
 *
 *   raw conditional PutItem (before) → raw GetItem → the engine in this process (group commit, the
 *   service's store options) → signed HTTP allocations (unique vm each) → the same with a unique MAC
 *   and hostname each, in a pool with a DNS domain (two claim items more per transaction; issue 11
 *   wants it within 10% of the plain rate) → HTTP lookups → HTTP releases → raw conditional PutItem (after)
 *
 * Raw calls and the in-process engine use their own tables in the service's own DynamoDB Local. The
 * service's DynamoDB calls are counted per command (bench/ddb-counter.ts, preloaded into it).
 *
 *   npm run bench:http                                   # BENCH_SECONDS=20 per phase, BENCH_WARMUP=10
 *   BENCH_SECONDS=3 BENCH_WARMUP=1 npm run bench:http    # a quick check that it works
 *   BENCH_CONCURRENCY=32 IPAM_GROUP_COMMIT=0 npm run bench:http   # service settings pass through the env
 *
 * Prints progress, one line per phase, and at the end a markdown table for docs/benchmarks.md.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { ensureTable, LOCAL_CREDENTIALS } from '../lib/local/dynamodb-local.js';
import { documentClient, DynamoStore } from '../lib/dynamo/store.js';
import { Ipam } from '../lib/engine/ipam.js';
import { ddbCounts, ddbDelta, snapshot, type DdbCounts } from './ddb-counter.js';
import { rawPut } from './raw.js';
import { CONCURRENCY, f0, f1, line, rate, type Rate } from './measure.js';
import { benchOnFreshService } from './service.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 10);
const ctx = { principal: 'bench' };

/** Calls per operation, table commands and stream reads apart. */
function perOp(d: DdbCounts, ops: number): { command: string; per: number; retries: number; errors: number }[] {
  return Object.entries(d)
    .map(([command, c]) => ({ command, per: c.calls / ops, retries: (c.attempts - c.calls) / ops, errors: c.errors / ops }))
    .sort((a, b) => b.per - a.per);
}

const started = new Date();
benchOnFreshService('http', async (svc, raw) => {
  console.log(`  ready: first allocation ${(svc.firstAllocationMs / 1000).toFixed(1)} s after start; API ${svc.url}, DynamoDB Local ${svc.ddb}`);
  const run = randomBytes(3).toString('hex');
  const rawTable = `bench-raw-${run}`;
  const engineTable = `bench-engine-${run}`;
  await ensureTable(raw, rawTable);
  await ensureTable(raw, engineTable);
  // The engine as the service builds it (lib/local/service.ts): same client settings, the barrier, default group commit.
  const engine = new Ipam(new DynamoStore(documentClient({ endpoint: svc.ddb, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 5 }), engineTable, { readAfterWrite: true }));
  const c = svc.client;
  await engine.createPool('bench', 'z', 'engine', { ranges: ['10.64.0.0/12'] }, ctx);
  await c.createPool('bench', 'z', 'http', { ranges: ['10.96.0.0/12'] });
  await c.createPool('bench', 'z', 'warm', { ranges: ['10.112.0.0/12'] });
  await c.createPool('bench', 'z', 'claims', { ranges: ['10.128.0.0/12'], dns: { domain: 'bench.example.com' } });
  await engine.createPool('bench', 'z', 'warm', { ranges: ['10.112.0.0/12'] }, ctx);

  const put = (tag: string) => rawPut(raw, rawTable, tag);
  const allocHttp = (pool: string, tag: string) => (i: number) => c.allocate('bench', 'z', pool, { vm: `${tag}-${i}` });
  const allocEngine = (pool: string, tag: string) => (i: number) => engine.allocate({ cloud: 'bench', zone: 'z', pool, holder: { kind: 'vm', id: `${tag}-${i}` } }, ctx);

  if (WARMUP > 0) {
    console.log(`warming up (${WARMUP} s each: PutItem, engine, HTTP allocations)...`);
    await rate('warm-up PutItem', WARMUP, put('warm'));
    await rate('warm-up engine', WARMUP, allocEngine('warm', 'warm'));
    await rate('warm-up HTTP', WARMUP, allocHttp('warm', 'warm'));
  }

  const phases: [string, Rate][] = [];
  const phase = async (label: string, fn: (i: number) => Promise<unknown>, limit?: number) => {
    console.log(`${label}...`);
    const r = await rate(label, SECONDS, fn, limit);
    line(`  ${label}`, r);
    phases.push([label, r]);
    return r;
  };

  const putBefore = await phase('raw conditional PutItem, before', put('before'));
  const get = await phase('raw GetItem', (i) => raw.send(new GetItemCommand({ TableName: rawTable, Key: { pk: { S: `RAW#before#${i % putBefore.n}` }, sk: { S: 'R' } } })));
  let mark = snapshot();
  const eng = await phase('engine in process, group commit', allocEngine('engine', 'e'));
  const engineCalls = perOp(ddbDelta(mark, ddbCounts), eng.n);

  // HTTP: allocations with a unique vm each; then lookups and releases of what they allocated.
  const addresses: string[] = [];
  let svcMark = await svc.ddbCounts();
  const alloc = await phase('HTTP allocations (signed, unique vm)', async (i) => addresses.push((await c.allocate('bench', 'z', 'http', { vm: `h-${i}` })).allocation.address));
  let svcNow = await svc.ddbCounts();
  const allocCalls = perOp(ddbDelta(svcMark, svcNow), alloc.n);
  // The same, right after, each with a MAC and a hostname of its own: a MAC and an FQDN claim each.
  const mac = (i: number) => `02:00:${[24, 16, 8, 0].map((b) => ((i >>> b) & 255).toString(16).padStart(2, '0')).join(':')}`;
  const claimed = await phase('HTTP allocations with a unique MAC and hostname', (i) => c.allocate('bench', 'z', 'claims', { vm: `m-${i}`, mac: mac(i), hostname: `m-${i}` }));
  svcMark = await svc.ddbCounts();
  const lookup = await phase('HTTP lookups', (i) => c.lookup('bench', addresses[i % addresses.length]!));
  svcNow = await svc.ddbCounts();
  const lookupCalls = perOp(ddbDelta(svcMark, svcNow), lookup.n);
  svcMark = svcNow;
  const release = await phase('HTTP releases', (i) => c.release('bench', addresses[i]!), addresses.length);
  svcNow = await svc.ddbCounts();
  const releaseCalls = perOp(ddbDelta(svcMark, svcNow), release.n);
  const putAfter = await phase('raw conditional PutItem, after', put('after'));
  if (release.n === addresses.length && release.n > 0) console.log(`  (the releases ran out of allocations after ${release.n}: their rate is over a shorter time)`);

  const check = await c.getPool('bench', 'z', 'http');
  const errors = phases.reduce((a, [, r]) => a + r.errors, 0);
  // The faster of the two PutItem phases (docs/benchmarks.md): a cold first phase must not flatter the ratios.
  const putRef = Math.max(putBefore.perSec, putAfter.perSec);
  const ratios: [string, number, string][] = [
    ['HTTP allocations / raw PutItem (the faster of before and after)', alloc.perSec / putRef, '≥ 0.6'],
    ['HTTP allocations / engine in process', alloc.perSec / eng.perSec, '≥ 0.85'],
    ['HTTP allocations with MAC and hostname / plain HTTP allocations', claimed.perSec / alloc.perSec, '≥ 0.9'],
    ['HTTP releases / raw PutItem', release.perSec / putRef, '≥ 0.5'],
    ['HTTP lookups / raw GetItem', lookup.perSec / get.perSec, '≥ 0.8'],
    ['engine in process / raw PutItem', eng.perSec / putRef, ''],
  ];
  console.log('');
  for (const [k, v, t] of ratios) console.log(`${k.padEnd(66)} ${v.toFixed(2)}${t ? `   (target ${t}: ${v >= Number(t.slice(2)) ? 'met' : 'NOT met'})` : ''}`);
  console.log(`pool check: ${check.allocated} allocated after ${alloc.n} allocations and ${release.n} releases (expected ${alloc.n - release.n}); ${errors} errors in all phases`);

  const callsTable = (title: string, rows: ReturnType<typeof perOp>) => [
    `DynamoDB calls per ${title}:`,
    ...rows.map((r) => `  ${r.command.padEnd(52)} ${r.per.toFixed(2)}${r.retries > 0.005 ? `  (+${r.retries.toFixed(2)} retries)` : ''}${r.errors > 0.005 ? `  (${r.errors.toFixed(2)} failed)` : ''}`),
    `  ${'total'.padEnd(52)} ${rows.reduce((a, r) => a + r.per, 0).toFixed(2)}`,
  ];
  console.log(['', ...callsTable('HTTP allocation (the service; stream reads are per allocation too, over the same time)', allocCalls), ...callsTable('HTTP lookup', lookupCalls), ...callsTable('HTTP release', releaseCalls), ...callsTable('allocation of the in-process engine (this process)', engineCalls)].join('\n'));

  const row = (label: string, r: Rate, ratio = '') => `| ${label} | ${f0(r.perSec)} /s | ${f1(r.p50)} ms | ${f1(r.p99)} ms | ${ratio} |`;
  const md = [
    '',
    `Fresh data dir, one run, ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC; ${os.cpus().length} cores (${os.cpus()[0]?.model}), node ${process.version}; ${CONCURRENCY}-way, ${SECONDS} s per phase after ${WARMUP} s warm-up each.`,
    '',
    '| figure | rate | p50 | p99 | ratio |',
    '|---|---|---|---|---|',
    row('raw conditional `PutItem`, before', putBefore),
    row('raw `GetItem`', get),
    row('engine in process, group commit, read-after-write barrier', eng, `${(eng.perSec / putRef).toFixed(2)} of PutItem`),
    row('HTTP allocations (signed, unique `vm`)', alloc, `${(alloc.perSec / putRef).toFixed(2)} of PutItem, ${(alloc.perSec / eng.perSec).toFixed(2)} of the engine`),
    row('HTTP allocations with a unique MAC and hostname (MAC and FQDN claims)', claimed, `${(claimed.perSec / alloc.perSec).toFixed(2)} of plain HTTP allocations`),
    row('HTTP lookups', lookup, `${(lookup.perSec / get.perSec).toFixed(2)} of GetItem`),
    row('HTTP releases', release, `${(release.perSec / putRef).toFixed(2)} of PutItem`),
    row('raw conditional `PutItem`, after', putAfter),
    '',
    '| DynamoDB calls (service) | per HTTP allocation | per HTTP lookup | per HTTP release |',
    '|---|---|---|---|',
    ...[...new Set([...allocCalls, ...lookupCalls, ...releaseCalls].map((r) => r.command))].map((cmd) => {
      const at = (rows: ReturnType<typeof perOp>) => rows.find((r) => r.command === cmd)?.per.toFixed(2) ?? '0';
      return `| ${cmd} | ${at(allocCalls)} | ${at(lookupCalls)} | ${at(releaseCalls)} |`;
    }),
  ];
  console.log(md.join('\n'));
  if (errors > 0) process.exitCode = 1;
}, {}, {
  countDdb: true,
  before: (dataDir) => {
    console.log(`HTTP benchmark: fresh data dir ${dataDir}; ${os.cpus().length} cores (${os.cpus()[0]?.model}), node ${process.version}, concurrency ${CONCURRENCY}, ${SECONDS} s per phase after ${WARMUP} s warm-up`);
    console.log('starting the local service (bin/local.ts, as `npm start` does)...');
  },
});
