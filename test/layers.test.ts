/**
 * The dependency rule (issue 16), read from the imports of every file under lib/:
 *  - lib/core/ is the pure domain: it imports only lib/core/, node: builtins and ip-address;
 *  - lib/engine/ (use cases over the Store port) imports no DynamoDB, HTTP, AWS or Lambda module,
 *    and nothing from the adapters (lib/dynamo, lib/api, lib/integrations, lib/events, lib/runtime,
 *    lib/local, lib/infra, lib/client, lib/auth).
 * The scanner is a few regular expressions over the source (static imports and re-exports, `import()`
 * with a literal, side-effect imports), enough for this codebase's plain ESM; the planted violations
 * below show that it catches each kind of breach.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const LIB = path.join(ROOT, 'lib');

/** The module specifiers `source` imports (statically, by re-export, or by `import('literal')`). */
export function importsOf(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const out: string[] = [];
  for (const re of [/\b(?:import|export)\s+(?:type\s+)?[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, /^\s*import\s*['"]([^'"]+)['"]/gm]) {
    for (const m of code.matchAll(re)) out.push(m[1]!);
  }
  return out;
}

/** The layer of a path under lib/ (its first folder), or undefined outside lib/. */
const layerOf = (file: string) => {
  const rel = path.relative(LIB, file);
  return rel.startsWith('..') ? undefined : rel.split(path.sep)[0];
};

const ADAPTERS = ['dynamo', 'api', 'integrations', 'events', 'runtime', 'local', 'infra', 'client', 'auth'];
/** Packages that mean I/O edges or AWS: the engine must not import them. */
const EDGE_PACKAGE = /^(@aws-sdk\/|@aws-lambda-powertools\/|@aws-cdk\/|aws-cdk-lib|aws-lambda$|aws-xray-sdk|constructs$|node:(http|https|http2|net|dgram)$|(http|https|http2|net)$)/;
const CORE_PACKAGES = new Set(['ip-address']);

/** The rule's violations in `file` (absolute, under lib/) with content `source`. */
export function violations(file: string, source: string): string[] {
  const layer = layerOf(file);
  const out: string[] = [];
  for (const spec of importsOf(source)) {
    const relative = spec.startsWith('.');
    const target = relative ? layerOf(path.resolve(path.dirname(file), spec)) : undefined;
    const what = `${path.relative(ROOT, file)} imports ${spec}`;
    if (layer === 'core') {
      if (relative ? target !== 'core' : !spec.startsWith('node:') && !CORE_PACKAGES.has(spec)) out.push(`${what}: lib/core imports only lib/core, node: builtins and ip-address`);
    } else if (layer === 'engine') {
      if (relative && (target === undefined || ADAPTERS.includes(target))) out.push(`${what}: lib/engine must not import lib/${target ?? '..'}`);
      if (!relative && EDGE_PACKAGE.test(spec)) out.push(`${what}: lib/engine imports no DynamoDB, HTTP, AWS or Lambda module`);
    }
  }
  return out;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : /\.ts$/.test(e.name) && !e.name.endsWith('.d.ts') ? [path.join(dir, e.name)] : []));
}

describe('the dependency rule', () => {
  it('holds for every file under lib/', () => {
    const files = filesUnder(LIB);
    expect(files.filter((f) => layerOf(f) === 'core').length).toBeGreaterThan(3);
    expect(files.filter((f) => layerOf(f) === 'engine').length).toBeGreaterThan(1);
    // The scanner sees the imports it judges (no file of the two layers reads as importing nothing).
    for (const f of files.filter((f) => layerOf(f) === 'engine')) expect(importsOf(readFileSync(f, 'utf8')).length, f).toBeGreaterThan(0);
    expect(files.flatMap((f) => violations(f, readFileSync(f, 'utf8')))).toEqual([]);
  });

  it('catches planted violations of each kind', () => {
    const core = path.join(LIB, 'core', 'planted.ts');
    const engine = path.join(LIB, 'engine', 'planted.ts');
    expect(violations(core, `import { keys } from '../dynamo/keys.js';`)).toHaveLength(1);
    expect(violations(core, `import type { Ipam } from '../engine/ipam.js';`)).toHaveLength(1);
    expect(violations(core, `import * as z from 'zod';`)).toHaveLength(1);
    expect(violations(core, `import {\n  parseAddress,\n  type Family,\n} from './ip.js';\nimport { createHash } from 'node:crypto';\nimport { Address4 } from 'ip-address';`)).toEqual([]);
    expect(violations(engine, `import { DynamoDBClient } from '@aws-sdk/client-dynamodb';`)).toHaveLength(1);
    expect(violations(engine, `import {\n  GetCommand,\n} from '@aws-sdk/lib-dynamodb';`)).toHaveLength(1);
    expect(violations(engine, `import type { Context } from 'aws-lambda';`)).toHaveLength(1);
    expect(violations(engine, `import { createServer } from 'node:http';`)).toHaveLength(1);
    expect(violations(engine, `const m = await import('../dynamo/store.js');`)).toHaveLength(1);
    expect(violations(engine, `export { problem } from '../api/http.js';`)).toHaveLength(1);
    expect(violations(engine, `import { zoneFile } from '../integrations/dns/zones.js';`)).toHaveLength(1);
    expect(violations(engine, `import '../runtime/logger.js';`)).toHaveLength(1);
    expect(violations(engine, `// import { x } from '../dynamo/store.js';\nimport { holderOf } from '../core/model.js';\nimport type { Store } from './store.js';`)).toEqual([]);
  });
});
