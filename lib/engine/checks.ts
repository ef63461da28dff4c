/**
 * The engine's input checks and pool rules, pure: a pool's topology, prefix and quarantine (its DNS
 * setting: checkDns in lib/core/validate.ts), a holder, a requested address; overlap with other pools and the zone limits.
 */
import { invalid, IpamError } from '../core/errors.js';
import { stableJson } from '../core/json.js';
import { BITS, blockSize, findOverlap, normalize, overlaps, parseAddress, parseRange, parseRanges, type Family, type ParsedRange } from '../core/ip.js';
import type { Holder, Pool } from '../core/model.js';
import { checkHolderId, LIMITS } from '../core/validate.js';
import type { CloudLimits } from './store.js';

/** Largest range an address pool may hold, per family (a whole IPv6 /0 is not an address pool). */
const MAX_RANGE_PREFIX: Record<Family, number> = { 4: 8, 6: 32 };
/** A prefix pool's: its ranges may be as large as an RIR's or a provider's allocation. */
const MAX_PREFIX_POOL_RANGE: Record<Family, number> = { 4: 8, 6: 16 };
/** The block sizes of a prefix pool: IPv4 /8 to /30, IPv6 /16 to /126. */
export const PREFIX_POOL_BLOCKS: Record<Family, { min: number; max: number }> = { 4: { min: 8, max: 30 }, 6: { min: 16, max: 126 } };

export function checkHolder(h: Holder | undefined): Holder {
  if (!h || (h.kind !== 'vm' && h.kind !== 'vip')) throw invalid('exactly one of vm or vip is required');
  checkHolderId(h.kind, h.id);
  return h;
}

/** The shortest prefix an address pool's block may have: LIMITS.blockChunks chunks (IPv4 /18, IPv6 /114). */
const shortestAddressBlock = (family: Family) => BITS[family] - (8 + Math.log2(LIMITS.blockChunks));

export function checkPrefix(family: Family, p: unknown, what: string): number | undefined {
  if (p === undefined) return undefined;
  const bits = BITS[family];
  const min = shortestAddressBlock(family);
  if (typeof p !== 'number' || !Number.isInteger(p) || p < min || p > bits) {
    throw invalid(`${what} must be an integer from ${min} to ${bits} for IPv${family} (a block spans at most ${LIMITS.blockChunks * 256} addresses; larger blocks come from a prefix pool: create one with this prefixLength)`);
  }
  return p;
}

export function checkQuarantine(q: unknown): number | undefined {
  if (q === undefined) return undefined;
  if (typeof q !== 'number' || !Number.isInteger(q) || q < 0 || q > LIMITS.quarantineSeconds) throw invalid(`quarantineSeconds must be an integer from 0 to ${LIMITS.quarantineSeconds}`);
  return q === 0 ? undefined : q;
}


export function parseRequestedAddress(text: string): { family: Family; value: bigint; prefixLength?: number } {
  if (typeof text !== 'string') throw invalid('address must be a string');
  if (text.includes('/')) {
    const r = parseRange(text);
    const p = Number(text.split('/')[1]);
    return { family: r.family, value: r.start, prefixLength: p };
  }
  return parseAddress(text);
}

export function checkTopology(rangeTexts: unknown, excludeTexts: unknown): { family: Family; ranges: ParsedRange[]; exclude: ParsedRange[] } {
  if (!Array.isArray(rangeTexts) || rangeTexts.length === 0) throw invalid('ranges must be a non-empty list');
  if (rangeTexts.length > LIMITS.rangesPerPool) throw invalid(`at most ${LIMITS.rangesPerPool} ranges per pool`);
  if (!Array.isArray(excludeTexts)) throw invalid('exclude must be a list');
  if (excludeTexts.length > LIMITS.excludesPerPool) throw invalid(`at most ${LIMITS.excludesPerPool} exclude entries per pool`);
  const { family, ranges } = parseRanges(rangeTexts as string[]);
  const dup = findOverlap(ranges);
  if (dup) throw invalid(`ranges ${dup[0].text} and ${dup[1].text} overlap`);
  const ex = parseRanges(excludeTexts as string[], 'exclude entries');
  if (ex.family !== undefined && ex.family !== family) throw invalid(`exclude entries are IPv${ex.family} but the ranges are IPv${family}`);
  const segs = normalize(ranges);
  for (const e of ex.ranges) {
    if (!segs.some((s) => overlaps(s, e))) throw invalid(`exclude entry ${e.text} is outside every range of the pool`);
  }
  return { family: family!, ranges, exclude: ex.ranges };
}

/**
 * Whether a pool is a prefix pool, and of which block size: `prefixPool: true`, or a `prefixLength`
 * whose blocks exceed an address pool's (a block spans at most LIMITS.blockChunks chunks). Returns the
 * block prefix length of a prefix pool, undefined for an address pool.
 */
