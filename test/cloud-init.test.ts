/**
 * cloud-init (issue 11, item 7): a VM's network-config (version 2, netplan) rendered by the real
 * `netplan generate --root-dir <tmp>` (Debian netplan.io), and the systemd-networkd files it writes checked.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { IpamError } from '../lib/core/errors.js';
import type { AllocationView, NicNetwork } from '../lib/core/network.js';
import { networkConfig, networkConfigYaml } from '../lib/integrations/cloud-init.js';
import { allowPatterns, zonePipeline } from '../lib/auth/roles.js';
import { ApiError } from '../lib/client/client.js';
import { ADMIN, sendSigned, signRequest, startService, type RunningService } from './service.js';
import { ctx, ddbEndpoint, ipamOn } from './support.js';
import { tool } from './tools.js';

const ROOT = path.resolve(import.meta.dirname, '..');

/**
 * Runs `netplan generate` on the document as /etc/netplan/50-ipam.yaml of a fresh root; answers the
 * systemd-networkd files (`.network`, `.link`) it wrote under run/systemd/network, by name, and its stderr.
 */
export function netplanGenerate(doc: string): { files: Record<string, string>; stderr: string } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'ipam-netplan-'));
  mkdirSync(path.join(root, 'etc/netplan'), { recursive: true });
  writeFileSync(path.join(root, 'etc/netplan/50-ipam.yaml'), doc, { mode: 0o600 });
  const r = spawnSync(tool('netplan', 'netplan.io'), ['generate', '--root-dir', root], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`netplan generate failed (${r.status}):\n${r.stderr}\n--- the document:\n${doc}`);
  const dir = path.join(root, 'run/systemd/network');
  const files = Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(path.join(dir, f), 'utf8')]));
  return { files, stderr: r.stderr };
}

