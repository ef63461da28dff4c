/**
 * The scheduled DNS export through the S3 code path, against a real S3-protocol server (s3rver)
 * and a directory: objects and manifest, unchanged zones not rewritten and keeping their serials,
 * changed zones rewritten with a higher serial, vanished zones retired; every exported zone passes
 * named-checkzone. Also the local scheduler and the Lambda entry. The zone header comes from each cloud's
 * DNS settings, else the deployment's defaults; a cloud with neither is skipped with a logged warning and
 * the other clouds are still exported.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, zoneFile } from '../lib/integrations/dns/zones.js';
import type { Ipam } from '../lib/engine/ipam.js';
import { listClouds } from '../lib/integrations/export/clouds.js';
import { DirStore, S3Store, s3ClientFor, type ObjectStore, type PutOptions } from '../lib/integrations/export/object-store.js';
import { createZoneExportHandler } from '../lib/integrations/export/handler.js';
import { startExportScheduler } from '../lib/integrations/export/scheduler.js';
import { exportZones, MANIFEST_KEY, readManifest, type Manifest } from '../lib/integrations/export/zones.js';
import { tool } from './tools.js';
import { ctx, ddbEndpoint, freshIpam } from './support.js';

const exec = promisify(execFile);
const require = createRequire(import.meta.url);


/** Counts the puts that go through to the real store. */
class CountingStore implements ObjectStore {
  puts: string[] = [];
  constructor(readonly inner: ObjectStore) {}
  get location() {
    return this.inner.location;
  }
  getObject(key: string) {
    return this.inner.getObject(key);
  }
  async putObject(key: string, body: Readable, opts: PutOptions) {
    this.puts.push(key);
    await this.inner.putObject(key, body, opts);
  }
}

const BUCKET = 'exports';
let s3rver: { close(): Promise<void> };
let endpoint: string;
let s3: S3Client;
let ipam: Ipam;
let table: string;

async function getText(key: string): Promise<string> {
  const r = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return r.Body!.transformToString();
}
const etag = async (key: string) => (await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).ETag;
const serialOf = (text: string) => Number(/\tSOA\t\S+ \S+ (\d+) /.exec(text)![1]);
const entry = (m: Manifest, cloud: string, zone: string) => m.zones.find((z) => z.cloud === cloud && z.zone === zone);

beforeAll(async () => {
  const S3rver = require('s3rver');
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: mkdtempSync(path.join(os.tmpdir(), 'ipam-s3rver-')), configureBuckets: [{ name: BUCKET }] });
  const addr = (await server.run()) as { port: number };
  s3rver = server;
  endpoint = `http://127.0.0.1:${addr.port}`;
  s3 = s3ClientFor({ endpoint, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
  ({ ipam, table } = await freshIpam());
  for (const cloud of ['e1', 'e2']) {
    await ipam.createPool(cloud, 'z', 'v4', { ranges: ['10.70.0.0/23'], dns: { domain: `${cloud}.example.com` } }, ctx);
    await ipam.createPool(cloud, 'z', 'v6', { ranges: ['fd00:70::/120'], dns: { domain: `${cloud}.example.com` } }, ctx);
    await ipam.allocate({ cloud, zone: 'z', pool: 'v4', holder: { kind: 'vm', id: 'a' }, address: '10.70.0.10', hostname: 'a' }, ctx);
    await ipam.allocate({ cloud, zone: 'z', pool: 'v4', holder: { kind: 'vm', id: 'b' }, address: '10.70.1.20', hostname: 'b' }, ctx);
    await ipam.allocate({ cloud, zone: 'z', pool: 'v6', holder: { kind: 'vm', id: 'c' }, address: 'fd00:70::c', hostname: 'c' }, ctx);
  }
  // e1's primary lies inside its own zone (with its address), e2's outside.
  await ipam.setDnsSettings('e1', { primaryNs: 'ns1.e1.example.com', primaryNsAddresses: ['192.0.2.1'], secondaryNs: ['ns2.example.net'], hostmaster: 'hostmaster@e1.example.com' }, ctx);
  await ipam.setDnsSettings('e2', { primaryNs: 'ns1.example.net', hostmaster: 'hostmaster.example.net' }, ctx);
});

afterAll(async () => {
  s3?.destroy();
  await s3rver?.close();
});

