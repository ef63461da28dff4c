/**
 * The DHCP export served to real DHCP clients (issue 11, item 6): two network namespaces of this test
 * run, joined by one veth pair that is created inside them (nothing is attached to the host's
 * network, nothing leaves them). The server side holds the served network's gateway address; there
 * `kea-dhcp4`, and separately `dnsmasq`, run with the configuration the export wrote. On the client
 * side busybox `udhcpc` asks with the reserved MAC and must get exactly the reserved address, the
 * router, the DNS servers and the other options; with an unknown MAC it must get no lease.
 *
 * The data is the real export of allocations made through the engine on DynamoDB Local. The other
 * zone's network reserves the same MAC too (the issue's attack), and must not change the answer.
 *
 * Needs root and a kernel that allows network namespaces; where `ip netns add` fails the tests are
 * skipped with a message that says so. kea-dhcp4, dnsmasq and busybox are required (.ci/apt-packages).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tool } from './tools.js';
import { dhcpReservations } from '../lib/integrations/dhcp.js';
import { collect } from '../lib/integrations/dns/zones.js';
import { netmask } from '../lib/core/network.js';
import type { Ipam } from '../lib/engine/ipam.js';
import { ctx, freshIpam } from './support.js';

const exec = promisify(execFile);

// ---- the data: allocations made through the engine on DynamoDB Local, and its DHCP export ----
interface Served {
  mac: string;
  unknownMac: string;
  address: string;
  subnet: string;
  otherSubnet: string;
  prefixLength: number;
  netmask: string;
  gateway: string;
  dnsServers: string[];
  searchDomains: string[];
  ntpServers: string[];
  mtu: number;
  domain: string;
}
const CLOUD = 'netns';
let ipam: Ipam;
async function served(): Promise<Served> {
  ({ ipam } = await freshIpam());
  // Zone `other` owns the served network; zone `dmz` has its own, and reserves the victim's MAC there too.
  await ipam.createNetwork(
    CLOUD,
    'other',
    'db',
    { cidr: '10.2.0.0/24', gateway: '10.2.0.1', dnsServers: ['10.2.0.53', '10.2.0.54'], searchDomains: ['other.example.com', 'example.com'], ntpServers: ['10.2.0.123', 'ntp.example.com'], mtu: 1400, dns: { domain: 'other.example.com' } },
    ctx,
  );
  await ipam.createNetwork(CLOUD, 'dmz', 'web', { cidr: '10.3.0.0/24', gateway: '10.3.0.1', dnsServers: ['10.3.0.53'] }, ctx);
  await ipam.createPool(CLOUD, 'other', 'db', { ranges: ['10.2.0.10-10.2.0.99'], network: 'db' }, ctx);
  await ipam.createPool(CLOUD, 'dmz', 'web', { ranges: ['10.3.0.10-10.3.0.99'], network: 'web' }, ctx);
  const mac = '52:54:00:aa:bb:cc';
  const { allocation } = await ipam.allocate({ cloud: CLOUD, zone: 'other', pool: 'db', holder: { kind: 'vm', id: 'db1' }, mac, hostname: 'db1' }, ctx);
  await ipam.allocate({ cloud: CLOUD, zone: 'dmz', pool: 'web', holder: { kind: 'vm', id: 'web1' }, mac, hostname: 'web1' }, ctx);
  // What the allocation answered the pipeline is what the DHCP client must get.
  const n = allocation.network!;
  expect(n).toMatchObject({ name: 'db', cidr: '10.2.0.0/24', gateway: '10.2.0.1' });
  return {
    mac,
    unknownMac: '52:54:00:00:99:99',
    address: allocation.address,
    subnet: n.cidr,
    otherSubnet: '10.3.0.0/24',
    prefixLength: n.prefixLength,
    netmask: netmask(n.prefixLength),
    gateway: n.gateway!,
    dnsServers: n.dnsServers,
    searchDomains: n.searchDomains,
    // DHCPv4 carries NTP servers as addresses: a name is left out.
    ntpServers: n.ntpServers.filter((x) => /^[\d.]+$/.test(x)),
    mtu: n.mtu!,
    domain: 'other.example.com',
  };
}
const exportDhcp = (format: 'kea' | 'dnsmasq') => collect(dhcpReservations(ipam, CLOUD, { format }));
const IP = tool('ip', 'iproute2');

const RUN = randomBytes(3).toString('hex');
const NS_SERVER = `ipam-dhcp-s-${RUN}`;
const NS_CLIENT = `ipam-dhcp-c-${RUN}`;
const IF_SERVER = `vds${RUN}`; // interface names: at most 15 characters
const IF_CLIENT = `vdc${RUN}`;

/** Why namespaces cannot be used here, or undefined when they can (probed by creating and deleting one). */
function namespacesRefused(): string | undefined {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not running as root (creating network namespaces needs root)';
  const probe = `ipam-dhcp-p-${RUN}`;
  try {
    execFileSync(IP, ['netns', 'add', probe], { stdio: 'pipe' });
  } catch (e) {
    return `the kernel refused a network namespace (ip netns add: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()})`;
  }
  try {
    execFileSync(IP, ['netns', 'del', probe], { stdio: 'pipe' });
  } catch {
    /* best effort */
  }
  return undefined;
}

