/**
 * Free-slot planning, pure (whereabouts' AssignIP): given the pool's geometry, the chunk states known
 * so far, the size wanted, a random source and the time, a plan either names the chunk changes to
 * commit or the chunks it still needs to read. The engine does the reads and plans again, with the
 * same random source replayed (seededRandom), so each round only gets further. No I/O here: the
 * property tests (test/planner.property.test.ts) run without DynamoDB.
 *
 * Two phases, as the engine uses them: `probe` tries a few random slots (cheap, and spreads
 * concurrent allocators over the pool); when they all hit used space, and the counters say something
 * is left, `scan` walks the chunks in order from a random point for the first free slot.
 */
import { CHUNK_SIZE as CHUNK, chunkBaseOf as chunkBase, slotShift, type ChunkChange, type ChunkState, type SlotSpace } from './chunk.js';
import { addressAt, containsSpan, cumulativeOffsets, formatAddress, intersect, normalize, randomBelow, segmentOf, subtract, totalSize, type Family, type ParsedRange, type Segment } from './ip.js';

/** A pool's addresses: its ranges minus its exclusions, as sorted disjoint segments. */
export interface Geometry {
  family: Family;
  segments: Segment[];
  offsets: bigint[];
  size: bigint;
}

/** The geometry of ranges minus exclude minus `reserved` (a network's addresses no pool may hand out). */
export function geometryOf(family: Family, ranges: ParsedRange[], exclude: ParsedRange[], reserved: readonly bigint[] = []): Geometry {
  const segments = subtract(normalize(ranges), normalize([...exclude, ...reserved.map((v) => ({ start: v, end: v }))]));
  return { family, segments, offsets: cumulativeOffsets(segments), size: totalSize(segments) };
}

/**
 * A pool's geometry in its slots (lib/core/chunk.ts): addresses for an address pool; blocks for a
 * prefix pool, whose ranges and exclude entries are whole blocks (and which has no reserved addresses).
 */
export function slotGeometry(space: SlotSpace, ranges: ParsedRange[], exclude: ParsedRange[], reserved: readonly bigint[] = []): Geometry {
  const shift = slotShift(space);
  if (shift === 0n) return geometryOf(space.family, ranges, exclude, reserved);
  const scale = (r: ParsedRange): ParsedRange => ({ ...r, start: r.start >> shift, end: r.end >> shift });
  return geometryOf(space.family, ranges.map(scale), exclude.map(scale));
}

export const emptyChunk = (): ChunkState => ({ used: new Set(), quarantine: new Map(), blocks: new Map(), version: undefined });

/** Uniform in [0, 1). */
export type Random = () => number;

/** A small seeded generator (mulberry32): the engine replays one seed across the rounds of a plan. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface PlanInput {
  geometry: Geometry;
  /** Addresses wanted: 1, or an aligned block of 2^k. */
  size: bigint;
  prefix: number;
  /** States read from the store for this plan: a present key is known (undefined: never written). */
  read: Map<bigint, ChunkState | undefined>;
  /** Possibly stale states (a cache): enough to aim a single address (the commit's condition checks it), never to refuse one in the scan. */
  hint?: (base: bigint) => ChunkState | undefined;
  /** Quarantines learned elsewhere (tombstones of an earlier pool): offset -> until, per chunk. */
  learned?: (base: bigint) => Map<number, number> | undefined;
  random: Random;
  /** Epoch ms: a quarantine that ends at or before it is over. */
  now: number;
  /** Scan only: the batch to start at (the engine passes back `at` of a read, and may forget older reads). */
  from?: bigint;
}

export type Plan =
  | { kind: 'found'; start: bigint; changes: ChunkChange[] }
  | { kind: 'read'; bases: bigint[]; at?: bigint }
  /** No slot: the pool has no aligned candidate (probe), or none is free (scan). */
  | { kind: 'none' }
  /** Probe only: every probe hit used space. */
  | { kind: 'miss' };

const PROBES = 8;
const SCAN_BATCH = 100n;
const SCAN_MAX_CHUNKS = 1_000_000n;

/** Random probes: a single address is aimed with the hints; a block's chunks must be read. */
export function probe(input: PlanInput): Plan {
  const { geometry: geo, size, random } = input;
  const candidates = alignedCandidates(geo.segments, size);
  if (candidates.total === 0n) return { kind: 'none' };
  for (let p = 0; p < PROBES; p++) {
    const start = candidates.at(randomBelow(candidates.total, random));
    if (size === 1n) {
      const base = chunkBase(start);
      const state = input.read.has(base) ? input.read.get(base) : input.hint?.(base);
      const single = pickSingle(input, base, state);
      if (single) return single;
      continue;
    }
    const bases = blockChunks(start, size);
    const missing = bases.filter((b) => !input.read.has(b));
    if (missing.length) return { kind: 'read', bases: missing };
    const changes = blockPlan(geo.family, start, size, input.prefix, input.read, input.now);
    if (changes) return { kind: 'found', start, changes };
  }
  return { kind: 'miss' };
}