export function checkPrefixPool(family: Family, prefixLength: unknown, prefixPool: unknown): number | undefined {
  if (prefixPool !== undefined && typeof prefixPool !== 'boolean') throw invalid('prefixPool must be true or false');
  const beyond = typeof prefixLength === 'number' && Number.isInteger(prefixLength) && prefixLength >= 0 && prefixLength < shortestAddressBlock(family);
  if (prefixPool === false && beyond) checkPrefix(family, prefixLength, 'prefixLength');
  if (prefixPool !== true && !beyond) return undefined;
  const { min, max } = PREFIX_POOL_BLOCKS[family];
  if (typeof prefixLength !== 'number' || !Number.isInteger(prefixLength) || prefixLength < min || prefixLength > max) {
    throw invalid(`a prefix pool needs prefixLength, its block size: an integer from ${min} to ${max} for IPv${family}`);
  }
  return prefixLength;
}

/**
 * The size limits of a pool's ranges and, for a prefix pool (`slot`: its block prefix length), that
 * ranges and exclude entries are whole blocks: a prefix pool's space is counted and indexed in blocks.
 */
export function checkRangeLimits(family: Family, ranges: ParsedRange[], exclude: ParsedRange[], slot: number | undefined) {
  const limit = (slot === undefined ? MAX_RANGE_PREFIX : MAX_PREFIX_POOL_RANGE)[family];
  for (const r of ranges) {
    if (r.end - r.start + 1n > blockSize(family, limit)) throw invalid(`range ${r.text} is larger than the limit of a /${limit} per range${slot === undefined && limit !== MAX_PREFIX_POOL_RANGE[family] ? ` (a prefix pool may take up to a /${MAX_PREFIX_POOL_RANGE[family]})` : ''}`);
  }
  if (slot === undefined) return;
  const size = blockSize(family, slot);
  for (const r of [...ranges, ...exclude]) {
    if (r.start % size !== 0n || (r.end + 1n) % size !== 0n) throw invalid(`${r.text} is not made of whole /${slot} blocks: a prefix pool's ranges and exclude entries must be aligned to its block size`, { range: r.text });
  }
}

export function checkNoOverlap(pools: Pool[], ranges: ParsedRange[], selfUid: string | undefined, zone: string) {
  for (const p of pools) {
    if (p.uid === selfUid) continue;
    for (const other of p.ranges) {
      const o = parseRange(other);
      if (o.family !== ranges[0]!.family) continue;
      const hit = ranges.find((r) => overlaps(r, o));
      if (!hit) continue;
      // Name the other pool only when it is in the caller's zone: a zone's caller may not read other zones.
      if (p.zone === zone) throw new IpamError('Overlap', `range ${hit.text} overlaps ${o.text} of pool ${p.zone}/${p.name} in cloud ${p.cloud}`, { pool: p.name, zone: p.zone, range: o.text });
      throw new IpamError('Overlap', `range ${hit.text} overlaps an existing pool in another zone of cloud ${p.cloud}`, { range: hit.text });
    }
  }
}

/**
 * A zone's claim is the address span of its pools' ranges (excluded addresses count: they still keep
 * every other pool off the space). Refuses a topology that would take the zone over its limit.
 */
export function checkZoneLimit(limits: CloudLimits | undefined, pools: Pool[], cloud: string, zone: string, ranges: ParsedRange[], selfUid: string | undefined) {
  const limit = limits && Object.hasOwn(limits.zones, zone) ? BigInt(limits.zones[zone]!.maxAddresses) : undefined;
  if (limit === undefined) return;
  const span = (rs: ParsedRange[]) => rs.reduce((n, r) => n + (r.end - r.start + 1n), 0n);
  const others = pools.filter((p) => p.zone === zone && p.uid !== selfUid).reduce((n, p) => n + span(p.ranges.map(parseRange)), 0n);
  const total = others + span(ranges);
  if (total > limit) {
    throw new IpamError('ZoneLimit', `zone ${zone} of cloud ${cloud} may claim at most ${limit} addresses (limit set by the cloud's admin); its pools would span ${total}`, { zone, maxAddresses: limit.toString(), wouldSpan: total.toString() });
  }
}

export function sameSpec(a: Pool, b: Pool): boolean {
  const pick = (p: Pool) => stableJson({ ranges: p.ranges, exclude: p.exclude, prefixLength: p.prefixLength, prefixPool: p.prefixPool, quarantineSeconds: p.quarantineSeconds, dns: p.dns, network: p.network, tags: p.tags, metadata: p.metadata });
  return pick(a) === pick(b);
}


export function editList(current: string[], add: string[] | undefined, remove: string[] | undefined, what: string): string[] {
  if (add !== undefined && !Array.isArray(add)) throw invalid(`add ${what} must be a list`);
  if (remove !== undefined && !Array.isArray(remove)) throw invalid(`remove ${what} must be a list`);
  let out = [...current];
  for (const r of remove ?? []) {
    const text = parseRange(r).text;
    if (!out.includes(text)) throw invalid(`${text} is not a ${what} of this pool (it has ${current.join(', ') || 'none'})`);
    out = out.filter((x) => x !== text);
  }
  for (const r of add ?? []) {
    const text = parseRange(r).text;
    if (!out.includes(text)) out.push(text);
  }
  return out;
}
