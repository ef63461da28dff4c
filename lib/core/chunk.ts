/**
 * The chunk: the unit of the free-slot index. Every pool's space is cut into aligned runs of
 * CHUNK_SIZE addresses (or blocks), each tracked by one item. The one definition: the engine,
 * the store's keys and repair all take it from here.
 */
import { BITS, type Family } from './ip.js';

export const CHUNK_BITS = 8n;
export const CHUNK_SIZE = 1n << CHUNK_BITS;

/** The first address of the chunk holding `value`. */
export const chunkBaseOf = (value: bigint) => (value >> CHUNK_BITS) << CHUNK_BITS;
/** The offset of `value` inside its chunk (0..CHUNK_SIZE-1). */
export const offsetIn = (value: bigint) => Number(value & (CHUNK_SIZE - 1n));

/** The free-slot state of one CHUNK_SIZE-address chunk of one pool. */
export interface ChunkState {
  /** Offsets (0-255) held by allocations or in quarantine. */
  used: Set<number>;
  /** Quarantined offsets and when (epoch ms) each becomes free again. */
  quarantine: Map<number, number>;
  /** Blocks that start in (or cover) this chunk: offset -> CIDR. */
  blocks: Map<number, string>;
  /** Optimistic-lock version; undefined when the chunk has never been written. */
  version: number | undefined;
}

/** One chunk's part in an allocation or a release. */
export interface ChunkChange {
  base: bigint;
  offsets: number[];
  /** Offsets whose quarantine has expired and that are taken again (single addresses only). */
  reuse?: Map<number, number>;
  /** When set, the chunk must still be at this version (blocks); null = must not exist yet. */
  expectVersion?: number | null;
  /** Block allocations: the CIDR to record at `offsets[0]`. */
  blockCidr?: string;
}


/**
 * A pool's slots: what one bit of a chunk's `used` set stands for. In an address pool a slot is one
 * address. In a prefix pool (`prefixPool`) a slot is one block of the pool's `prefixLength`: slot n is
 * the block starting at n << (address bits - prefixLength), so a chunk item covers 256 blocks and
 * allocating a /64 from a /48 is the same single-slot transaction as an address from a /24.
 * `slot` is that prefix length (undefined: address pool).
 */
export interface SlotSpace {
  family: Family;
  slot?: number;
}
/** Address bits one slot spans (0 for an address pool). */
export const slotShift = (s: SlotSpace): bigint => (s.slot === undefined ? 0n : BigInt(BITS[s.family] - s.slot));
/** The slot holding address `value`. */
export const slotOf = (s: SlotSpace, value: bigint): bigint => value >> slotShift(s);
/** The first address of slot `n`. */
export const slotStart = (s: SlotSpace, n: bigint): bigint => n << slotShift(s);
/** The addresses one slot holds. */
export const slotAddresses = (s: SlotSpace): bigint => 1n << slotShift(s);
