/**
 * Networks: the on-link subnets of a zone (lib/core/network.ts), created, changed and deleted under the
 * cloud version fence like pool topology, so overlap, domain ownership and "no pool uses it" are decided
 * on one consistent read that no concurrent change can slip past. And the decoration of allocation
 * answers with their pool's network, from the per-cloud snapshot the engine caches like its pools.
 */
import { randomBytes } from 'node:crypto';
import { IpamError } from '../core/errors.js';
import type { Allocation, CallContext, Pool } from '../core/model.js';
import {
  checkDomainClaim,
  checkNetworkOverlap,
  checkNetworkSpec,
  domainOwners,
  networkDefinition,
  nicNetwork,
  patchedNetwork,
  type AllocationView,
  type Network,
  type NetworkPatch,
  type NetworkSpec,
} from '../core/network.js';
import { checkName } from '../core/validate.js';
import type { Engine } from './context.js';
import { RACED, retrying } from './retry.js';

const notFound = (cloud: string, zone: string, name: string) => new IpamError('NetworkNotFound', `network ${cloud}/${zone}/${name} does not exist`, { network: name });

function checkNames(cloud: string, zone: string, name: string) {
  checkName('cloud', cloud);
  checkName('zone', zone);
  checkName('network', name);
}

export class Networks {
  constructor(private readonly e: Engine) {}

  /** Creates a network; the same definition again answers the existing one (`created: false`). */
  async createNetwork(cloud: string, zone: string, name: string, spec: NetworkSpec, ctx: CallContext): Promise<{ network: Network; created: boolean }> {
    checkNames(cloud, zone, name);
    const fields = checkNetworkSpec(spec);
    const at = new Date(this.e.now()).toISOString();
    const network: Network = {
      cloud,
      zone,
      name,
      uid: randomBytes(8).toString('hex'),
      ...fields,
      createdAt: at,
      createdBy: ctx.principal,
      updatedAt: at,
      updatedBy: ctx.principal,
      ...(ctx.requestId ? { requestId: ctx.requestId } : {}),
    };
    return retrying('creating the network', this.e.maxAttempts, async () => {
      const { cloudVersion, pools, networks } = await this.e.store.listPools(cloud);
      this.e.cache.rememberCloud(cloud, { pools, networks });
      const existing = networks.find((n) => n.zone === zone && n.name === name);
      if (existing) {
        if (networkDefinition(existing) === networkDefinition(network)) return { network: existing, created: false };
        throw new IpamError('NetworkExists', `network ${cloud}/${zone}/${name} already exists with a different definition; change it with PATCH`, { network: name });
      }
      checkNetworkOverlap(network, pools, networks);
      if (network.dns) checkDomainClaim({ zone, kind: 'network', name, family: network.family, domain: network.dns.domain }, domainOwners(pools, networks));
      if ((await this.e.store.createNetwork(network, cloudVersion)) !== 'ok') return RACED;
      this.e.cache.forgetCloud(cloud);
      return { network, created: true };
    });
  }

  async getNetwork(cloud: string, zone: string, name: string): Promise<Network> {
    checkNames(cloud, zone, name);
    const n = (await this.e.cache.cloud(cloud, true)).networks.find((x) => x.zone === zone && x.name === name);
    if (!n) throw notFound(cloud, zone, name);
    return n;
  }

  /** The cloud's networks (or one zone's), by zone and name. */
  async listNetworks(cloud: string, zone?: string): Promise<Network[]> {
    checkName('cloud', cloud);
    if (zone !== undefined) checkName('zone', zone);
    const { networks } = await this.e.cache.cloud(cloud, true);
    return networks.filter((n) => zone === undefined || n.zone === zone);
  }

