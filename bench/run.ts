/**
 * `npm run bench`: the engine against a real DynamoDB Local on this machine.
 * Prints one figure per line and a JSON summary at the end (for docs/benchmarks.md).
 *
 *   npm run bench                  # persisted DynamoDB Local (like `npm start`)
 *   npm run bench -- --in-memory   # DynamoDB Local -inMemory
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBClient, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { ensureTable, LOCAL_CREDENTIALS, startDynamoLocal } from '../lib/local/dynamodb-local.js';
import { documentClient, DynamoStore } from '../lib/dynamo/store.js';
import { Ipam } from '../lib/engine/ipam.js';
import { rawPut } from './raw.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const inMemory = process.argv.includes('--in-memory');
const CONCURRENCY = 32;
const N = Number(process.env.BENCH_N ?? 4000);
const ctx = { principal: 'bench' };

const results: Record<string, number | string> = {};
const report = (k: string, v: number | string, unit = '') => {
  results[k] = v;
  console.log(`${k.padEnd(44)} ${typeof v === 'number' ? v.toFixed(v < 10 ? 3 : 0) : v} ${unit}`);
};

async function rate(total: number, fn: (i: number) => Promise<unknown>): Promise<{ perSec: number; p50: number; p99: number }> {
  let next = 0;
  const lat: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < total; i = next++) {
        const s = performance.now();
        await fn(i);
        lat.push(performance.now() - s);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { perSec: total / secs, p50: lat[Math.floor(lat.length * 0.5)]!, p99: lat[Math.floor(lat.length * 0.99)]! };
}

async function main() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ipam-bench-'));
  const ddb = await startDynamoLocal(inMemory ? { heapMb: 4096 } : { dbPath: dir, heapMb: 4096 });
  console.log(`DynamoDB Local ${inMemory ? 'in memory' : `persisted in ${dir}`}; ${os.cpus().length} cores (${os.cpus()[0]?.model}), node ${process.version}, concurrency ${CONCURRENCY}, N=${N}`);
  try {
    const cfg = { endpoint: ddb.endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS };
    const raw = new DynamoDBClient(cfg);
    const table = `bench-${randomBytes(4).toString('hex')}`;
    await ensureTable(raw, table);
    const store = new DynamoStore(documentClient({ ...cfg, maxAttempts: 10 }), table);
    // One engine per caller: one transaction per allocation (as in Lambda, one request per invocation).
    const engines = Array.from({ length: CONCURRENCY }, () => new Ipam(store));
    // All callers through one engine (as in the local service): concurrent allocations share transactions.
    const shared = new Ipam(store);
    const put = (tag: string) => rawPut(raw, table, tag);
    // The floor any atomic design pays: one 4-item transaction (chunk, record, claim, counter) with no engine around it.
    const S = (v: string) => ({ S: v });
    const tx4 = (tag: string) => (i: number) =>
      raw.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Update: { TableName: table, Key: { pk: S(`TXC#${tag}#${i % 1024}`), sk: S('M') }, UpdateExpression: 'ADD used :o, ver :one', ConditionExpression: 'NOT contains(used, :n)', ExpressionAttributeValues: { ':o': { NS: [String(i)] }, ':n': { N: String(i) }, ':one': { N: '1' } } } },
            { Put: { TableName: table, Item: { pk: S(`TXA#${tag}#${i}`), sk: S('A'), vm: S(`vm-${i}`) }, ConditionExpression: 'attribute_not_exists(pk)' } },
            { Put: { TableName: table, Item: { pk: S(`TXH#${tag}#${i}`), sk: S('H') }, ConditionExpression: 'attribute_not_exists(pk)' } },
            { Update: { TableName: table, Key: { pk: S(`TXS#${tag}#${i % 16}`), sk: S('S') }, UpdateExpression: 'ADD allocated :one', ExpressionAttributeValues: { ':one': { N: '1' } } } },
          ],
        }),
      );
    await engines[0]!.createPool('bench', 'z', 'warm', { ranges: ['10.200.0.0/16'] }, ctx);
    await engines[0]!.createPool('bench', 'z', 'rate', { ranges: ['10.100.0.0/14'] }, ctx);
    await engines[0]!.createPool('bench', 'z', 'shared', { ranges: ['10.104.0.0/14'] }, ctx);
    // Warm the JVM and both code paths, then measure each twice, interleaved.
    await rate(2000, put('warm'));
    await rate(1000, (i) => engines[i % CONCURRENCY]!.allocate({ cloud: 'bench', zone: 'z', pool: 'warm', holder: { kind: 'vm', id: `w${i}` } }, ctx));
    await rate(1000, tx4('warm'));
    await rate(1000, (i) => shared.allocate({ cloud: 'bench', zone: 'z', pool: 'warm', holder: { kind: 'vm', id: `ws${i}` } }, ctx));
    const rounds: { put: number; tx: number; alloc: number; grouped: number }[] = [];
    for (let round = 1; round <= 2; round++) {
      const p = await rate(N, put(`r${round}`));
      const a = await rate(N, (i) => engines[i % CONCURRENCY]!.allocate({ cloud: 'bench', zone: 'z', pool: 'rate', holder: { kind: 'vm', id: `r${round}-${i}` } }, ctx));
      const t = await rate(N, tx4(`r${round}`));
      const g = await rate(N, (i) => shared.allocate({ cloud: 'bench', zone: 'z', pool: 'shared', holder: { kind: 'vm', id: `g${round}-${i}` } }, ctx));
      rounds.push({ put: p.perSec, tx: t.perSec, alloc: a.perSec, grouped: g.perSec });
      report(`round ${round}: raw conditional PutItem /s`, p.perSec, `(p50 ${p.p50.toFixed(1)} ms, p99 ${p.p99.toFixed(1)} ms)`);
      report(`round ${round}: raw 4-item TransactWriteItems /s`, t.perSec, `(p50 ${t.p50.toFixed(1)} ms, p99 ${t.p99.toFixed(1)} ms)`);
      report(`round ${round}: engine allocations /s`, a.perSec, `(p50 ${a.p50.toFixed(1)} ms, p99 ${a.p99.toFixed(1)} ms)`);
      report(`round ${round}: ratio allocation / PutItem`, a.perSec / p.perSec);
      report(`round ${round}: ratio allocation / raw transaction`, a.perSec / t.perSec);
      report(`round ${round}: one engine, group commit /s`, g.perSec, `(p50 ${g.p50.toFixed(1)} ms, p99 ${g.p99.toFixed(1)} ms)`);
      report(`round ${round}: ratio group-commit allocation / PutItem`, g.perSec / p.perSec);
    }
    const pool = await engines[0]!.getPool('bench', 'z', 'rate');
    report('allocated in the rate pool (check)', pool.allocated);
    report('allocated in the shared pool (check)', (await shared.getPool('bench', 'z', 'shared')).allocated);

    const t0 = performance.now();
    const big = await engines[0]!.createPool('bench', 'big', 'five-million', { ranges: ['11.0.0.0-11.76.75.63'] }, ctx);
    report('create a 5,000,000-address pool (ms)', performance.now() - t0, `(size ${big.pool.size})`);

    const lat: number[] = [];
    const t1 = performance.now();
    for (let i = 0; i < 1000; i++) {
      const s = performance.now();
      await engines[0]!.allocate({ cloud: 'bench', zone: 'big', pool: 'five-million', holder: { kind: 'vm', id: `seq-${i}` } }, ctx);
      lat.push(performance.now() - s);
    }
    lat.sort((a, b) => a - b);
    report('1,000 sequential allocations from it (ms)', performance.now() - t1, `(p50 ${lat[500]!.toFixed(1)} ms, p99 ${lat[990]!.toFixed(1)} ms)`);
    console.log(JSON.stringify({ mode: inMemory ? 'in-memory' : 'persisted', rounds, ...results }));
    raw.destroy();
  } finally {
    await ddb.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
