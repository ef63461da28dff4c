/**
 * The allocation item: `CHUNK#<cloud>#<chunk base>` / `ADDR#<offset>`, next to its chunk's free-slot
 * item. Indexed by holder (GSI1) while allocated; a release keeps it as a tombstone (state `released`,
 * quarantine, TTL) so that the address stays taken in the whole cloud until its quarantine ends.
 */
import type { Family } from '../../core/ip.js';
import { holderOf, spaceOf, type Allocation, type Pool } from '../../core/model.js';
import { keys } from '../keys.js';
import { dynamoItem, pick, type Item } from './item.js';

const ALLOCATION_FIELDS = ['cloud', 'zone', 'pool', 'address', 'cidr', 'prefixLength', 'family', 'vm', 'vip', 'name', 'mac', 'hostname', 'tags', 'metadata', 'allocatedAt', 'allocatedBy', 'requestId', 'updatedAt', 'updatedBy', 'version', 'byZone'] as const;

/** Released allocations stay as tombstones (history, stream old image) this long. */
export const TOMBSTONE_SECONDS = 30 * 24 * 3600;

export const AllocationEntity = {
  /** The record in slot `value` (an address; a block number with `slot`, a prefix pool's block prefix length). */
  key: (cloud: string, family: Family, value: bigint, slot?: number) => keys.allocation(cloud, family, value, slot),
  /** The item of `a`, in its pool's slot `value`. */
  toItem(a: Allocation, pool: Pool, value: bigint): Item {
    return dynamoItem({
      ...keys.allocation(a.cloud, a.family, value, spaceOf(pool).slot),
      type: 'allocation',
      state: 'allocated',
      poolUid: pool.uid,
      ...a,
      gsi1pk: keys.holderGsi(a.cloud, holderOf(a)),
      gsi1sk: `${a.zone}#${a.pool}#${a.name}#${a.address}`,
    });
  },
  fromItem(i: Item): Allocation {
    const out = pick(i, ALLOCATION_FIELDS);
    out.tags ??= {};
    out.metadata ??= {};
    return out as Allocation;
  },
  /** An allocated record (a tombstone is not an allocation). */
  isAllocated: (i: Item | undefined): boolean => i?.state === 'allocated',
  /**
   * The put's condition: the address is free in the whole cloud, i.e. never allocated, or released
   * and out of the quarantine its tombstone carries (set by whichever pool released it, so a deleted
   * pool's quarantine binds the next pool over the same space, in any zone).
   */
  freeCondition: (now: number) => ({
    ConditionExpression: 'attribute_not_exists(pk) OR (#st = :released AND (attribute_not_exists(#qu) OR #qu <= :now))',
    ExpressionAttributeNames: { '#st': 'state', '#qu': 'quarantineUntil' },
    ExpressionAttributeValues: { ':released': 'released', ':now': now },
  }),
  /** The quarantine a tombstone still imposes at `now` (epoch ms), if any. */
  quarantinedUntil(i: Item | undefined, now: number): number | undefined {
    const until = Number(i?.quarantineUntil);
    return i?.state === 'released' && until > now ? until : undefined;
  },
  /** The tombstone's TTL: 30 days, and at least a day past its quarantine (up to a year), so expiry cannot end it early. */
  tombstoneTtl: (nowMs: number, quarantineUntil: number) => Math.max(Math.floor(nowMs / 1000) + TOMBSTONE_SECONDS, Math.ceil(quarantineUntil / 1000) + 24 * 3600),
};
