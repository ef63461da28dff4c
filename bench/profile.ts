/**
 * `npm run bench:profile`: where the service's CPU time goes under load (issue 14). Starts the local
 * service as `npm start` does (fresh data dir) under `node --cpu-prof`, drives CONCURRENCY-way signed
 * HTTP requests for BENCH_SECONDS, stops the service (node writes the profile on exit), copies the
 * .cpuprofile to BENCH_PROFILE_DIR and prints the functions with the most self time, and the same
 * summed by package / file, counting only the samples taken during the measured phase (V8's profile
 * clock and process.hrtime are the same monotonic clock).
 *
 * BENCH_PROFILE_OP picks the requests: `allocate` (default; unique vm each), `lookup` or `release`
 * (of addresses allocated first, BENCH_PROFILE_ALLOCATIONS of them, default 3000; releases stop when
 * they run out).
 *
 *   npm run bench:profile                                   # 30 s, 32-way, ./profiles/
 *   BENCH_SECONDS=5 BENCH_WARMUP=2 npm run bench:profile    # a quick check
 *   BENCH_PROFILE_OP=release BENCH_SECONDS=10 npm run bench:profile
 *   BENCH_PROFILE_TOP=40 npm run bench:profile
 *
 * Open the .cpuprofile in Chrome DevTools (Performance tab) or speedscope for the call tree (it holds
 * the whole life of the process: start-up, warm-up and the allocations made first, too).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startLocal } from './service.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const TOP = Number(process.env.BENCH_PROFILE_TOP ?? 25);
const OUT = path.resolve(process.env.BENCH_PROFILE_DIR ?? 'profiles');
const OP = process.env.BENCH_PROFILE_OP ?? 'allocate';
const PREPARE = Number(process.env.BENCH_PROFILE_ALLOCATIONS ?? 3000);
if (!['allocate', 'lookup', 'release'].includes(OP)) throw new Error(`BENCH_PROFILE_OP must be allocate, lookup or release, not ${OP}`);

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }[];
  /** Microseconds on the monotonic clock (the one process.hrtime reads). */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Now on the profile's clock, in microseconds. */
const nowMicros = () => Number(process.hrtime.bigint() / 1000n);

