/**
 * DHCP reservations, checked by the real servers' own config checkers: the Kea fragment inside a
 * full kea-dhcp4 config passes `kea-dhcp4 -t`, the dnsmasq lines pass `dnsmasq --test`.
 * The tools are required: a missing tool fails the tests (CI installs them: .ci/apt-packages).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { coveringCidr, dhcpReservations, dhcpSubnets, keaSubnetId } from '../lib/integrations/dhcp.js';
import { collect } from '../lib/integrations/dns/zones.js';
import type { Ipam } from '../lib/engine/ipam.js';
import type { Pool } from '../lib/core/model.js';
import { tool } from './tools.js';
import { ctx, freshIpam } from './support.js';

const exec = promisify(execFile);


const CLOUD = 'd1';
let ipam: Ipam;
let dir: string;

interface KeaSubnet {
  id: number;
  subnet: string;
  'user-context': { ipam: { cloud: string; pools: string[] } };
  reservations: { 'hw-address': string; 'ip-address': string; hostname?: string }[];
}

async function alloc(zone: string, pool: string, vm: string, address: string, extra: { hostname?: string; mac?: string; prefixLength?: number } = {}) {
  await ipam.allocate({ cloud: CLOUD, zone, pool, holder: { kind: 'vm', id: vm }, address, ...extra }, ctx);
}

beforeAll(async () => {
  ({ ipam } = await freshIpam());
  dir = mkdtempSync(path.join(os.tmpdir(), 'ipam-dhcp-'));
  await ipam.createPool(CLOUD, 'z1', 'lan', { ranges: ['10.60.0.0/24'], dns: { domain: 'lan.example.com' } }, ctx);
  await ipam.createPool(CLOUD, 'z1', 'lab', { ranges: ['10.60.1.10-10.60.1.99'] }, ctx);
  await ipam.createPool(CLOUD, 'z1', 'lab-b', { ranges: ['10.60.1.100-10.60.1.120'] }, ctx);
  await ipam.createPool(CLOUD, 'z2', 'v6', { ranges: ['fd00:60::/120'] }, ctx);
  await alloc('z1', 'lan', 'pc1', '10.60.0.5', { hostname: 'pc1', mac: '52:54:00:00:60:05' });
  await alloc('z1', 'lan', 'printer', '10.60.0.6', { hostname: 'printer.office.example.org', mac: '52-54-00-00-60-06' });
  await alloc('z1', 'lan', 'anon', '10.60.0.7', { mac: '52:54:00:00:60:07' });
  await alloc('z1', 'lan', 'nomac', '10.60.0.8', { hostname: 'nomac' });
  await alloc('z1', 'lan', 'block', '10.60.0.16', { mac: '52:54:00:00:60:16', prefixLength: 30 });
  await alloc('z1', 'lab', 'lab1', '10.60.1.10', { hostname: 'lab1', mac: '52:54:00:00:61:10' });
  await alloc('z1', 'lab-b', 'lab1-again', '10.60.1.100', { hostname: 'lab1b', mac: '52:54:00:00:61:10' });
  await alloc('z1', 'lab-b', 'lab2', '10.60.1.101', { hostname: 'lab2', mac: '52:54:00:00:61:11' });
  await alloc('z2', 'v6', 'v6host', 'fd00:60::5', { hostname: 'v6host', mac: '52:54:00:00:66:05' });
});

describe('subnets', () => {
  it('covers each pool with the smallest CIDR and merges nested ones', () => {
    const pool = (name: string, ranges: string[]) => ({ cloud: CLOUD, zone: 'z', name, family: 4, ranges }) as Pool;
    expect(coveringCidr(pool('a', ['10.60.1.10-10.60.1.99']))).toMatchObject({ prefix: 25 });
    expect(coveringCidr(pool('a', ['10.60.0.0/24']))).toMatchObject({ prefix: 24 });
    expect(coveringCidr(pool('a', ['10.0.0.5']))).toMatchObject({ prefix: 32 });
    const s = dhcpSubnets([pool('b', ['10.60.1.100-10.60.1.120']), pool('a', ['10.60.1.10-10.60.1.99']), pool('c', ['10.60.0.0/24'])]);
    expect(s.map((x) => [x.subnet, x.pools.map((p) => p.name)])).toEqual([
      ['10.60.0.0/24', ['c']],
      ['10.60.1.0/25', ['a', 'b']],
    ]);
    const ids = new Set<number>();
    const id = keaSubnetId(CLOUD, '10.60.0.0/24', ids);
    expect(id).toBeGreaterThan(0);
    expect(keaSubnetId(CLOUD, '10.60.0.0/24')).toBe(id);
    expect(keaSubnetId(CLOUD, '10.60.0.0/24', ids)).not.toBe(id);
  });
});

describe('kea', () => {
  it('groups reservations per subnet: single IPv4 addresses with a MAC, one reservation per MAC', async () => {
    const frag = JSON.parse(await collect(dhcpReservations(ipam, CLOUD, { format: 'kea' }))) as { subnet4: KeaSubnet[] };
    expect(frag.subnet4.map((s) => s.subnet)).toEqual(['10.60.0.0/24', '10.60.1.0/25']);
    expect(frag.subnet4[0]!.reservations).toEqual([
      { 'hw-address': '52:54:00:00:60:05', 'ip-address': '10.60.0.5', hostname: 'pc1.lan.example.com' },
      { 'hw-address': '52:54:00:00:60:06', 'ip-address': '10.60.0.6', hostname: 'printer.office.example.org' },
      { 'hw-address': '52:54:00:00:60:07', 'ip-address': '10.60.0.7' },
    ]);
    expect(frag.subnet4[1]!.reservations).toEqual([
      { 'hw-address': '52:54:00:00:61:10', 'ip-address': '10.60.1.10', hostname: 'lab1' },
      { 'hw-address': '52:54:00:00:61:11', 'ip-address': '10.60.1.101', hostname: 'lab2' },
    ]);
    expect(frag.subnet4[1]!['user-context']).toEqual({ ipam: { cloud: CLOUD, pools: ['z1/lab', 'z1/lab-b'] } });
  });

  it('passes kea-dhcp4 -t, dropped in whole and as reservations inside an existing subnet4 entry', async () => {
    const kea = tool('kea-dhcp4', 'kea-dhcp4-server');
    const frag = JSON.parse(await collect(dhcpReservations(ipam, CLOUD, { format: 'kea' }))) as { subnet4: KeaSubnet[] };
    const base = {
      'interfaces-config': { interfaces: [] },
      'lease-database': { type: 'memfile', persist: false },
      'valid-lifetime': 3600,
      loggers: [{ name: 'kea-dhcp4', output_options: [{ output: 'stdout' }], severity: 'WARN' }],
    };
    const whole = path.join(dir, 'kea-whole.json');
    writeFileSync(whole, JSON.stringify({ Dhcp4: { ...base, subnet4: frag.subnet4 } }, null, 2));
    const own = path.join(dir, 'kea-own.json');
    writeFileSync(
      own,
      JSON.stringify({ Dhcp4: { ...base, subnet4: [{ id: 1, subnet: '10.60.0.0/23', pools: [{ pool: '10.60.0.100 - 10.60.0.200' }], reservations: frag.subnet4.flatMap((s) => s.reservations) }] } }, null, 2),
    );
    for (const f of [whole, own]) {
      const r = await exec(kea, ['-t', f]).catch((e) => e);
      expect(r.code ?? 0, `kea-dhcp4 -t ${f}:\n${r.stdout}${r.stderr}`).toBe(0);
    }
    // The checker is real: a broken reservation fails it.
    const bad = path.join(dir, 'kea-bad.json');
    writeFileSync(bad, JSON.stringify({ Dhcp4: { ...base, subnet4: [{ ...frag.subnet4[0], reservations: [...frag.subnet4[0]!.reservations, { 'hw-address': '52:54:00:00:60:05', 'ip-address': '10.60.0.99' }] }] } }));
    expect((await exec(kea, ['-t', bad]).catch((e) => e)).code).not.toBe(0);
  });

  it('filters by zone and pool', async () => {
    const frag = JSON.parse(await collect(dhcpReservations(ipam, CLOUD, { format: 'kea', zone: 'z1', pool: 'lab-b' }))) as { subnet4: KeaSubnet[] };
    expect(frag.subnet4.map((s) => [s.subnet, s.reservations.map((r) => r['ip-address'])])).toEqual([['10.60.1.96/27', ['10.60.1.100', '10.60.1.101']]]);
    expect(JSON.parse(await collect(dhcpReservations(ipam, CLOUD, { format: 'kea', zone: 'z2' })))).toEqual({ subnet4: [] });
  });
});

describe('dnsmasq', () => {
  it('writes dhcp-host lines that pass dnsmasq --test', async () => {
    const dnsmasq = tool('dnsmasq', 'dnsmasq-base');
    const text = await collect(dhcpReservations(ipam, CLOUD, { format: 'dnsmasq' }));
    const hosts = text.split('\n').filter((l) => l.startsWith('dhcp-host='));
    expect(hosts).toEqual([
      'dhcp-host=52:54:00:00:60:05,10.60.0.5,pc1.lan.example.com',
      'dhcp-host=52:54:00:00:60:06,10.60.0.6,printer.office.example.org',
      'dhcp-host=52:54:00:00:60:07,10.60.0.7',
      'dhcp-host=52:54:00:00:61:10,10.60.1.10,lab1',
      'dhcp-host=52:54:00:00:61:11,10.60.1.101,lab2',
    ]);
    expect(text).toContain('# skipped 10.60.1.100 (vm:lab1-again): MAC 52:54:00:00:61:10 is already reserved in this subnet');
    const conf = path.join(dir, 'dnsmasq.conf');
    writeFileSync(conf, ['port=0', 'no-resolv', 'domain=lan.example.com', 'dhcp-range=10.60.0.100,10.60.0.200,255.255.255.0,12h', 'dhcp-range=10.60.1.0,static,255.255.255.128', text].join('\n'));
    const r = await exec(dnsmasq, ['--test', `--conf-file=${conf}`]).catch((e) => e);
    expect(r.code ?? 0, `dnsmasq --test:\n${r.stdout}${r.stderr}`).toBe(0);
    expect(`${r.stdout}${r.stderr}`).toMatch(/syntax check OK/);
    // The checker is real: a malformed line fails it.
    writeFileSync(conf, ['port=0', 'dhcp-range=10.60.0.100,10.60.0.200,12h', 'dhcp-host=52:54:00:00:60:05,10.60.0.5,bad_name!'].join('\n'));
    expect((await exec(dnsmasq, ['--test', `--conf-file=${conf}`]).catch((e) => e)).code).not.toBe(0);
  });

  it('filters by pool', async () => {
    const text = await collect(dhcpReservations(ipam, CLOUD, { format: 'dnsmasq', pool: 'lan' }));
    expect(text.split('\n').filter((l) => l.startsWith('dhcp-host=')).length).toBe(3);
    expect(text).toContain('# subnet 10.60.0.0/24 (pools z1/lan)');
  });
});
