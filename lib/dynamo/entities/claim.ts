/**
 * The claim item (`type: 'held'`): `HELD#<pool uid>#<holder kind>#<holder id>#<name>` / `HELD`. One per
 * allocated record; its conditional put makes "one address per holder and name in a pool" atomic with
 * the allocation. It points at the address it claims.
 */
import type { Family } from '../../core/ip.js';
import { holderOf, type Allocation } from '../../core/model.js';
import { keys } from '../keys.js';
import type { Item } from './item.js';

export type ClaimSource = Pick<Allocation, 'cloud' | 'zone' | 'pool' | 'address' | 'family' | 'vm' | 'vip' | 'name'>;

export interface Claim {
  cloud: string;
  zone: string;
  pool: string;
  poolUid: string;
  address: string;
  family: Family;
}

export const ClaimEntity = {
  key: (poolUid: string, a: Pick<Allocation, 'vm' | 'vip' | 'name'>) => keys.held(poolUid, holderOf(a), a.name),
  /** The claim of allocation `a` in the pool incarnation `poolUid`. */
  toItem(a: ClaimSource, poolUid: string): Item {
    return { ...keys.held(poolUid, holderOf(a), a.name), type: 'held', cloud: a.cloud, zone: a.zone, pool: a.pool, poolUid, address: a.address, family: a.family };
  },
  fromItem(i: Item): Claim {
    return { cloud: i.cloud, zone: i.zone, pool: i.pool, poolUid: i.poolUid, address: i.address, family: Number(i.family) as Family };
  },
};
