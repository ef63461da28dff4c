/**
 * The storage interface the allocation engine runs on. Each method is one atomic step
 * (a read, or one conditional write/transaction); the engine decides what to write.
 * lib/dynamo/store.ts implements it on DynamoDB.
 */
import type { DnsSettings, StoredDnsSettings } from '../core/dns.js';
import type { Allocation, CallContext, Holder, Pool } from '../core/model.js';
import type { Network } from '../core/network.js';
import type { ChunkChange, ChunkState } from '../core/chunk.js';
import type { ClaimOwner, UniqueClaim } from '../core/uniqueness.js';

export type { ChunkChange, ChunkState, ClaimOwner, UniqueClaim };

/** A uniqueness claim (MAC, FQDN) is held by another allocation (`owner`, from the claim item). */
export type ClaimConflict = { ok: false; reason: 'claim'; claim: UniqueClaim; owner: ClaimOwner };

export interface ShardState {
  index: number;
  allocated: bigint;
  seq: number;
  epoch: number;
}

export interface AllocationCommit {
  pool: Pool;
  allocation: Allocation;
  chunks: ChunkChange[];
  shard: number;
  addressCount: bigint;
  /** The engine's clock (epoch ms): a tombstone quarantined until later than this refuses the address. */
  now?: number;
  /** Uniqueness claims (MAC, FQDN) the allocation takes: one more item each, put if not held. */
  claims?: UniqueClaim[];
}

/** Many allocations in one chunk, committed together (bulk loading). */
export interface BulkCommit {
  pool: Pool;
  allocations: Allocation[];
  chunk: ChunkChange;
  shard: number;
  /** As in AllocationCommit. */
  now?: number;
  /** The uniqueness claims of each allocation (same order); a held one cancels the whole transaction. */
  claims?: UniqueClaim[][];
}

export type CommitOutcome =
  | { ok: true }
  | { ok: false; reason: 'holder'; existing?: Allocation }
  | { ok: false; reason: 'chunk'; base: bigint; state?: ChunkState }
  | { ok: false; reason: 'taken' }
  /** The address's tombstone (whatever pool released it) is still in quarantine until `until`. */
  | { ok: false; reason: 'quarantined'; value: bigint; until: number }
  | { ok: false; reason: 'epoch' }
  | ClaimConflict
  | { ok: false; reason: 'contention' };

export interface ReleaseCommit {
  pool: Pool;
  allocation: Allocation;
  chunks: ChunkChange[];
  shard: number;
  addressCount: bigint;
  /** Epoch ms until which the released single address stays in quarantine (0 = none). */
  quarantineUntil: number;
  releasedAt: string;
  releasedBy: string;
  requestId?: string;
  /** The uniqueness claims to give up: deleted if they point at this allocation (else left alone). */
  claims?: UniqueClaim[];
}

/** An environment: its definition and the lease of whoever is applying or releasing it. */
export interface EnvironmentRecord {
  cloud: string;
  name: string;
  spec: unknown;
  specHash: string;
  state: 'applying' | 'ready' | 'releasing';
  token: string;
  leaseUntil: number;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
}

/** A cloud-wide admin's limits on what each zone may claim (absent: no limit). */
export interface CloudLimits {
  zones: Record<string, { maxAddresses: string }>;
}

export interface Store {
  /** Every cloud that has (or had) pools. A full scan: for the scheduled export, not request paths. */
  listClouds(): Promise<string[]>;
  // Pools, networks and clouds. Topology changes (create, ranges, exclude, network, delete; every network
  // change; a pool's DNS domain) are serialized per cloud by the cloud version.
  /** One consistent read of the cloud's partition: its version, pools, networks and limits. */
  listPools(cloud: string): Promise<{ cloudVersion: number; pools: Pool[]; networks: Network[]; limits?: CloudLimits }>;
  /** Replaces the cloud's zone limits; fenced on the cloud version like a topology change. */
  putLimits(cloud: string, limits: CloudLimits, cloudVersion: number, by: CallContext): Promise<'ok' | 'raced'>;
  /** The cloud's DNS settings (one item of the cloud partition), if any. */
  getDnsSettings(cloud: string): Promise<StoredDnsSettings | undefined>;
  /** Replaces the cloud's DNS settings; fenced on the cloud version, so the change clock (SOA serials) moves. */
  putDnsSettings(cloud: string, settings: DnsSettings, cloudVersion: number, by: CallContext): Promise<'ok' | 'raced'>;
  getPool(cloud: string, zone: string, name: string): Promise<Pool | undefined>;
  createPool(pool: Pool, cloudVersion: number): Promise<'ok' | 'exists' | 'raced'>;
  /** Replaces the pool's ranges/exclude; fenced on the cloud version and every shard's seq. */
  replacePoolTopology(prev: Pool, next: Pool, cloudVersion: number, shards: ShardState[]): Promise<'ok' | 'raced'>;
  /** Replaces settings that need no epoch (tags, quarantine, ...); with `cloudVersion`, fenced on it too (a DNS domain claim). */
  updatePoolAttributes(prev: Pool, next: Pool, cloudVersion?: number): Promise<'ok' | 'raced'>;
  /** Deletes the pool, recording who did it on the item first (a delete's stream record has only the old image). */
  deletePool(pool: Pool, cloudVersion: number, shards: ShardState[], by: CallContext): Promise<'ok' | 'raced'>;
  readShards(pool: Pool): Promise<ShardState[]>;
  createNetwork(network: Network, cloudVersion: number): Promise<'ok' | 'exists' | 'raced'>;
  /** Replaces the network if it is still `prev` (uid and updatedAt); fenced on the cloud version. */
  updateNetwork(prev: Network, next: Network, cloudVersion: number): Promise<'ok' | 'raced'>;
  /** Deletes the network, recording who did it on the item first; fenced on the cloud version. */
  deleteNetwork(network: Network, cloudVersion: number, by: CallContext): Promise<'ok' | 'raced'>;

