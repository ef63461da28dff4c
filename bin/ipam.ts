/**
 * The `ipam` CLI: what provisioning scripts call.
 *
 * Exit codes: 0 ok, 2 bad input or usage, 3 not found, 4 conflict (taken, exhausted, overlap,
 * not empty), 5 not authorized (signature or caller), 6 service unavailable or unreachable, 1 other.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { rangesFromAddressFile } from '../lib/address-file.js';
import { ApiError, callerCredentials, IpamClient } from '../lib/client.js';
import { IpamError } from '../lib/errors.js';
import type { Allocation } from '../lib/model.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const EXIT = { ok: 0, other: 1, input: 2, notFound: 3, conflict: 4, auth: 5, unavailable: 6 } as const;

type Output = 'json' | 'table' | 'heat';

interface Globals {
  endpoint: string;
  region: string;
  output: Output;
  callersFile?: string;
  caller?: string;
}

const program = new Command('ipam')
  .description('IP address management: pools per cloud and security zone, addresses held by VMs and VIPs until released.')
  .option('--endpoint <url>', 'API endpoint (env IPAM_ENDPOINT)', process.env.IPAM_ENDPOINT ?? 'http://127.0.0.1:8080')
  .option('--region <region>', 'region the API signs for (env IPAM_REGION)', process.env.IPAM_REGION ?? process.env.AWS_REGION ?? 'us-east-1')
  .addOption(new Option('-o, --output <format>', 'json for scripts, table for people, heat for environments').choices(['json', 'table', 'heat']).default(process.stdout.isTTY ? 'table' : 'json'))
  .option('--callers-file <file>', 'sign as a caller of the local callers file (default for a loopback endpoint: $IPAM_CALLERS_FILE or .ipam/callers.json)')
  .option('--caller <principal>', 'which caller of the callers file (default: the first)')
  .showHelpAfterError()
  .exitOverride();

async function client(): Promise<IpamClient> {
  const g = program.opts<Globals>();
  const url = new URL(g.endpoint);
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  const file = g.callersFile ?? (loopback ? (process.env.IPAM_CALLERS_FILE ?? path.join(process.env.IPAM_DATA_DIR ?? '.ipam', 'callers.json')) : undefined);
  const useFile = file !== undefined && (g.callersFile !== undefined || existsSync(file));
  return new IpamClient({ endpoint: g.endpoint, region: g.region, ...(useFile ? { credentials: await callerCredentials(file!, g.caller) } : {}) });
}

function tags(list: string[] | undefined): Record<string, string> | undefined {
  if (!list?.length) return undefined;
  return Object.fromEntries(
    list.map((kv) => {
      const i = kv.indexOf('=');
      if (i <= 0) throw new IpamError('InvalidInput', `--tag takes key=value, not ${kv}`);
      return [kv.slice(0, i), kv.slice(i + 1)];
    }),
  );
}

const collect = (v: string, prev: string[] = []) => [...prev, v];
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

const ALLOC_COLUMNS = ['cidr', 'zone', 'pool', 'holder', 'name', 'hostname', 'mac', 'allocatedAt'];
const POOL_COLUMNS = ['zone', 'name', 'ranges', 'size', 'allocated', 'free'];
const holderCol = (a: Allocation) => ({ ...a, holder: a.vm !== undefined ? `vm:${a.vm}` : `vip:${a.vip}` });

function print(value: unknown, kind: 'allocation' | 'allocations' | 'pool' | 'pools' | 'raw') {
  if (program.opts<Globals>().output !== 'table' || kind === 'raw') return console.log(JSON.stringify(value, null, 2));
  if (kind === 'allocation') return table([holderCol(value as Allocation)], ALLOC_COLUMNS);
  if (kind === 'allocations') return table((value as Allocation[]).map(holderCol), ALLOC_COLUMNS);
  const pools = (kind === 'pool' ? [value] : value) as Record<string, unknown>[];
  table(pools.map((p) => ({ ...p, ranges: (p.ranges as string[]).join(',') })), POOL_COLUMNS);
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
  .option('--prefix-length <n>', 'default prefix length of allocations', int)
  .option('--quarantine <seconds>', 'keep released addresses out of use this long', int)
  .option('--dns-domain <domain>', 'domain for DNS zone files of this pool')
  .option('--tag <key=value>', 'tag (repeatable)', collect)
  .action(async (cloud, zone, name, o) => {
    let ranges: string[] = o.range ?? [];
    if (o.fromFile) {
      const started = Date.now();
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
      ...(o.quarantine !== undefined ? { quarantineSeconds: o.quarantine } : {}),
      ...(o.dnsDomain ? { dns: { domain: o.dnsDomain } } : {}),
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
  .description('add or remove ranges and excludes')
  .option('--add-range <range>', 'repeatable', collect)
  .option('--remove-range <range>', 'repeatable', collect)
  .option('--add-exclude <range>', 'repeatable', collect)
  .option('--remove-exclude <range>', 'repeatable', collect)
  .option('--tag <key=value>', 'replace the tags (repeatable)', collect)
  .action(async (cloud, zone, name, o) => {
    const patch = {
      ...(o.addRange ? { addRanges: o.addRange } : {}),
      ...(o.removeRange ? { removeRanges: o.removeRange } : {}),
      ...(o.addExclude ? { addExclude: o.addExclude } : {}),
      ...(o.removeExclude ? { removeExclude: o.removeExclude } : {}),
      ...(o.tag ? { tags: tags(o.tag) } : {}),
    };
    print(await (await client()).updatePool(cloud, zone, name, patch), 'pool');
  });

pool.command('delete <cloud> <zone> <pool>').description('delete an empty pool').action(async (cloud, zone, name) => {
  await (await client()).deletePool(cloud, zone, name);
});

program
  .command('allocate <cloud> <zone> <pool>')
  .description('hold the next free address (or --address, or a --prefix-length block) for a VM or VIP')
  .option('--vm <id>', 'the VM that holds it')
  .option('--vip <id>', 'or the virtual IP name that holds it')
  .option('--name <name>', 'NIC or role; the same vm+name asked again returns the same address', 'default')
  .option('--address <address>', 'a specific address or CIDR block')
  .option('--prefix-length <n>', 'an aligned block of this prefix length', int)
  .option('--mac <mac>', 'MAC address (for DHCP reservations)')
  .option('--hostname <name>', 'host name (for DNS)')
  .option('--tag <key=value>', 'repeatable', collect)
  .option('-q, --quiet', 'print only the address')
  .action(async (cloud, zone, name, o) => {
    const body = {
      ...holder(o),
      name: o.name,
      ...(o.address ? { address: o.address } : {}),
      ...(o.prefixLength !== undefined ? { prefixLength: o.prefixLength } : {}),
      ...(o.mac ? { mac: o.mac } : {}),
      ...(o.hostname ? { hostname: o.hostname } : {}),
      ...(o.tag ? { tags: tags(o.tag) } : {}),
    };
    const r = await (await client()).allocate(cloud, zone, name, body);
    if (o.quiet) console.log(r.allocation.prefixLength === (r.allocation.family === 4 ? 32 : 128) ? r.allocation.address : r.allocation.cidr);
    else print(r.allocation, 'allocation');
  });

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
      const released = await c.releaseHolder(cloud, h.vm !== undefined ? 'vm' : 'vip', (h.vm ?? h.vip)!, o.zone);
      return print(released, 'allocations');
    }
    if (!address) throw new IpamError('InvalidInput', 'give the address to release, or --all with --vm/--vip');
    await c.release(cloud, address, holder(o, false), o.zone);
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
  const slots = r.body.slots as Record<string, { zone: string; pool: string; addresses: string[] }>;
  table(Object.entries(slots).map(([slot, s]) => ({ slot, zone: s.zone, pool: s.pool, addresses: s.addresses.join(',') })), ['slot', 'zone', 'pool', 'addresses']);
}

env
  .command('apply <cloud> <env>')
  .description('allocate every slot of a manifest (YAML or JSON: {slots: {<name>: {zone, pool, vm|vip, count?, ...}}}), all or nothing')
  .requiredOption('-f, --file <manifest>', 'the manifest')
  .option('--zone <zone>', "the zone's environment (its own namespace; slots only in that zone, zone may be left out)")
  .action(async (cloud, name, o) => {
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
  if (e instanceof ApiError) {
    if (e.status === 400 || e.status === 413 || e.status === 415) return EXIT.input;
    if (e.status === 404) return EXIT.notFound;
    if (e.status === 409) return EXIT.conflict;
    if (e.status === 401 || e.status === 403) return EXIT.auth;
    if (e.status >= 500) return EXIT.unavailable;
    return EXIT.other;
  }
  if (e instanceof IpamError) return e.kind === 'InvalidInput' ? EXIT.input : e.kind === 'NotFound' ? EXIT.notFound : EXIT.conflict;
  const code = (e as { cause?: { code?: string } })?.cause?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || (e as Error)?.message === 'fetch failed') return EXIT.unavailable;
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
      : code === EXIT.unavailable
        ? `ipam: cannot reach ${program.opts<Globals>().endpoint}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message} (is \`npm start\` running?)`
        : `ipam: ${(e as Error).message}`;
  console.error(msg);
  process.exit(code);
}
