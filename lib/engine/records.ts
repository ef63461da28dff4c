/**
 * Allocation records as the engine writes them.
 */
import { BITS, formatAddress } from '../core/ip.js';
import { spaceOf, type Allocation, type AllocateRequest, type CallContext, type Holder, type Json, type Pool } from '../core/model.js';
import { slotStart } from '../core/chunk.js';
import { checkAllocationName, checkHostname, checkMetadata, checkTags, normalizeMac } from '../core/validate.js';
import { checkHolder } from './checks.js';

/** What an allocation record carries besides where it is. */
export interface RecordFields {
  holder: Holder;
  name: string;
  mac?: string;
  hostname?: string;
  tags: Record<string, string>;
  metadata: Record<string, Json>;
  /** Made by the zone route: the record says so, and takes the zone's (holder, name) claim. */
  byZone?: true;
}

/** A request's record fields, validated (400 on a bad holder, name, MAC, hostname, tags or metadata). */
export function fieldsOf(req: Pick<AllocateRequest, 'holder' | 'name' | 'mac' | 'hostname' | 'tags' | 'metadata'>): RecordFields {
  const holder = checkHolder(req.holder);
  const name = req.name === undefined ? 'default' : checkAllocationName(req.name);
  const mac = req.mac === undefined ? undefined : normalizeMac(req.mac);
  const hostname = req.hostname === undefined ? undefined : checkHostname(req.hostname);
  return { holder, name, ...(mac ? { mac } : {}), ...(hostname ? { hostname } : {}), tags: checkTags(req.tags), metadata: checkMetadata(req.metadata) };
}

/** The record of an allocation of the block (or address) at `value`. */
export function allocationRecord(pool: Pool, value: bigint, prefix: number, f: RecordFields, ctx: CallContext, at: string): Allocation {
  const address = formatAddress(pool.family, value);
  return {
    cloud: pool.cloud,
    zone: pool.zone,
    pool: pool.name,
    address,
    cidr: `${address}/${prefix}`,
    prefixLength: prefix,
    family: pool.family,
    ...(f.holder.kind === 'vm' ? { vm: f.holder.id } : { vip: f.holder.id }),
    name: f.name,
    ...(f.mac ? { mac: f.mac } : {}),
    ...(f.hostname ? { hostname: f.hostname } : {}),
    tags: f.tags,
    metadata: f.metadata,
    allocatedAt: at,
    allocatedBy: ctx.principal,
    ...(ctx.requestId ? { requestId: ctx.requestId } : {}),
    version: 1,
    ...(f.byZone ? { byZone: true as const } : {}),
  };
}

/** A single address for bulk loading: hostname and MAC only. */
export function singleRecord(pool: Pool, value: bigint, holder: Holder, name: string, r: { hostname?: string; mac?: string }, ctx: CallContext, at: string): Allocation {
  const fields: RecordFields = { holder, name, ...(r.hostname ? { hostname: checkHostname(r.hostname) } : {}), ...(r.mac ? { mac: normalizeMac(r.mac) } : {}), tags: {}, metadata: {} };
  return allocationRecord(pool, value, BITS[pool.family], fields, ctx, at);
}

/** Slot `value` of the pool as text: an address, or a prefix pool's block CIDR (lib/core/chunk.ts). */
export function slotText(pool: Pool, value: bigint): string {
  const address = formatAddress(pool.family, slotStart(spaceOf(pool), value));
  return pool.prefixPool ? `${address}/${pool.prefixLength}` : address;
}