  // Free-slot partitions.
  getChunk(pool: Pool, base: bigint): Promise<ChunkState | undefined>;
  getChunks(pool: Pool, bases: bigint[]): Promise<Map<bigint, ChunkState>>;
  /** Bases of the chunks this pool has ever written, ascending, from `from` (inclusive) to `to`. */
  poolChunks(pool: Pool, from?: bigint, to?: bigint): AsyncIterable<bigint>;

  // Allocations.
  commitAllocation(c: AllocationCommit): Promise<CommitOutcome>;
  commitRelease(c: ReleaseCommit): Promise<'ok' | 'raced'>;
  /**
   * Releases of one pool's single addresses in one transaction, all or none (the engine's group
   * commit of releases); members that share a chunk share its update, with the same quarantineUntil.
   * Each member's uniqueness claims are given up as in commitRelease.
   */
  commitReleases(group: ReleaseCommit[]): Promise<'ok' | 'raced'>;
  /**
   * Import: writes one chunk's free-slot item and its allocations as plain (unconditional) puts, with
   * the allocations' uniqueness claims (same order) put unless another allocation holds them.
   */
  importChunk(pool: Pool, base: bigint, offsets: number[], allocations: Allocation[], claims?: UniqueClaim[][]): Promise<{ ok: true } | ClaimConflict>;
  /** Import: ends it (pool item replaced, shards get the counts and the new epoch), fenced on the shards' seq. */
  finishImport(prev: Pool, next: Pool, shards: ShardState[], counts: bigint[]): Promise<'ok' | 'raced'>;
  /** All or none of the allocations; the chunk must still be at `chunk.expectVersion`. */
  commitBulk(c: BulkCommit): Promise<'ok' | 'raced'>;
  /** The allocation holding address `value` (with `slot`: in a prefix pool of blocks of that prefix length). */
  getAllocationAt(cloud: string, family: 4 | 6, value: bigint, slot?: number): Promise<Allocation | undefined>;
  /** Block allocations recorded in the chunk that holds `value` (any pool). */
  blocksCovering(cloud: string, family: 4 | 6, value: bigint): Promise<string[]>;
  getHeld(pool: Pool, holder: Holder, name: string): Promise<Allocation | undefined>;
  /** The pool's allocations in one chunk, from an offset on. */
  chunkAllocations(pool: Pool, base: bigint, fromOffset: number): Promise<Allocation[]>;
  byHolder(cloud: string, holder: Holder): Promise<Allocation[]>;
  /**
   * Changes mac/hostname/tags/metadata; stamps the pool's change clock. In the same transaction it
   * deletes the claims in `claims.drop` that point at this allocation and puts those in `claims.add`.
   */
  updateAllocation(pool: Pool, prev: Allocation, next: Allocation, claims?: { drop: UniqueClaim[]; add: UniqueClaim[] }): Promise<'ok' | 'raced' | ClaimConflict>;
  /** Who holds these claims (keyed by claimText), for those that are held. */
  claimOwners(claims: UniqueClaim[]): Promise<Map<string, ClaimOwner>>;
  /** Deletes a claim that no longer belongs to its allocation, if it still points where `owner` says. */
  dropClaim(claim: UniqueClaim, owner: ClaimOwner): Promise<'ok' | 'raced'>;
  getEnvironment(cloud: string, name: string): Promise<EnvironmentRecord | undefined>;
  /** Writes the record if the stored one still has `expectToken` (null: none may exist). */
  putEnvironment(rec: EnvironmentRecord, expectToken: string | null): Promise<boolean>;
  deleteEnvironment(cloud: string, name: string, expectToken: string): Promise<boolean>;
  /** Epoch ms of the latest change to the cloud's topology or to any allocation in these pools. */
  lastChange(cloud: string, pools: Pool[]): Promise<number>;
}
