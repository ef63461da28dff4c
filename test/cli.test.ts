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

  it('manages networks, moves a pool into one, and shows the network with every allocation', async () => {
    const run = (...args: string[]) => ipam(svc, args);
    const created = await run('-o', 'json', 'network', 'create', 'net', 'dmz', 'lan', '--cidr', '10.14.0.0/24', '--gateway', '10.14.0.1', '--dns-server', '10.14.0.53', '--dns-server', '10.0.0.53', '--search-domain', 'lan.example.com', '--ntp-server', 'ntp.example.com', '--mtu', '1500', '--vlan', '14', '--route', '192.168.0.0/16,10.14.0.254', '--dns-domain', 'lan.example.com', '--tag', 'team=net');
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ zone: 'dmz', name: 'lan', cidr: '10.14.0.0/24', prefixLength: 24, gateway: '10.14.0.1', dnsServers: ['10.14.0.53', '10.0.0.53'], searchDomains: ['lan.example.com'], ntpServers: ['ntp.example.com'], mtu: 1500, vlan: 14, routes: [{ to: '192.168.0.0/16', via: '10.14.0.254' }], dns: { domain: 'lan.example.com' }, tags: { team: 'net' } });
    const table = await run('-o', 'table', 'network', 'list', 'net');
    expect(table.stdout).toMatch(/ZONE\s+NAME\s+CIDR\s+GATEWAY\s+DNSSERVERS/);
    expect(table.stdout).toMatch(/dmz\s+lan\s+10\.14\.0\.0\/24\s+10\.14\.0\.1\s+10\.14\.0\.53,10\.0\.0\.53\s+lan\.example\.com\s+ntp\.example\.com\s+1500\s+14\s+192\.168\.0\.0\/16>10\.14\.0\.254\s+lan\.example\.com/);
    expect(JSON.parse((await run('-o', 'json', 'network', 'show', 'net', 'dmz', 'lan')).stdout).vlan).toBe(14);
    expect(JSON.parse((await run('-o', 'json', 'network', 'list', 'net', '--zone', 'web')).stdout)).toEqual([]);
    // Bad input is 2, a conflict 4, a missing network 3.
    expect((await run('network', 'create', 'net', 'dmz', 'bad', '--cidr', '10.15.0.1/24')).stderr).toContain('10.15.0.0/24');
    expect((await run('network', 'create', 'net', 'dmz', 'bad', '--cidr', '10.15.0.0/24', '--route', '192.168.0.0/16')).code).toBe(2);
    expect((await run('network', 'create', 'net', 'web', 'other', '--cidr', '10.14.0.128/25')).code).toBe(4);
    expect((await run('network', 'show', 'net', 'dmz', 'nope')).code).toBe(3);

    // An existing pool moves in: its gateway address is held, so the move is refused until it is released.
    await run('pool', 'create', 'net', 'dmz', 'web', '--range', '10.14.0.0/28');
    const router = await run('allocate', 'net', 'dmz', 'web', '--vip', 'router', '--address', '10.14.0.1', '-q');
    expect(router.code, router.stderr).toBe(0);
    const refused = await run('pool', 'update', 'net', 'dmz', 'web', '--network', 'lan');
    expect([refused.code, refused.stderr]).toEqual([4, expect.stringContaining('RangeInUse')]);
    await run('release', 'net', '10.14.0.1');
    const moved = await run('-o', 'json', 'pool', 'update', 'net', 'dmz', 'web', '--network', 'lan');
    expect(moved.code, moved.stderr).toBe(0);
    expect(JSON.parse(moved.stdout)).toMatchObject({ network: 'lan', size: '14', reserved: ['10.14.0.0', '10.14.0.1', '10.14.0.255'] });
    expect((await run('-o', 'table', 'pool', 'show', 'net', 'dmz', 'web')).stdout).toMatch(/dmz\s+web\s+10\.14\.0\.0\/28\s+lan\s+14/);

    // Allocations show the network: JSON carries it whole, the table its CIDR and gateway.
    const a = await run('-o', 'json', 'allocate', 'net', 'dmz', 'web', '--vm', 'vm-n', '--name', 'eth0');
    expect(a.code, a.stderr).toBe(0);
    const alloc = JSON.parse(a.stdout);
    expect(alloc.network).toMatchObject({ name: 'lan', cidr: '10.14.0.0/24', prefixLength: 24, gateway: '10.14.0.1', dnsServers: ['10.14.0.53', '10.0.0.53'], mtu: 1500, vlan: 14 });
    const shown = await run('-o', 'table', 'show', 'net', alloc.address);
    expect(shown.stdout).toMatch(/CIDR\s+ZONE\s+POOL\s+HOLDER\s+NAME\s+HOSTNAME\s+MAC\s+NETWORK\s+GATEWAY/);
    expect(shown.stdout).toMatch(new RegExp(`${alloc.address.replaceAll('.', '\\.')}/32\\s+dmz\\s+web\\s+vm:vm-n\\s+eth0\\s+10\\.14\\.0\\.0/24\\s+10\\.14\\.0\\.1`));
    expect((await run('-o', 'table', 'show', 'net', 'vm:vm-n')).stdout).toContain('10.14.0.0/24');
    expect((await run('-o', 'table', 'list', 'net', 'dmz', 'web')).stdout).toContain('10.14.0.1 ');

    // Changes: lists are replaced, --clear removes; in use, the gateway stays; not in use, the network goes.
    const changed = await run('-o', 'json', 'network', 'update', 'net', 'dmz', 'lan', '--dns-server', '10.14.0.54', '--clear', 'mtu', '--clear', 'routes');
    expect(changed.code, changed.stderr).toBe(0);
    expect(JSON.parse(changed.stdout)).toMatchObject({ dnsServers: ['10.14.0.54'], routes: [] });
    expect(JSON.parse(changed.stdout)).not.toHaveProperty('mtu');
    expect((await run('network', 'update', 'net', 'dmz', 'lan', '--gateway', '10.14.0.2')).stderr).toContain('NetworkInUse');
    expect((await run('network', 'update', 'net', 'dmz', 'lan', '--mtu', '1400', '--clear', 'mtu')).code).toBe(2);
    expect((await run('network', 'delete', 'net', 'dmz', 'lan')).code).toBe(4);
    await run('release', 'net', '--all', '--vm', 'vm-n');
    const out = await run('-o', 'json', 'pool', 'update', 'net', 'dmz', 'web', '--clear', 'network');
    expect(JSON.parse(out.stdout)).toMatchObject({ size: '16' });
    expect((await run('network', 'delete', 'net', 'dmz', 'lan')).code).toBe(0);
    expect((await run('network', 'show', 'net', 'dmz', 'lan')).code).toBe(3);
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