  /**
   * Changes a network (fields given replace, null removes). Its CIDR and gateway change only while no
   * pool uses it (409 NetworkInUse): they decide the addresses its pools never hand out.
   */
  async updateNetwork(cloud: string, zone: string, name: string, patch: NetworkPatch, ctx: CallContext): Promise<Network> {
    checkNames(cloud, zone, name);
    return retrying('updating the network', this.e.maxAttempts, async () => {
      const { cloudVersion, pools, networks } = await this.e.store.listPools(cloud);
      this.e.cache.rememberCloud(cloud, { pools, networks });
      const prev = networks.find((n) => n.zone === zone && n.name === name);
      if (!prev) throw notFound(cloud, zone, name);
      const fields = patchedNetwork(prev, patch);
      if (networkDefinition(fields) === networkDefinition(prev)) return prev; // nothing would change: no write, no event
      const users = pools.filter((p) => p.zone === zone && p.network === name);
      if (users.length > 0 && (fields.cidr !== prev.cidr || fields.gateway !== prev.gateway)) {
        throw new IpamError('NetworkInUse', `network ${cloud}/${zone}/${name} is used by pool(s) ${users.map((p) => p.name).join(', ')}; its cidr and gateway change only while no pool uses it (PATCH the pools' network to null first)`, { pools: users.map((p) => p.name) });
      }
      const { cloud: _c, zone: _z, name: _n, uid, createdAt, createdBy } = prev;
      const next: Network = { cloud, zone, name, uid, ...fields, createdAt, createdBy, updatedAt: new Date(this.e.now()).toISOString(), updatedBy: ctx.principal, ...(ctx.requestId ? { requestId: ctx.requestId } : {}) };
      if (next.cidr !== prev.cidr) checkNetworkOverlap(next, pools, networks);
      if (next.dns && (next.dns.domain !== prev.dns?.domain || next.family !== prev.family)) checkDomainClaim({ zone, kind: 'network', name, family: next.family, domain: next.dns.domain }, domainOwners(pools, networks));
      if ((await this.e.store.updateNetwork(prev, next, cloudVersion)) !== 'ok') return RACED;
      this.e.cache.forgetCloud(cloud);
      return next;
    });
  }

  /** Deletes a network no pool uses (409 NetworkInUse otherwise); its domain is free again. */
  async deleteNetwork(cloud: string, zone: string, name: string, ctx: CallContext): Promise<void> {
    checkNames(cloud, zone, name);
    return retrying('deleting the network', this.e.maxAttempts, async () => {
      const { cloudVersion, pools, networks } = await this.e.store.listPools(cloud);
      const n = networks.find((x) => x.zone === zone && x.name === name);
      if (!n) throw notFound(cloud, zone, name);
      const users = pools.filter((p) => p.zone === zone && p.network === name);
      if (users.length > 0) throw new IpamError('NetworkInUse', `network ${cloud}/${zone}/${name} is used by pool(s) ${users.map((p) => p.name).join(', ')}; move or delete them first`, { pools: users.map((p) => p.name) });
      if ((await this.e.store.deleteNetwork(n, cloudVersion, ctx)) !== 'ok') return RACED;
      this.e.cache.forgetCloud(cloud);
    });
  }

  // ---------- allocation answers ----------

  /**
   * The allocation as answered: with its pool's network, when the pool is in one. With `pool` (the
   * definition an allocation was just made under), no pool is looked up, and a pool outside networks
   * costs no read at all.
   */
  async view(a: Allocation, pool?: Pool): Promise<AllocationView> {
    const n = pool ? await this.networkFor(pool) : await this.networkOf(a.cloud, a.zone, a.pool);
    return n ? { ...a, network: nicNetwork(n) } : a;
  }

  async views(as: Allocation[]): Promise<AllocationView[]> {
    return Promise.all(as.map((a) => this.view(a)));
  }

  /**
   * The network of pool (cloud, zone, pool), if any: from the pool cache (just used by an allocation)
   * or the cloud snapshot, both as fresh as the pool cache. A snapshot that does not know the pool or
   * its network yet (created since) is read again once. No read per allocation on the hot path.
   */
  async networkOf(cloud: string, zone: string, pool: string): Promise<Network | undefined> {
    const cached = this.e.cache.cachedPool(cloud, zone, pool);
    if (cached) return this.networkFor(cached);
    for (const fresh of [false, true]) {
      const snap = await this.e.cache.cloud(cloud, fresh);
      const p = snap.pools.find((x) => x.zone === zone && x.name === pool);
      if (!p) continue;
      if (p.network === undefined) return undefined;
      const n = snap.networks.find((x) => x.zone === zone && x.name === p.network);
      if (n) return n;
    }
    return undefined;
  }

  /** The network a pool definition names, if any: from the cloud snapshot, read again once if it does not know the network yet. */
  async networkFor(pool: Pool): Promise<Network | undefined> {
    if (pool.network === undefined) return undefined;
    for (const fresh of [false, true]) {
      const n = (await this.e.cache.cloud(pool.cloud, fresh)).networks.find((x) => x.zone === pool.zone && x.name === pool.network);
      if (n) return n;
    }
    return undefined;
  }
}
