/**
 * Environments: many addresses in one call, all or nothing, for Heat templates (seed 000).
 *
 * An environment is a named set of slots. Each slot becomes one or `count` ordinary allocations,
 * named `{env}.{slot}` (or `{env}.{slot}-1..n`, or the slot's own `name` with the same suffixes),
 * tagged `ipam:environment={env}`. Because every allocation is idempotent per (pool, holder, name),
 * applying the same definition again yields the same addresses, however many there are: no single
 * transaction (DynamoDB stops at 100 items) is needed. The environment item is a lease: one caller
 * applies or releases at a time; a concurrent identical call waits for that caller's result; a
 * crashed caller's lease expires and the next call finishes or undoes its work.
 */
import { createHash, randomUUID } from 'node:crypto';
import { invalid, IpamError } from '../core/errors.js';
import { stableJson } from '../core/json.js';
import type { Ipam } from './ipam.js';
import { holderOf, type Allocation, type CallContext, type Holder } from '../core/model.js';
import type { AllocationView, NicNetwork } from '../core/network.js';
import type { EnvironmentRecord, Store } from './store.js';
import { checkName, LIMITS, SLOT_RE } from '../core/validate.js';

export interface SlotSpec {
  /** Required on the cloud route; on a zone's route it may be left out and must be that zone. */
  zone: string;
  /** Left out: the slot's addresses come from whichever pool of the zone has room (allocation by zone). */
  pool?: string;
  vm?: string;
  vip?: string;
  name?: string;
  count?: number;
  address?: string;
  prefixLength?: number;
  hostname?: string;
}

export interface EnvironmentSpec {
  slots: Record<string, SlotSpec>;
}

export interface EnvironmentView {
  environment: string;
  cloud: string;
  /** Set for an environment of a zone's route (`/zones/{zone}/environments/{env}`). */
  zone?: string;
  slots: Record<string, EnvironmentSlotView>;
}

export interface EnvironmentSlotView {
  zone: string;
  /** The slot's pool; for a slot without one (allocation by zone), the pool of its first address. */
  pool?: string;
  /** A slot without a pool whose addresses come from more than one pool: all of them, in address order of the slot. */
  pools?: string[];
  count?: number;
  addresses: string[];
  /** Per slot: its pool, its addresses and, when the pool is in a network, that network's NIC settings. */
  network?: NicNetwork;
}

export const ENV_TAG = 'ipam:environment';
const LEASE_MS = 60_000;
const WAIT_MS = 55_000;
const PARALLEL = 8;

