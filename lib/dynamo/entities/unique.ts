/**
 * The uniqueness claim items, one per value an allocation holds exclusively besides its address:
 *  - `MAC#<cloud>#<scope>#<mac>` / `MAC` (`type: 'mac'`): a MAC in its network (`net#<zone>#<network>`)
 *    or, for a pool outside networks, in its pool (the pool's uid);
 *  - `FQDN#<cloud>#<fqdn>` / `FQDN` (`type: 'fqdn'`): a hostname in its domain;
 *  - `ZHELD#<cloud>#<zone>#<holder kind>#<holder id>#<name>` / `ZHELD` (`type: 'zoneholder'`): the zone
 *    route's (zone, holder, name), held by the allocation that route made for them (`byZone`).
 * Put with `attribute_not_exists` in the allocation's transaction; each points at its allocation
 * (`ref`: pool uid, address, allocation time), and is deleted only while it still does.
 */
import type { Family } from '../../core/ip.js';
import { holderOf, type Allocation } from '../../core/model.js';
import { claimRef, type ClaimOwner, type UniqueClaim } from '../../core/uniqueness.js';
import { keys } from '../keys.js';
import type { Item } from './item.js';

export const UniqueEntity = {
  key: (c: UniqueClaim) => (c.kind === 'mac' ? keys.mac(c.cloud, c.scope, c.value) : c.kind === 'fqdn' ? keys.fqdn(c.cloud, c.value) : keys.zoneHeld(c.cloud, c.zone, c.holder, c.name)),
  /** Whether an item is a uniqueness claim. */
  is: (i: Item | undefined) => i?.type === 'mac' || i?.type === 'fqdn' || i?.type === 'zoneholder',
  /** (A zone claim's zone, holder and name are those of its allocation, below.) */
  toItem(c: UniqueClaim, a: Allocation, poolUid: string): Item {
    return {
      ...UniqueEntity.key(c),
      type: c.kind,
      ...(c.kind === 'zoneholder' ? {} : { value: c.value }),
      ...(c.kind === 'mac' ? { scope: c.scope } : {}),
      cloud: a.cloud,
      zone: a.zone,
      pool: a.pool,
      poolUid,
      address: a.address,
      family: a.family,
      ...(a.vm !== undefined ? { vm: a.vm } : { vip: a.vip }),
      name: a.name,
      ref: claimRef(poolUid, a),
    };
  },
  /** The claim an item is (repair). */
  claimOf: (i: Item): UniqueClaim =>
    i.type === 'mac'
      ? { kind: 'mac', cloud: i.cloud, scope: i.scope, value: i.value }
      : i.type === 'fqdn'
        ? { kind: 'fqdn', cloud: i.cloud, value: i.value }
        : { kind: 'zoneholder', cloud: i.cloud, zone: i.zone, holder: holderOf(i), name: i.name },
  ownerOf(i: Item): ClaimOwner {
    return {
      cloud: i.cloud,
      zone: i.zone,
      pool: i.pool,
      poolUid: i.poolUid,
      address: i.address,
      family: Number(i.family) as Family,
      ...(i.vm !== undefined ? { vm: i.vm } : { vip: i.vip }),
      name: i.name,
      ref: i.ref,
    };
  },
  /** Put: only if nobody holds it (the holder comes back on failure). */
  take: { ConditionExpression: 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const },
  /** Put or delete: only if nobody holds it, or the allocation `ref` itself does (a repeated write, a release). */
  mine: (ref: string) => ({
    ConditionExpression: 'attribute_not_exists(pk) OR #ref = :ref',
    ExpressionAttributeNames: { '#ref': 'ref' },
    ExpressionAttributeValues: { ':ref': ref },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
  }),
  /** Delete: only while it points at `ref`. */
  stillAt: (ref: string) => ({ ConditionExpression: '#ref = :ref', ExpressionAttributeNames: { '#ref': 'ref' }, ExpressionAttributeValues: { ':ref': ref } }),
};