describe('export to S3 (s3rver)', () => {
  let store: CountingStore;
  let first: Manifest;

  it('finds the clouds by scanning the table', async () => {
    expect(await listClouds(ipam)).toEqual(['e1', 'e2']);
  });

  it('writes every zone and a manifest; the files are the API’s zone files and pass named-checkzone', async () => {
    const checkzone = tool('named-checkzone', 'bind9-utils');
    store = new CountingStore(new S3Store(BUCKET, s3));
    const r = await exportZones({ ipam, store });
    expect(r.clouds).toEqual(['e1', 'e2']);
    expect(r.zones).toBe(8);
    expect(r.written).toHaveLength(8);
    expect(r.records).toBe(2 * 6);
    expect(r.manifestWritten).toBe(true);
    expect(store.puts.filter((k) => k !== MANIFEST_KEY)).toHaveLength(8);
    expect(store.puts[store.puts.length - 1]).toBe(MANIFEST_KEY);

    first = JSON.parse(await getText(MANIFEST_KEY)) as Manifest;
    expect(first.version).toBe(1);
    expect(first.zones.map((z) => `${z.cloud}/${z.zone}`)).toEqual(
      ['e1', 'e2'].flatMap((c) => [`${c}/${c}.example.com`, `${c}/0.70.10.in-addr.arpa`, `${c}/1.70.10.in-addr.arpa`, `${c}/0.0.0.0.0.0.0.0.0.7.0.0.0.0.d.f.ip6.arpa`]),
    );
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ipam-export-check-'));
    for (const z of first.zones) {
      expect(z.key).toBe(`dns/${z.cloud}/${z.zone}.zone`);
      const text = await getText(z.key);
      expect(Buffer.byteLength(text)).toBe(z.bytes);
      expect(serialOf(text)).toBe(z.serial);
      expect(createHash('sha256').update(text.replace(/(\tSOA\t\S+ \S+ )\d+ /, '$1SERIAL ')).digest('hex')).toBe(z.sha256);
      expect(text).toBe(await collect(zoneFile(ipam, z.cloud, z.zone, { serial: z.serial })));
      const f = path.join(dir, `${z.cloud}-${z.zone}.zone`);
      writeFileSync(f, text);
      const c = await exec(checkzone, [z.zone, f]).catch((e) => e);
      expect(c.code ?? 0, `${z.key}:\n${c.stdout}${c.stderr}`).toBe(0);
    }
    expect(entry(first, 'e1', 'e1.example.com')).toMatchObject({ records: 3 });
    expect(await getText('dns/e1/e1.example.com.zone')).toMatch(/\tSOA\tns1\.e1\.example\.com\. hostmaster\.e1\.example\.com\. \d+ [\s\S]*\nns1\tIN\tA\t192\.0\.2\.1\n/);
    expect(await getText('dns/e2/e2.example.com.zone')).toMatch(/\tSOA\tns1\.example\.net\. hostmaster\.example\.net\. \d+ /);
    expect(entry(first, 'e1', '0.70.10.in-addr.arpa')).toMatchObject({ records: 1 });
  });

  it('rewrites nothing (not even the manifest) when nothing changed', async () => {
    store.puts = [];
    const before = await etag(MANIFEST_KEY);
    const r = await exportZones({ ipam, store });
    expect(store.puts).toEqual([]);
    expect(r).toMatchObject({ written: [], unchanged: 8, manifestWritten: false });
    expect(await etag(MANIFEST_KEY)).toBe(before);
  });

  it('rewrites only the zones a change touches, with a higher serial; the others keep theirs', async () => {
    store.puts = [];
    const untouched = await etag('dns/e1/1.70.10.in-addr.arpa.zone');
    // Renaming 10.70.0.10 in e1 touches e1's forward zone and its 0.70.10 reverse zone, nothing else.
    await ipam.updateAllocation('e1', '10.70.0.10', { hostname: 'a-renamed' }, ctx);
    const r = await exportZones({ ipam, store });
    expect(r.written.map((w) => `${w.cloud}/${w.zone}`)).toEqual(['e1/e1.example.com', 'e1/0.70.10.in-addr.arpa']);
    expect(r.unchanged).toBe(6);
    expect(store.puts.sort()).toEqual(['dns/e1/0.70.10.in-addr.arpa.zone', 'dns/e1/e1.example.com.zone', MANIFEST_KEY].sort());
    const m = (await readManifest(store))!;
    for (const z of m.zones) {
      const old = entry(first, z.cloud, z.zone)!;
      if (z.cloud === 'e1' && (z.zone === 'e1.example.com' || z.zone === '0.70.10.in-addr.arpa')) {
        expect(z.serial).toBeGreaterThan(old.serial);
        expect(z.sha256).not.toBe(old.sha256);
        expect(serialOf(await getText(z.key))).toBe(z.serial);
      } else expect(z).toEqual(old);
    }
    expect(await getText('dns/e1/e1.example.com.zone')).toContain('a-renamed\tIN\tA\t10.70.0.10\n');
    expect(await getText('dns/e1/0.70.10.in-addr.arpa.zone')).toContain('10\tIN\tPTR\ta-renamed.e1.example.com.\n');
    expect(await etag('dns/e1/1.70.10.in-addr.arpa.zone')).toBe(untouched);

    // Changed again within the same second of the change clock: the serial still moves forward.
    const prevSerial = entry(m, 'e1', 'e1.example.com')!.serial;
    await ipam.updateAllocation('e1', '10.70.0.10', { hostname: 'a' }, ctx);
    await exportZones({ ipam, store });
    await ipam.updateAllocation('e1', '10.70.0.10', { hostname: 'a-again' }, ctx);
    await exportZones({ ipam, store });
    expect(entry((await readManifest(store))!, 'e1', 'e1.example.com')!.serial).toBeGreaterThanOrEqual(prevSerial + 2);
  });

  it('retires a zone that vanished: written once as an empty zone, then left alone', async () => {
    await ipam.release('e2', '10.70.1.20', undefined, ctx);
    store.puts = [];
    const r = await exportZones({ ipam, store });
    expect(r.retired).toEqual([{ cloud: 'e2', zone: '1.70.10.in-addr.arpa' }]);
    expect(r.written.map((w) => `${w.cloud}/${w.zone}`)).toEqual(['e2/e2.example.com']);
    const m = (await readManifest(store))!;
    expect(entry(m, 'e2', '1.70.10.in-addr.arpa')).toMatchObject({ records: 0, retiredAt: expect.any(String) });
    const text = await getText('dns/e2/1.70.10.in-addr.arpa.zone');
    expect(text).not.toContain('PTR');
    const f = path.join(mkdtempSync(path.join(os.tmpdir(), 'ipam-export-retired-')), 'z');
    writeFileSync(f, text);
    await exec(tool('named-checkzone', 'bind9-utils'), ['1.70.10.in-addr.arpa', f]);
    store.puts = [];
    expect((await exportZones({ ipam, store })).retired).toEqual([]);
    expect(store.puts).toEqual([]);
    // It comes back when an address in it is named again, with a higher serial.
    await ipam.allocate({ cloud: 'e2', zone: 'z', pool: 'v4', holder: { kind: 'vm', id: 'b' }, address: '10.70.1.21', hostname: 'b' }, ctx);
    await exportZones({ ipam, store });
    const back = entry((await readManifest(store))!, 'e2', '1.70.10.in-addr.arpa')!;
    expect(back.retiredAt).toBeUndefined();
    expect(back.serial).toBeGreaterThan(entry(m, 'e2', '1.70.10.in-addr.arpa')!.serial);
  });

  it('exports a subset of clouds and leaves the others in the manifest as they were', async () => {
    const before = (await readManifest(store))!;
    await ipam.updateAllocation('e1', '10.70.1.20', { hostname: 'b2' }, ctx);
    await ipam.updateAllocation('e2', '10.70.1.21', { hostname: 'b3' }, ctx);
    const r = await exportZones({ ipam, store, clouds: ['e2'] });
    expect(r.clouds).toEqual(['e2']);
    const after = (await readManifest(store))!;
    for (const z of after.zones.filter((x) => x.cloud === 'e1')) expect(z).toEqual(entry(before, 'e1', z.zone));
    expect(entry(after, 'e2', '1.70.10.in-addr.arpa')!.serial).toBeGreaterThan(entry(before, 'e2', '1.70.10.in-addr.arpa')!.serial);
  });
});

