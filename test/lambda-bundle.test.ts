/**
 * The Lambda artifact itself: functions/api.ts bundled by esbuild with the stack's settings (ESM,
 * minified, node22 target, the require banner), loaded as Lambda loads it, and driven with API
 * Gateway proxy events against DynamoDB Local.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { ensureTable } from '../lib/local/dynamodb-local.js';
import { ESM_REQUIRE_BANNER } from '../lib/infra/function.js';
import { clientConfig, ddbEndpoint } from './support.js';

const ROOT = path.resolve(import.meta.dirname, '..');

const event = (httpMethod: string, p: string, body?: unknown) => ({
  httpMethod,
  path: p,
  resource: '/v1/{proxy+}',
  headers: { 'content-type': 'application/json' },
  multiValueHeaders: {},
  queryStringParameters: null,
  multiValueQueryStringParameters: null,
  pathParameters: { proxy: p.slice(4) },
  stageVariables: null,
  body: body === undefined ? null : JSON.stringify(body),
  isBase64Encoded: false,
  requestContext: { requestId: `req-${randomBytes(4).toString('hex')}`, identity: { userArn: 'arn:aws:iam::111122223333:role/pipeline' } },
});

describe('the api Lambda bundle', () => {
  it('bundles, loads as ESM and serves pools and allocations from DynamoDB', async () => {
    const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'ipam-bundle-')), 'index.mjs');
    const { metafile } = await build({ entryPoints: [path.join(ROOT, 'functions/api.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node22', minify: true, mainFields: ['module', 'main'], banner: { js: ESM_REQUIRE_BANNER }, outfile: out, metafile: true, logLevel: 'silent' });
    // Cold start: zod imported as a namespace value (`import { z }`, or `z` passed to a function) puts all its locales (260 KB) in the bundle.
    const inputs = Object.values(metafile.outputs).find((o) => o.entryPoint)!.inputs;
    const locales = Object.entries(inputs).filter(([f]) => f.includes('zod/v4/locales/')).reduce((a, [, i]) => a + i.bytesInOutput, 0);
    expect(locales).toBeLessThan(16_000);
    const table = `bundle-${randomBytes(4).toString('hex')}`;
    const raw = new DynamoDBClient(clientConfig());
    await ensureTable(raw, table);
    raw.destroy();
    process.env.IPAM_DYNAMODB_ENDPOINT = ddbEndpoint();
    process.env.IPAM_TABLE = table;
    const { handler } = await import(pathToFileURL(out).href);
    const created = await handler(event('PUT', '/v1/clouds/prod/zones/dmz/pools/web', { ranges: ['10.40.0.0/28'] }));
    expect(created.statusCode).toBe(201);
    const a = await handler(event('POST', '/v1/clouds/prod/zones/dmz/pools/web/allocations', { vm: 'vm-1' }));
    expect(a.statusCode).toBe(201);
    const body = JSON.parse(a.body);
    expect(body).toMatchObject({ vm: 'vm-1', allocatedBy: 'arn:aws:iam::111122223333:role/pipeline' });
    expect(a.headers['x-amzn-requestid']).toMatch(/^req-/);
    expect((await handler(event('GET', `/v1/clouds/prod/addresses/${body.address}`))).statusCode).toBe(200);
    const bad = await handler(event('POST', '/v1/clouds/prod/zones/dmz/pools/web/allocations', { vm: 'a', vip: 'b' }));
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse((await handler(event('GET', '/v1/openapi.json'))).body).openapi).toBe('3.1.0');
  });
});