interface Unit {
  slot: string;
  zone: string;
  /** Undefined: allocated by zone (idempotent per zone, holder and name). */
  pool?: string;
  holder: Holder;
  name: string;
  address?: string;
  prefixLength?: number;
  hostname?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Environments are namespaced: the cloud route's `x` and zone dmz's `x` are different objects. The id
 * (stored name and `ipam:environment` tag) of a zone's environment is `{zone}/{env}`; environment and zone
 * names cannot contain `/`, so no cloud-level name and no other zone's name can ever equal it.
 */
export const environmentId = (env: string, zone?: string) => (zone === undefined ? env : `${zone}/${env}`);

/**
 * The Heat parameters a slot adds besides its own, from its pool's network (lib/integrations/heat.ts):
 * `<slot>_cidr`, `<slot>_gateway`, `<slot>_dns_servers`.
 */
export const HEAT_SLOT_SUFFIXES = ['_cidr', '_gateway', '_dns_servers'] as const;

/** Refuses a definition in which a slot is named like another slot's network parameter (`web` and `web_cidr`). */
function checkHeatNames(spec: EnvironmentSpec) {
  const names = new Set(Object.keys(spec.slots));
  for (const slot of names) {
    for (const suffix of HEAT_SLOT_SUFFIXES) {
      if (names.has(slot + suffix)) throw invalid(`slot ${slot + suffix} is named like the Heat parameter ${slot + suffix} that slot ${slot} adds (its network's ${suffix.slice(1).replace('_', ' ')}); rename it`, { slot: slot + suffix });
    }
  }
}

/** A zone route's definition: every slot in that zone (a missing `zone` means it). Nothing else is accepted. */
export function inZone(spec: EnvironmentSpec, zone: string): EnvironmentSpec {
  if (!spec || typeof spec !== 'object' || !spec.slots || typeof spec.slots !== 'object') return spec;
  const slots: Record<string, SlotSpec> = {};
  for (const [slot, s] of Object.entries(spec.slots)) {
    if (s.zone !== undefined && s.zone !== zone) throw new IpamError('ZoneMismatch', `slot ${slot} names another zone; an environment of zone ${zone} may only use pools of zone ${zone} (leave zone out)`, { slot });
    slots[slot] = { ...s, zone };
  }
  return { ...spec, slots };
}


/** Heat's ResourceGroup placeholder; in a `count` slot's hostname it is the address's position in the slot, from 0. */
export const INDEX_PLACEHOLDER = '%index%';

/**
 * The hostname of the i-th (from 1) address of a `count` slot. With `%index%` it counts from 0, as Heat's
 * ResourceGroup does: `web-%index%` -> web-0, web-1, ..., so server `web-%index%` of the group that takes
 * `{get_param: [slot, "%index%"]}` carries the address named like it. Without it the first label is
 * suffixed from 1: web + 2 -> web-2; web.example.com + 2 -> web-2.example.com.
 */
function numberedHost(h: string, i: number): string {
  if (h.includes(INDEX_PLACEHOLDER)) return h.replaceAll(INDEX_PLACEHOLDER, String(i - 1));
  const dot = h.indexOf('.');
  return dot < 0 ? `${h}-${i}` : `${h.slice(0, dot)}-${i}${h.slice(dot)}`;
}

/** The allocations an environment consists of, in slot order. */
export function unitsOf(env: string, spec: EnvironmentSpec): Unit[] {
  if (!spec || typeof spec !== 'object' || !spec.slots || typeof spec.slots !== 'object') throw invalid('an environment needs {slots: {<slotName>: {zone, pool, vm|vip, ...}}}');
  const names = Object.keys(spec.slots);
  if (names.length === 0) throw invalid('an environment needs at least one slot');
  if (names.length > LIMITS.environmentSlots) throw invalid(`at most ${LIMITS.environmentSlots} slots per environment`);
  const units: Unit[] = [];
  for (const slot of names) {
    if (!SLOT_RE.test(slot)) throw invalid(`slot name ${JSON.stringify(slot)} is not a Heat parameter name (${SLOT_RE.source})`);
    const s = spec.slots[slot]!;
    if ((s.vm === undefined) === (s.vip === undefined)) throw invalid(`slot ${slot}: give exactly one of vm or vip`);
    const count = s.count ?? 1;
    if (!Number.isInteger(count) || count < 1) throw invalid(`slot ${slot}: count must be a positive integer`);
    if (count > 1 && s.address !== undefined) throw invalid(`slot ${slot}: a specific address cannot have count ${count}`);
    if (s.pool === undefined && s.address !== undefined) throw invalid(`slot ${slot}: a specific address needs the slot's pool`);
    if (s.count === undefined && s.hostname?.includes(INDEX_PLACEHOLDER)) throw invalid(`slot ${slot}: ${INDEX_PLACEHOLDER} in the hostname numbers the addresses of a slot with count; this slot has none`);
    const base = s.name ?? `${env}.${slot}`;
    const holder: Holder = holderOf(s);
    for (let i = 1; i <= count; i++) {
      units.push({
        slot,
        zone: s.zone,
        ...(s.pool !== undefined ? { pool: s.pool } : {}),
        holder,
        name: s.count === undefined ? base : `${base}-${i}`,
        ...(s.address !== undefined ? { address: s.address } : {}),
        ...(s.prefixLength !== undefined ? { prefixLength: s.prefixLength } : {}),
        ...(s.hostname !== undefined ? { hostname: s.count === undefined ? s.hostname : numberedHost(s.hostname, i) } : {}),
      });
      if (units.length > LIMITS.environmentAddresses) throw invalid(`an environment holds at most ${LIMITS.environmentAddresses} addresses`);
    }
  }
  return units;
}

async function inBatches<T, R>(items: T[], fn: (t: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const out: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(PARALLEL, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) {
        out[i] = await fn(items[i]!).then(
          (value) => ({ status: 'fulfilled' as const, value }),
          (reason) => ({ status: 'rejected' as const, reason }),
        );
      }
    }),
  );
  return out;
}

