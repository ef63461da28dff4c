/**
 * The `ipam` CLI: what provisioning scripts call.
 *
 * Exit codes (README, "Exit codes"): 0 ok, 2 bad input or usage (also a missing --callers-file or an
 * unknown --caller), 3 not found, 4 conflict (taken, exhausted, overlap, not empty, a repeat with other
 * fields), 5 not authorized or no credentials to sign with, 6 service unavailable or unreachable,
 * 1 anything else (a bug: please report it).
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { ApiError, callerCredentials, IpamClient, type NetworkOut } from '../lib/client/client.js';
import { IpamError } from '../lib/core/errors.js';
import type { AllocationView as Allocation, NetworkPatch, NetworkSpec } from '../lib/core/network.js';
import pkg from '../package.json' with { type: 'json' };

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const EXIT = { ok: 0, other: 1, input: 2, notFound: 3, conflict: 4, auth: 5, unavailable: 6 } as const;

/** A failure with its own exit code and a message that says how to fix it. */
class CliError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

type Output = 'json' | 'table' | 'heat';

interface Globals {
  endpoint: string;
  region: string;
  output: Output;
  callersFile?: string;
  caller?: string;
}

const localEndpoint = `http://127.0.0.1:${process.env.IPAM_PORT ?? 8080}`;

const program = new Command('ipam')
  .description('IP address management: pools per cloud and security zone, addresses held by VMs and VIPs until released.')
  .version(pkg.version, '-V, --version')
  .option('--endpoint <url>', 'API endpoint (env IPAM_ENDPOINT; else the local service on port $IPAM_PORT)', process.env.IPAM_ENDPOINT ?? localEndpoint)
  .option('--region <region>', 'region the API signs for (env IPAM_REGION)', process.env.IPAM_REGION ?? process.env.AWS_REGION ?? 'us-east-1')
  .addOption(new Option('-o, --output <format>', 'json for scripts, table for people, heat for environments').choices(['json', 'table', 'heat']).default(process.stdout.isTTY ? 'table' : 'json'))
  .option('--callers-file <file>', 'sign as a caller of the local callers file (default for a loopback endpoint: $IPAM_CALLERS_FILE, else callers.json in $IPAM_DATA_DIR, ./.ipam or the checkout\'s .ipam)')
  .option('--caller <principal>', 'which caller of the callers file (default: the first)')
  .configureHelp({ showGlobalOptions: true })
  .showHelpAfterError()
  .exitOverride();

/** The checkout this CLI runs from (`npm start` there keeps its keys in <checkout>/.ipam by default). */
function checkout(): string | undefined {
  try {
    return path.resolve(path.dirname(realpathSync(process.argv[1]!)), '..');
  } catch {
    return undefined;
  }
}

/**
 * Where the local service's keys may be, in order: what IPAM_CALLERS_FILE or IPAM_DATA_DIR name
 * (as for `npm start`), else .ipam/callers.json here or in the checkout the CLI runs from.
 */
function callersCandidates(): string[] {
  if (process.env.IPAM_CALLERS_FILE) return [path.resolve(process.env.IPAM_CALLERS_FILE)];
  if (process.env.IPAM_DATA_DIR) return [path.resolve(process.env.IPAM_DATA_DIR, 'callers.json')];
  const root = checkout();
  return [...new Set([path.resolve('.ipam', 'callers.json'), ...(root ? [path.join(root, '.ipam', 'callers.json')] : [])])];
}