/** The CLI as a user runs it: no --endpoint, no --callers-file; only the environment and the working directory. */
function bare(args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(IPAM_|AWS_)/.test(k)));
  // HOME elsewhere and no metadata service: the AWS credential chain finds nothing and asks no network
  const full = { ...clean, HOME: cwd, AWS_EC2_METADATA_DISABLED: 'true', ...env };
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'bin/ipam.js'), ...args], { cwd, env: full }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

describe('ipam CLI from another directory, on a non-default port', () => {
  let svc: RunningService;
  let port: string;
  let elsewhere: string;
  beforeAll(async () => {
    svc = await startService({ IPAM_DYNAMODB_ENDPOINT: ddbEndpoint() });
    port = new URL(svc.url).port;
    elsewhere = mkdtempSync(path.join(os.tmpdir(), 'ipam-cwd-'));
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it("runs the README's session with IPAM_PORT and IPAM_DATA_DIR, from a directory without .ipam", async () => {
    expect(port).not.toBe('8080');
    const env = { IPAM_PORT: port, IPAM_DATA_DIR: svc.dataDir };
    const run = (...args: string[]) => bare(args, env, elsewhere);
    const created = await run('pool', 'create', 'prod', 'dmz', 'web', '--range', '10.20.0.0/24', '--exclude', '10.20.0.0', '--exclude', '10.20.0.255');
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ name: 'web', size: '254' });
    const a = await run('allocate', 'prod', 'dmz', 'web', '--vm', 'vm-1042', '--name', 'eth0', '--hostname', 'web-1042', '-q');
    expect(a.code, a.stderr).toBe(0);
    const address = a.stdout.trim();
    expect(address).toMatch(/^10\.20\.0\.\d+$/);
    expect(JSON.parse((await run('show', 'prod', address)).stdout)).toMatchObject({ address, vm: 'vm-1042', hostname: 'web-1042' });
    // change it, then a repeat: identical or leaving fields out gives it back; another MAC is a conflict (4)
    const updated = await run('update', 'prod', address, '--mac', '52-54-00-12-34-56', '--tag', 'role=web');
    expect(updated.code, updated.stderr).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({ mac: '52:54:00:12:34:56', tags: { role: 'web' }, hostname: 'web-1042' });
    const same = await run('allocate', 'prod', 'dmz', 'web', '--vm', 'vm-1042', '--name', 'eth0', '--mac', '52:54:00:12:34:56', '-q');
    expect([same.code, same.stdout.trim()]).toEqual([0, address]);
    const other = await run('allocate', 'prod', 'dmz', 'web', '--vm', 'vm-1042', '--name', 'eth0', '--mac', '02:00:00:00:00:33', '--hostname', 'db');
    expect(other.code).toBe(4);
    expect(other.stderr).toContain('IdempotentParameterMismatch');
    expect(other.stderr).toMatch(/mac, hostname/);
    expect(JSON.parse((await run('show', 'prod', address)).stdout).mac).toBe('52:54:00:12:34:56');
    const cleared = await run('update', 'prod', address, '--clear', 'mac', '--clear', 'tags');
    expect(JSON.parse(cleared.stdout)).not.toHaveProperty('mac');
    expect(JSON.parse(cleared.stdout).tags).toEqual({});
    // the pool's settings change from now on
    const changed = await run('pool', 'update', 'prod', 'dmz', 'web', '--prefix-length', '30', '--quarantine', '0', '--dns-domain', 'prod.example.com');
    expect(changed.code, changed.stderr).toBe(0);
    expect(JSON.parse(changed.stdout)).toMatchObject({ prefixLength: 30, dns: { domain: 'prod.example.com' } });
    const block = await run('allocate', 'prod', 'dmz', 'web', '--vm', 'vm-7', '-q');
    expect(block.stdout.trim()).toMatch(/\/30$/);
    // a release says what it released: a line on a terminal (-o table), the allocations as JSON, as --all does
    const released = await run('-o', 'table', 'release', 'prod', address, '--vm', 'vm-1042');
    expect(released.code, released.stderr).toBe(0);
    expect(released.stdout.trim()).toBe(`released ${address} (vm:vm-1042 eth0, pool prod/dmz/web)`);
    const all = await run('release', 'prod', '--all', '--vm', 'vm-7');
    expect(JSON.parse(all.stdout)).toMatchObject([{ vm: 'vm-7', prefixLength: 30 }]);
    expect((await run('show', 'prod', address)).code).toBe(3);
    // IPAM_CALLERS_FILE names the file directly
    expect((await bare(['pool', 'list', 'prod'], { IPAM_PORT: port, IPAM_CALLERS_FILE: svc.callersFile }, elsewhere)).code).toBe(0);
  });

  it('exits with a documented code and a message that says how to fix it, for every failure', async () => {
    // no keys where it looked, and none in the AWS chain: 5, naming the places and the settings
    const lost = await bare(['pool', 'list', 'prod'], { IPAM_PORT: port }, elsewhere);
    expect(lost.code).toBe(5);
    expect(lost.stderr).toContain(path.join(elsewhere, '.ipam', 'callers.json'));
    expect(lost.stderr).toMatch(/IPAM_DATA_DIR.*IPAM_CALLERS_FILE.*--callers-file/);
    expect(lost.stderr).not.toMatch(/^Could not load credentials/);
    const env = { IPAM_PORT: port, IPAM_DATA_DIR: svc.dataDir };
    const missing = await bare(['--callers-file', path.join(elsewhere, 'nope.json'), 'pool', 'list', 'prod'], env, elsewhere);
    expect([missing.code, missing.stderr]).toEqual([2, `ipam: callers file ${path.join(elsewhere, 'nope.json')} does not exist\n`]);
    const unknown = await bare(['--caller', 'arn:aws:iam::1:role/nobody', 'pool', 'list', 'prod'], env, elsewhere);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no caller arn:aws:iam::1:role/nobody');
    const badMac = await bare(['allocate', 'prod', 'dmz', 'web', '--vm', 'x', '--mac', 'zz'], env, elsewhere);
    expect(badMac.code).toBe(2);
    expect(badMac.stderr).toContain('must be a MAC address like 52:54:00:12:34:56');
    expect(badMac.stderr).not.toContain('[0-9A-Fa-f]');
    const down = await bare(['pool', 'list', 'prod'], { ...env, IPAM_PORT: '9' }, elsewhere);
    expect(down.code).toBe(6);
    expect(down.stderr).toContain('http://127.0.0.1:9');
    expect((await bare(['update', 'prod', '10.20.0.9'], env, elsewhere)).code).toBe(2);
    expect((await bare(['update', 'prod', '10.20.0.9', '--clear', 'colour'], env, elsewhere)).code).toBe(2);
    expect((await bare(['update', 'prod', '10.99.0.9', '--hostname', 'h'], env, elsewhere)).code).toBe(3);
    expect((await bare(['--endpoint', 'not a url', 'pool', 'list', 'prod'], env, elsewhere)).code).toBe(2);
    const version = await bare(['--version'], {}, elsewhere);
    expect([version.code, version.stdout.trim()]).toEqual([0, JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version]);
    // every subcommand's help lists the global options
    for (const cmd of [['allocate'], ['release'], ['update'], ['pool', 'create'], ['env', 'apply']]) {
      const help = await bare([...cmd, '--help'], {}, elsewhere);
      expect(help.code).toBe(0);
      const global = help.stdout.split('Global Options:')[1] ?? '';
      for (const o of ['-o, --output', '--endpoint', '--callers-file', '--caller', '--region', '--version']) expect(global).toContain(o);
    }
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