const refused = namespacesRefused();
if (refused) console.warn(`[dhcp-netns] SKIPPED: ${refused}`);

const inNs = (ns: string, cmd: string[], opts: { timeout?: number } = {}) => exec(IP, ['netns', 'exec', ns, ...cmd], { timeout: opts.timeout ?? 30_000 });
const run = (args: string[]) => exec(IP, args);

let dir: string;
let data: Served;
const servers = new Set<ChildProcess>();

/** Starts a server in the server namespace and waits until its output says it is ready. */
async function startServer(cmd: string[], ready: RegExp, env: Record<string, string> = {}): Promise<{ proc: ChildProcess; output: () => string; stop: () => Promise<void> }> {
  const proc = spawn(IP, ['netns', 'exec', NS_SERVER, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  servers.add(proc);
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${cmd[0]} did not start:\n${out}`)), 20_000);
    const check = () => {
      if (ready.test(out)) {
        clearTimeout(t);
        resolve();
      }
    };
    proc.stdout!.on('data', check);
    proc.stderr!.on('data', check);
    void exited.then(() => {
      clearTimeout(t);
      reject(new Error(`${cmd[0]} exited with ${proc.exitCode ?? proc.signalCode}:\n${out}`));
    });
  });
  return {
    proc,
    output: () => out,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
      servers.delete(proc);
    },
  };
}

/** The lease udhcpc gets with `mac` (its script prints the variables), or undefined when it gets none. */
async function dhcpClient(mac: string): Promise<{ lease?: Record<string, string>; output: string }> {
  await run(['-n', NS_CLIENT, 'link', 'set', 'dev', IF_CLIENT, 'down']);
  await run(['-n', NS_CLIENT, 'link', 'set', 'dev', IF_CLIENT, 'address', mac]);
  await run(['-n', NS_CLIENT, 'link', 'set', 'dev', IF_CLIENT, 'up']);
  const busybox = tool('busybox', 'busybox');
  // -n: exit when no lease; -q: exit once leased; -f: foreground; 3 discovers 1 s apart. Like a real
  // client it asks for the MTU, the search domains and NTP servers besides udhcpc's defaults.
  const r = await inNs(NS_CLIENT, [busybox, 'udhcpc', '-i', IF_CLIENT, '-n', '-q', '-f', '-t', '3', '-T', '1', '-O', 'mtu', '-O', 'search', '-O', 'ntpsrv', '-s', path.join(dir, 'udhcpc.sh')]).catch((e) => e as { code: number; stdout: string; stderr: string });
  const output = `${r.stdout}${r.stderr}`;
  const bound = /^BOUND (.*)$/m.exec(r.stdout);
  if (!bound) return { output };
  return { lease: JSON.parse(bound[1]!) as Record<string, string>, output };
}

const expectedLease = (s: Served) => ({
  ip: s.address,
  router: s.gateway,
  dns: s.dnsServers.join(' '),
  subnet: s.netmask,
  mtu: String(s.mtu),
  domain: s.domain,
  search: s.searchDomains.join(' '),
  ntpsrv: s.ntpServers.join(' '),
});

/** The reserved MAC gets exactly its lease; the unknown MAC gets none, though the server heard it (`refusal` in its log). */
async function expectReservationsOnly(server: { output: () => string }, refusal: RegExp, leaseFile: string) {
  const known = await dhcpClient(data.mac);
  expect(known.lease, `udhcpc:\n${known.output}\nserver:\n${server.output()}`).toMatchObject(expectedLease(data));
  const unknown = await dhcpClient(data.unknownMac);
  expect(unknown.lease, `udhcpc:\n${unknown.output}`).toBeUndefined();
  expect(unknown.output).toMatch(/no lease, failing/);
  expect(server.output()).toMatch(refusal);
  expect(readFileSync(leaseFile, 'utf8')).toContain(data.address);
  expect(readFileSync(leaseFile, 'utf8')).not.toContain(data.unknownMac);
}

const suite = refused ? describe.skip : describe;
suite(refused ? `DHCP with real clients in network namespaces: SKIPPED, ${refused}` : 'DHCP with real clients in network namespaces', () => {
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ipam-dhcp-netns-'));
    data = await served();
    await run(['netns', 'add', NS_SERVER]);
    await run(['netns', 'add', NS_CLIENT]);
    // Both ends are created inside the namespaces: the pair never appears in the host's namespace.
    await run(['-n', NS_SERVER, 'link', 'add', IF_SERVER, 'type', 'veth', 'peer', 'name', IF_CLIENT, 'netns', NS_CLIENT]);
    await run(['-n', NS_SERVER, 'addr', 'add', `${data.gateway}/${data.prefixLength}`, 'dev', IF_SERVER]);
    for (const [ns, ifc] of [[NS_SERVER, IF_SERVER], [NS_CLIENT, IF_CLIENT]] as const) {
      await run(['-n', ns, 'link', 'set', 'lo', 'up']);
      await run(['-n', ns, 'link', 'set', ifc, 'up']);
    }
    // udhcpc runs this on every event; it only prints what the server offered, it configures nothing.
    const vars = ['ip', 'router', 'dns', 'subnet', 'mtu', 'domain', 'search', 'ntpsrv', 'hostname'];
    writeFileSync(
      path.join(dir, 'udhcpc.sh'),
      `#!/bin/sh\n[ "$1" = bound ] || exit 0\nprintf 'BOUND {'\n${vars.map((v, i) => `printf '%s"${v}":"%s"' '${i ? ',' : ''}' "$${v}"`).join('\n')}\nprintf '}\\n'\n`,
      { mode: 0o755 },
    );
  });

  afterAll(async () => {
    for (const p of servers) {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    }
    for (const ns of [NS_CLIENT, NS_SERVER]) await run(['netns', 'del', ns]).catch(() => {});
    if (dir) rmSync(dir, { recursive: true, force: true });
    // Nothing of this run is left behind.
    const left = execFileSync(IP, ['netns', 'list'], { encoding: 'utf8' });
    expect(left).not.toContain(RUN);
  });

  it('kea-dhcp4 serving the Kea export: the reserved MAC gets exactly its address and options, an unknown MAC nothing', async () => {
    const kea = tool('kea-dhcp4', 'kea-dhcp4-server');
    const frag = JSON.parse(await exportDhcp('kea')) as { subnet4: { subnet: string; reservations: { 'hw-address': string }[] }[] };
    // The export serves both networks; the victim's MAC is reserved in both (the issue's attack).
    expect(frag.subnet4.map((s) => s.subnet).sort()).toEqual([data.subnet, data.otherSubnet].sort());
    expect(frag.subnet4.filter((s) => s.reservations.some((r) => r['hw-address'] === data.mac))).toHaveLength(2);
    const conf = path.join(dir, 'kea-dhcp4.json');
    writeFileSync(
      conf,
      JSON.stringify(
        {
          Dhcp4: {
            'interfaces-config': { interfaces: [IF_SERVER] },
            'lease-database': { type: 'memfile', persist: true, name: path.join(dir, 'kea-leases4.csv'), 'lfc-interval': 0 },
            'valid-lifetime': 600,
            loggers: [{ name: 'kea-dhcp4', output_options: [{ output: 'stdout' }], severity: 'INFO' }],
            ...frag,
          },
        },
        null,
        2,
      ),
    );
    const env = { KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir, KEA_LOGGER_DESTINATION: 'stdout' };
    // The config check, in the server namespace where the interface exists.
    const check = await inNs(NS_SERVER, [kea, '-t', conf]).catch((e) => e);
    expect(check.code ?? 0, `kea-dhcp4 -t:\n${check.stdout}${check.stderr}`).toBe(0);
    const server = await startServer([kea, '-c', conf], /DHCP4_STARTED/, env);
    try {
      // Kea heard the unknown client and refused it: no pool, no reservation.
      await expectReservationsOnly(server, new RegExp(`ALLOC_ENGINE_V4_ALLOC_FAIL_NO_POOLS \\[hwtype=1 ${data.unknownMac}\\]`), path.join(dir, 'kea-leases4.csv'));
    } finally {
      await server.stop();
    }
  });

  it('dnsmasq serving the dnsmasq export: the reserved MAC gets exactly its address and options, an unknown MAC nothing', async () => {
    const dnsmasq = tool('dnsmasq', 'dnsmasq-base');
    const conf = path.join(dir, 'dnsmasq.conf');
    writeFileSync(conf, await exportDhcp('dnsmasq'));
    const leases = path.join(dir, 'dnsmasq.leases');
    const args = [dnsmasq, '--no-daemon', `--conf-file=${conf}`, `--interface=${IF_SERVER}`, '--bind-interfaces', `--dhcp-leasefile=${leases}`, '--port=0', `--pid-file=${path.join(dir, 'dnsmasq.pid')}`, '--log-dhcp', '--log-facility=-'];
    const check = await inNs(NS_SERVER, [...args, '--test']).catch((e) => e);
    expect(`${check.stdout}${check.stderr}`).toMatch(/syntax check OK/);
    const server = await startServer(args, /DHCP, sockets bound exclusively/);
    try {
      await expectReservationsOnly(server, new RegExp(`DHCPDISCOVER\\(${IF_SERVER}\\) ${data.unknownMac} no address available`), leases);
    } finally {
      await server.stop();
    }
  });
});
