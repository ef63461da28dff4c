/**
 * Property-based tests of the free-slot planner (fast-check). Pure: no DynamoDB, no Java. The
 * "store" is a map of chunk states, read the way the engine reads (plan, read what it asks, plan again).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHUNK_SIZE, chunkBaseOf, type ChunkState } from '../lib/core/chunk.js';
import { containsSpan, parseRange } from '../lib/core/ip.js';
import { alignedCandidates, geometryOf, probe, scan, seededRandom, type Geometry, type Plan, type PlanInput } from '../lib/core/planner.js';

const BASE = 0x0a000000n; // 10.0.0.0
const SPAN = 4n * CHUNK_SIZE; // the pools live in 10.0.0.0/22: four chunks
const NOW = 1_000_000;

const range = fc.tuple(fc.bigInt({ min: 0n, max: SPAN - 1n }), fc.bigInt({ min: 0n, max: SPAN - 1n })).map(([a, b]) => {
  const lo = a < b ? a : b;
  const hi = a < b ? b : a;
  const ip = (v: bigint) => [24n, 16n, 8n, 0n].map((s) => ((BASE + v) >> s) & 255n).join('.');
  return parseRange(`${ip(lo)}-${ip(hi)}`);
});

/** Per chunk: used offsets, some of them quarantined (until before or after NOW), and learned quarantines. */
const chunkState = fc
  .record({
    used: fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { maxLength: 256 }),
    quarantined: fc.array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.boolean()), { maxLength: 20 }),
    written: fc.boolean(),
  })
  .map(({ used, quarantined, written }): ChunkState | undefined => {
    if (!written) return undefined;
    const st: ChunkState = { used: new Set(used), quarantine: new Map(), blocks: new Map(), version: 1 };
    for (const [o, expired] of quarantined) {
      st.used.add(o);
      st.quarantine.set(o, expired ? NOW - 1 : NOW + 60_000);
    }
    return st;
  });

const world = fc.record({
  ranges: fc.array(range, { minLength: 1, maxLength: 3 }),
  exclude: fc.array(range, { maxLength: 2 }),
  states: fc.array(chunkState, { minLength: 4, maxLength: 4 }),
  learned: fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 255 })), { maxLength: 400 }),
  prefix: fc.oneof(fc.constant(32), fc.integer({ min: 23, max: 32 })), // single addresses half the time
  seed: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  staleHints: fc.boolean(),
});

interface World {
  geo: Geometry;
  size: bigint;
  prefix: number;
  states: Map<bigint, ChunkState | undefined>;
  learned: Map<bigint, Map<number, number>>;
}

function build(w: typeof world extends fc.Arbitrary<infer T> ? T : never): World {
  const geo = geometryOf(4, w.ranges, w.exclude);
  const states = new Map<bigint, ChunkState | undefined>();
  w.states.forEach((st, i) => states.set(BASE + BigInt(i) * CHUNK_SIZE, st));
  const learned = new Map<bigint, Map<number, number>>();
  for (const [c, o] of w.learned) {
    const b = BASE + BigInt(c) * CHUNK_SIZE;
    learned.set(b, (learned.get(b) ?? new Map()).set(o, NOW + 60_000));
  }
  return { geo, size: 1n << BigInt(32 - w.prefix), prefix: w.prefix, states, learned };
}

/** Is the address free for the planner: not used (or its quarantine is over), and not learned as quarantined? */
function isFree(wd: World, v: bigint, single: boolean): boolean {
  const base = chunkBaseOf(v);
  const o = Number(v - base);
  if (single && (wd.learned.get(base)?.get(o) ?? 0) > NOW) return false;
  const st = wd.states.get(base);
  return !st || !st.used.has(o) || (st.quarantine.get(o) ?? Infinity) <= NOW;
}

/** The engine's loop: probe (aimed with hints), then scan, doing the reads each plan asks for. */
function plan(wd: World, seed: number, hints: boolean): { result: Plan; reads: number } {
  let reads = 0;
  const run = (phase: (i: PlanInput) => Plan) => {
    const read = new Map<bigint, ChunkState | undefined>();
    for (;;) {
      const input: PlanInput = {
        geometry: wd.geo,
        size: wd.size,
        prefix: wd.prefix,
        read,
        hint: (b) => (hints ? wd.states.get(b) : undefined),
        learned: (b) => wd.learned.get(b),
        random: seededRandom(seed),
        now: NOW,
      };
      const r = phase(input);
      if (r.kind !== 'read') return r;
      expect(r.bases.length).toBeGreaterThan(0);
      for (const b of r.bases) {
        expect(read.has(b)).toBe(false); // never asks twice: every round gets further
        read.set(b, wd.states.get(b));
      }
      if (++reads > 1000) throw new Error('the planner does not converge');
    }
  };
  const probed = run(probe);
  if (probed.kind !== 'miss') return { result: probed, reads };
  return { result: run(scan), reads };
}

describe('planner (pure, fast-check)', () => {
  it('a found slot is inside the pool, aligned, free, and its changes cover exactly it', () => {
    fc.assert(
      fc.property(world, (w) => {
        const wd = build(w);
        const { result } = plan(wd, w.seed, !w.staleHints);
        if (result.kind !== 'found') return;
        const { start, changes } = result;
        expect(start % wd.size).toBe(0n);
        expect(containsSpan(wd.geo.segments, start, start + wd.size - 1n)).toBe(true);
        const covered: bigint[] = [];
        for (const ch of changes) {
          expect(ch.base % CHUNK_SIZE).toBe(0n);
          for (const o of ch.offsets) covered.push(ch.base + BigInt(o));
        }
        expect(covered).toEqual(Array.from({ length: Number(wd.size) }, (_, i) => start + BigInt(i)));
        // With true hints (or reads) every address is free; with no hints a single address is a guess the commit checks.
        if (wd.size > 1n || !w.staleHints) for (const v of covered) expect(isFree(wd, v, wd.size === 1n)).toBe(true);
        if (wd.size > 1n) expect(changes[0]!.blockCidr).toMatch(new RegExp(`/${wd.prefix}$`));
        // An expired quarantine that is taken over is named, so the commit can fence on it.
        for (const ch of changes) {
          for (const [o, until] of ch.reuse ?? []) {
            expect(until).toBeLessThanOrEqual(NOW);
            expect(ch.offsets).toContain(o);
          }
        }
      }),
      { numRuns: 400 },
    );
  });

  it('finds a free slot whenever one exists in the given states, and answers none only when none does', () => {
    fc.assert(
      fc.property(world, (w) => {
        const wd = build(w);
        const { result } = plan(wd, w.seed, true);
        const cands = alignedCandidates(wd.geo.segments, wd.size);
        let exists = false;
        for (let i = 0n; i < cands.total && !exists; i++) {
          const s = cands.at(i);
          let all = true;
          for (let v = s; v < s + wd.size && all; v++) all = isFree(wd, v, wd.size === 1n);
          exists = all;
        }
        expect(result.kind).toBe(exists ? 'found' : 'none');
      }),
      { numRuns: 400 },
    );
  });

  it('the same seed and states give the same plan (the engine replays the seed across rounds)', () => {
    fc.assert(
      fc.property(world, (w) => {
        const wd = build(w);
        const a = plan(wd, w.seed, true).result;
        const b = plan(wd, w.seed, true).result;
        expect(b).toEqual(a);
      }),
      { numRuns: 100 },
    );
  });
});
