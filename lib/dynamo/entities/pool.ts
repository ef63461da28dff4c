/** The pool item: `CLOUD#<cloud>` / `POOL#<zone>#<name>`, in its cloud's partition (one Query lists them). */
import type { Pool } from '../../core/model.js';
import { keys } from '../keys.js';
import { dynamoItem, pick, type Item } from './item.js';

const POOL_FIELDS = ['cloud', 'zone', 'name', 'uid', 'family', 'ranges', 'exclude', 'prefixLength', 'prefixPool', 'quarantineSeconds', 'dns', 'network', 'reserved', 'tags', 'metadata', 'size', 'epoch', 'shards', 'importing', 'createdAt', 'createdBy', 'updatedAt', 'updatedBy', 'requestId'] as const;

export const PoolEntity = {
  key: (p: Pick<Pool, 'cloud' | 'zone' | 'name'>) => keys.pool(p.cloud, p.zone, p.name),
  toItem(p: Pool): Item {
    return dynamoItem({ ...keys.pool(p.cloud, p.zone, p.name), type: 'pool', ...p });
  },
  fromItem(i: Item): Pool {
    const out = pick(i, POOL_FIELDS);
    out.ranges ??= [];
    out.exclude ??= [];
    out.tags ??= {};
    out.metadata ??= {};
    return out as Pool;
  },
};
