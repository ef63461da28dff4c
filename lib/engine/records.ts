/**
 * Allocation records as the engine writes them.
 */
import { BITS, formatAddress } from '../core/ip.js';
import type { Allocation, CallContext, Holder, Json, Pool } from '../core/model.js';
import { checkHostname, normalizeMac } from '../core/validate.js';

/** What an allocation record carries besides where it is. */
export interface RecordFields {
  holder: Holder;
  name: string;
  mac?: string;
  hostname?: string;
  tags: Record<string, string>;
  metadata: Record<string, Json>;
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
  };
}

/** A single address for bulk loading: hostname and MAC only. */
export function singleRecord(pool: Pool, value: bigint, holder: Holder, name: string, r: { hostname?: string; mac?: string }, ctx: CallContext, at: string): Allocation {
  const fields: RecordFields = { holder, name, ...(r.hostname ? { hostname: checkHostname(r.hostname) } : {}), ...(r.mac ? { mac: normalizeMac(r.mac) } : {}), tags: {}, metadata: {} };
  return allocationRecord(pool, value, BITS[pool.family], fields, ctx, at);
}
