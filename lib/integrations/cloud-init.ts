/**
 * cloud-init network configuration (network-config version 2, the netplan format) of one VM, from the
 * addresses it holds: what `GET /v1/clouds/{cloud}/vms/{vm}/network-config` answers (README, "cloud-init").
 *
 * One ethernet per NIC of the VM. A NIC is:
 *  - every allocation with the same MAC (so an IPv4 and an IPv6 network on one port are one NIC), matched
 *    by `match: {macaddress}` and given its name with `set-name`;
 *  - else every allocation with the same interface name (an allocation `name` such as `eth0` or `ens3`,
 *    IFNAME_RE), joining the MAC NIC that carries that name if there is one; such a NIC is matched by that name;
 *  - else the VM's allocations in one network, joining the one NIC that already has that network, if one does.
 * A NIC is named by its allocations' interface name when they agree on one, else `eth<n>` (the lowest
 * n not taken).
 *
 * A NIC never spans security zones: the joins above (same MAC, same interface name, same network) are made
 * within one zone only. A VM's name is the cloud's, so any zone may hold addresses for it; on the cloud's
 * document another zone's allocation must never land on this zone's NIC (its address, routes and DNS servers
 * on the victim's port). When NICs of two zones ask for the same MAC or the same interface name, the document
 * is refused (409 NicConflict): which zone's NIC the port is cannot be told, and the zone routes still answer. It gets each address with its network's prefix length, the default route via each of its
 * networks' gateways (`to: default`), the networks' static routes, their DNS servers and search domains,
 * and the smallest MTU they set. When a family has more than one default route in the document, they get
 * metrics 100, 200, ... in document order (NICs sorted by name), so the first NIC's gateway is preferred.
 *
 * Not configured, and listed in a comment on top instead: an address whose pool is in no network (no
 * prefix length or gateway is known for it), a block (a prefix routed to the VM is not an address of a
 * NIC), and a MAC-less address of a network that two of the VM's NICs share (which NIC is unknown).
 * A network's `vlan` is not rendered (the hypervisor tags the vNIC; the guest sees untagged frames), nor
 * its NTP servers (network-config has no place for them; cloud-init's `ntp` module in user-data does).
 */
import { IpamError } from '../core/errors.js';
import { BITS, parseAddress } from '../core/ip.js';
import type { AllocationView, NicNetwork } from '../core/network.js';
import { yaml11 } from './yaml11.js';

/**
 * An allocation `name` that is a kernel's name for a NIC: `eth<n>`, or systemd's predictable `en…` names
 * (`ens3`, `enp0s3`, `eno1`, `enx525400123456`); at most 15 characters (IFNAMSIZ). Any other name (`default`,
 * a role such as `web`, an environment's `shop.web-1`) names no interface: a NIC without a MAC matched by
 * such a name would match nothing.
 */
const IFNAME_RE = /^(eth[0-9]{1,4}|en[a-z0-9]{1,13})$/;
const interfaceName = (name: string) => (IFNAME_RE.test(name) ? name : undefined);

type Configured = AllocationView & { network: NicNetwork };

interface Nic {
  mac?: string;
  allocations: Configured[];
  name?: string;
}

interface Route {
  to: string;
  via: string;
  metric?: number;
}

export interface NetworkConfig {
  /** The netplan document: `{network: {version: 2, ethernets}}`. */
  document: { network: { version: 2; ethernets: Record<string, Record<string, unknown>> } };
  /** What was not configured, and why (the document's top comment). */
  skipped: { address: string; why: string }[];
}

const netKey = (a: Configured) => `${a.zone}/${a.network.name}`;
const textOf = (a: AllocationView) => (a.prefixLength === BITS[a.family] ? a.address : a.cidr);
const byAddress = (a: AllocationView, b: AllocationView) => a.family - b.family || cmp(parseAddress(a.address).value, parseAddress(b.address).value);
const cmp = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);
const unique = <T>(xs: T[]) => [...new Set(xs)];

/** Groups a VM's allocations into NICs (see the module comment). */
function nicsOf(allocations: readonly AllocationView[], skipped: NetworkConfig['skipped']): Nic[] {
  const nics: Nic[] = [];
  const rest: Configured[] = [];
  const byMac = new Map<string, Nic>();
  for (const a of [...allocations].sort(byAddress)) {
    if (a.network === undefined) skipped.push({ address: textOf(a), why: `pool ${a.zone}/${a.pool} is in no network` });
    else if (a.prefixLength !== BITS[a.family]) skipped.push({ address: a.cidr, why: 'a block: a prefix routed to the VM, not an address of a NIC' });
    else if (a.mac !== undefined) {
      const mac = a.mac.toLowerCase();
      let nic = byMac.get(`${a.zone}\n${mac}`);
      if (!nic) nics.push((nic = { mac, allocations: [] })), byMac.set(`${a.zone}\n${mac}`, nic);
      nic.allocations.push(a as Configured);
    } else rest.push(a as Configured);
  }
  // MAC-less addresses with an interface name: the MAC NIC of that name, else a NIC of that name.
  const unnamed: Configured[] = [];
  for (const a of rest) {
    const name = interfaceName(a.name);
    if (name === undefined) {
      unnamed.push(a);
      continue;
    }
    const carriers = nics.filter((n) => n.allocations.some((x) => x.name === name && x.zone === a.zone));
    if (carriers.length === 1) carriers[0]!.allocations.push(a);
    else nics.push({ allocations: [a] });
  }
  // The rest: the one NIC already in that network, else one NIC per network.
  const perNetwork = new Map<string, Nic>();
  for (const a of unnamed) {
    const carriers = nics.filter((n) => n.allocations.some((x) => netKey(x) === netKey(a)));
    if (carriers.length > 1) {
      skipped.push({ address: a.address, why: `no MAC, and ${carriers.length} of the VM's NICs are in network ${a.network.name}: which one is unknown` });
      continue;
    }
    let nic = carriers[0] ?? perNetwork.get(netKey(a));
    if (!nic) nics.push((nic = { allocations: [] })), perNetwork.set(netKey(a), nic);
    nic.allocations.push(a);
  }
  // Names: the allocations' interface name when they agree on one and no other NIC claims it; else eth<n>.
  const claims = new Map<string, number>();
  const wanted = nics.map((n) => {
    const names = unique(n.allocations.map((a) => interfaceName(a.name)).filter((x) => x !== undefined));
    return names.length === 1 ? names[0] : undefined;
  });
  for (const w of wanted) if (w !== undefined) claims.set(w, (claims.get(w) ?? 0) + 1);
  crossZoneConflicts(nics, wanted);
  nics.forEach((n, i) => {
    const w = wanted[i];
    if (w !== undefined && claims.get(w) === 1) n.name = w;
  });
  const taken = new Set(nics.flatMap((n) => (n.name !== undefined ? [n.name] : [])));
  let next = 0;
  for (const n of nics) {
    if (n.name !== undefined) continue;
    while (taken.has(`eth${next}`)) next++;
    taken.add((n.name = `eth${next}`));
  }
  return nics.sort((a, b) => a.name!.localeCompare(b.name!, 'en', { numeric: true }));
}

