/**
 * Scale benchmark (issue 7): the local service (`bin/local.ts`, persisted DynamoDB Local) with a cloud
 * of 5,000,000 addresses in 5 pools of 5 zones, ALLOCATED of them allocated through the engine's
 * bulk import. Prints one figure per line and a JSON summary (for docs/benchmarks.md).
 *
 *   BENCH_ALLOCATED=100000 npx tsx bench/scale.ts
 *
 * BENCH_DIR=/some/dir keeps the loaded data dir: a second run with the same BENCH_DIR skips the
 * (long) load and measures the cloud already there. Without it, a temporary dir is used and removed.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { LOCAL_CREDENTIALS } from '../lib/local/dynamodb-local.js';
import { documentClient, DynamoStore } from '../lib/dynamo/store.js';
import { Ipam } from '../lib/engine/ipam.js';
import type { IpamClient } from '../lib/client/client.js';
import { startLocal as start } from './service.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const ALLOCATED = Number(process.env.BENCH_ALLOCATED ?? 100_000);
const ROOT = path.resolve(import.meta.dirname, '..');
const ctx = { principal: 'bench' };
const RUN = Date.now().toString(36); // names of this run's allocations, so a rerun on a kept BENCH_DIR allocates anew
const results: Record<string, unknown> = { allocated: ALLOCATED, addresses: 5_000_000, cores: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version };
const report = (k: string, v: number | string, extra = '') => {
  results[k] = v;
  console.log(`${k.padEnd(56)} ${typeof v === 'number' ? (v < 10 ? v.toFixed(2) : v.toFixed(0)) : v} ${extra}`);
};
const rssMb = (pid: number) => {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
};
const javaChild = (pid: number): number | undefined => {
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
    return kids.find((k) => readFileSync(`/proc/${k}/cmdline`, 'utf8').includes('DynamoDBLocal'));
  } catch {
    return undefined;
  }
};

async function timed(n: number, fn: (i: number) => Promise<unknown>) {
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await fn(i);
    lat.push(performance.now() - s);
  }
  lat.sort((a, b) => a - b);
  return { p50: lat[Math.floor(n * 0.5)]!, p99: lat[Math.floor(n * 0.99)]! };
}

async function latencies(c: IpamClient, cloud: string, zone: string, pool: string, tag: string) {
  const held: string[] = [];
  const alloc = await timed(300, async (i) => held.push((await c.allocate(cloud, zone, pool, { vm: `${tag.replace(/\W+/g, '-')}-${RUN}-${i}` })).allocation.address));
  const look = await timed(300, (i) => c.lookup(cloud, held[i]!));
  const rel = await timed(300, (i) => c.release(cloud, held[i]!));
  for (const [k, v] of Object.entries({ allocate: alloc, lookup: look, release: rel })) report(`${tag}: ${k} p50 / p99 (ms)`, `${v.p50.toFixed(1)} / ${v.p99.toFixed(1)}`);
}

async function concurrentRate(total: number, conc: number, fn: (i: number) => Promise<unknown>) {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: conc }, async () => {
    for (let i = next++; i < total; i = next++) await fn(i);
  }));
  return total / ((performance.now() - t0) / 1000);
}

async function main() {
  // --- start-up with 100,000 addresses stored
  const small = mkdtempSync(path.join(os.tmpdir(), 'ipam-scale-small-'));
  let s = await start(small);
  await s.client.createPool('c100k', 'z', 'p', { ranges: ['10.0.0.0-10.1.134.159'] });
  for (let i = 0; i < 200; i++) await s.client.allocate('c100k', 'z', 'p', { vm: `v${i}` });
  await s.stop();
  s = await start(small);
  report('start-up to first allocation, 100,000 addresses stored (ms)', s.firstAllocationMs);
  await s.stop();
  rmSync(small, { recursive: true, force: true });

  // --- the big cloud
  const keep = process.env.BENCH_DIR;
  const dir = keep ? path.resolve(keep) : mkdtempSync(path.join(os.tmpdir(), 'ipam-scale-'));
  mkdirSync(dir, { recursive: true });
  const marker = path.join(dir, 'bench-loaded.json');
  const loaded = existsSync(marker) ? (JSON.parse(readFileSync(marker, 'utf8')) as { allocated: number; seconds: number }) : undefined;
  if (loaded && loaded.allocated !== ALLOCATED) throw new Error(`${dir} holds ${loaded.allocated} allocations, not BENCH_ALLOCATED=${ALLOCATED}`);
  let svc = await start(dir);
  report('start-up to first allocation, ' + (loaded ? `${ALLOCATED} allocations stored` : 'empty') + ' (ms)', svc.firstAllocationMs);
  const c = svc.client;
  const zones = ['web', 'app', 'data', 'mgmt', 'edge'];
  if (!loaded) {
    for (let z = 0; z < 5; z++) await c.createPool('big', zones[z]!, 'pool', { ranges: [`1${z + 1}.0.0.0-1${z + 1}.15.66.63`], dns: { domain: `${zones[z]}.big.example.com` } });
    await c.createPool('empty', 'z', 'pool', { ranges: ['172.16.0.0-172.31.66.63'] });
  }
  report('pools in the big cloud', (await c.listPools('big')).reduce((n, p) => n + Number(p.size), 0), 'addresses');
  const javaPid = javaChild(svc.proc.pid!);
  report('service RSS before load (MB): node / DynamoDB Local', `${rssMb(svc.proc.pid!).toFixed(0)} / ${javaPid ? rssMb(javaPid).toFixed(0) : '?'}`);
  await latencies(c, 'empty', 'z', 'pool', 'empty cloud');

  // --- bulk load through the engine, with progress on stderr
  if (loaded) report('bulk import (s)', loaded.seconds, `(an earlier run, ${(ALLOCATED / loaded.seconds).toFixed(0)} allocations/s)`);
  else {
    const ipam = new Ipam(new DynamoStore(documentClient({ endpoint: svc.ddb, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 10 }), 'ipam'));
    const t0 = performance.now();
    const done = new Map<string, number>();
    const progress = setInterval(() => {
      const n = [...done.values()].reduce((a, b) => a + b, 0);
      const s = (performance.now() - t0) / 1000;
      console.error(`  imported ${n} of ${ALLOCATED} (${(n / s).toFixed(0)}/s, ${s.toFixed(0)} s)`);
    }, 30_000);
    await Promise.all(
      zones.map((zone) =>
        ipam.importAllocations('big', zone, 'pool', (function* () {
          for (let i = 0; i < ALLOCATED / 5; i++) yield { holder: { kind: 'vm' as const, id: `${zone}-${i}` }, hostname: `${zone}-${i}` };
        })(), ctx, (n) => done.set(zone, n)),
      ),
    );
    clearInterval(progress);
    const loadS = (performance.now() - t0) / 1000;
    report('bulk import (s)', loadS, `(${(ALLOCATED / loadS).toFixed(0)} allocations/s)`);
    writeFileSync(marker, JSON.stringify({ allocated: ALLOCATED, seconds: loadS }));
  }
  report('service RSS after load (MB): node / DynamoDB Local', `${rssMb(svc.proc.pid!).toFixed(0)} / ${javaPid ? rssMb(javaPid).toFixed(0) : '?'}`);
  await latencies(c, 'big', 'web', 'pool', 'loaded cloud');
  report('service RSS after measuring (MB): node / DynamoDB Local', `${rssMb(svc.proc.pid!).toFixed(0)} / ${javaPid ? rssMb(javaPid).toFixed(0) : '?'}`);

  // --- HTTP allocations at 32-way vs raw conditional PutItem on the same DynamoDB Local
  const raw = new DynamoDBClient({ endpoint: svc.ddb, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
  const put = await concurrentRate(2000, 32, (i) => raw.send(new PutItemCommand({ TableName: 'ipam', Item: { pk: { S: `RAWBENCH#${RUN}#${i}` }, sk: { S: 'R' }, v: { S: 'x'.repeat(200) } }, ConditionExpression: 'attribute_not_exists(pk)' })));
  const http = await concurrentRate(2000, 32, (i) => c.allocate('big', 'app', 'pool', { vm: `http-${RUN}-${i}` }));
  report('raw conditional PutItem at 32-way (/s)', put);
  report('HTTP API allocations at 32-way (/s)', http);
  report('ratio HTTP allocation / PutItem', http / put);

  // --- environments of 100 addresses
  const envLat: number[] = [];
  for (let i = 0; i < 8; i++) {
    const s0 = performance.now();
    await c.request('PUT', `/v1/clouds/big/environments/env-${RUN}-${i}`, { body: { slots: { nodes: { zone: 'mgmt', pool: 'pool', vm: `env-${RUN}-${i}`, count: 100 } } } });
    envLat.push(performance.now() - s0);
  }
  envLat.sort((a, b) => a - b);
  report('environment of 100 addresses, p50 (ms)', envLat[4]!);

  // --- zone export of everything, in a separate process for its peak memory
  const exp = await new Promise<string>((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'bench/export-run.ts', svc.ddb, path.join(dir, 'exports')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let o = '';
    p.stdout.on('data', (d) => (o += d));
    p.on('exit', (code) => (code === 0 ? resolve(o) : reject(new Error(`export exited ${code}: ${o}`))));
  });
  const e = JSON.parse(exp.trim().split('\n').pop()!);
  report(`zone export of ${e.records} records in ${e.zones} zones (s)`, e.seconds);
  report('zone export peak RSS (MB)', e.maxRssMb);

  // --- start-up with 5,000,000 addresses stored
  await svc.stop();
  svc = await start(dir);
  report(`start-up to first allocation, 5,000,000 addresses and ${ALLOCATED} allocations stored (ms)`, svc.firstAllocationMs);
  await svc.stop();
  console.log(JSON.stringify(results));
  if (!keep) rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