describe('export to a directory', () => {
  it('lays out dns/{cloud}/{zone}.zone and dns/manifest.json', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ipam-export-dir-'));
    const r = await exportZones({ ipam, store: new DirStore(dir), clouds: ['e1'] });
    expect(r.written).toHaveLength(4);
    const m = JSON.parse(readFileSync(path.join(dir, 'dns/manifest.json'), 'utf8')) as Manifest;
    for (const z of m.zones) expect(readFileSync(path.join(dir, z.key), 'utf8')).toBe(await collect(zoneFile(ipam, 'e1', z.zone, { serial: z.serial })));
  });
});

describe('scheduler', () => {
  it('exports on an interval into a directory and into S3, and stops', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ipam-export-sched-'));
    const lines: string[] = [];
    // The directory loop runs once at start, then only when asked; the S3 loop every 100 ms.
    const toDir = startExportScheduler({ ipam, dir, intervalMs: 60_000, firstRunMs: 0, clouds: ['e1'], log: (l) => lines.push(l) });
    const toS3 = startExportScheduler({ ipam, s3: { bucket: BUCKET, endpoint, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, intervalMs: 100, firstRunMs: 0, clouds: ['e1'], log: (l) => lines.push(l) });
    const deadline = Date.now() + 30_000;
    while (!(toDir.last() && toS3.last()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(path.join(dir, 'dns/e1/e1.example.com.zone'))).toBe(true);
    await ipam.updateAllocation('e1', '10.70.1.20', { hostname: 'b4' }, ctx);
    const again = await toDir.runNow();
    expect(again.written.map((w) => w.zone)).toEqual(['e1.example.com', '1.70.10.in-addr.arpa']);
    expect(readFileSync(path.join(dir, 'dns/e1/e1.example.com.zone'), 'utf8')).toContain('b4\tIN\tA\t10.70.1.20\n');
    // The S3 loop picks the change up by itself.
    while (!(await getText('dns/e1/e1.example.com.zone')).includes('b4\tIN\tA') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await getText('dns/e1/e1.example.com.zone')).toContain('b4\tIN\tA\t10.70.1.20\n');
    await toDir.stop();
    await toS3.stop();
    expect(lines.some((l) => l.includes(`zone export to file://${dir}`))).toBe(true);
    expect(lines.filter((l) => l.includes('failed'))).toEqual([]);
  });
});

describe('the Lambda entry', () => {
  it('exports to the bucket named by IPAM_EXPORT_BUCKET and returns a summary', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      IPAM_TABLE: table,
      IPAM_DYNAMODB_ENDPOINT: ddbEndpoint(),
      IPAM_EXPORT_BUCKET: BUCKET,
      IPAM_EXPORT_CLOUDS: 'e1,e2',
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    });
    try {
      await exportZones({ ipam, store: new S3Store(BUCKET, s3) });
      await ipam.updateAllocation('e2', '10.70.0.10', { hostname: 'from-lambda' }, ctx);
      const { handler } = await import('../functions/zone-export.js');
      const summary = await handler();
      expect(summary).toMatchObject({ clouds: 2, zones: 8, written: 2, unchanged: 6, manifestWritten: true });
      expect(await getText('dns/e2/e2.example.com.zone')).toContain('from-lambda\tIN\tA\t10.70.0.10\n');
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });
});