const zoneOf = (n: Nic) => n.allocations[0]!.zone;

/** 409 NicConflict when NICs of two zones ask for the same MAC or the same interface name (see the module comment). */
function crossZoneConflicts(nics: readonly Nic[], wanted: readonly (string | undefined)[]): void {
  const seen = new Map<string, string>();
  const check = (what: string, zone: string) => {
    const first = seen.get(what);
    if (first === undefined) seen.set(what, zone);
    else if (first !== zone) {
      const zones = [first, zone].sort();
      throw new IpamError('NicConflict', `the VM's allocations in zones ${zones.join(' and ')} both give ${what}: a NIC belongs to one zone, so the cloud's network-config cannot tell whose port it is; ask each zone's route (GET .../zones/{zone}/vms/{vm}/network-config), or release the allocation that should not have it`, { zones });
    }
  };
  nics.forEach((n, i) => {
    if (n.mac !== undefined) check(`MAC ${n.mac}`, zoneOf(n));
    if (wanted[i] !== undefined) check(`the interface name ${wanted[i]}`, zoneOf(n));
  });
}

/** The network-config of a VM's allocations (all of one cloud, or of one zone). Throws when no address can be configured. */
export function networkConfig(allocations: readonly AllocationView[]): NetworkConfig {
  const skipped: NetworkConfig['skipped'] = [];
  const nics = nicsOf(allocations, skipped);
  const ethernets: Record<string, Record<string, unknown>> = {};
  const defaults: Route[][] = [[], []]; // default routes per family (IPv4, IPv6), in document order
  for (const nic of nics) {
    nic.allocations.sort(byAddress);
    const networks = unique(nic.allocations.map(netKey)).map((k) => nic.allocations.find((a) => netKey(a) === k)!.network);
    const routes = new Map<string, Route>(); // by `to via`: two networks naming the same route give it once
    for (const n of networks) {
      if (n.gateway !== undefined && !routes.has(`default ${n.gateway}`)) {
        const r: Route = { to: 'default', via: n.gateway };
        routes.set(`default ${n.gateway}`, r);
        defaults[parseAddress(n.gateway).family === 4 ? 0 : 1]!.push(r);
      }
      for (const r of n.routes) if (!routes.has(`${r.to} ${r.via}`)) routes.set(`${r.to} ${r.via}`, { to: r.to, via: r.via });
    }
    const dns = unique(networks.flatMap((n) => n.dnsServers));
    const search = unique(networks.flatMap((n) => n.searchDomains));
    const mtus = networks.flatMap((n) => (n.mtu !== undefined ? [n.mtu] : []));
    ethernets[nic.name!] = {
      ...(nic.mac !== undefined ? { match: { macaddress: nic.mac }, 'set-name': nic.name } : {}),
      addresses: nic.allocations.map((a) => `${a.address}/${a.network.prefixLength}`),
      ...(routes.size ? { routes: [...routes.values()] } : {}),
      ...(dns.length || search.length ? { nameservers: { ...(dns.length ? { addresses: dns } : {}), ...(search.length ? { search } : {}) } } : {}),
      ...(mtus.length ? { mtu: Math.min(...mtus) } : {}),
    };
  }
  // Two default routes of a family without metrics conflict (netplan warns; the kernel keeps one): rank them.
  for (const family of defaults) if (family.length > 1) family.forEach((r, i) => (r.metric = 100 * (i + 1)));
  if (nics.length === 0 && allocations.length > 0) {
    throw new IpamError('NoNetwork', `no address of the VM can be configured: ${skipped.map((s) => `${s.address} (${s.why})`).join('; ')}; a NIC needs its pool in a network (prefix length, gateway, DNS)`);
  }
  return { document: { network: { version: 2, ethernets } }, skipped };
}

/** The document as YAML (netplan, cloud-init), with a comment naming what it is for and what it left out. */
export async function networkConfigYaml(title: string, allocations: readonly AllocationView[]): Promise<string> {
  const { document, skipped } = networkConfig(allocations);
  const lines = [`network-config (version 2, netplan) of ${title}, generated by IPAM`, ...skipped.map((s) => `not configured: ${s.address}: ${s.why}`)];
  return yaml11(document, lines.join('\n'));
}
