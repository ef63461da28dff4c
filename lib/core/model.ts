/**
 * Domain types of the IPAM: pools, allocations, holders. No AWS, no HTTP.
 */
import type { Family } from './ip.js';

export type Json = string | number | boolean | null | Json[] | { [k: string]: Json };
export type Tags = Record<string, string>;

export type HolderKind = 'vm' | 'vip';
export interface Holder {
  kind: HolderKind;
  id: string;
}

export interface PoolSpec {
  ranges: string[];
  exclude?: string[];
  prefixLength?: number;
  /**
   * A prefix pool hands out blocks of `prefixLength` only, at constant cost whatever their size
   * (lib/core/chunk.ts SlotSpace). Implied by a `prefixLength` whose blocks exceed an address pool's
   * block limit (IPv4 shorter than /18, IPv6 shorter than /114).
   */
  prefixPool?: boolean;
  quarantineSeconds?: number;
  dns?: { domain: string };
  /** A network of the pool's own zone (lib/core/network.ts): the ranges lie in its CIDR, and its reserved addresses are never allocated. */
  network?: string;
  tags?: Tags;
  metadata?: Record<string, Json>;
}

export interface Pool {
  cloud: string;
  zone: string;
  name: string;
  /** Unique per pool incarnation: a deleted and re-created pool starts afresh. */
  uid: string;
  family: Family;
  ranges: string[];
  exclude: string[];
  prefixLength?: number;
  /** Set: a prefix pool, whose slots are blocks of `prefixLength` (then always set). */
  prefixPool?: true;
  quarantineSeconds?: number;
  dns?: { domain: string };
  /** The network (of the same zone) the pool lives in, if any. */
  network?: string;
  /**
   * Set with `network`: the network's addresses that are never allocatable (its network address, IPv4
   * broadcast and gateway; reservedAddresses() in network.ts), whatever the ranges say. Kept on the pool
   * so its geometry and size are its own: a network's CIDR and gateway cannot change while a pool uses it.
   */
  reserved?: string[];
  tags: Tags;
  metadata: Record<string, Json>;
  /** Number of allocatable addresses (ranges minus exclude), decimal string. */
  size: string;
  /** Bumped by every change of ranges or exclude; allocations are fenced on it. */
  epoch: number;
  /** Number of counter shards (the pool's sharded utilisation counters and fences). */
  shards: number;
  /** Set while a bulk import owns the pool: allocations are refused until it finishes. */
  importing?: boolean;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  updatedBy: string;
  /** Request that made the latest change (for the security log). */
  requestId?: string;
}

export interface PoolUsage {
  size: string;
  allocated: string;
  free: string;
  /** A prefix pool's usage counted in its blocks (size, allocated, free are in addresses). */
  blocks?: { size: string; allocated: string; free: string };
}

export type PoolView = Pool & PoolUsage;

export interface Allocation {
  cloud: string;
  zone: string;
  pool: string;
  /** The first address of the allocation (the network address of a block). */
  address: string;
  /** `address/32` or `address/128` for one address, the block's CIDR otherwise. */
  cidr: string;
  prefixLength: number;
  family: Family;
  vm?: string;
  vip?: string;
  name: string;
  mac?: string;
  hostname?: string;
  tags: Tags;
  metadata: Record<string, Json>;
  allocatedAt: string;
  allocatedBy: string;
  requestId?: string;
  updatedAt?: string;
  updatedBy?: string;
  version: number;
  /**
   * Made by the zone route (`POST /v1/clouds/{cloud}/zones/{zone}/allocations`): the allocation holds the
   * zone's (holder, name) claim, its idempotency key, and gives it up when released.
   */
  byZone?: true;
}

/** Who is calling: recorded on every change so the security log can name them. */
export interface CallContext {
  principal: string;
  requestId?: string;
}

export interface AllocateRequest {
  cloud: string;
  zone: string;
  pool: string;
  holder: Holder;
  name?: string;
  address?: string;
  prefixLength?: number;
  mac?: string;
  hostname?: string;
  tags?: Tags;
  metadata?: Record<string, Json>;
}

export interface AllocationPatch {
  mac?: string | null;
  hostname?: string | null;
  tags?: Tags;
  metadata?: Record<string, Json>;
}

export interface PoolPatch {
  addRanges?: string[];
  removeRanges?: string[];
  addExclude?: string[];
  removeExclude?: string[];
  /** The default prefix length of future allocations; null removes it. Existing allocations keep theirs. */
  prefixLength?: number | null;
  /** Quarantine of releases from now on; 0 or null: none. */
  quarantineSeconds?: number | null;
  /** The pool's DNS domain in exports from now on; null removes it. */
  dns?: { domain: string } | null;
  /** Moves the pool into a network of its zone (a topology change: its reserved addresses must be free); null takes it out. */
  network?: string | null;
  tags?: Tags;
  metadata?: Record<string, Json>;
}

export interface Page<T> {
  items: T[];
  cursor?: string;
}

export const holderOf = (a: Pick<Allocation, 'vm' | 'vip'>): Holder => (a.vm !== undefined ? { kind: 'vm', id: a.vm } : { kind: 'vip', id: a.vip! });
export const holderText = (h: Holder) => `${h.kind}:${h.id}`;

/** Where a pool's slots live (lib/core/chunk.ts): a prefix pool's slots are its blocks. */
export const spaceOf = (pool: Pick<Pool, 'family' | 'prefixPool' | 'prefixLength'>): { family: Pool['family']; slot?: number } =>
  pool.prefixPool ? { family: pool.family, slot: pool.prefixLength! } : { family: pool.family };