/** Self time per function and per package (node_modules/<pkg>) or project file, in ms; only samples in `window` (µs) when given. */
export function summarize(p: CpuProfile, window?: [number, number]): { total: number; byFunction: [string, number][]; byPlace: [string, number][] } {
  const self = new Map<number, number>();
  let t = p.startTime;
  p.samples.forEach((id, i) => {
    t += p.timeDeltas[i] ?? 0;
    if (!window || (t >= window[0] && t <= window[1])) self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  });
  const byFunction = new Map<string, number>();
  const byPlace = new Map<string, number>();
  let total = 0;
  for (const n of p.nodes) {
    const ms = self.get(n.id) ?? 0;
    if (!ms) continue;
    total += ms;
    const { functionName, url, lineNumber } = n.callFrame;
    const file = url.replace(/^file:\/\//, '');
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1];
    const place = !url ? `(${functionName || 'native'})` : pkg ? pkg : url.startsWith('node:') ? url : path.relative(process.cwd(), file);
    const fn = `${functionName || '(anonymous)'}  ${pkg ? `${pkg}/${path.basename(file)}` : place}:${lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + ms);
    byPlace.set(place, (byPlace.get(place) ?? 0) + ms);
  }
  const top = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { total, byFunction: top(byFunction), byPlace: top(byPlace) };
}

async function main() {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'ipam-profile-'));
  const profDir = path.join(dataDir, 'cpuprofile');
  mkdirSync(OUT, { recursive: true });
  console.log(`starting the service under --cpu-prof (fresh data dir ${dataDir})...`);
  const svc = await startLocal(dataDir, {}, { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] });
  let stopped = false;
  try {
    const c = svc.client;
    await c.createPool('prof', 'z', 'p', { ranges: ['10.96.0.0/12'] });
    let next = 0;
    let errors = 0;
    const addresses: string[] = [];
    const request: Record<string, (tag: string, i: number) => Promise<unknown> | undefined> = {
      allocate: (tag, i) => c.allocate('prof', 'z', 'p', { vm: `${tag}-${i}` }),
      lookup: (_tag, i) => c.lookup('prof', addresses[i % addresses.length]!),
      release: (_tag, i) => (i < addresses.length ? c.release('prof', addresses[i]!) : undefined),
    };
    const drive = async (seconds: number, tag: string, op = OP) => {
      const lat: number[] = [];
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (performance.now() - t0 < seconds * 1000) {
            const s = performance.now();
            try {
              const sent = request[op]!(tag, next++);
              if (!sent) break;
              await sent;
              lat.push(performance.now() - s);
            } catch (e) {
              if (errors++ === 0) console.error(e);
            }
          }
        }),
      );
      lat.sort((a, b) => a - b);
      return { n: lat.length, perSec: lat.length / ((performance.now() - t0) / 1000), p50: lat[Math.floor(lat.length / 2)] ?? NaN, p99: lat[Math.floor(lat.length * 0.99)] ?? NaN };
    };
    if (OP !== 'allocate') {
      console.log(`allocating ${PREPARE} addresses to ${OP === 'release' ? 'release' : 'look up'}...`);
      await Promise.all(Array.from({ length: CONCURRENCY }, async (_, w) => {
        for (let i = w; i < PREPARE; i += CONCURRENCY) addresses.push((await c.allocate('prof', 'z', 'p', { vm: `prep-${i}` })).allocation.address);
      }));
      next = 0;
    }
    if (WARMUP > 0) await drive(WARMUP, 'warm', OP === 'release' ? 'lookup' : OP);
    if (OP === 'release') next = 0;
    console.log(`driving ${CONCURRENCY}-way signed HTTP ${OP}s for ${SECONDS} s...`);
    const from = nowMicros();
    const r = await drive(SECONDS, 'load');
    const window: [number, number] = [from, nowMicros()];
    console.log(`  ${r.n} ${OP}s, ${r.perSec.toFixed(0)} /s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, ${errors} errors (under the profiler: slower than without)`);
    await svc.stop(); // SIGTERM: bin/local.ts exits cleanly and node writes the profile
    stopped = true;
    const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`no .cpuprofile in ${profDir}`);
    const dest = path.join(OUT, `service-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
    copyFileSync(path.join(profDir, file), dest);
    const s = summarize(JSON.parse(readFileSync(dest, 'utf8')) as CpuProfile, window);
    const idle = s.byPlace.find(([k]) => k === '((idle))')?.[1] ?? 0;
    const busy = s.total - idle;
    const pct = (ms: number) => `${((100 * ms) / busy).toFixed(1).padStart(5)} %`;
    console.log(`\nprofile: ${dest}\n  ${(s.total / 1000).toFixed(1)} s sampled in the service process during the ${OP} phase (not DynamoDB Local): ${(busy / 1000).toFixed(1)} s busy (${((1000 * busy) / Math.max(1, r.n)).toFixed(0)} µs per ${OP}), ${(idle / 1000).toFixed(1)} s idle; % below are of the busy time`);
    console.log(`\ntop ${TOP} functions by self time:`);
    for (const [k, ms] of s.byFunction.filter(([k]) => !k.startsWith('(idle)')).slice(0, TOP)) console.log(`  ${pct(ms)} ${ms.toFixed(0).padStart(7)} ms  ${k}`);
    console.log(`\nself time by package or file:`);
    for (const [k, ms] of s.byPlace.filter(([k]) => k !== '((idle))').slice(0, TOP)) console.log(`  ${pct(ms)} ${ms.toFixed(0).padStart(7)} ms  ${k}`);
  } finally {
    if (!stopped) await svc.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
