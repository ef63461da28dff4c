/**
 * Issue 12, items 7 and 8, over real HTTP with real SigV4 signatures (the AWS SDK's signer and
 * curl --aws-sigv4):
 *   - the query is parsed once: what the verifier signed is what the handler reads (`+` is a space);
 *   - the Host header must name this endpoint, and only once;
 *   - presigned URLs work end to end, their X-Amz-* parameters never reach the handler;
 *   - DynamoDB Local listens on loopback only.
 * The first part runs the local front door (startApiServer) with the real event-to-request
 * translation (toApiRequest) and a handler that reports the query it was given; the second part
 * runs the whole service (`npm start`) with DynamoDB Local.
 */
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { request as httpRequest } from 'node:http';
import { promisify } from 'node:util';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toApiRequest } from '../lib/api/lambda.js';
import { callerLookup } from '../lib/auth/callers.js';
import { endpointHosts, startApiServer } from '../lib/local/server.js';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jarDir, LAUNCHER } from '../lib/local/dynamodb-local.js';
import { ADMIN, DMZ_ONLY, startService, type RunningService } from './service.js';
import { checkedFetch } from './contract.js';
import { ddbEndpoint } from './support.js';

const run = promisify(execFile);
const hasCurl = await run('curl', ['--version']).then(
  () => true,
  () => false,
);
const REGION = 'us-east-1';
const lookup = callerLookup([ADMIN, DMZ_ONLY]);
type Creds = { accessKeyId: string; secretAccessKey: string };

/** The SDK's query encoding (smithy escapeUri). */
const esc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const wireQuery = (q: Record<string, string | string[] | null | undefined>) =>
  Object.entries(q)
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((one) => `${esc(k)}=${esc(one ?? '')}`))
    .join('&');

const signer = (caller: Creds = ADMIN) => new SignatureV4({ service: 'execute-api', region: REGION, sha256: Sha256, credentials: caller });

function sdkRequest(base: string, method: string, path: string, query: Record<string, string>, host?: string) {
  const url = new URL(base);
  return new HttpRequest({ method, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path, query, headers: { host: host ?? url.host } });
}

/** Sends with node:http so the Host header can be anything; the connection always goes to the server's own address. */
function rawSend(base: string, method: string, pathAndQuery: string, headers: Record<string, string>): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const r = httpRequest(`${base}${pathAndQuery}`, { method, headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    r.on('error', reject);
    r.end();
  });
}

async function sdkSend(base: string, path: string, query: Record<string, string>, opts: { wire?: string; host?: string; caller?: Creds } = {}) {
  const signed = await signer(opts.caller).sign(sdkRequest(base, 'GET', path, query, opts.host));
  const qs = opts.wire ?? wireQuery(query);
  return rawSend(base, 'GET', `${path}${qs ? `?${qs}` : ''}`, signed.headers as Record<string, string>);
}

async function curl(url: string, caller: Creds = ADMIN, extra: string[] = []): Promise<{ status: number; body: any }> {
  const { stdout } = await run('curl', ['-sS', '-g', '-o', '-', '-w', '\n%{http_code}', '--aws-sigv4', `aws:amz:${REGION}:execute-api`, '--user', `${caller.accessKeyId}:${caller.secretAccessKey}`, ...extra, url]);
  const i = stdout.lastIndexOf('\n');
  const text = stdout.slice(0, i);
  return { status: Number(stdout.slice(i + 1)), body: text ? JSON.parse(text) : undefined };
}

// ------------------------------------------------------ front door with a reporting handler