async function client(): Promise<IpamClient> {
  const g = program.opts<Globals>();
  const base = { endpoint: g.endpoint, region: g.region };
  if (g.callersFile !== undefined) return new IpamClient({ ...base, credentials: await callerCredentials(g.callersFile, g.caller) });
  let url: URL;
  try {
    url = new URL(g.endpoint);
  } catch {
    throw new IpamError('InvalidInput', `--endpoint must be a URL such as http://127.0.0.1:8080, not ${JSON.stringify(g.endpoint)}`);
  }
  if (['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
    const candidates = callersCandidates();
    const file = candidates.find((f) => existsSync(f));
    if (file) return new IpamClient({ ...base, credentials: await callerCredentials(file, g.caller) });
    // No local keys: the AWS credential chain (LocalStack, say), without asking an instance metadata
    // service on the network for a loopback endpoint; when it has none either, say what was looked for.
    process.env.AWS_EC2_METADATA_DISABLED ??= 'true';
    return new IpamClient({ ...base, credentials: withHint(candidates) });
  }
  if (g.caller !== undefined) throw new IpamError('InvalidInput', '--caller names a caller of a callers file: give --callers-file too');
  return new IpamClient(base);
}

/** The AWS default credential chain, with a failure that names what was looked for and how to fix it. */
function withHint(candidates: string[]) {
  let chain: Promise<() => Promise<{ accessKeyId: string; secretAccessKey: string }>> | undefined;
  return async () => {
    chain ??= import('@aws-sdk/credential-providers').then((m) => m.fromNodeProviderChain());
    try {
      return await (await chain)();
    } catch (e) {
      throw new CliError(
        EXIT.auth,
        `no credentials to sign with: no callers file of the local service at ${candidates.join(' or ')}, and the AWS credential chain has none (${(e as Error).message}). ` +
          'Run `npm start` (it creates the file), run the CLI in the directory where it runs, or point at the file: IPAM_DATA_DIR=<its data dir>, IPAM_CALLERS_FILE=<file> or --callers-file <file>.',
      );
    }
  };
}

function tags(list: string[] | undefined, flag = '--tag'): Record<string, string> | undefined {
  if (!list?.length) return undefined;
  return Object.fromEntries(
    list.map((kv) => {
      const i = kv.indexOf('=');
      if (i <= 0) throw new IpamError('InvalidInput', `${flag} takes key=value, not ${kv}`);
      return [kv.slice(0, i), kv.slice(i + 1)];
    }),
  );
}

const collect = (v: string, prev: string[] = []) => [...prev, v];
/** A repeatable option of fixed choices (commander checks the choice, this collects them). */
const collectChoice = (choices: string[]) => (v: string, prev: string[] = []) => {
  if (!choices.includes(v)) throw new IpamError('InvalidInput', `--clear takes ${choices.join(', ')}, not ${v}`);
  return [...prev, v];
};
const int = (v: string) => {
  if (!/^-?\d+$/.test(v)) throw new IpamError('InvalidInput', `${v} is not a whole number`);
  return Number(v);
};

function table(rows: Record<string, unknown>[], columns: string[]) {
  const cells = rows.map((r) => columns.map((c) => (r[c] === undefined || r[c] === null ? '' : typeof r[c] === 'object' ? JSON.stringify(r[c]) : String(r[c]))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  console.log(line(columns.map((c) => c.toUpperCase())));
  for (const row of cells) console.log(line(row));
}

const ALLOC_COLUMNS = ['cidr', 'zone', 'pool', 'holder', 'name', 'hostname', 'mac', 'network', 'gateway', 'allocatedAt'];
const POOL_COLUMNS = ['zone', 'name', 'ranges', 'network', 'size', 'allocated', 'free', 'blocks'];
const NETWORK_COLUMNS = ['zone', 'name', 'cidr', 'gateway', 'dnsServers', 'searchDomains', 'ntpServers', 'mtu', 'vlan', 'routes', 'domain'];
/** An allocation as a table row: the holder in one column, its network's CIDR and gateway (none outside networks). */
const allocationRow = (a: Allocation) => ({ ...a, holder: a.vm !== undefined ? `vm:${a.vm}` : `vip:${a.vip}`, network: a.network?.cidr, gateway: a.network?.gateway });
const networkRow = (n: NetworkOut) => ({ ...n, ...Object.fromEntries((['dnsServers', 'searchDomains', 'ntpServers'] as const).map((k) => [k, n[k].join(',')])), routes: n.routes.map((r) => `${r.to}>${r.via}`).join(','), domain: n.dns?.domain });

function print(value: unknown, kind: 'allocation' | 'allocations' | 'pool' | 'pools' | 'network' | 'networks' | 'raw') {
  if (program.opts<Globals>().output !== 'table' || kind === 'raw') return console.log(JSON.stringify(value, null, 2));
  if (kind === 'allocation') return table([allocationRow(value as Allocation)], ALLOC_COLUMNS);
  if (kind === 'allocations') return table((value as Allocation[]).map(allocationRow), ALLOC_COLUMNS);
  if (kind === 'network' || kind === 'networks') return table(((kind === 'network' ? [value] : value) as NetworkOut[]).map(networkRow), NETWORK_COLUMNS);
  const pools = (kind === 'pool' ? [value] : value) as Record<string, unknown>[];
  // A prefix pool's usage in its blocks too: "allocated/size free of /64".
  const blocks = (p: Record<string, unknown>) => {
    const b = p.blocks as { size: string; allocated: string; free: string } | undefined;
    return b && `${b.allocated}/${b.size} used, ${b.free} free /${String(p.prefixLength)}`;
  };
  table(pools.map((p) => ({ ...p, ranges: (p.ranges as string[]).join(','), blocks: blocks(p) })), POOL_COLUMNS);
}

function holder(o: { vm?: string; vip?: string }, required = true) {
  if (o.vm !== undefined && o.vip !== undefined) throw new IpamError('InvalidInput', 'give --vm or --vip, not both');
  if (required && o.vm === undefined && o.vip === undefined) throw new IpamError('InvalidInput', 'give --vm <id> or --vip <id>');
  return o.vm !== undefined ? { vm: o.vm } : o.vip !== undefined ? { vip: o.vip } : {};
}

const pool = program.command('pool').description('create, show, list, change and delete pools');

pool
  .command('create <cloud> <zone> <pool>')
  .description('create a pool from ranges, or from a file of addresses (collapsed into ranges)')
  .option('-r, --range <range>', 'CIDR, span a-b or single address (repeatable)', collect)
  .option('-f, --from-file <file>', 'a file of addresses, CIDRs or spans, one per line')
  .option('-x, --exclude <range>', 'addresses never to hand out (repeatable)', collect)
  .option('--prefix-length <n>', 'default prefix length of allocations; blocks larger than IPv4 /18 or IPv6 /114 make a prefix pool', int)
  .option('--prefix-pool', 'a prefix pool: it hands out --prefix-length blocks only, at constant cost whatever their size (IPv4 /8-/30, IPv6 /16-/126)')
  .option('--quarantine <seconds>', 'keep released addresses out of use this long', int)
  .option('--dns-domain <domain>', 'domain for DNS zone files of this pool (not for a pool in a network: it takes the network\'s)')
  .option('--network <network>', 'a network of the zone: the ranges lie in its CIDR; its network address, broadcast and gateway are never handed out')
  .option('--tag <key=value>', 'tag (repeatable)', collect)
  .action(async (cloud, zone, name, o) => {
    let ranges: string[] = o.range ?? [];
    if (o.fromFile) {
      const started = Date.now();
      const { rangesFromAddressFile } = await import('../lib/integrations/address-file.js');
      const r = await rangesFromAddressFile(o.fromFile, (p) => {
        if (process.stderr.isTTY || Date.now() - started > 1000) process.stderr.write(`\rreading ${o.fromFile}: ${p.lines.toLocaleString()} lines, ${Math.floor((100 * p.bytes) / Math.max(1, p.totalBytes))}%   `);
      });
      process.stderr.write(`\r${o.fromFile}: ${r.lines.toLocaleString()} lines, ${r.addresses.toLocaleString()} addresses in ${r.ranges.length.toLocaleString()} range(s)\n`);
      ranges = [...ranges, ...r.ranges];
    }
    if (!ranges.length) throw new IpamError('InvalidInput', 'give at least one --range or --from-file');
    const spec = {
      ranges,
      ...(o.exclude ? { exclude: o.exclude } : {}),
      ...(o.prefixLength !== undefined ? { prefixLength: o.prefixLength } : {}),
      ...(o.prefixPool ? { prefixPool: true } : {}),
      ...(o.quarantine !== undefined ? { quarantineSeconds: o.quarantine } : {}),
      ...(o.dnsDomain ? { dns: { domain: o.dnsDomain } } : {}),
      ...(o.network ? { network: o.network } : {}),
      ...(o.tag ? { tags: tags(o.tag) } : {}),
    };
    const r = await (await client()).createPool(cloud, zone, name, spec);
    print(r.pool, 'pool');
  });

pool.command('show <cloud> <zone> <pool>').description('a pool and its utilisation').action(async (cloud, zone, name) => print(await (await client()).getPool(cloud, zone, name), 'pool'));

pool
  .command('list <cloud>')
  .option('--zone <zone>', 'only this security zone')
  .description("the cloud's pools")
  .action(async (cloud, o) => print(await (await client()).listPools(cloud, o.zone), 'pools'));

pool
  .command('update <cloud> <zone> <pool>')
  .description('add or remove ranges and excludes; change the default prefix length, quarantine, DNS domain, tags')
  .option('--add-range <range>', 'repeatable', collect)
  .option('--remove-range <range>', 'repeatable', collect)
  .option('--add-exclude <range>', 'repeatable', collect)
  .option('--remove-exclude <range>', 'repeatable', collect)
  .option('--prefix-length <n>', 'default prefix length of future allocations', int)
  .option('--quarantine <seconds>', 'quarantine of releases from now on (0: none)', int)
  .option('--dns-domain <domain>', 'domain for DNS zone files of this pool')
  .option('--network <network>', 'move the pool into this network of its zone (its reserved addresses must be free; give --clear dns-domain too if the pool has a domain)')
  .option('--tag <key=value>', 'replace the tags (repeatable)', collect)
  .addOption(new Option('--clear <field>', 'remove a setting (repeatable); network: take the pool out of its network').choices(['prefix-length', 'dns-domain', 'network', 'tags']).argParser(collectChoice(['prefix-length', 'dns-domain', 'network', 'tags'])))
  .action(async (cloud, zone, name, o) => {
    const clear: string[] = o.clear ?? [];
    const patch = {
      ...(o.addRange ? { addRanges: o.addRange } : {}),
      ...(o.removeRange ? { removeRanges: o.removeRange } : {}),
      ...(o.addExclude ? { addExclude: o.addExclude } : {}),
      ...(o.removeExclude ? { removeExclude: o.removeExclude } : {}),
      ...(o.prefixLength !== undefined ? { prefixLength: o.prefixLength } : clear.includes('prefix-length') ? { prefixLength: null } : {}),
      ...(o.quarantine !== undefined ? { quarantineSeconds: o.quarantine } : {}),
      ...(o.dnsDomain !== undefined ? { dns: { domain: o.dnsDomain } } : clear.includes('dns-domain') ? { dns: null } : {}),
      ...(o.network !== undefined ? { network: o.network } : clear.includes('network') ? { network: null } : {}),
      ...(o.tag ? { tags: tags(o.tag) } : clear.includes('tags') ? { tags: {} } : {}),
    };
    print(await (await client()).updatePool(cloud, zone, name, patch), 'pool');
  });

pool.command('delete <cloud> <zone> <pool>').description('delete an empty pool').action(async (cloud, zone, name) => {
  await (await client()).deletePool(cloud, zone, name);
});

const network = program.command('network').description("create, show, list, change and delete a zone's networks (the subnet, gateway, DNS and NTP every allocation in them carries)");

/** `--route 192.168.0.0/16,10.20.0.254` → {to, via}. */
const route = (v: string, prev: { to: string; via: string }[] = []) => {
  const [to, via, ...rest] = v.split(',');
  if (!to || !via || rest.length) throw new IpamError('InvalidInput', `--route takes <to CIDR>,<via address>, e.g. 192.168.0.0/16,10.20.0.254; not ${v}`);
  return [...prev, { to: to.trim(), via: via.trim() }];
};

/** The network options every command that defines a network takes. */
function networkOptions(c: Command, verb: 'set' | 'replace'): Command {
  const many = verb === 'set' ? 'repeatable' : 'repeatable; replaces the list';
  return c
    .option('--gateway <address>', 'the default gateway (in the CIDR; IPv6: or link-local)')
    .option('--dns-server <address>', `a DNS server (${many})`, collect)
    .option('--search-domain <domain>', `a DNS search domain (${many})`, collect)
    .option('--ntp-server <address-or-host>', `an NTP server (${many})`, collect)
    .option('--mtu <n>', 'the MTU (68-9216; IPv6 at least 1280)', int)
    .option('--vlan <id>', 'the VLAN id (1-4094)', int)
    .option('--route <to,via>', `a static route, e.g. 192.168.0.0/16,10.20.0.254 (${many})`, route)
    .option('--dns-domain <domain>', "the forward DNS domain of the network's hosts (one network or pool of the cloud owns it)")
    .option('--tag <key=value>', `tag (${many})`, collect);
}

/** The fields the network options give (a PUT body, or the changes of a PATCH). */
function networkFields(o: Record<string, any>): Omit<NetworkSpec, 'cidr'> {
  return {
    ...(o.gateway !== undefined ? { gateway: o.gateway } : {}),
    ...(o.dnsServer ? { dnsServers: o.dnsServer } : {}),
    ...(o.searchDomain ? { searchDomains: o.searchDomain } : {}),
    ...(o.ntpServer ? { ntpServers: o.ntpServer } : {}),
    ...(o.mtu !== undefined ? { mtu: o.mtu } : {}),
    ...(o.vlan !== undefined ? { vlan: o.vlan } : {}),
    ...(o.route ? { routes: o.route } : {}),
    ...(o.dnsDomain !== undefined ? { dns: { domain: o.dnsDomain } } : {}),
    ...(o.tag ? { tags: tags(o.tag) } : {}),
  };
}

networkOptions(network.command('create <cloud> <zone> <network>').description("create a network of the zone (the same definition again is no change)").requiredOption('--cidr <cidr>', 'the on-link subnet, e.g. 10.20.0.0/24'), 'set').action(async (cloud, zone, name, o) => {
  const r = await (await client()).createNetwork(cloud, zone, name, { cidr: o.cidr, ...networkFields(o) });
  print(r.network, 'network');
});

network.command('show <cloud> <zone> <network>').description('a network').action(async (cloud, zone, name) => print(await (await client()).getNetwork(cloud, zone, name), 'network'));

network
  .command('list <cloud>')
  .option('--zone <zone>', 'only this security zone')
  .description("the cloud's networks")
  .action(async (cloud, o) => print(await (await client()).listNetworks(cloud, o.zone), 'networks'));

const NETWORK_CLEAR: Record<string, keyof NetworkPatch> = { gateway: 'gateway', 'dns-servers': 'dnsServers', 'search-domains': 'searchDomains', 'ntp-servers': 'ntpServers', mtu: 'mtu', vlan: 'vlan', routes: 'routes', 'dns-domain': 'dns', tags: 'tags' };
networkOptions(network.command('update <cloud> <zone> <network>').description('change a network: options given replace (lists whole); cidr and gateway only while no pool uses it').option('--cidr <cidr>', 'a new subnet (only while no pool uses the network)'), 'replace')
  .addOption(new Option('--clear <field>', 'remove a setting (repeatable)').choices(Object.keys(NETWORK_CLEAR)).argParser(collectChoice(Object.keys(NETWORK_CLEAR))))
  .action(async (cloud, zone, name, o) => {
    const patch: NetworkPatch = { ...(o.cidr !== undefined ? { cidr: o.cidr } : {}), ...networkFields(o) };
    for (const f of (o.clear ?? []) as string[]) {
      if (patch[NETWORK_CLEAR[f]!] !== undefined) throw new IpamError('InvalidInput', `give --${f} or --clear ${f}, not both`);
      Object.assign(patch, { [NETWORK_CLEAR[f]!]: null });
    }
    if (Object.keys(patch).length === 0) throw new IpamError('InvalidInput', 'nothing to change: give an option or --clear');
    print(await (await client()).updateNetwork(cloud, zone, name, patch), 'network');
  });

network.command('delete <cloud> <zone> <network>').description('delete a network no pool uses').action(async (cloud, zone, name) => {
  await (await client()).deleteNetwork(cloud, zone, name);
});

program
  .command('allocate <cloud> <zone> [pool]')
  .description('hold the next free address (or --address, or a --prefix-length block) for a VM or VIP; without POOL, from whichever pool of the zone has room')
  .option('--vm <id>', 'the VM that holds it')
  .option('--vip <id>', 'or the virtual IP name that holds it')
  .option('--name <name>', 'NIC or role; the same vm+name asked again returns the same address (per pool, or without POOL per zone)', 'default')
  .option('--address <address>', 'a specific address or CIDR block (needs POOL)')
  .option('--prefix-length <n>', 'an aligned block of this prefix length', int)
  .option('--mac <mac>', 'MAC address (for DHCP reservations)')
  .option('--hostname <name>', 'host name (for DNS)')
  .option('--tag <key=value>', 'repeatable', collect)
  .option('--pools <a,b,...>', 'without POOL: only these pools of the zone, tried in this order')
  .option('--pool-tag <key=value>', "without POOL: only the zone's pools with this tag (repeatable: all of them)", collect)
  .addOption(new Option('--family <4|6>', 'without POOL: only pools of this address family').choices(['4', '6']))
  .option('-q, --quiet', 'print only the address')
  .action(async (cloud, zone, name: string | undefined, o) => {
    const body = {
      ...holder(o),
      name: o.name,
      ...(o.prefixLength !== undefined ? { prefixLength: o.prefixLength } : {}),
      ...(o.mac ? { mac: o.mac } : {}),
      ...(o.hostname ? { hostname: o.hostname } : {}),
      ...(o.tag ? { tags: tags(o.tag) } : {}),
    };
    let r;
    if (name !== undefined) {
      for (const f of ['pools', 'poolTag', 'family'] as const) if (o[f] !== undefined) throw new IpamError('InvalidInput', `--${f === 'poolTag' ? 'pool-tag' : f} chooses among the zone's pools: leave out POOL (${name}), or leave out --${f === 'poolTag' ? 'pool-tag' : f}`);
      r = await (await client()).allocate(cloud, zone, name, { ...body, ...(o.address ? { address: o.address } : {}) });
    } else {
      if (o.address !== undefined) throw new IpamError('InvalidInput', '--address needs POOL: a specific address is allocated from its pool');
      if (o.pools !== undefined && o.poolTag !== undefined) throw new IpamError('InvalidInput', 'give --pools or --pool-tag, not both');
      const pools = o.pools !== undefined ? String(o.pools).split(',').map((p) => p.trim()).filter(Boolean) : o.poolTag !== undefined ? { tags: tags(o.poolTag, '--pool-tag')! } : undefined;
      r = await (await client()).allocateInZone(cloud, zone, { ...body, ...(o.family !== undefined ? { family: Number(o.family) as 4 | 6 } : {}), ...(pools !== undefined ? { pools } : {}) });
    }
    if (o.quiet) console.log(r.allocation.prefixLength === (r.allocation.family === 4 ? 32 : 128) ? r.allocation.address : r.allocation.cidr);
    else print(r.allocation, 'allocation');
  });

program
  .command('update <cloud> <address>')
  .description("change an allocation's MAC, host name, tags or metadata (the holder and address stay)")
  .option('--mac <mac>', 'MAC address (for DHCP reservations)')
  .option('--hostname <name>', 'host name (for DNS)')
  .option('--tag <key=value>', 'replace the tags (repeatable)', collect)
  .option('--metadata <json>', 'replace the metadata with this JSON object')
  .addOption(new Option('--clear <field>', 'remove a field (repeatable)').choices(['mac', 'hostname', 'tags', 'metadata']).argParser(collectChoice(['mac', 'hostname', 'tags', 'metadata'])))
  .action(async (cloud, address, o) => {
    const clear: string[] = o.clear ?? [];
    let metadata: unknown;
    if (o.metadata !== undefined) {
      try {
        metadata = JSON.parse(o.metadata);
      } catch (e) {
        throw new IpamError('InvalidInput', `--metadata takes a JSON object: ${(e as Error).message}`);
      }
    }
    for (const f of clear) if (o[f] !== undefined || (f === 'tags' && o.tag)) throw new IpamError('InvalidInput', `give --${f === 'tags' ? 'tag' : f} or --clear ${f}, not both`);
    const patch = {
      ...(o.mac !== undefined ? { mac: o.mac } : clear.includes('mac') ? { mac: null } : {}),
      ...(o.hostname !== undefined ? { hostname: o.hostname } : clear.includes('hostname') ? { hostname: null } : {}),
      ...(o.tag ? { tags: tags(o.tag) } : clear.includes('tags') ? { tags: {} } : {}),
      ...(metadata !== undefined ? { metadata: metadata as Record<string, never> } : clear.includes('metadata') ? { metadata: {} } : {}),
    };
    if (Object.keys(patch).length === 0) throw new IpamError('InvalidInput', 'nothing to change: give --mac, --hostname, --tag, --metadata or --clear');
    print(await (await client()).updateAllocation(cloud, address, patch), 'allocation');
  });

/** What was released: a line each for people, the allocations as JSON for scripts (the same for one address and --all). */
function printReleased(released: Allocation[], what: string) {
  if (program.opts<Globals>().output !== 'table') return console.log(JSON.stringify(released, null, 2));
  if (released.length === 0) return console.log(`nothing released: ${what} holds no address`);
  for (const a of released) console.log(`released ${a.prefixLength === (a.family === 4 ? 32 : 128) ? a.address : a.cidr} (${allocationRow(a).holder} ${a.name}, pool ${a.cloud}/${a.zone}/${a.pool})`);
}

program
  .command('release <cloud> [address]')
  .description('release an address (guarded by --vm/--vip when given), or everything of --vm/--vip with --all')
  .option('--vm <id>', 'refuse unless this VM holds it; with --all: release everything it holds')
  .option('--vip <id>', 'the same for a VIP')
  .option('--all', 'release everything the --vm or --vip holds in the cloud')
  .option('--zone <zone>', "use the zone's routes: only this zone's allocations (what a zone pipeline may call)")
  .action(async (cloud, address, o) => {
    const c = await client();
    if (o.all) {
      const h = holder(o);
      const kind = h.vm !== undefined ? 'vm' : 'vip';
      return printReleased(await c.releaseHolder(cloud, kind, (h.vm ?? h.vip)!, o.zone), `${kind}:${h.vm ?? h.vip}`);
    }
    if (!address) throw new IpamError('InvalidInput', 'give the address to release, or --all with --vm/--vip');
    // One request: the answer is the allocation as it was released (Prefer: return=representation).
    const guard = holder(o, false);
    printReleased([await c.releaseReturning(cloud, address, Object.keys(guard).length ? guard : undefined, o.zone)], address);
  });

program
  .command('show <cloud> <address-or-holder>')
  .description('the allocation holding an address; or everything of a holder given as vm:<id> or vip:<id>')
  .option('--zone <zone>', "use the zone's routes: only this zone's allocations (what a zone pipeline may call)")
  .action(async (cloud, what: string, o) => {
    const c = await client();
    const m = /^(vm|vip):(.+)$/.exec(what);
    if (m) return print(await c.byHolder(cloud, m[1] as 'vm' | 'vip', m[2]!, o.zone), 'allocations');
    print(await c.lookup(cloud, what, o.zone), 'allocation');
  });

program
  .command('list <cloud> <zone> <pool>')
  .description("the pool's allocations, in address order")
  .action(async (cloud, zone, name) => {
    const all: Allocation[] = [];
    for await (const a of (await client()).allAllocations(cloud, zone, name)) all.push(a);
    print(all, 'allocations');
  });

program
  .command('network-config <cloud> <vm>')
  .description("the VM's cloud-init network-config (version 2, netplan YAML) for every NIC it holds: for cloud-init's NoCloud network-config, or /etc/netplan/")
  .option('--zone <zone>', "use the zone's route: only the NICs of this zone's allocations (what a zone pipeline may call)")
  .action(async (cloud, vm, o) => {
    process.stdout.write(await (await client()).networkConfig(cloud, vm, o.zone));
  });

const env = program.command('env').description('environments: every address a stack needs, in one call, as a Heat environment file');

/** PUT or GET an environment; with `-o heat` the service renders the Heat environment file itself. */
const envPath = (cloud: string, name: string, zone?: string) => `/v1/clouds/${encodeURIComponent(cloud)}${zone === undefined ? '' : `/zones/${encodeURIComponent(zone)}`}/environments/${encodeURIComponent(name)}`;

async function environmentCall(method: 'PUT' | 'GET', cloud: string, name: string, zone: string | undefined, body?: unknown) {
  const out = program.opts<Globals>().output;
  const path = envPath(cloud, name, zone);
  const r = await (await client()).request<any>(method, path, { ...(body !== undefined ? { body } : {}), ...(out === 'heat' ? { query: { format: 'heat' } } : {}) });
  if (out === 'heat') {
    process.stdout.write(r.body as string);
    return;
  }
  if (out === 'json') return console.log(JSON.stringify(r.body, null, 2));
  const slots = r.body.slots as Record<string, { zone: string; pool: string; addresses: string[]; network?: { cidr: string; gateway?: string } }>;
  table(Object.entries(slots).map(([slot, s]) => ({ slot, zone: s.zone, pool: s.pool, addresses: s.addresses.join(','), network: s.network?.cidr, gateway: s.network?.gateway })), ['slot', 'zone', 'pool', 'addresses', 'network', 'gateway']);
}

env
  .command('apply <cloud> <env>')
  .description('allocate every slot of a manifest (YAML or JSON: {slots: {<name>: {zone, pool, vm|vip, count?, ...}}}), all or nothing')
  .requiredOption('-f, --file <manifest>', 'the manifest')
  .option('--zone <zone>', "the zone's environment (its own namespace; slots only in that zone, zone may be left out)")
  .action(async (cloud, name, o) => {
    const { parse: parseYaml } = await import('yaml');
    let manifest: unknown;
    try {
      manifest = parseYaml(readFileSync(o.file, 'utf8'));
    } catch (e) {
      throw new IpamError('InvalidInput', `${o.file}: ${(e as Error).message}`);
    }
    await environmentCall('PUT', cloud, name, o.zone, manifest);
  });

env
  .command('show <cloud> <env>')
  .description("an environment's addresses")
  .option('--zone <zone>', "the zone's environment (its own namespace; slots only in that zone, zone may be left out)")
  .action(async (cloud, name, o) => {
    await environmentCall('GET', cloud, name, o.zone);
  });

env
  .command('release <cloud> <env>')
  .description('release every address of an environment')
  .option('--zone <zone>', "the zone's environment (its own namespace; slots only in that zone, zone may be left out)")
  .action(async (cloud, name, o) => {
    const r = await (await client()).request<{ released: Allocation[] }>('DELETE', envPath(cloud, name, o.zone));
    print(r.body.released, 'allocations');
  });

function exitCodeOf(e: unknown): number {
  if (e instanceof CliError) return e.code;
  if (e instanceof ApiError) {
    if (e.status === 400 || e.status === 413 || e.status === 415) return EXIT.input;
    if (e.status === 404) return EXIT.notFound;
    if (e.status === 409) return EXIT.conflict;
    if (e.status === 401 || e.status === 403) return EXIT.auth;
    if (e.status >= 500) return EXIT.unavailable;
    return EXIT.other;
  }
  if (e instanceof IpamError) return e.kind === 'InvalidInput' ? EXIT.input : e.kind === 'NotFound' ? EXIT.notFound : e.kind === 'TooBusy' ? EXIT.unavailable : EXIT.conflict;
  const code = (e as { code?: string })?.code ?? (e as { cause?: { code?: string } })?.cause?.code;
  if (code !== undefined && ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code)) return EXIT.unavailable;
  return EXIT.other;
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : EXIT.input);
  const code = exitCodeOf(e);
  const msg =
    e instanceof ApiError
      ? `ipam: ${e.status}${e.reason ? ` ${e.reason}` : ''}: ${e.message}`
      : code === EXIT.unavailable && !(e instanceof IpamError)
        ? `ipam: cannot reach ${program.opts<Globals>().endpoint}: ${(e as Error).message} (is \`npm start\` running? Its port: IPAM_PORT, or --endpoint)`
        : `ipam: ${(e as Error).message}`;
  console.error(msg);
  process.exit(code);
}