export class Environments {
  constructor(
    private readonly ipam: Ipam,
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  /** Allocates every slot, or nothing. Returns `created: false` when the identical environment already existed. */
  async apply(cloud: string, envName: string, spec: EnvironmentSpec, ctx: CallContext, zone?: string): Promise<{ view: EnvironmentView; created: boolean }> {
    checkName('cloud', cloud);
    checkName('environment', envName);
    if (zone !== undefined) spec = inZone(spec, checkName('zone', zone));
    const env = environmentId(envName, zone);
    const units = unitsOf(envName, spec);
    checkHeatNames(spec);
    const specHash = createHash('sha256').update(stableJson(spec)).digest('hex');
    const token = randomUUID();
    const deadline = this.now() + WAIT_MS;
    for (;;) {
      const cur = await this.store.getEnvironment(cloud, env);
      if (cur && cur.specHash !== specHash) {
        throw new IpamError('EnvironmentConflict', `environment ${cloud}/${env} exists with a different definition; release it first (DELETE) to change it`, { environment: env });
      }
      if (cur?.state === 'ready') return { view: await this.view(cloud, envName, zone, cur.spec as EnvironmentSpec), created: false };
      const leased = cur && cur.leaseUntil > this.now();
      if (leased) {
        if (this.now() > deadline) throw new IpamError('Contention', `environment ${cloud}/${env} is being changed by another call; retry shortly`);
        await sleep(200);
        continue;
      }
      const at = new Date(this.now()).toISOString();
      const rec: EnvironmentRecord = { cloud, name: env, spec, specHash, state: 'applying', token, leaseUntil: this.now() + LEASE_MS, createdAt: cur?.createdAt ?? at, createdBy: cur?.createdBy ?? ctx.principal, updatedAt: at };
      if (await this.store.putEnvironment(rec, cur ? cur.token : null)) break;
    }
    // We hold the lease: allocate every unit, pinned addresses first so that no random pick takes one.
    // A slot without a pool allocates by zone: from whichever pool of the zone has room.
    const allocateUnit = (u: Unit) => {
      const req = {
        cloud,
        zone: u.zone,
        holder: u.holder,
        name: u.name,
        ...(u.address !== undefined ? { address: u.address } : {}),
        ...(u.prefixLength !== undefined ? { prefixLength: u.prefixLength } : {}),
        ...(u.hostname !== undefined ? { hostname: u.hostname } : {}),
        tags: { [ENV_TAG]: env },
      };
      return (u.pool === undefined ? this.ipam.allocateInZone(req, ctx) : this.ipam.allocate({ ...req, pool: u.pool }, ctx))
        .then((r) => {
          // (pool, holder, name) already held by something that is not this environment's: not ours to take.
          if (r.allocation.tags[ENV_TAG] !== env) throw new IpamError('EnvironmentConflict', `${u.holder.kind}:${u.holder.id} already holds ${r.allocation.cidr} as ${JSON.stringify(u.name)}, and not for this environment`);
          return r;
        });
    };
    const pinned = units.map((u, i) => [u, i] as const).filter(([u]) => u.address !== undefined);
    const free = units.map((u, i) => [u, i] as const).filter(([u]) => u.address === undefined);
    const results: PromiseSettledResult<{ allocation: AllocationView }>[] = new Array(units.length);
    for (const group of [pinned, free]) {
      const settled = await inBatches(group, ([u]) => allocateUnit(u));
      group.forEach(([, i], k) => (results[i] = settled[k]!));
      if (settled.some((r) => r.status === 'rejected')) break;
    }
    const failed = results.findIndex((r) => r === undefined || r.status === 'rejected');
    if (failed >= 0) {
      const firstRejected = results.findIndex((r) => r?.status === 'rejected');
      const unit = units[firstRejected]!;
      const reason = (results[firstRejected] as PromiseRejectedResult).reason;
      await this.undo(cloud, env, units, ctx);
      await this.store.deleteEnvironment(cloud, env, token);
      if (!(reason instanceof IpamError)) throw reason;
      const status = reason.kind === 'InvalidInput' ? 'InvalidInput' : reason.kind === 'TooBusy' ? 'Contention' : 'EnvironmentConflict';
      throw new IpamError(status, `slot ${unit.slot} (${unit.pool === undefined ? `zone ${unit.zone}` : `${unit.zone}/${unit.pool}`}, ${unit.name}): ${reason.message}; nothing was allocated`, { slot: unit.slot, cause: reason.reason });
    }
    const rec = await this.store.getEnvironment(cloud, env);
    if (!rec || rec.token !== token) throw new IpamError('Contention', `environment ${cloud}/${env} changed hands while applying; retry`);
    if (!(await this.store.putEnvironment({ ...rec, state: 'ready', leaseUntil: 0, updatedAt: new Date(this.now()).toISOString() }, token))) {
      throw new IpamError('Contention', `environment ${cloud}/${env} changed hands while applying; retry`);
    }
    const view = this.viewOf(cloud, envName, zone, spec, units, results.map((r) => (r as PromiseFulfilledResult<{ allocation: AllocationView }>).value.allocation));
    return { view, created: true };
  }

  async get(cloud: string, envName: string, zone?: string): Promise<EnvironmentView> {
    checkName('cloud', cloud);
    checkName('environment', envName);
    if (zone !== undefined) checkName('zone', zone);
    const env = environmentId(envName, zone);
    const cur = await this.store.getEnvironment(cloud, env);
    if (!cur || cur.state !== 'ready') throw new IpamError('EnvironmentNotFound', `environment ${cloud}/${env} does not exist`, { environment: env });
    return this.view(cloud, envName, zone, cur.spec as EnvironmentSpec);
  }

  /** Releases every allocation of the environment and forgets it. */
  async release(cloud: string, envName: string, ctx: CallContext, zone?: string): Promise<Allocation[]> {
    checkName('cloud', cloud);
    checkName('environment', envName);
    if (zone !== undefined) checkName('zone', zone);
    const env = environmentId(envName, zone);
    const token = randomUUID();
    const deadline = this.now() + WAIT_MS;
    let cur: EnvironmentRecord | undefined;
    for (;;) {
      cur = await this.store.getEnvironment(cloud, env);
      if (!cur) throw new IpamError('EnvironmentNotFound', `environment ${cloud}/${env} does not exist`, { environment: env });
      if (cur.leaseUntil > this.now()) {
        if (this.now() > deadline) throw new IpamError('Contention', `environment ${cloud}/${env} is being changed by another call; retry shortly`);
        await sleep(200);
        continue;
      }
      if (await this.store.putEnvironment({ ...cur, state: 'releasing', token, leaseUntil: this.now() + LEASE_MS }, cur.token)) break;
    }
    const released = await this.undo(cloud, env, unitsOf(envName, cur.spec as EnvironmentSpec), ctx);
    await this.store.deleteEnvironment(cloud, env, token);
    return released;
  }

  /** Releases what the units hold, but only allocations tagged as this environment's. */
  private async undo(cloud: string, env: string, units: Unit[], ctx: CallContext): Promise<Allocation[]> {
    const results = await inBatches(units, async (u) => {
      const held = await this.held(cloud, u).catch(() => undefined);
      if (!held || held.tags[ENV_TAG] !== env) return undefined;
      return this.ipam.release(cloud, held.address, u.holder, ctx).catch((e) => (e instanceof IpamError && e.reason === 'AllocationNotFound' ? undefined : Promise.reject(e)));
    });
    const err = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    if (err) throw err.reason;
    return results.flatMap((r) => (r.status === 'fulfilled' && r.value ? [r.value] : []));
  }

  private async view(cloud: string, env: string, zone: string | undefined, spec: EnvironmentSpec): Promise<EnvironmentView> {
    const units = unitsOf(env, spec);
    const held = await inBatches(units, (u) => this.held(cloud, u));
    return this.viewOf(cloud, env, zone, spec, units, held.map((h) => (h.status === 'fulfilled' ? h.value : undefined)));
  }

  /** What a unit holds: in its pool, or, for a unit allocated by zone, through the zone's claim. */
  private held(cloud: string, u: Unit): Promise<AllocationView | undefined> {
    return u.pool === undefined ? this.ipam.heldInZone(cloud, u.zone, u.holder, u.name) : this.ipam.held(cloud, u.zone, u.pool, u.holder, u.name);
  }

  private viewOf(cloud: string, env: string, zone: string | undefined, spec: EnvironmentSpec, units: Unit[], allocations: (AllocationView | undefined)[]): EnvironmentView {
    // A Map, not `{}`: a slot named `constructor` or `toString` must not find Object.prototype's member.
    const slots = new Map<string, EnvironmentSlotView>();
    units.forEach((u, i) => {
      let s = slots.get(u.slot);
      if (!s) slots.set(u.slot, (s = { zone: u.zone, ...(u.pool !== undefined ? { pool: u.pool } : {}), ...(spec.slots[u.slot]!.count !== undefined ? { count: spec.slots[u.slot]!.count! } : {}), addresses: [] }));
      const a = allocations[i];
      if (a) s.addresses.push(a.prefixLength === (a.family === 4 ? 32 : 128) ? a.address : a.cidr);
      if (a && u.pool === undefined) {
        // Allocated by zone: the pool it came from (a slot that filled one pool and went on: every pool).
        s.pool ??= a.pool;
        if (a.pool !== s.pool && !s.pools?.includes(a.pool)) s.pools = [...(s.pools ?? [s.pool]), a.pool];
      }
      if (a?.network !== undefined && s.network === undefined) s.network = a.network;
    });
    return { environment: env, cloud, ...(zone !== undefined ? { zone } : {}), slots: Object.fromEntries(slots) };
  }
}