describe('clouds without DNS settings', () => {
  it('are skipped with a warning (their last files and entries kept), the others exported; the deployment defaults serve them', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ipam-export-nodns-'));
    const store = new DirStore(dir);
    await ipam.createPool('e3', 'z', 'p', { ranges: ['10.73.0.0/24'], dns: { domain: 'e3.example.com' } }, ctx);
    // Another zone's domain that sorts first: it never becomes anybody's SOA or NS.
    await ipam.createPool('e3', 'y', 'q', { ranges: ['10.74.0.0/24'], dns: { domain: 'aaa.example.com' } }, ctx);
    await ipam.allocate({ cloud: 'e3', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'a' }, address: '10.73.0.5', hostname: 'a' }, ctx);
    const r = await exportZones({ ipam, store });
    expect(r.clouds).toEqual(['e1', 'e2', 'e3']);
    expect(r.skipped).toEqual([{ cloud: 'e3', reason: expect.stringMatching(/cloud e3 has no DNS settings.*PUT \/v1\/clouds\/e3\/dns.*ipam:dnsPrimaryNs/) }]);
    expect(new Set(r.written.map((w) => w.cloud))).toEqual(new Set(['e1', 'e2']));
    expect(existsSync(path.join(dir, 'dns/e3'))).toBe(false);

    // The deployment's defaults (IPAM_DNS_*) serve a cloud without settings of its own.
    const defaults = { primaryNs: 'ns1.deploy.example.org', primaryNsAddresses: ['192.0.2.7'], hostmaster: 'hostmaster@deploy.example.org', ttl: 90 };
    const withDefaults = await exportZones({ ipam, store, dns: defaults });
    expect(withDefaults.skipped).toEqual([]);
    expect(withDefaults.written.filter((w) => w.cloud === 'e3').map((w) => w.zone)).toEqual(['aaa.example.com', 'e3.example.com', '0.73.10.in-addr.arpa']);
    const e3 = readFileSync(path.join(dir, 'dns/e3/e3.example.com.zone'), 'utf8');
    expect(e3).toContain('$TTL 90\n');
    expect(e3).toMatch(/\tSOA\tns1\.deploy\.example\.org\. hostmaster\.deploy\.example\.org\. \d+ /);
    expect(e3).not.toMatch(/aaa|127\.0\.0\.1/);
    for (const z of ['e3.example.com', 'aaa.example.com', '0.73.10.in-addr.arpa']) {
      const c = await exec(tool('named-checkzone', 'bind9-utils'), [z, path.join(dir, `dns/e3/${z}.zone`)]).catch((e) => e);
      expect(c.code ?? 0, `${z}: ${c.stdout}`).toBe(0);
    }
    // Without them again: skipped, and what was exported stays (nothing is retired).
    const before = (await readManifest(store))!.zones.filter((z) => z.cloud === 'e3');
    const again = await exportZones({ ipam, store });
    expect(again.skipped.map((x) => x.cloud)).toEqual(['e3']);
    expect(again.retired).toEqual([]);
    expect((await readManifest(store))!.zones.filter((z) => z.cloud === 'e3')).toEqual(before);
    expect(readFileSync(path.join(dir, 'dns/e3/e3.example.com.zone'), 'utf8')).toBe(e3);
  });

  it('skips a zone whose name server lies inside it without an address, and exports the rest of the cloud', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ipam-export-nsaddr-'));
    await ipam.setDnsSettings('e3', { primaryNs: 'ns1.e3.example.com', hostmaster: 'hostmaster@e3.example.com' }, ctx);
    const r = await exportZones({ ipam, store: new DirStore(dir), clouds: ['e3'] });
    expect(r.written.map((w) => w.zone)).toEqual(['aaa.example.com', '0.73.10.in-addr.arpa']);
    expect(r.warnings.join('\n')).toContain('zone e3.example.com of cloud e3 cannot be served: name server ns1.e3.example.com lies inside it and needs an address');
    expect(readFileSync(path.join(dir, 'dns/e3/aaa.example.com.zone'), 'utf8')).toMatch(/\tSOA\tns1\.e3\.example\.com\. hostmaster\.e3\.example\.com\. /);
    await ipam.setDnsSettings('e3', { primaryNs: 'ns1.e3.example.com', primaryNsAddresses: ['10.73.0.53'], hostmaster: 'hostmaster@e3.example.com' }, ctx);
    const fixed = await exportZones({ ipam, store: new DirStore(dir), clouds: ['e3'] });
    expect(fixed.written.map((w) => w.zone)).toContain('e3.example.com');
    expect(readFileSync(path.join(dir, 'dns/e3/e3.example.com.zone'), 'utf8')).toContain('ns1\tIN\tA\t10.73.0.53\n');
  });

  it('the Lambda handler logs the skipped cloud and exports the others; IPAM_DNS_* defaults reach it', async () => {
    const warnings: { message: string; extra: unknown }[] = [];
    const logger = { info: () => undefined, error: () => undefined, warn: (message: unknown, ...extra: unknown[]) => void warnings.push({ message: String(message), extra: extra[0] }) };
    await ipam.createPool('e4', 'z', 'p', { ranges: ['10.75.0.0/24'], dns: { domain: 'e4.example.com' } }, ctx);
    await ipam.allocate({ cloud: 'e4', zone: 'z', pool: 'p', holder: { kind: 'vm', id: 'a' }, address: '10.75.0.5', hostname: 'a' }, ctx);
    const env = { IPAM_EXPORT_BUCKET: BUCKET, IPAM_EXPORT_CLOUDS: 'e1,e4', AWS_REGION: 'us-east-1' };
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ENDPOINT_URL_S3: endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED', AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED' });
    try {
      const plain = await createZoneExportHandler({ ipam: () => ipam, logger, env })();
      expect(plain).toMatchObject({ clouds: 2, skippedClouds: ['e4'] });
      expect(warnings).toContainEqual({ message: 'zone export skipped a cloud', extra: { cloud: 'e4', reason: expect.stringContaining('cloud e4 has no DNS settings') } });
      expect((await readManifest(new S3Store(BUCKET, s3)))!.zones.some((z) => z.cloud === 'e1')).toBe(true);
      warnings.length = 0;
      const withEnv = await createZoneExportHandler({ ipam: () => ipam, logger, env: { ...env, IPAM_DNS_PRIMARY_NS: 'ns1.env.example.org', IPAM_DNS_HOSTMASTER: 'hostmaster@env.example.org' } })();
      expect(withEnv).not.toHaveProperty('skippedClouds');
      expect(warnings).toEqual([]);
      expect(await getText('dns/e4/e4.example.com.zone')).toMatch(/\tSOA\tns1\.env\.example\.org\. hostmaster\.env\.example\.org\. \d+ [\s\S]*a\tIN\tA\t10\.75\.0\.5\n/);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });
});