/** The values of `key=` lines in a systemd unit file's `[section]` blocks (every block of that name). */
export function unitValues(text: string, section: string, key: string): string[][] {
  const blocks = text.split(/^(?=\[)/m).filter((b) => b.startsWith(`[${section}]`));
  return blocks.map((b) => [...b.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!));
}
const values = (text: string, section: string, key: string) => unitValues(text, section, key).flat();

let n = 0;
function alloc(address: string, network: NicNetwork | undefined, o: Partial<AllocationView> = {}): AllocationView {
  const family = address.includes(':') ? 6 : 4;
  const bits = family === 4 ? 32 : 128;
  return {
    cloud: 'c',
    zone: 'z',
    pool: 'p',
    address,
    cidr: `${address}/${bits}`,
    prefixLength: bits,
    family,
    vm: 'vm-1',
    name: `n${n++}`,
    tags: {},
    metadata: {},
    allocatedAt: '2026-01-01T00:00:00.000Z',
    allocatedBy: 'test',
    version: 1,
    ...(network ? { network } : {}),
    ...o,
  };
}

const net = (name: string, cidr: string, o: Partial<NicNetwork> = {}): NicNetwork => ({ name, cidr, prefixLength: Number(cidr.split('/')[1]), dnsServers: [], searchDomains: [], ntpServers: [], routes: [], ...o });

describe('network-config rendered by netplan (the renderer over allocations)', () => {
  it('groups by MAC, then by interface name, then by network; names, routes, metrics, DNS, MTU', async () => {
    const front = net('front', '10.20.0.0/24', { gateway: '10.20.0.1', dnsServers: ['10.20.0.53', '10.20.0.54'], searchDomains: ['prod.example.com'], mtu: 9000, routes: [{ to: '192.168.0.0/16', via: '10.20.0.254' }] });
    const front6 = net('front6', '10:20:30:40:50:59:0:0/112', { gateway: 'fe80::1', dnsServers: ['10:20:30:40:50:59:0:53'], searchDomains: ['prod.example.com', 'example.com'], mtu: 1500 });
    const back = net('back', '10.40.0.0/24', { gateway: '10.40.0.1', vlan: 40 });
    const mgmt = net('mgmt', '10.60.0.0/24');
    const doc = await networkConfigYaml('vm vm-1 in cloud c', [
      alloc('10:20:30:40:50:59:0:1', front6, { mac: '52:54:00:12:34:56', name: 'default' }), // the same MAC: one NIC
      alloc('10.20.0.87', front, { mac: '52:54:00:12:34:56', name: 'eth0' }),
      alloc('10.20.0.88', front, { name: 'eth0' }), // MAC-less, named like the MAC NIC: joins it
      alloc('10.40.0.9', back, { mac: '52:54:00:00:00:02', name: 'default' }), // named eth1 (the lowest free)
      alloc('10.60.0.5', mgmt, { name: 'shop.web-1' }), // no MAC, no interface name: a NIC of its network, eth2
      alloc('10.99.0.1', undefined, { name: 'legacy' }), // no network: only in the comment
      alloc('10.20.0.96', front, { cidr: '10.20.0.96/30', prefixLength: 30, name: 'routed' }), // a block: only in the comment
    ]);
    expect(doc).toMatch(/^# network-config \(version 2, netplan\) of vm vm-1 in cloud c, generated by IPAM\n# not configured: 10.20.0.96\/30: a block: a prefix routed to the VM, not an address of a NIC\n# not configured: 10.99.0.1: pool z\/p is in no network\n/);
    const { files, stderr } = netplanGenerate(doc);
    expect(stderr).toBe(''); // no conflicting default routes, nothing netplan warns about
    expect(Object.keys(files).sort()).toEqual(['10-netplan-eth0.link', '10-netplan-eth0.network', '10-netplan-eth1.link', '10-netplan-eth1.network', '10-netplan-eth2.network']);

    const eth0 = files['10-netplan-eth0.network']!;
    expect(values(eth0, 'Match', '(?:Permanent)?MACAddress')).toEqual(['52:54:00:12:34:56']);
    expect(values(eth0, 'Match', 'Name')).toEqual(['eth0']);
    expect(values(eth0, 'Network', 'Address')).toEqual(['10.20.0.87/24', '10.20.0.88/24', '10:20:30:40:50:59:0:1/112']);
    expect(values(eth0, 'Network', 'DNS')).toEqual(['10.20.0.53', '10.20.0.54', '10:20:30:40:50:59:0:53']);
    expect(values(eth0, 'Network', 'Domains')).toEqual(['prod.example.com example.com']);
    expect(values(eth0, 'Link', 'MTUBytes')).toEqual(['1500']); // the smaller of 9000 and 1500
    const routes = unitValues(eth0, 'Route', '(?:Destination|Gateway|Metric)');
    expect(routes).toEqual([
      ['0.0.0.0/0', '10.20.0.1', '100'],
      ['192.168.0.0/16', '10.20.0.254'],
      ['::/0', 'fe80::1'],
    ]);
    expect(values(files['10-netplan-eth0.link']!, 'Link', 'Name')).toEqual(['eth0']);

    const eth1 = files['10-netplan-eth1.network']!;
    expect(values(eth1, 'Match', '(?:Permanent)?MACAddress')).toEqual(['52:54:00:00:00:02']);
    expect(values(eth1, 'Network', 'Address')).toEqual(['10.40.0.9/24']);
    expect(unitValues(eth1, 'Route', '(?:Destination|Gateway|Metric)')).toEqual([['0.0.0.0/0', '10.40.0.1', '200']]);
    expect(values(eth1, 'Network', 'DNS')).toEqual([]);
    expect(eth1).not.toMatch(/VLAN|MTUBytes/);

    const eth2 = files['10-netplan-eth2.network']!;
    expect(values(eth2, 'Match', 'Name')).toEqual(['eth2']);
    expect(eth2).not.toMatch(/MACAddress/);
    expect(values(eth2, 'Network', 'Address')).toEqual(['10.60.0.5/24']);
    expect(eth2).not.toContain('[Route]');
  });

  it('quotes what YAML 1.1 (cloud-init’s PyYAML) would misread: a MAC and an IPv6 address made of digits', async () => {
    const v6 = net('v6', '10:20:30:40:50:59:0:0/112', { gateway: '10:20:30:40:50:59:0:1', dnsServers: ['10:20:30:40:50:59:0:53'] });
    const doc = await networkConfigYaml('vm vm-1', [alloc('10:20:30:40:50:59:0:2', v6, { mac: '52:54:00:12:34:56' })]);
    const py = execFileSync('/usr/bin/python3', ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], { input: doc, encoding: 'utf8' });
    expect(JSON.parse(py)).toEqual(parseYaml(doc));
    expect(JSON.parse(py).network.ethernets.eth0).toEqual({
      match: { macaddress: '52:54:00:12:34:56' },
      'set-name': 'eth0',
      addresses: ['10:20:30:40:50:59:0:2/112'],
      routes: [{ to: 'default', via: '10:20:30:40:50:59:0:1' }],
      nameservers: { addresses: ['10:20:30:40:50:59:0:53'] },
    });
    const { files } = netplanGenerate(doc);
    expect(values(files['10-netplan-eth0.network']!, 'Route', 'Gateway')).toEqual(['10:20:30:40:50:59:0:1']);
  });

  it('leaves out, in a comment, a MAC-less address of a network two NICs share; refuses a VM with nothing configurable', async () => {
    const a = net('a', '10.1.0.0/24');
    const r = networkConfig([alloc('10.1.0.2', a, { mac: '52:54:00:00:00:0a' }), alloc('10.1.0.3', a, { mac: '52:54:00:00:00:0b' }), alloc('10.1.0.4', a)]);
    expect(Object.keys(r.document.network.ethernets)).toEqual(['eth0', 'eth1']);
    expect(r.skipped).toEqual([{ address: '10.1.0.4', why: "no MAC, and 2 of the VM's NICs are in network a: which one is unknown" }]);
    // Two NICs that want the same name: neither gets it.
    const named = networkConfig([alloc('10.1.0.5', a, { mac: '52:54:00:00:00:0c', name: 'eth7' }), alloc('10.1.0.6', a, { mac: '52:54:00:00:00:0d', name: 'eth7' })]);
    expect(Object.keys(named.document.network.ethernets)).toEqual(['eth0', 'eth1']);
    const refused = (() => {
      try {
        networkConfig([alloc('10.9.0.1', undefined)]);
      } catch (e) {
        return e;
      }
    })();
    expect(refused).toBeInstanceOf(IpamError);
    expect(refused).toMatchObject({ reason: 'NoNetwork', kind: 'Conflict' });
    expect((refused as Error).message).toContain('10.9.0.1 (pool z/p is in no network)');
  });
});

describe('network-config over the signed API and the CLI', () => {
  const C = 'ci';
  const WEB = { accessKeyId: 'AKIACLOUDINITWEB0001', secretAccessKey: 'web-secret-0123456789abcdefghijklmnopqrstu', principal: 'arn:aws:iam::111122223333:role/web-pipeline', allow: allowPatterns(zonePipeline(C, 'web')) };
  let svc: RunningService;
  const held: Record<string, string> = {};

  const get = async (p: string, caller: { accessKeyId: string; secretAccessKey: string } = ADMIN) => sendSigned(svc, await signRequest(svc, 'GET', p, { caller }));
  const cli = (args: string[], caller = 'arn:aws:iam::111122223333:role/admin') =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [path.join(ROOT, 'bin/ipam.js'), '--endpoint', svc.url, '--callers-file', svc.callersFile, '--caller', caller, ...args], (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })),
    );

  beforeAll(async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ipam-ci-'));
    const callersFile = path.join(dir, 'callers.json');
    writeFileSync(callersFile, JSON.stringify([ADMIN, WEB]), { mode: 0o600 });
    const table = `ci-${randomBytes(4).toString('hex')}`;
    svc = await startService({ IPAM_DYNAMODB_ENDPOINT: ddbEndpoint(), IPAM_CALLERS_FILE: callersFile, IPAM_TABLE: table }, { dataDir: dir });
    const c = svc.client();
    // The topology (networks, pools in them), laid out on the service's table before the service reads the cloud.
    const topology = ipamOn(table);
    await topology.createNetwork(C, 'web', 'front', { cidr: '10.20.0.0/24', gateway: '10.20.0.1', dnsServers: ['10.20.0.53', '10.20.0.54'], searchDomains: ['web.example.com'], mtu: 9000, routes: [{ to: '172.16.0.0/12', via: '10.20.0.254' }] }, ctx);
    await topology.createNetwork(C, 'web', 'front6', { cidr: '2001:db8:20::/64', gateway: 'fe80::1', dnsServers: ['2001:db8:20::53'], searchDomains: ['web.example.com'] }, ctx);
    await topology.createNetwork(C, 'db', 'back', { cidr: '10.40.0.0/24', gateway: '10.40.0.1', dnsServers: ['10.40.0.53'], searchDomains: ['db.example.com'], mtu: 1500 }, ctx);
    await topology.createPool(C, 'web', 'p4', { ranges: ['10.20.0.10-10.20.0.200'], network: 'front' }, ctx);
    await topology.createPool(C, 'web', 'p6', { ranges: ['2001:db8:20::100-2001:db8:20::1ff'], network: 'front6' }, ctx);
    await topology.createPool(C, 'db', 'p', { ranges: ['10.40.0.0/24'], network: 'back' }, ctx);
    await topology.createPool(C, 'web', 'legacy', { ranges: ['10.99.0.0/24'] }, ctx);
    // vm-1: one dual-stack NIC in zone web (one MAC in two networks), one NIC in zone db.
    held.v4 = (await c.allocate(C, 'web', 'p4', { vm: 'vm-1', name: 'eth0', mac: '52:54:00:12:34:56' })).allocation.address;
    held.v6 = (await c.allocate(C, 'web', 'p6', { vm: 'vm-1', name: 'eth0', mac: '52:54:00:12:34:56' })).allocation.address;
    held.db = (await c.allocate(C, 'db', 'p', { vm: 'vm-1', name: 'eth1', mac: '52:54:00:ab:cd:ef' })).allocation.address;
    held.legacy = (await c.allocate(C, 'web', 'legacy', { vm: 'vm-1', name: 'old' })).allocation.address;
    held.dbOnly = (await c.allocate(C, 'db', 'p', { vm: 'db-only', mac: '52:54:00:ab:cd:01' })).allocation.address;
    await c.allocate(C, 'web', 'legacy', { vm: 'legacy-only' });
  }, 120_000);
  afterAll(async () => {
    await svc?.stop();
  });

  it("answers every NIC the VM holds in the cloud, which netplan renders into networkd's files", async () => {
    const r = await get(`/v1/clouds/${C}/vms/vm-1/network-config`);
    expect(r.status).toBe(200);
    expect(r.type).toBe('application/yaml');
    expect(r.body).toContain(`# not configured: ${held.legacy}: pool web/legacy is in no network`);
    const { files, stderr } = netplanGenerate(r.body);
    expect(stderr).toBe('');
    const eth0 = files['10-netplan-eth0.network']!;
    expect(values(eth0, 'Match', '(?:Permanent)?MACAddress')).toEqual(['52:54:00:12:34:56']);
    expect(values(eth0, 'Network', 'Address')).toEqual([`${held.v4}/24`, `${held.v6}/64`]);
    expect(unitValues(eth0, 'Route', '(?:Destination|Gateway|Metric)')).toEqual([
      ['0.0.0.0/0', '10.20.0.1', '100'],
      ['172.16.0.0/12', '10.20.0.254'],
      ['::/0', 'fe80::1'],
    ]);
    expect(values(eth0, 'Network', 'DNS')).toEqual(['10.20.0.53', '10.20.0.54', '2001:db8:20::53']);
    expect(values(eth0, 'Network', 'Domains')).toEqual(['web.example.com']);
    expect(values(eth0, 'Link', 'MTUBytes')).toEqual(['9000']);
    expect(values(files['10-netplan-eth0.link']!, 'Link', 'Name')).toEqual(['eth0']);
    const eth1 = files['10-netplan-eth1.network']!;
    expect(values(eth1, 'Match', '(?:Permanent)?MACAddress')).toEqual(['52:54:00:ab:cd:ef']);
    expect(values(eth1, 'Network', 'Address')).toEqual([`${held.db}/24`]);
    expect(unitValues(eth1, 'Route', '(?:Destination|Gateway|Metric)')).toEqual([['0.0.0.0/0', '10.40.0.1', '200']]);
    expect(values(eth1, 'Network', 'DNS')).toEqual(['10.40.0.53']);
    expect(values(eth1, 'Network', 'Domains')).toEqual(['db.example.com']);
    expect(values(eth1, 'Link', 'MTUBytes')).toEqual(['1500']);
    // The CLI prints the same document.
    const printed = await cli(['network-config', C, 'vm-1']);
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout).toBe(r.body);
  });

  it("on a zone's route, with a zone pipeline's grant, sees only that zone's NICs; other zones' VMs are 404 like unknown ones", async () => {
    const r = await get(`/v1/clouds/${C}/zones/web/vms/vm-1/network-config`, WEB);
    expect(r.status).toBe(200);
    expect(r.body).not.toContain(held.db);
    expect(r.body).not.toMatch(/10\.40\.|db\.example\.com|ab:cd:ef/);
    const { files, stderr } = netplanGenerate(r.body);
    expect(stderr).toBe('');
    expect(Object.keys(files).filter((f) => f.endsWith('.network'))).toEqual(['10-netplan-eth0.network']);
    // One default route per family now: no metric needed.
    expect(unitValues(files['10-netplan-eth0.network']!, 'Route', '(?:Destination|Gateway|Metric)')[0]).toEqual(['0.0.0.0/0', '10.20.0.1']);
    const cliOut = await cli(['network-config', C, 'vm-1', '--zone', 'web'], WEB.principal);
    expect(cliOut.code, cliOut.stderr).toBe(0);
    expect(cliOut.stdout).toBe(r.body);
    // db-only holds an address in zone db only: on zone web's route it is exactly a VM that holds nothing.
    const other = await get(`/v1/clouds/${C}/zones/web/vms/db-only/network-config`, WEB);
    const none = await get(`/v1/clouds/${C}/zones/web/vms/nobody/network-config`, WEB);
    expect(other.status).toBe(404);
    expect(JSON.stringify(other.body).replaceAll('db-only', 'X')).toBe(JSON.stringify(none.body).replaceAll('nobody', 'X'));
    expect(JSON.stringify(other.body)).not.toContain(held.dbOnly);
    // Not its grant: another zone's route, the cloud route.
    expect((await get(`/v1/clouds/${C}/zones/db/vms/db-only/network-config`, WEB)).status).toBe(403);
    expect((await get(`/v1/clouds/${C}/vms/vm-1/network-config`, WEB)).status).toBe(403);
    expect((await cli(['network-config', C, 'db-only', '--zone', 'web'], WEB.principal)).code).toBe(3);
  });

  it('a VM that holds nothing is 404; one whose addresses are in no network is 409 NoNetwork', async () => {
    const c = svc.client();
    expect(await c.networkConfig(C, 'nobody').catch((e: ApiError) => e)).toMatchObject({ status: 404, problem: { reason: 'AllocationNotFound' } });
    expect(await c.networkConfig(C, 'legacy-only').catch((e: ApiError) => e)).toMatchObject({ status: 409, problem: { reason: 'NoNetwork' } });
    expect((await cli(['network-config', C, 'nobody'])).code).toBe(3);
    expect((await cli(['network-config', C, 'legacy-only'])).code).toBe(4);
  });
});
