/**
 * Item keys. Every entity owns its key shape here; docs/design.md lists them.
 * `#` separates key parts; no name or id the API accepts contains it.
 */
import type { Family } from '../core/ip.js';
import type { Holder } from '../core/model.js';

import { chunkBaseOf, offsetIn, slotShift } from '../core/chunk.js';

export { CHUNK_BITS, CHUNK_SIZE, chunkBaseOf, offsetIn } from '../core/chunk.js';

/**
 * A chunk's base in keys: fixed-width hex of its first address with the family first, so that string
 * order is address order. A prefix pool's chunks (base = a slot number, `slot` its block's prefix
 * length) name the slot's first address and the block size: `6/64:20010db8...`, a key space of their
 * own, so an address pool's chunk and a prefix pool's can never be the same item.
 */
export function baseKey(family: Family, base: bigint, slot?: number): string {
  const address = base << slotShift({ family, slot });
  return `${family}${slot === undefined ? '' : `/${slot}`}:${address.toString(16).padStart(family === 4 ? 8 : 32, '0')}`;
}
/** The inverse of baseKey: `base` in slots (addresses for an address pool). */
export function parseBaseKey(k: string): { family: Family; base: bigint; slot?: number } {
  const [space, hex] = k.split(':') as [string, string];
  const [f, p] = space.split('/');
  const family = Number(f) as Family;
  const slot = p === undefined ? undefined : Number(p);
  return { family, base: BigInt('0x' + hex) >> slotShift({ family, slot }), ...(slot === undefined ? {} : { slot }) };
}
/** Two hex digits: an offset inside a chunk, in keys and in the chunk item's per-offset attributes. */
export const offsetKey = (o: number) => o.toString(16).padStart(2, '0');

/** The key prefixes, for code that recognises an item by its keys (the stream consumer, repair). */
export const PREFIX = { cloud: 'CLOUD#', pool: 'POOL#', network: 'NET#', chunk: 'CHUNK#', chunkMeta: 'META#', allocation: 'ADDR#', mac: 'MAC#', fqdn: 'FQDN#' } as const;

export const keys = {
  cloud: (cloud: string) => ({ pk: `${PREFIX.cloud}${cloud}`, sk: '#META' }),
  limits: (cloud: string) => ({ pk: `${PREFIX.cloud}${cloud}`, sk: '#LIMITS' }),
  dnsSettings: (cloud: string) => ({ pk: `${PREFIX.cloud}${cloud}`, sk: '#DNS' }),
  pool: (cloud: string, zone: string, name: string) => ({ pk: `${PREFIX.cloud}${cloud}`, sk: `${PREFIX.pool}${zone}#${name}` }),
  poolPrefix: (cloud: string) => ({ pk: `${PREFIX.cloud}${cloud}`, skPrefix: PREFIX.pool }),
  network: (cloud: string, zone: string, name: string) => ({ pk: `${PREFIX.cloud}${cloud}`, sk: `${PREFIX.network}${zone}#${name}` }),
  shard: (poolUid: string, k: number) => ({ pk: `SHARD#${poolUid}#${k}`, sk: 'SHARD' }),
  /** `base`, here and below, counts slots: addresses, or a prefix pool's blocks when `slot` (its prefix length) is given. */
  chunkPk: (cloud: string, family: Family, base: bigint, slot?: number) => `${PREFIX.chunk}${cloud}#${baseKey(family, base, slot)}`,
  chunkMeta: (cloud: string, family: Family, base: bigint, poolUid: string, slot?: number) => ({ pk: keys.chunkPk(cloud, family, base, slot), sk: `${PREFIX.chunkMeta}${poolUid}` }),
  poolChunksGsi: (poolUid: string, family: Family, base: bigint, slot?: number) => ({ gsi2pk: `POOLCHUNKS#${poolUid}`, gsi2sk: baseKey(family, base, slot) }),
  /** The record of the allocation in slot `value` (an address; a prefix pool's block number with `slot`). */
  allocation: (cloud: string, family: Family, value: bigint, slot?: number) => ({ pk: keys.chunkPk(cloud, family, chunkBaseOf(value), slot), sk: keys.allocationSk(offsetIn(value)) }),
  allocationSk: (offset: number) => `${PREFIX.allocation}${offsetKey(offset)}`,
  holderGsi: (cloud: string, h: Holder) => `HOLDER#${cloud}#${h.kind}#${h.id}`,
  environment: (cloud: string, name: string) => ({ pk: `ENV#${cloud}#${name}`, sk: 'ENV' }),
  held: (poolUid: string, h: Holder, name: string) => ({ pk: `HELD#${poolUid}#${h.kind}#${h.id}#${name}`, sk: 'HELD' }),
  /** A MAC's claim in its scope (`net#<zone>#<network>` or a pool uid). */
  mac: (cloud: string, scope: string, mac: string) => ({ pk: `${PREFIX.mac}${cloud}#${scope}#${mac}`, sk: 'MAC' }),
  /** An FQDN's claim (lowercased, no trailing dot). */
  fqdn: (cloud: string, fqdn: string) => ({ pk: `${PREFIX.fqdn}${cloud}#${fqdn}`, sk: 'FQDN' }),
  /** The zone route's claim of (zone, holder, name): the allocation it made for them, whatever its pool. */
  zoneHeld: (cloud: string, zone: string, h: Holder, name: string) => ({ pk: `ZHELD#${cloud}#${zone}#${h.kind}#${h.id}#${name}`, sk: 'ZHELD' }),
};
