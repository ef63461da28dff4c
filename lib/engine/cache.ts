/**
 * What one engine remembers between requests: pool definitions (for `poolCacheMs`), their geometry,
 * chunk states (for 10 s, as hints for aiming an allocation: the commit's conditions decide) and
 * quarantines learned from tombstones of earlier pools. Only ever a hint or a short-lived copy: a
 * stale entry costs a lost condition and a retry, never a wrong answer.
 */
import { IpamError } from '../core/errors.js';
import type { ChunkChange, ChunkState } from '../core/chunk.js';
import { parseAddress } from '../core/ip.js';
import { spaceOf, type Pool } from '../core/model.js';
import type { Network } from '../core/network.js';
import { emptyChunk, slotGeometry, type Geometry } from '../core/planner.js';
import { checkName } from '../core/validate.js';
import { checkTopology } from './checks.js';
import type { Store } from './store.js';

export interface CloudSnapshot {
  pools: Pool[];
  networks: Network[];
}

export const poolKey = (cloud: string, zone: string, name: string) => `${cloud}/${zone}/${name}`;
const chunkKey = (pool: Pool, base: bigint) => `${pool.uid}:${base}`;

export class EngineCache {
  private readonly pools = new Map<string, { pool: Pool; at: number }>();
  /** Per cloud: its pools and networks as one read of the cloud's partition saw them (what allocation answers are decorated from). */
  private readonly clouds = new Map<string, CloudSnapshot & { at: number }>();
  private readonly geometries = new Map<string, Geometry>();
  private readonly chunks = new Map<string, { state: ChunkState; at: number }>();
  /** Quarantines learned from tombstones, not from the pool's own chunk items: chunk key -> offset -> until. */
  private readonly foreignQuarantine = new Map<string, Map<number, number>>();

  constructor(
    private readonly store: Store,
    private readonly now: () => number,
    private readonly poolCacheMs: number,
  ) {}

  async requirePool(cloud: string, zone: string, name: string, fresh = false): Promise<Pool> {
    checkName('cloud', cloud);
    checkName('zone', zone);
    checkName('pool', name);
    const key = poolKey(cloud, zone, name);
    const hit = this.pools.get(key);
    if (!fresh && hit && this.now() - hit.at < this.poolCacheMs) return hit.pool;
    const pool = await this.store.getPool(cloud, zone, name);
    if (!pool) {
      this.pools.delete(key);
      throw new IpamError('PoolNotFound', `pool ${cloud}/${zone}/${name} does not exist`, { pool: name });
    }
    this.remember(pool);
    return pool;
  }

  /** The pool as cached, if it is fresh enough to use (no read). */
  cachedPool(cloud: string, zone: string, name: string): Pool | undefined {
    const hit = this.pools.get(poolKey(cloud, zone, name));
    return hit && this.now() - hit.at < this.poolCacheMs ? hit.pool : undefined;
  }

  /** The cloud's pools and networks: cached like a pool (`poolCacheMs`), or read now with `fresh`. */
  async cloud(cloud: string, fresh = false): Promise<CloudSnapshot> {
    const hit = this.clouds.get(cloud);
    if (!fresh && hit && this.now() - hit.at < this.poolCacheMs) return hit;
    const { pools, networks } = await this.store.listPools(cloud);
    return this.rememberCloud(cloud, { pools, networks });
  }

  /** The cloud's pools and networks as cached, if fresh enough to use (no read). */
  cachedCloud(cloud: string): CloudSnapshot | undefined {
    const hit = this.clouds.get(cloud);
    return hit && this.now() - hit.at < this.poolCacheMs ? hit : undefined;
  }

  /** A snapshot read by an operation anyway (a fenced change reads the partition): kept for the answers. */
  rememberCloud(cloud: string, snap: CloudSnapshot): CloudSnapshot {
    if (this.clouds.size > 1000) this.clouds.clear();
    this.clouds.set(cloud, { pools: snap.pools, networks: snap.networks, at: this.now() });
    return snap;
  }

  forgetCloud(cloud: string) {
    this.clouds.delete(cloud);
  }

  remember(pool: Pool) {
    this.pools.set(poolKey(pool.cloud, pool.zone, pool.name), { pool, at: this.now() });
  }

  forgetPool(cloud: string, zone: string, name: string) {
    this.pools.delete(poolKey(cloud, zone, name));
  }

  /** The pool's allocatable space in its slots (addresses; a prefix pool's blocks). */
  geometry(pool: Pool): Geometry {
    const key = `${pool.uid}:${pool.epoch}`;
    let g = this.geometries.get(key);
    if (!g) {
      const t = checkTopology(pool.ranges, pool.exclude);
      g = slotGeometry(spaceOf(pool), t.ranges, t.exclude, (pool.reserved ?? []).map((a) => parseAddress(a).value));
      if (this.geometries.size > 1000) this.geometries.clear();
      this.geometries.set(key, g);
    }
    return g;
  }

  cachedChunk(pool: Pool, base: bigint): ChunkState | undefined {
    const hit = this.chunks.get(chunkKey(pool, base));
    if (!hit) return undefined;
    if (this.now() - hit.at > 10_000) {
      this.chunks.delete(chunkKey(pool, base));
      return undefined;
    }
    return hit.state;
  }

  noteChunk(pool: Pool, base: bigint, state: ChunkState | undefined) {
    if (this.chunks.size > 50_000) this.chunks.clear();
    this.chunks.set(chunkKey(pool, base), { state: state ?? emptyChunk(), at: this.now() });
  }

  noteTaken(pool: Pool, ch: ChunkChange) {
    const cur = this.cachedChunk(pool, ch.base) ?? emptyChunk();
    for (const o of ch.offsets) {
      cur.used.add(o);
      cur.quarantine.delete(o);
    }
    this.noteChunk(pool, ch.base, cur);
  }

  forgetChunk(pool: Pool, base: bigint) {
    this.chunks.delete(chunkKey(pool, base));
  }

  /** An address of the pool's space is in quarantine until `until` (a tombstone said so). */
  learnQuarantine(pool: Pool, value: bigint, base: bigint, until: number) {
    const k = chunkKey(pool, base);
    const learned = this.foreignQuarantine.get(k) ?? new Map<number, number>();
    learned.set(Number(value - base), until);
    this.foreignQuarantine.set(k, learned);
  }

  learned(pool: Pool, base: bigint): Map<number, number> | undefined {
    return this.foreignQuarantine.get(chunkKey(pool, base));
  }
}