describe('the local front door (SigV4, Host, query) with a handler that reports what it read', () => {
  let base = '';
  let port = 0;
  let calls = 0;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const api = await startApiServer({
      port: 0,
      region: REGION,
      lookup,
      publicHosts: ['ipam.example.test'],
      handler: async (event) => {
        calls++;
        const req = toApiRequest(event);
        return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: req.query }) };
      },
    });
    base = api.url;
    port = Number(new URL(base).port);
    close = api.close;
  });
  afterAll(async () => {
    await close?.();
  });

  describe('item 7: one parse of the query for the verifier and the handler', () => {
    it('signed over zone=a%2Bb and sent as zone=a+b: refused before the handler (was: accepted, handler read "a b")', async () => {
      const before = calls;
      const r = await sdkSend(base, '/v1/clouds/c/pools', { zone: 'a+b' }, { wire: 'zone=a+b' });
      expect(r.status).toBe(403);
      expect(r.body.message).toMatch(/signature we calculated does not match/);
      expect(calls).toBe(before);
    });

    it('signed and sent as zone=a%2Bb: the handler reads "a+b"', async () => {
      const r = await sdkSend(base, '/v1/clouds/c/pools', { zone: 'a+b' });
      expect(r.status).toBe(200);
      expect(r.body.query).toEqual({ zone: 'a+b' });
    });

    it('a raw + means a space for both: signed over "a b", sent as a+b or a%20b, the handler reads "a b"', async () => {
      for (const wire of ['zone=a+b', 'zone=a%20b']) {
        const r = await sdkSend(base, '/v1/clouds/c/pools', { zone: 'a b' }, { wire });
        expect(r.status, wire).toBe(200);
        expect(r.body.query).toEqual({ zone: 'a b' });
      }
    });

    it.runIf(hasCurl)('curl --aws-sigv4: raw + reads as a space, %2B as a plus', async () => {
      expect((await curl(`${base}/v1/x?zone=a+b`)).body.query).toEqual({ zone: 'a b' });
      expect((await curl(`${base}/v1/x?zone=a%2Bb`)).body.query).toEqual({ zone: 'a+b' });
      expect((await curl(`${base}/v1/x?b=x+y+z&a=%2B%20`)).body.query).toEqual({ b: 'x y z', a: '+ ' });
    });

    it('property: for any values and any of their wire spellings (+, %20, %2B, raw), the handler reads what was signed or the request is refused', async () => {
      const piece = fc.constantFrom('a', '+', ' ', '%', '=', '&', 'é', 'Z', '~', '/');
      const value = fc.array(piece, { maxLength: 6 }).map((a) => a.join(''));
      // spellings of one character on the wire, some right, some not
      const spell = (s: string, pick: number[]) =>
        [...s].map((c, i) => {
          const k = pick[i % pick.length]!;
          if (c === ' ') return ['+', '%20', '%2B'][k % 3];
          if (c === '+') return ['%2B', '+', '%20'][k % 3];
          return esc(c);
        }).join('');
      await fc.assert(
        fc.asyncProperty(value, value, fc.array(fc.nat(5), { minLength: 1, maxLength: 6 }), async (zone, tag, pick) => {
          const query = { tag, zone };
          const wire = `zone=${spell(zone, pick)}&tag=${spell(tag, pick.slice().reverse())}`;
          const before = calls;
          const r = await sdkSend(base, '/v1/q', query, { wire });
          if (r.status === 200) expect(r.body.query).toEqual(query);
          else {
            expect(r.status).toBe(403);
            expect(calls).toBe(before);
          }
        }),
        { numRuns: 60 },
      );
    });
  });

  describe('item 8: Host', () => {
    it('the endpoint answers to its address:port, localhost:port and the configured public names', async () => {
      expect(endpointHosts('127.0.0.1', port, ['ipam.example.test'])).toEqual(new Set([`127.0.0.1:${port}`, `localhost:${port}`, 'ipam.example.test']));
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, 'ipam.example.test']) {
        const r = await sdkSend(base, '/v1/q', { a: '1' }, { host });
        expect(r.status, host).toBe(200);
      }
    });

    it('a correctly signed request for another host is refused (403, API Gateway JSON), before the handler', async () => {
      const before = calls;
      for (const host of ['evil.example.com', `127.0.0.1:${port + 1}`, `127.0.0.2:${port}`, `ipam.example.test:${port}`, `localhost`]) {
        const r = await sdkSend(base, '/v1/q', { a: '1' }, { host });
        expect(r.status, host).toBe(403);
        expect(r.body).toEqual({ message: 'Forbidden' });
      }
      expect(calls).toBe(before);
    });

    it('a duplicate Host header is refused (400), even when both name this endpoint', async () => {
      const signed = await signer().sign(sdkRequest(base, 'GET', '/v1/q', {}));
      const headerLines = Object.entries(signed.headers as Record<string, string>).map(([k, v]) => `${k}: ${v}`);
      for (const second of [`127.0.0.1:${port}`, 'evil.example.com']) {
        const raw = await new Promise<string>((resolve, reject) => {
          const s = connect(port, '127.0.0.1', () => s.end(`GET /v1/q HTTP/1.1\r\n${headerLines.join('\r\n')}\r\nHost: ${second}\r\nConnection: close\r\n\r\n`));
          let out = '';
          s.on('data', (d) => (out += d));
          s.on('end', () => resolve(out));
          s.on('error', reject);
        });
        expect(raw, second).toMatch(/^HTTP\/1\.1 400 /);
        expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))).toEqual({ message: 'Duplicate Host header' });
      }
    });
  });

  describe('item 8: presigned URLs', () => {
    it('verify, and the handler sees only the API parameters (no X-Amz-*)', async () => {
      const signed = await signer().presign(sdkRequest(base, 'GET', '/v1/clouds/c/pools', { zone: 'a+b', limit: '5' }), { expiresIn: 300 });
      const r = await rawSend(base, 'GET', `${signed.path}?${wireQuery(signed.query as Record<string, string>)}`, { host: `127.0.0.1:${port}` });
      expect(r.status).toBe(200);
      expect(r.body.query).toEqual({ zone: 'a+b', limit: '5' });
      // a changed parameter, and the + / %2B swap, are refused
      const tampered = await rawSend(base, 'GET', `${signed.path}?${wireQuery({ ...(signed.query as Record<string, string>), limit: '6' })}`, {});
      expect(tampered.status).toBe(403);
      const plus = await rawSend(base, 'GET', `${signed.path}?${wireQuery(signed.query as Record<string, string>).replace('a%2Bb', 'a+b')}`, {});
      expect(plus.status).toBe(403);
    });

    it('a presigned URL for another host is refused', async () => {
      const signed = await signer().presign(sdkRequest(base, 'GET', '/v1/q', {}, 'evil.example.com'), { expiresIn: 300 });
      const r = await rawSend(base, 'GET', `${signed.path}?${wireQuery(signed.query as Record<string, string>)}`, { host: 'evil.example.com' });
      expect(r).toEqual({ status: 403, body: { message: 'Forbidden' } });
    });
  });
});

