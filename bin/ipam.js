#!/usr/bin/env node
// The `ipam` executable. Node 20 cannot run TypeScript itself, and loading a TypeScript loader (tsx)
// on every call cost a third of each call (docs/benchmarks.md, "CLI start-up"). So the first call
// bundles bin/ipam.ts and the lib/ files it imports with esbuild into node_modules/.cache/ipam-cli/
// (with the packages it needs on every call); later calls run that bundle directly. It is rebuilt when any of its
// source files changes. Without esbuild (or when the cache cannot be written) it runs through tsx.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entry = path.join(root, 'bin', 'ipam.ts');
const dir = path.join(root, 'node_modules', '.cache', 'ipam-cli');
// One bundle per checkout (worktrees may share node_modules).
const key = createHash('sha256').update(root).digest('hex').slice(0, 16);
const bundle = path.join(dir, `${key}.mjs`);
const manifest = path.join(dir, `${key}.json`);

/** The bundle, if every source file it was built from is unchanged (same size and mtime). */
function cached() {
  try {
    const { inputs } = JSON.parse(readFileSync(manifest, 'utf8'));
    for (const [file, sig] of Object.entries(inputs)) {
      const s = statSync(path.join(root, file));
      if (`${s.size}:${s.mtimeMs}` !== sig) return undefined;
    }
    statSync(bundle);
    return bundle;
  } catch {
    return undefined;
  }
}

async function build() {
  const esbuild = await import('esbuild');
  const r = await esbuild.build({
    entryPoints: [entry],
    absWorkingDir: root,
    bundle: true,
    // Packages are bundled too (resolving and compiling hundreds of small CommonJS files was most of
    // the start-up), but the AWS credential chain (loaded only without local keys) and yaml (only
    // for manifests).
    external: ['@aws-sdk/credential-providers', 'yaml'],
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    metafile: true,
    outfile: bundle,
    logLevel: 'silent',
    // CommonJS packages inside an ES module bundle call require() for Node's own modules.
    banner: { js: "import { createRequire as __ipamRequire } from 'node:module'; const require = __ipamRequire(import.meta.url);" },
  });
  const inputs = {};
  // Our own sources, this file (it decides how the bundle is built), and npm's record of what is
  // installed (rewritten by every npm install) instead of every file of every package.
  const own = Object.keys(r.metafile.inputs).filter((f) => !f.split(/[\\/]/).includes('node_modules'));
  for (const file of [...own, 'bin/ipam.js', 'node_modules/.package-lock.json']) {
    const s = statSync(path.join(root, file));
    inputs[file] = `${s.size}:${s.mtimeMs}`;
  }
  mkdirSync(dir, { recursive: true });
  // Written under temporary names and renamed: concurrent first calls never see half a file.
  const tmp = `.${process.pid}.${Date.now()}`;
  writeFileSync(bundle + tmp, r.outputFiles[0].contents);
  writeFileSync(manifest + tmp, JSON.stringify({ inputs }));
  renameSync(bundle + tmp, bundle);
  renameSync(manifest + tmp, manifest);
  return bundle;
}

let file = cached();
if (!file && process.env.IPAM_CLI_NO_BUNDLE !== '1') file = await build().catch(() => undefined);
if (file) {
  await import(pathToFileURL(file).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./ipam.ts');
}