/** Walks the pool's chunks in order from a random point, on states read from the store, for the first free slot. */
export function scan(input: PlanInput): Plan {
  const { geometry: geo, size, random, read } = input;
  const chunkList = chunksOf(geo.segments);
  if (chunkList.total === 0n || chunkList.total > SCAN_MAX_CHUNKS) return { kind: 'none' };
  const first = randomBelow(chunkList.total, random);
  for (let i = input.from ?? 0n; i < chunkList.total; i += SCAN_BATCH) {
    const bases: bigint[] = [];
    for (let j = i; j < i + SCAN_BATCH && j < chunkList.total; j++) bases.push(chunkList.at((first + j) % chunkList.total));
    const missing = bases.filter((b) => !read.has(b));
    if (missing.length) return { kind: 'read', bases: missing, at: i };
    for (const base of bases) {
      if (size === 1n) {
        const single = pickSingle(input, base, read.get(base));
        if (single) return single;
        continue;
      }
      for (let s = base; s < base + CHUNK; s += size < CHUNK ? size : CHUNK) {
        if (s % size !== 0n || !containsSpan(geo.segments, s, s + size - 1n)) continue;
        const need = blockChunks(s, size).filter((b) => !read.has(b));
        if (need.length) return { kind: 'read', bases: need, at: i };
        const changes = blockPlan(geo.family, s, size, input.prefix, read, input.now);
        if (changes) return { kind: 'found', start: s, changes };
      }
    }
  }
  return { kind: 'none' };
}

/** A random free offset of the chunk as one change (taking an expired quarantine over), or undefined when it has none. */
function pickSingle(input: PlanInput, base: bigint, state: ChunkState | undefined): Plan | undefined {
  const free = freeOffsets(input.geometry, base, state, input.now, input.learned?.(base));
  if (free.length === 0) return undefined;
  const o = free[Math.floor(input.random() * free.length)]!;
  const q = state?.quarantine.get(o);
  return { kind: 'found', start: base + BigInt(o), changes: [{ base, offsets: [o], ...(q !== undefined ? { reuse: new Map([[o, q]]) } : {}) }] };
}

/** The chunk's offsets that are in the pool and free at `nowMs` (an expired quarantine is free). */
export function freeOffsets(geo: Geometry, base: bigint, state: ChunkState | undefined, nowMs: number, learned?: Map<number, number>): number[] {
  const out: number[] = [];
  for (const seg of intersect(geo.segments, [{ start: base, end: base + CHUNK - 1n }])) {
    for (let v = seg.start; v <= seg.end; v++) {
      const o = Number(v - base);
      if ((learned?.get(o) ?? 0) > nowMs) continue;
      if (!state || !state.used.has(o) || (state.quarantine.get(o) ?? Infinity) <= nowMs) out.push(o);
    }
  }
  return out;
}

export interface Candidates {
  total: bigint;
  at(i: bigint): bigint;
}

/** Aligned blocks of `size` that lie wholly inside the segments, indexable uniformly. */
export function alignedCandidates(segments: Segment[], size: bigint): Candidates {
  const firsts: bigint[] = [];
  const counts: bigint[] = [];
  for (const s of segments) {
    const first = ((s.start + size - 1n) / size) * size;
    const last = ((s.end + 1n) / size) * size - size;
    firsts.push(first);
    counts.push(last >= first ? (last - first) / size + 1n : 0n);
  }
  const cum = cumulativeOffsets(counts.map((c) => ({ start: 0n, end: c - 1n })));
  const total = counts.reduce((a, b) => a + b, 0n);
  return {
    total,
    at(i: bigint) {
      let lo = segmentOf(cum, i);
      while (counts[lo] === 0n) lo++;
      return firsts[lo]! + (i - cum[lo]!) * size;
    },
  };
}

/** The bases of the chunks that hold any of the segments' addresses, in order, indexable. */
export function chunksOf(segments: Segment[]): Candidates {
  const chunkSegs = normalize(segments.map((s) => ({ start: chunkBase(s.start) / CHUNK, end: chunkBase(s.end) / CHUNK })));
  const offs = cumulativeOffsets(chunkSegs);
  return {
    total: totalSize(chunkSegs),
    at(i: bigint) {
      return addressAt(chunkSegs, offs, i) * CHUNK;
    },
  };
}

export function blockChunks(start: bigint, size: bigint): bigint[] {
  const out: bigint[] = [];
  for (let b = chunkBase(start); b < start + size; b += CHUNK) out.push(b);
  return out;
}

function blockOffsets(start: bigint, size: bigint, base: bigint): number[] {
  const from = start > base ? Number(start - base) : 0;
  const to = start + size < base + CHUNK ? Number(start + size - base) : Number(CHUNK);
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/** The chunk changes of a block (or a single address) at `start`, as a release writes them. */
export function blockChanges(start: bigint, size: bigint, cidr: string): ChunkChange[] {
  return blockChunks(start, size).map((base) => ({ base, offsets: blockOffsets(start, size, base), blockCidr: cidr }));
}

/** The first address of the block that is used and not out of quarantine, if any. */
export function firstBusy(start: bigint, size: bigint, states: Map<bigint, ChunkState | undefined>, nowMs: number): bigint | undefined {
  for (const base of blockChunks(start, size)) {
    const st = states.get(base);
    if (!st) continue;
    for (const o of blockOffsets(start, size, base)) if (st.used.has(o) && !((st.quarantine.get(o) ?? Infinity) <= nowMs)) return base + BigInt(o);
  }
  return undefined;
}

/** The chunk changes for a block if every address in it is free, else undefined. */
export function blockPlan(family: Family, start: bigint, size: bigint, prefix: number, states: Map<bigint, ChunkState | undefined>, nowMs: number): ChunkChange[] | undefined {
  if (firstBusy(start, size, states, nowMs) !== undefined) return undefined;
  const cidr = `${formatAddress(family, start)}/${prefix}`;
  return blockChanges(start, size, cidr).map((ch) => {
    const st = states.get(ch.base);
    const reuse = new Map<number, number>();
    for (const o of ch.offsets) {
      const q = st?.quarantine.get(o);
      if (q !== undefined) reuse.set(o, q);
    }
    return { ...ch, expectVersion: st?.version ?? null, ...(reuse.size ? { reuse } : {}) };
  });
}