// ------------------------------------------------------------------------- whole service

/** Local addresses a TCP listener on `port` is bound to, from `ss`; undefined when ss is not usable. */
async function listenAddresses(port: number): Promise<string[] | undefined> {
  try {
    const { stdout } = await run('ss', ['-ltnH', `sport = :${port}`]);
    return stdout
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => l.trim().split(/\s+/)[3]!.replace(/:\d+$/, ''));
  } catch {
    return undefined;
  }
}
const LOOPBACK = new Set(['127.0.0.1', '[::ffff:127.0.0.1]']);

describe('the running service (npm start)', () => {
  let svc: RunningService;
  beforeAll(async () => {
    svc = await startService({ IPAM_DYNAMODB_ENDPOINT: ddbEndpoint(), IPAM_QUIET: '1' });
    await svc.client().createPool('edge', 'dmz', 'web', { ranges: ['10.77.0.0/29'] });
    await svc.client().createPool('edge', 'core', 'db', { ranges: ['10.77.1.0/29'] });
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it('item 7: signed over zone=a%2Bb, sent as zone=a+b: 403', async () => {
    expect((await sdkSend(svc.url, '/v1/clouds/edge/pools', { zone: 'a+b' }, { wire: 'zone=a+b' })).status).toBe(403);
    const ok = await sdkSend(svc.url, '/v1/clouds/edge/pools', { zone: 'dmz' });
    expect(ok.status).toBe(200);
    expect(ok.body.items.map((p: { name: string }) => p.name)).toEqual(['web']);
  });

  it('item 8: a presigned URL works end to end, and the caller\'s allow patterns still apply', async () => {
    const url = async (caller: Creds, path: string, query: Record<string, string> = {}) => {
      const s = await signer(caller).presign(sdkRequest(svc.url, 'GET', path, query), { expiresIn: 60 });
      const qs = wireQuery(s.query as Record<string, string>);
      return `${svc.url}${s.path}?${qs}`;
    };
    const list = await checkedFetch(await url(ADMIN, '/v1/clouds/edge/pools', { zone: 'dmz' }));
    expect(list.status).toBe(200);
    expect(((await list.json()) as { items: { name: string }[] }).items.map((p) => p.name)).toEqual(['web']);
    const own = await checkedFetch(await url(DMZ_ONLY, '/v1/clouds/c1/zones/dmz/pools/none'));
    expect(own.status).toBe(404); // reached the handler: the pool does not exist
    const other = await checkedFetch(await url(DMZ_ONLY, '/v1/clouds/edge/pools', { zone: 'dmz' }));
    expect(other.status).toBe(403);
    expect(await other.json()).toEqual({ message: `User: ${DMZ_ONLY.principal} is not authorized to access this resource` });
  });

  it('item 8: Host — the CLI\'s client, curl on 127.0.0.1 and on localhost work; another Host is 403', async () => {
    expect((await svc.client().listPools('edge')).length).toBe(2);
    expect((await curl(`${svc.url}/v1/clouds/edge/pools`)).status).toBe(200);
    const port = new URL(svc.url).port;
    expect((await curl(`http://localhost:${port}/v1/clouds/edge/pools`, ADMIN, ['--resolve', `localhost:${port}:127.0.0.1`])).status).toBe(200);
    expect(await sdkSend(svc.url, '/v1/clouds/edge/pools', {}, { host: `ipam.example.test:${port}` })).toEqual({ status: 403, body: { message: 'Forbidden' } });
  });

  it('item 8: the shared DynamoDB Local of the tests (same start-up code) listens on loopback only', async (ctx) => {
    const addrs = await listenAddresses(Number(new URL(ddbEndpoint()).port));
    if (!addrs?.length) return ctx.skip('ss not available: cannot tell which address DynamoDB Local listens on');
    expect(addrs.every((a) => LOOPBACK.has(a)), addrs.join(', ')).toBe(true);
  });
});

describe('npm start with its own DynamoDB Local', () => {
  it('the committed launcher class is its source compiled (same bytecode as javac --release 17 makes now)', async (ctx) => {
    const hasJavac = await run('javac', ['-version']).then(
      () => true,
      () => false,
    );
    if (!hasJavac) return ctx.skip('no javac (a Java runtime only): cannot recompile the launcher to compare');
    const out = mkdtempSync(path.join(os.tmpdir(), 'ipam-launcher-'));
    try {
      const cp = [path.join(jarDir(), 'DynamoDBLocal.jar'), path.join(jarDir(), 'DynamoDBLocal_lib', '*')].join(path.delimiter);
      await run('javac', ['--release', '17', '-nowarn', '-cp', cp, '-d', out, path.join(LAUNCHER.dir, `${LAUNCHER.name}.java`)]);
      const code = async (dir: string) => (await run('javap', ['-c', '-p', '-cp', dir, LAUNCHER.name])).stdout;
      expect(await code(LAUNCHER.dir)).toBe(await code(out));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);

  it('item 8: DynamoDB Local listens on 127.0.0.1 only, and says so at start-up', async (ctx) => {
    const svc = await startService({}, { timeoutMs: 120_000 });
    try {
      const m = /DynamoDB Local: (\S+), port (\d+), no authentication/.exec(svc.output());
      expect(m, svc.output()).not.toBeNull();
      expect(m![1]).toBe('127.0.0.1');
      expect((await svc.client().listPools('x')).length).toBe(0);
      const addrs = await listenAddresses(Number(m![2]));
      if (!addrs?.length) return ctx.skip('ss not available: cannot tell which address DynamoDB Local listens on');
      expect(addrs.every((a) => LOOPBACK.has(a)), addrs.join(', ')).toBe(true);
    } finally {
      await svc.stop();
    }
  }, 180_000);
});
