/**
 * The counter shard item: `SHARD#<pool uid>#<k>` / `SHARD`. A pool's allocated-address count is the
 * sum over its shards; each shard's `seq` and `epoch` fence topology changes against allocations.
 */
import type { ShardState } from '../../engine/store.js';
import { keys } from '../keys.js';
import type { Item } from './item.js';

export const ShardEntity = {
  key: (poolUid: string, index: number) => keys.shard(poolUid, index),
  /** A new pool's shard: nothing allocated yet. */
  toItem: (poolUid: string, index: number, epoch: number): Item => ({ ...keys.shard(poolUid, index), type: 'shard', poolUid, index, allocated: 0, seq: 0, epoch }),
  fromItem: (i: Item): ShardState => ({ index: Number(i.index), allocated: BigInt(i.allocated), seq: Number(i.seq), epoch: Number(i.epoch) }),
};
