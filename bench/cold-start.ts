/**
 * Cold start of the Lambda bundles (issue 14): each entry in functions/ bundled by esbuild with the
 * stack's settings (lib/infra/function.ts), then its module init timed as `await import()` of the bundle
 * in a fresh node process, BENCH_COLD_RUNS times (median), against a bare `@aws-sdk/client-dynamodb`
 * import in a fresh process on the same machine (unbundled, as the package ships, and bundled alone).
 *
 *   npx tsx bench/cold-start.ts            # BENCH_COLD_RUNS=15 by default
 *   BENCH_COLD_RUNS=5 npx tsx bench/cold-start.ts
 *   BENCH_COLD_TOP=15 npx tsx bench/cold-start.ts   # also: the largest inputs of each bundle
 *   BENCH_COLD_COMPARE=/path/to/other/checkout npx tsx bench/cold-start.ts  # its bundles too, same runs (before/after)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { ESM_REQUIRE_BANNER } from '../lib/infra/function.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const RUNS = Number(process.env.BENCH_COLD_RUNS ?? 15);
const TOP = Number(process.env.BENCH_COLD_TOP ?? 0);
/** Another checkout of the project (e.g. the main branch) whose bundles are measured in the same runs. */
const COMPARE = process.env.BENCH_COLD_COMPARE ? path.resolve(process.env.BENCH_COLD_COMPARE) : undefined;

/** The bundling options of lib/infra/function.ts (NodejsFunction: one ESM file, minified, node22). */
export async function bundleLambda(entry: string, outfile: string): Promise<Metafile> {
  const r = await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node22', minify: true, sourcemap: true, mainFields: ['module', 'main'], banner: { js: ESM_REQUIRE_BANNER }, outfile, metafile: true, logLevel: 'silent' });
  return r.metafile;
}

/** Module init of `url` in a fresh node process, in ms (the time `await import(url)` takes). */
function initMs(url: string, cwd: string): number {
  const code = `const t=performance.now();await import(${JSON.stringify(url)});process.stdout.write(String(performance.now()-t));process.exit(0)`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd, env: { ...process.env, AWS_REGION: 'us-east-1', AWS_LAMBDA_FUNCTION_NAME: 'bench', POWERTOOLS_SERVICE_NAME: 'ipam', IPAM_TABLE: 'bench' }, encoding: 'utf8' });
  return Number(out);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Median init of each target, the runs interleaved so that machine load spreads over all of them. */
function measure(targets: { name: string; url: string; cwd: string }[]): Map<string, number[]> {
  const runs = new Map(targets.map((t) => [t.name, [] as number[]]));
  for (const t of targets) initMs(t.url, t.cwd); // warm the file cache
  for (let i = 0; i < RUNS; i++) {
    for (const t of targets) runs.get(t.name)!.push(initMs(t.url, t.cwd));
    process.stdout.write(`\rcold start: run ${i + 1}/${RUNS}`);
  }
  process.stdout.write('\n');
  return runs;
}

export async function coldStart(): Promise<{ rows: { name: string; kb: number; ms: number; ratio: number }[]; bareMs: number; bareBundledMs: number; markdown: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ipam-cold-'));
  try {
    const entryNames = (root: string) => readdirSync(path.join(root, 'functions')).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3)).sort();
    const entries = [...entryNames(ROOT).map((name) => ({ name, file: path.join(ROOT, 'functions', `${name}.ts`) })), ...(COMPARE ? entryNames(COMPARE).map((name) => ({ name: `${name} (${path.basename(COMPARE)})`, file: path.join(COMPARE, 'functions', `${name}.ts`) })) : [])];
    const sizes = new Map<string, number>();
    const targets: { name: string; url: string; cwd: string }[] = [];
    for (const { name, file } of entries) {
      const out = path.join(dir, `${targets.length}`, 'index.mjs');
      const meta = await bundleLambda(file, out);
      sizes.set(name, statSync(out).size);
      targets.push({ name, url: pathToFileURL(out).href, cwd: path.dirname(out) });
      if (TOP > 0) {
        const inputs = Object.values(meta.outputs).find((o) => o.entryPoint)?.inputs ?? {};
        const byPkg = new Map<string, number>();
        for (const [file, { bytesInOutput }] of Object.entries(inputs)) {
          const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
          const key = m ? m[1]! : file;
          byPkg.set(key, (byPkg.get(key) ?? 0) + bytesInOutput);
        }
        console.log(`${name}: largest inputs (KB in the bundle)`);
        for (const [k, v] of [...byPkg].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`  ${(v / 1024).toFixed(0).padStart(6)}  ${k}`);
      }
    }
    // The bare SDK: as the package ships (many files, from node_modules) and bundled alone the same way.
    const bareEntry = path.join(dir, 'bare.ts');
    writeFileSync(bareEntry, "export * from '@aws-sdk/client-dynamodb';\n");
    const bareOut = path.join(dir, 'bare', 'index.mjs');
    await build({ entryPoints: [bareEntry], absWorkingDir: ROOT, nodePaths: [path.join(ROOT, 'node_modules')], bundle: true, platform: 'node', format: 'esm', target: 'node22', minify: true, mainFields: ['module', 'main'], banner: { js: ESM_REQUIRE_BANNER }, outfile: bareOut, logLevel: 'silent' });
    targets.push({ name: 'bare', url: '@aws-sdk/client-dynamodb', cwd: ROOT }, { name: 'bare-bundled', url: pathToFileURL(bareOut).href, cwd: path.dirname(bareOut) });
    const runs = measure(targets);
    const bareMs = median(runs.get('bare')!);
    const bareBundledMs = median(runs.get('bare-bundled')!);
    const rows = entries.map(({ name }) => ({ name, kb: sizes.get(name)! / 1024, ms: median(runs.get(name)!), ratio: median(runs.get(name)!) / bareMs }));
    const fmt = (xs: number[]) => `min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)}`;
    const lines = [
      `| bundle | size | module init (median of ${RUNS}) | × bare \`@aws-sdk/client-dynamodb\` import |`,
      '|---|---|---|---|',
      ...rows.map((r) => `| \`${r.name}\` | ${r.kb.toFixed(0)} KB | ${r.ms.toFixed(0)} ms (${fmt(runs.get(r.name)!)}) | ${r.ratio.toFixed(2)} |`),
      `| bare \`import('@aws-sdk/client-dynamodb')\` from node_modules | — | ${bareMs.toFixed(0)} ms (${fmt(runs.get('bare')!)}) | 1.00 |`,
      `| the same bundled alone (esbuild, same settings) | ${(statSync(bareOut).size / 1024).toFixed(0)} KB | ${bareBundledMs.toFixed(0)} ms (${fmt(runs.get('bare-bundled')!)}) | ${(bareBundledMs / bareMs).toFixed(2)} |`,
    ];
    return { rows, bareMs, bareBundledMs, markdown: lines.join('\n') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  const r = await coldStart();
  console.log(`\nCold start, ${os.cpus().length} cores (${os.cpus()[0]?.model}), node ${process.version}, ${new Date().toISOString()}\n`);
  console.log(r.markdown);
  const api = r.rows.find((x) => x.name === 'api');
  if (api) console.log(`\napi init / bare import: ${api.ratio.toFixed(2)} (target ≤ 1.3); / the bare import bundled alone: ${(api.ms / r.bareBundledMs).toFixed(2)}`);
}
