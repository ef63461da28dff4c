/**
 * Allocation by zone (issue 15): the pools of a zone the zone route tries, in order. Pure.
 *
 *  - Without a filter: every pool of the zone, IPv4 before IPv6, then by name.
 *  - `pools: [names]`: those pools, in that order. A name that is not a pool of the zone is 400, named,
 *    the same whether another zone has a pool of that name or not.
 *  - `pools: {tags: {...}}`: the pools of the zone whose tags include every given pair (IPv4 first, then
 *    by name); none: 400.
 *
 * Then the request's `family`, and the pools that cannot serve its prefix length or are being imported,
 * are left out (the reasons are kept for the 409 when nothing is left). Only pools of `zone` are ever
 * candidates or named.
 */
import { invalid } from './errors.js';
import type { Family } from './ip.js';
import type { AllocateRequest, Pool, Tags } from './model.js';
import { checkName, checkTags } from './validate.js';

/** The zone route's pool filter: pool names in preference order, or tags every chosen pool carries. */
export type PoolFilter = string[] | { tags: Tags };

/** The zone route's request: a pool route's, without `pool` and `address`, plus a family and a pool filter. */
export interface ZoneAllocateRequest extends Omit<AllocateRequest, 'pool' | 'address'> {
  family?: Family;
  pools?: PoolFilter;
}

export interface Candidates {
  /** The pools to try, in order. */
  pools: Pool[];
  /** Pools of the zone the filter chose but that are not tried, and why. */
  skipped: { pool: string; why: string }[];
}

const byFamilyThenName = (a: Pool, b: Pool) => a.family - b.family || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** A filter as given by any caller (the API's schema checks it too): names valid and distinct, or tags valid. */
export function checkPoolFilter(f: unknown): PoolFilter | undefined {
  if (f === undefined) return undefined;
  if (Array.isArray(f)) {
    if (f.length === 0) throw invalid('pools: give at least one pool name (or leave pools out: every pool of the zone)');
    const names = f.map((n) => checkName('pool', n));
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice !== undefined) throw invalid(`pools: ${twice} is named twice`, { pool: twice });
    return names;
  }
  if (f && typeof f === 'object' && Object.keys(f).length === 1 && 'tags' in f) return { tags: checkTags((f as { tags: unknown }).tags) };
  throw invalid('pools must be a list of pool names in preference order, or {"tags": {<key>: <value>, ...}}');
}

/**
 * The candidates of a zone allocation among the cloud's pools `all`. `serves` says whether a pool can
 * hand out the requested prefix length (undefined: the pool's default).
 */
export function zoneCandidates(
  all: Pool[],
  cloud: string,
  zone: string,
  req: { family?: Family; prefixLength?: number; pools?: PoolFilter },
  serves: (pool: Pool, prefixLength: number | undefined) => boolean,
): Candidates {
  const inZone = all.filter((p) => p.cloud === cloud && p.zone === zone);
  let chosen: Pool[];
  const f = req.pools;
  if (Array.isArray(f)) {
    const missing = f.filter((n) => !inZone.some((p) => p.name === n));
    if (missing.length) throw invalid(`pools: zone ${zone} of cloud ${cloud} has no pool ${missing.join(', ')}`, { pools: missing });
    chosen = f.map((n) => inZone.find((p) => p.name === n)!);
  } else if (f) {
    const wanted = Object.entries(f.tags);
    chosen = inZone.filter((p) => wanted.every(([k, v]) => Object.hasOwn(p.tags, k) && p.tags[k] === v)).sort(byFamilyThenName);
    if (chosen.length === 0) throw invalid(`pools: no pool of zone ${zone} of cloud ${cloud} has the tags ${wanted.map(([k, v]) => `${k}=${v}`).join(', ')}`, { tags: f.tags });
  } else chosen = [...inZone].sort(byFamilyThenName);
  const out: Candidates = { pools: [], skipped: [] };
  for (const p of chosen) {
    const why =
      req.family !== undefined && p.family !== req.family
        ? `IPv${p.family}, not IPv${req.family}`
        : p.importing
          ? 'being imported'
          : !serves(p, req.prefixLength)
            ? `cannot hand out ${req.prefixLength !== undefined ? `a /${req.prefixLength}` : 'its default size'}`
            : undefined;
    if (why === undefined) out.pools.push(p);
    else out.skipped.push({ pool: p.name, why });
  }
  return out;
}
