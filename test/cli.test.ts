/**
 * The `ipam` CLI as scripts run it (bin/ipam.js), against the running local service;
 * and `npm start` itself: its own DynamoDB Local, a generated callers file, restarts.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, DMZ_ONLY, startService, type RunningService } from './service.js';
import { ddbEndpoint } from './support.js';

const ROOT = path.resolve(import.meta.dirname, '..');

function ipam(svc: RunningService, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'bin/ipam.js'), '--endpoint', svc.url, '--callers-file', svc.callersFile, ...args], { cwd: ROOT, env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('ipam CLI', () => {
  let svc: RunningService;
  beforeAll(async () => {
    svc = await startService({ IPAM_DYNAMODB_ENDPOINT: ddbEndpoint() });
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it('creates a pool, allocates, shows, lists and releases, with json and table output', async () => {
    const created = await ipam(svc, ['-o', 'json', 'pool', 'create', 'prod', 'dmz', 'web', '--range', '10.10.0.0/29', '--exclude', '10.10.0.0', '--tag', 'team=net']);
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ name: 'web', size: '7', tags: { team: 'net' } });
    const a = await ipam(svc, ['allocate', 'prod', 'dmz', 'web', '--vm', 'vm-42', '--name', 'eth0', '-q']);
    expect(a.code, a.stderr).toBe(0);
    const address = a.stdout.trim();
    expect(address).toMatch(/^10\.10\.0\.[1-7]$/);
    const again = await ipam(svc, ['allocate', 'prod', 'dmz', 'web', '--vm', 'vm-42', '--name', 'eth0', '-q']);
    expect(again.stdout.trim()).toBe(address);
    const shown = await ipam(svc, ['-o', 'table', 'show', 'prod', address]);
    expect(shown.stdout).toMatch(/CIDR\s+ZONE\s+POOL\s+HOLDER/);
    expect(shown.stdout).toContain('vm:vm-42');
    const byVm = await ipam(svc, ['-o', 'json', 'show', 'prod', 'vm:vm-42']);
    expect(JSON.parse(byVm.stdout)).toHaveLength(1);
    const listed = await ipam(svc, ['-o', 'json', 'list', 'prod', 'dmz', 'web']);
    expect(JSON.parse(listed.stdout).map((x: { address: string }) => x.address)).toEqual([address]);
    const pools = await ipam(svc, ['-o', 'table', 'pool', 'list', 'prod']);
    expect(pools.stdout).toMatch(/dmz\s+web\s+10\.10\.0\.0\/29\s+7\s+1\s+6/);
    expect((await ipam(svc, ['release', 'prod', address, '--vm', 'vm-42'])).code).toBe(0);
    expect((await ipam(svc, ['show', 'prod', address])).code).toBe(3);
  });

  it('--zone uses the zone routes: another zone\'s address is not found there', async () => {
    await ipam(svc, ['pool', 'create', 'zoned', 'a', 'p', '--range', '10.13.0.0/29']);
    const address = (await ipam(svc, ['allocate', 'zoned', 'a', 'p', '--vm', 'z-1', '-q'])).stdout.trim();
    expect(JSON.parse((await ipam(svc, ['-o', 'json', 'show', 'zoned', address, '--zone', 'a'])).stdout)).toMatchObject({ zone: 'a', vm: 'z-1' });
    expect((await ipam(svc, ['show', 'zoned', address, '--zone', 'b'])).code).toBe(3);
    expect(JSON.parse((await ipam(svc, ['-o', 'json', 'show', 'zoned', 'vm:z-1', '--zone', 'b'])).stdout)).toEqual([]);
    expect((await ipam(svc, ['release', 'zoned', address, '--zone', 'b'])).code).toBe(3);
    const manifest = path.join(svc.dataDir, 'zoned-env.yaml');
    writeFileSync(manifest, 'slots:\n  web: {pool: p, vm: z-2}\n');
    const applied = await ipam(svc, ['-o', 'json', 'env', 'apply', 'zoned', 'shop', '-f', manifest, '--zone', 'a']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(JSON.parse(applied.stdout)).toMatchObject({ environment: 'shop', zone: 'a', slots: { web: { zone: 'a', pool: 'p' } } });
    expect((await ipam(svc, ['env', 'show', 'zoned', 'shop'])).code).toBe(3); // the cloud's `shop` is another environment
    expect((await ipam(svc, ['env', 'release', 'zoned', 'shop', '--zone', 'a'])).code).toBe(0);
    expect((await ipam(svc, ['release', 'zoned', address, '--zone', 'a', '--vm', 'z-1'])).code).toBe(0);
  });

  it('exits with distinct codes scripts can rely on', async () => {
    await ipam(svc, ['pool', 'create', 'codes', 'z', 'one', '--range', '10.11.0.1']);
    await ipam(svc, ['allocate', 'codes', 'z', 'one', '--vm', 'a']);
    const exhausted = await ipam(svc, ['allocate', 'codes', 'z', 'one', '--vm', 'b']);
    expect(exhausted.code).toBe(4);
    expect(exhausted.stderr).toContain('PoolExhausted');
    expect((await ipam(svc, ['pool', 'show', 'codes', 'z', 'missing'])).code).toBe(3);
    expect((await ipam(svc, ['allocate', 'codes', 'z', 'one'])).code).toBe(2);
    expect((await ipam(svc, ['pool', 'create', 'codes', 'z', 'bad', '--range', '10.0.0.0/40'])).code).toBe(2);
    expect((await ipam(svc, ['no-such-command'])).code).toBe(2);
    const denied = await ipam(svc, ['--caller', DMZ_ONLY.principal, 'pool', 'list', 'codes']);
    expect(denied.code).toBe(5);
    const down = await new Promise<number>((resolve) =>
      execFile(process.execPath, [path.join(ROOT, 'bin/ipam.js'), '--endpoint', 'http://127.0.0.1:9', '--callers-file', svc.callersFile, 'pool', 'list', 'x'], (err) => resolve((err as { code?: number })?.code ?? 0)),
    );
    expect(down).toBe(6);
  });

  it('imports a large address file as collapsed ranges, with progress', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ipam-import-'));
    const file = path.join(dir, 'addresses.txt');
    const lines = ['# exported from the old spreadsheet'];
    for (let i = 0; i < 200_000; i++) if (i % 1000 !== 999) lines.push(`10.${20 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`);
    lines.push('10.40.0.0/30', '10.40.0.4-10.40.0.9');
    writeFileSync(file, lines.reverse().join('\n'));
    const r = await ipam(svc, ['-o', 'json', 'pool', 'create', 'imp', 'z', 'bulk', '--from-file', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/199,800 addresses|209,810 addresses|199800|addresses in/);
    const pool = JSON.parse(r.stdout);
    expect(pool.size).toBe(String(200_000 - 200 + 10));
    expect(pool.ranges.length).toBe(201);
    expect(pool.ranges).toContain('10.40.0.0-10.40.0.9');
  });
});

describe('npm start', () => {
  it('starts its own DynamoDB Local, creates a callers file, serves, and keeps everything across a restart', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'ipam-start-'));
    const env = { IPAM_CALLERS_FILE: path.join(dataDir, 'callers.json'), IPAM_TABLE: 'ipam' };
    let svc = await startService(env, { dataDir });
    try {
      expect(existsSync(env.IPAM_CALLERS_FILE)).toBe(true);
      expect(statSync(env.IPAM_CALLERS_FILE).mode & 0o777).toBe(0o600);
      const callers = JSON.parse(readFileSync(env.IPAM_CALLERS_FILE, 'utf8'));
      expect(callers[0]).toMatchObject({ accessKeyId: expect.stringMatching(/^AKIA/), principal: expect.any(String) });
      expect(svc.output()).toContain(env.IPAM_CALLERS_FILE);
      const c = svc.client(callers[0]);
      await c.createPool('keep', 'z', 'p', { ranges: ['10.12.0.0/24'] });
      const held = await Promise.all(Array.from({ length: 20 }, (_, i) => c.allocate('keep', 'z', 'p', { vm: `vm-${i}` })));
      expect(await svc.stop('SIGINT')).toBe(0);
      expect(svc.output()).toContain('stopping');
      svc = await startService(env, { dataDir });
      const c2 = svc.client(callers[0]);
      expect((await c2.getPool('keep', 'z', 'p')).allocated).toBe('20');
      for (const h of held) expect((await c2.lookup('keep', h.allocation.address)).vm).toBe(h.allocation.vm);
      expect(svc.output()).toMatch(/ready in \d+\.\d s/);
      // kill -9 of the service alone leaves its DynamoDB Local running on the data dir: the next start stops it
      const pidFile = path.join(dataDir, 'dynamodb', 'dynamodb-local.pid');
      const orphan = Number(readFileSync(pidFile, 'utf8'));
      process.kill(svc.proc.pid!, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 300));
      expect(existsSync(`/proc/${orphan}`)).toBe(true);
      svc = await startService(env, { dataDir });
      expect(existsSync(`/proc/${orphan}`)).toBe(false);
      expect((await svc.client(callers[0]).getPool('keep', 'z', 'p')).allocated).toBe('20');
    } finally {
      await svc.stop();
    }
    void ADMIN;
  });
});
