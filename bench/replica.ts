/**
 * Replica lag benchmark (issue 7, section 3): the local service with a replica (`IPAM_REPLICA_DIR`),
 * under full allocation load through the signed HTTP API: CONCURRENCY clients (one in four releases
 * what it allocated) for WARMUP seconds (JVMs warming up), then for SECONDS. The replica reports its
 * lag per applied change (time applied − time of the change) over the last minute in
 * `replica-status.json`; this prints its p50/p99 after the measured load (and the drain after it).
 *
 *   BENCH_WARMUP=15 BENCH_SECONDS=60 BENCH_CONCURRENCY=16 npx tsx bench/replica.ts
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ReplicaStatus } from '../lib/local/replica.js';
import { startLocal } from './service.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const WARMUP = Number(process.env.BENCH_WARMUP ?? 15);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'ipam-bench-primary-'));
const replicaDir = mkdtempSync(path.join(os.tmpdir(), 'ipam-bench-replica-'));
const svc = await startLocal(dataDir, { IPAM_REPLICA_DIR: replicaDir });
const status = () => JSON.parse(readFileSync(path.join(replicaDir, 'replica-status.json'), 'utf8')) as ReplicaStatus;
try {
  const c = svc.client;
  await c.createPool('lag', 'z', 'p', { ranges: ['10.80.0.0/14'] });
  let allocations = 0;
  let releases = 0;
  let before = status().applied;
  const warmUntil = performance.now() + WARMUP * 1000;
  const until = warmUntil + SECONDS * 1000;
  const measuring = setTimeout(() => {
    allocations = releases = 0;
    before = status().applied;
  }, WARMUP * 1000);
  const workers = Array.from({ length: CONCURRENCY }, async (_, w) => {
    const mine: string[] = [];
    for (let i = 0; performance.now() < until; i++) {
      if (w % 4 === 3 && mine.length > 0) {
        await c.release('lag', mine.pop()!);
        releases++;
      } else {
        mine.push((await c.allocate('lag', 'z', 'p', { vm: `w${w}-${i}` })).allocation.address);
        allocations++;
      }
    }
  });
  await Promise.all(workers);
  clearTimeout(measuring);
  const loadEnd = performance.now();
  // Let the replica drain what is in flight, then read its figures.
  // (replica-status.json is rewritten every second: the drain time is to within a second.)
  let s = status();
  for (let waited = 0; waited < 30_000 && (s.behindMs > 0 || Date.parse(s.updatedAt) < Date.now() - (performance.now() - loadEnd)); waited += 200) {
    await new Promise((r) => setTimeout(r, 200));
    s = status();
  }
  const drainMs = performance.now() - loadEnd;
  await new Promise((r) => setTimeout(r, 1500)); // the last applied changes into the status
  s = status();
  const row = (k: string, v: string) => console.log(`${k.padEnd(52)} ${v}`);
  row('load (HTTP, signed)', `${CONCURRENCY} concurrent clients, ${WARMUP} s warm-up, then ${SECONDS} s measured`);
  row('allocations / releases acknowledged', `${allocations} / ${releases} (${((allocations + releases) / SECONDS).toFixed(0)} changes/s)`);
  row('changes applied to the replica (items)', String(s.applied - before));
  row('replica lag, last minute: p50 / p99 (ms)', `${s.lagP50Ms} / ${s.lagP99Ms}`);
  row('replica lag, max since start incl. warm-up (ms)', String(s.lagMaxMs));
  row('caught up after the load stopped (ms, ±1 s)', drainMs.toFixed(0));
  console.log(JSON.stringify({ seconds: SECONDS, concurrency: CONCURRENCY, allocations, releases, applied: s.applied - before, lagP50Ms: s.lagP50Ms, lagP99Ms: s.lagP99Ms, lagMaxMs: s.lagMaxMs }));
} finally {
  await svc.stop();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(replicaDir, { recursive: true, force: true });
}
