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

/**
 * Values read from the store and kept for `ttlMs`, read once however many callers want them at once:
 * callers that accept a cached answer and find none share the read in flight (one read per key, not one
 * per caller, when an entry expires under load). Every read and every `set`/`forget` takes a number
 * from one counter, and a read's result is kept only if nothing newer was (a read that started before a
 * write and ends after the write's `forget` or `set` does not put the old value back). A `set` or
 * `forget` also drops the read in flight from the sharing: callers from then on read again.
 */
class SharedReads<V> {
  private readonly entries = new Map<string, { value: V | undefined; at: number; seq: number }>();
  private readonly inflight = new Map<string, { read: Promise<V | undefined>; seq: number }>();
  private seq = 0;
  /** Entries dropped wholesale (a full map) leave no numbers behind: reads older than this are not kept. */
  private floor = 0;

  constructor(
    private readonly now: () => number,
    private readonly ttlMs: number,
    private readonly max: number,
  ) {}

  /** The cached value if fresh (`undefined` also when the last read found nothing). */
  cached(key: string): V | undefined {
    const hit = this.entries.get(key);
    return hit && this.now() - hit.at < this.ttlMs ? hit.value : undefined;
  }

  /**
   * The value: cached, or from the read in flight, or read now. With `fresh`, always from a read sent
   * after this call (never shared with one sent before it).
   */
  get(key: string, fresh: boolean, read: () => Promise<V | undefined>): Promise<V | undefined> {
    if (!fresh) {
      const hit = this.entries.get(key);
      if (hit && hit.value !== undefined && this.now() - hit.at < this.ttlMs) return Promise.resolve(hit.value);
      const shared = this.inflight.get(key);
      if (shared) return shared.read;
    }
    const seq = ++this.seq;
    const p = read().then(
      (value) => {
        this.keep(key, value, seq);
        if (this.inflight.get(key)?.seq === seq) this.inflight.delete(key);
        return value;
      },
      (e: unknown) => {
        if (this.inflight.get(key)?.seq === seq) this.inflight.delete(key);
        throw e;
      },
    );
    if (!fresh) this.inflight.set(key, { read: p, seq });
    return p;
  }

  /** A value known now (a write's result): newer than any read in flight. */
  set(key: string, value: V) {
    this.inflight.delete(key);
    this.keep(key, value, ++this.seq);
  }

  /** Not cached any more; a read in flight will not put its (older) value back. */
  forget(key: string) {
    this.inflight.delete(key);
    this.keep(key, undefined, ++this.seq);
  }

  private keep(key: string, value: V | undefined, seq: number) {
    const prev = this.entries.get(key);
    if (seq <= this.floor || (prev && prev.seq > seq)) return;
    if (!prev && this.entries.size >= this.max) {
      this.entries.clear();
      this.floor = this.seq;
    }
    // A forgotten key keeps its number (so older reads lose) but is never a hit.
    this.entries.set(key, { value, at: value === undefined ? -Infinity : this.now(), seq });
  }
}

export class EngineCache {
  private readonly pools: SharedReads<Pool>;
  /** Per cloud: its pools and networks as one read of the cloud's partition saw them (what allocation answers are decorated from). */
  private readonly clouds: SharedReads<CloudSnapshot>;
  private readonly geometries = new Map<string, Geometry>();
  private readonly chunks = new Map<string, { state: ChunkState; at: number }>();
  /** Quarantines learned from tombstones, not from the pool's own chunk items: chunk key -> offset -> until. */
  private readonly foreignQuarantine = new Map<string, Map<number, number>>();

  constructor(
    private readonly store: Store,
    private readonly now: () => number,
    poolCacheMs: number,
  ) {
    this.pools = new SharedReads(now, poolCacheMs, 10_000);
    this.clouds = new SharedReads(now, poolCacheMs, 1000);
  }

  /**
   * The pool: cached (`poolCacheMs`), or read; concurrent callers that find it expired share one read.
   * With `fresh`, read now.
   */
  async requirePool(cloud: string, zone: string, name: string, fresh = false): Promise<Pool> {
    checkName('cloud', cloud);
    checkName('zone', zone);
    checkName('pool', name);
    const pool = await this.pools.get(poolKey(cloud, zone, name), fresh, () => this.store.getPool(cloud, zone, name));
    if (!pool) throw new IpamError('PoolNotFound', `pool ${cloud}/${zone}/${name} does not exist`, { pool: name });
    return pool;
  }

  /** The pool as cached, if it is fresh enough to use (no read). */
  cachedPool(cloud: string, zone: string, name: string): Pool | undefined {
    return this.pools.cached(poolKey(cloud, zone, name));
  }

  /**
   * The cloud's pools and networks: cached like a pool (`poolCacheMs`; concurrent callers that find the
   * snapshot expired share one read of the partition), or read now with `fresh`.
   */
  async cloud(cloud: string, fresh = false): Promise<CloudSnapshot> {
    const snap = await this.clouds.get(cloud, fresh, async () => {
      const { pools, networks } = await this.store.listPools(cloud);
      return { pools, networks };
    });
    return snap!;
  }

  /** The cloud's pools and networks as cached, if fresh enough to use (no read). */
  cachedCloud(cloud: string): CloudSnapshot | undefined {
    return this.clouds.cached(cloud);
  }

  /** A snapshot read by an operation anyway (a fenced change reads the partition): kept for the answers. */
  rememberCloud(cloud: string, snap: CloudSnapshot): CloudSnapshot {
    this.clouds.set(cloud, { pools: snap.pools, networks: snap.networks });
    return snap;
  }

  forgetCloud(cloud: string) {
    this.clouds.forget(cloud);
  }

  remember(pool: Pool) {
    this.pools.set(poolKey(pool.cloud, pool.zone, pool.name), pool);
  }

  forgetPool(cloud: string, zone: string, name: string) {
    this.pools.forget(poolKey(cloud, zone, name));
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

  /** Offsets noted taken for a commit that did not happen: free again in this engine's view (others' marks stay). */
  untake(pool: Pool, ch: ChunkChange) {
    const cur = this.cachedChunk(pool, ch.base);
    if (cur) for (const o of ch.offsets) cur.used.delete(o);
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
