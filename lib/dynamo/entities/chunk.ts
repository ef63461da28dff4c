/**
 * The chunk item (the free-slot index): `CHUNK#<cloud>#<chunk base>` / `META#<pool uid>`, one per pool
 * and chunk of CHUNK_SIZE addresses the pool has touched, in the partition of that chunk's allocation
 * items. Attributes: `used` (a number set of taken offsets), `q_<offset>` (quarantine end, epoch ms, of
 * a released offset that is still in `used`), `b_<offset>` (the CIDR of a block starting there), `ver`.
 * Indexed by pool (GSI2, keys only) so a pool can list the chunks it touched in address order.
 */
import { spaceOf, type Pool } from '../../core/model.js';
import type { ChunkChange, ChunkState } from '../../engine/store.js';
import { keys, offsetKey } from '../keys.js';
import type { Item } from './item.js';

/** The attribute holding offset `o`'s quarantine end. */
export const quarantineAttr = (o: number) => `q_${offsetKey(o)}`;
/** The attribute holding the CIDR of the block that starts at offset `o`. */
export const blockAttr = (o: number) => `b_${offsetKey(o)}`;

type ChunkPool = Pick<Pool, 'cloud' | 'family' | 'uid' | 'prefixPool' | 'prefixLength'>;
/** The chunk item's key; `base` counts the pool's slots (a prefix pool's are blocks). */
const metaKey = (pool: ChunkPool, base: bigint) => keys.chunkMeta(pool.cloud, pool.family, base, pool.uid, spaceOf(pool).slot);
const gsiKeys = (pool: ChunkPool, base: bigint) => keys.poolChunksGsi(pool.uid, pool.family, base, spaceOf(pool).slot);

export const ChunkEntity = {
  key: metaKey,
  /** The item of a chunk written whole (import, repair): `used` offsets and `blocks` by start offset. */
  toItem(pool: ChunkPool, base: bigint, s: { used: Iterable<number>; blocks?: Map<number, string>; version: number }): Item {
    const used = new Set(s.used);
    const item: Item = { ...metaKey(pool, base), ...gsiKeys(pool, base), type: 'chunk', poolUid: pool.uid, cloud: pool.cloud, ver: s.version };
    if (used.size) item.used = used;
    for (const [o, cidr] of s.blocks ?? []) item[blockAttr(o)] = cidr;
    return item;
  },
  fromItem(i: Item | undefined): ChunkState | undefined {
    if (!i) return undefined;
    const used = new Set<number>();
    const raw = i.used;
    if (raw instanceof Set) for (const v of raw) used.add(Number(v));
    const quarantine = new Map<number, number>();
    const blocks = new Map<number, string>();
    for (const [k, v] of Object.entries(i)) {
      if (k.startsWith('q_')) quarantine.set(parseInt(k.slice(2), 16), Number(v));
      else if (k.startsWith('b_')) blocks.set(parseInt(k.slice(2), 16), String(v));
    }
    return { used, quarantine, blocks, version: i.ver === undefined ? undefined : Number(i.ver) };
  },
  /** Whether attribute `name` is a block attribute (`b_<offset>`). */
  isBlockAttr: (name: string) => name.startsWith('b_'),

  /**
   * The Update (without TableName) that applies one change to a chunk inside a transaction: allocate
   * (add offsets, reuse quarantined ones, record a block), or release (remove offsets, or quarantine
   * the one offset released). The condition makes the change fail if another writer got there first;
   * the old item comes back on failure, so the engine can plan again without a read.
   */
  update(pool: ChunkPool, ch: ChunkChange, mode: 'allocate' | 'release', quarantineUntil = 0) {
    const names: Record<string, string> = { '#ver': 'ver' };
    const values: Record<string, unknown> = { ':one': 1 };
    const sets: string[] = [];
    const removes: string[] = [];
    const adds: string[] = ['#ver :one'];
    const deletes: string[] = [];
    const conds: string[] = [];
    const gsi = gsiKeys(pool, ch.base);
    sets.push('gsi2pk = :g2pk', 'gsi2sk = :g2sk', '#type = :chunk', 'poolUid = :uid', 'cloud = :cloud');
    Object.assign(names, { '#type': 'type' });
    Object.assign(values, { ':g2pk': gsi.gsi2pk, ':g2sk': gsi.gsi2sk, ':chunk': 'chunk', ':uid': pool.uid, ':cloud': pool.cloud });
    const fresh = ch.offsets.filter((o) => !ch.reuse?.has(o));
    if (mode === 'allocate') {
      if (fresh.length > 0) {
        values[':oset'] = new Set(fresh);
        adds.push('#used :oset');
      }
      if (ch.expectVersion === null) conds.push('attribute_not_exists(#ver)');
      else if (ch.expectVersion !== undefined) {
        conds.push('#ver = :ev');
        values[':ev'] = ch.expectVersion;
      } else {
        fresh.forEach((o, i) => {
          conds.push(`NOT contains(#used, :o${i})`);
          values[`:o${i}`] = o;
        });
      }
      let i = 0;
      for (const [o, until] of ch.reuse ?? []) {
        const n = `#q${i}`;
        names[n] = quarantineAttr(o);
        values[`:q${i}`] = until;
        if (ch.expectVersion === undefined) conds.push(`${n} = :q${i}`);
        removes.push(n);
        i++;
      }
      if (ch.blockCidr !== undefined) {
        names['#blk'] = blockAttr(ch.offsets[0]!);
        values[':blk'] = ch.blockCidr;
        sets.push('#blk = :blk');
      }
    } else {
      if (quarantineUntil > 0) {
        // Single addresses (a group's may share the chunk): each stays used, in quarantine until then.
        values[':until'] = quarantineUntil;
        ch.offsets.forEach((o, i) => {
          names[`#q${i}`] = quarantineAttr(o);
          sets.push(`#q${i} = :until`);
        });
      } else {
        values[':oset'] = new Set(ch.offsets);
        deletes.push('#used :oset');
      }
      if (ch.blockCidr !== undefined) {
        names['#blk'] = blockAttr(ch.offsets[0]!);
        removes.push('#blk');
      }
    }
    if ([...adds, ...deletes, ...conds].some((x) => x.includes('#used'))) names['#used'] = 'used';
    const expr = [`SET ${sets.join(', ')}`, `ADD ${adds.join(', ')}`, removes.length ? `REMOVE ${removes.join(', ')}` : '', deletes.length ? `DELETE ${deletes.join(', ')}` : ''].filter(Boolean).join(' ');
    return {
      Key: metaKey(pool, ch.base),
      UpdateExpression: expr,
      ConditionExpression: conds.length ? conds.join(' AND ') : undefined,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    };
  },
};
