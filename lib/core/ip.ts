/**
 * Address math: parsing, formatting, ranges as sorted disjoint segments of bigints,
 * aligned blocks, and collapsing address lists into ranges. Pure and synchronous.
 */
import { Address6 } from 'ip-address';
import { invalid, IpamError } from './errors.js';

export type Family = 4 | 6;
export const BITS: Record<Family, number> = { 4: 32, 6: 128 };
export const MAX: Record<Family, bigint> = { 4: (1n << 32n) - 1n, 6: (1n << 128n) - 1n };

export interface Address {
  family: Family;
  value: bigint;
}

/** An inclusive span [start, end] of one family. */
export interface Segment {
  start: bigint;
  end: bigint;
}

export interface ParsedRange extends Segment {
  family: Family;
  /** The range in canonical text form: CIDR, `a-b` span, or a single address. */
  text: string;
}

const V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * IPv6 blocks that name IPv4 addresses: IPv4-mapped `::ffff:a.b.c.d` (::ffff:0:0/96) and the
 * deprecated IPv4-compatible `::a.b.c.d` (::/96, which also holds `::` and `::1`). The IPAM keeps one
 * address set per family, so `::ffff:10.0.0.1` beside a pool over 10.0.0.0/24 would be the same
 * address twice. They are refused wherever an address or range enters (400, reason MappedAddress),
 * naming the IPv4 form to use instead; nothing is normalized silently.
 */
const IPV4_IN_IPV6: { start: bigint; end: bigint; what: string }[] = [
  { start: 0n, end: 0xffffffffn, what: 'IPv4-compatible (deprecated, ::/96)' },
  { start: 0xffffn << 32n, end: (0xffffn << 32n) | 0xffffffffn, what: 'IPv4-mapped (::ffff:0:0/96)' },
];

function refuseIpv4InIpv6(start: bigint, end: bigint, text: string): void {
  for (const b of IPV4_IN_IPV6) {
    if (start > b.end || end < b.start) continue;
    const lo = (start > b.start ? start : b.start) & 0xffffffffn;
    const hi = (end < b.end ? end : b.end) & 0xffffffffn;
    const v4 = lo === hi ? formatAddress(4, lo) : rangeText(4, lo, hi);
    throw new IpamError('MappedAddress', `${text} ${start === end ? 'is' : 'covers'} ${b.what} IPv6 space that names IPv4 ${v4}; use the IPv4 form (an address must have one name)`, { ipv4: v4 });
  }
}

/** Parses one IPv4 or IPv6 address (no prefix, no zone id). Leading zeros in IPv4 octets are refused as ambiguous; IPv4-mapped and -compatible IPv6 are refused. */
export function parseAddress(text: string): Address {
  const a = parseAnyAddress(text);
  if (a.family === 6) refuseIpv4InIpv6(a.value, a.value, text);
  return a;
}

function parseAnyAddress(text: string): Address {
  if (typeof text !== 'string' || text.length === 0 || text.length > 64) throw invalid(`not an IP address: ${JSON.stringify(String(text).slice(0, 64))}`);
  if (V4.test(text)) {
    const v = text.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
    return { family: 4, value: v };
  }
  if (text.includes(':') && /^[0-9A-Fa-f:.]+$/.test(text) && Address6.isValid(text)) {
    const a = new Address6(text);
    if (a.subnetMask !== 128) throw invalid(`not an IP address: ${text}`);
    return { family: 6, value: a.bigInt() };
  }
  throw invalid(`not an IP address: ${JSON.stringify(text.slice(0, 64))}`);
}

export function formatAddress(family: Family, value: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 255n)).join('.');
  }
  return Address6.fromBigInt(value).correctForm();
}

export function blockSize(family: Family, prefixLength: number): bigint {
  return 1n << BigInt(BITS[family] - prefixLength);
}

export function isAligned(value: bigint, size: bigint): boolean {
  return value % size === 0n;
}

export function cidrText(family: Family, start: bigint, prefixLength: number): string {
  return `${formatAddress(family, start)}/${prefixLength}`;
}

/** The prefix length of [start, end] when it is exactly one aligned block, else undefined. */
export function exactPrefix(family: Family, start: bigint, end: bigint): number | undefined {
  const size = end - start + 1n;
  if (size <= 0n || (size & (size - 1n)) !== 0n || start % size !== 0n) return undefined;
  return BITS[family] - (size.toString(2).length - 1);
}

export function parsePrefixLength(family: Family, text: string): number {
  if (!/^\d{1,3}$/.test(text)) throw invalid(`invalid prefix length: ${JSON.stringify(text)}`);
  const p = Number(text);
  if (p > BITS[family]) throw invalid(`prefix length /${p} is longer than an IPv${family} address`);
  return p;
}

/** Parses `10.0.0.0/16`, `10.1.0.10-10.1.0.99`, `10.2.0.5` and the IPv6 forms. */
export function parseRange(text: string): ParsedRange {
  const r = parseAnyRange(text);
  if (r.family === 6) refuseIpv4InIpv6(r.start, r.end, r.text);
  return r;
}

function parseAnyRange(text: string): ParsedRange {
  if (typeof text !== 'string' || text.length === 0 || text.length > 128) throw invalid(`invalid range: ${JSON.stringify(String(text).slice(0, 128))}`);
  const s = text.trim();
  const slash = s.indexOf('/');
  if (slash >= 0) {
    const a = parseAnyAddress(s.slice(0, slash));
    const p = parsePrefixLength(a.family, s.slice(slash + 1));
    const size = blockSize(a.family, p);
    if (!isAligned(a.value, size)) {
      const net = a.value - (a.value % size);
      throw invalid(`${s} has host bits set; did you mean ${cidrText(a.family, net, p)}?`);
    }
    return { family: a.family, start: a.value, end: a.value + size - 1n, text: cidrText(a.family, a.value, p) };
  }
  const dash = s.indexOf('-');
  if (dash >= 0) {
    const a = parseAnyAddress(s.slice(0, dash).trim());
    const b = parseAnyAddress(s.slice(dash + 1).trim());
    if (a.family !== b.family) throw invalid(`range ${s} mixes IPv4 and IPv6`);
    if (b.value < a.value) throw invalid(`range ${s} is reversed: its end comes before its start`);
    return { family: a.family, start: a.value, end: b.value, text: rangeText(a.family, a.value, b.value) };
  }
  const a = parseAnyAddress(s);
  return { family: a.family, start: a.value, end: a.value, text: formatAddress(a.family, a.value) };
}

/**
 * Parses a CIDR (`10.20.0.0/24`, `2001:db8::/64`): an address with a prefix length and no host bits
 * set (400 naming the canonical form otherwise). IPv6 blocks inside IPv4-mapped or -compatible space
 * are refused as everywhere; with `covering`, a wider block that merely contains that space (a route
 * to `::/0`) is accepted, since it names no IPv4 address.
 */
export function parseCidr(text: string, what = 'cidr', covering = false): ParsedRange & { prefixLength: number } {
  if (typeof text !== 'string' || !text.includes('/')) throw invalid(`${what} must be a CIDR such as 10.20.0.0/24 or 2001:db8:1::/64; got ${JSON.stringify(String(text).slice(0, 64))}`);
  const r = parseAnyRange(text);
  if (r.family === 6 && !(covering && IPV4_IN_IPV6.some((b) => r.start <= b.start && r.end >= b.end))) refuseIpv4InIpv6(r.start, r.end, r.text);
  return { ...r, prefixLength: Number(r.text.split('/')[1]) };
}

/** The shortest text for [start, end]: a single address, a CIDR when it is one aligned block, else a span. */
export function rangeText(family: Family, start: bigint, end: bigint): string {
  if (start === end) return formatAddress(family, start);
  const p = exactPrefix(family, start, end);
  if (p !== undefined) return cidrText(family, start, p);
  return `${formatAddress(family, start)}-${formatAddress(family, end)}`;
}

/** Parses a list of ranges of one family. Throws on mixed families. */
export function parseRanges(texts: readonly string[], what = 'ranges'): { family: Family | undefined; ranges: ParsedRange[] } {
  const ranges = texts.map((t) => parseRange(t));
  const family = ranges[0]?.family;
  for (const r of ranges) {
    if (r.family !== family) throw invalid(`${what} mix IPv4 and IPv6 (${ranges[0]!.text} and ${r.text}); a pool holds one address family`);
  }
  return { family, ranges };
}

/** Sorts and merges overlapping or adjacent segments. */
export function normalize(segments: readonly Segment[]): Segment[] {
  const sorted = [...segments].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: Segment[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s.start <= last.end + 1n) {
      if (s.end > last.end) last.end = s.end;
    } else out.push({ start: s.start, end: s.end });
  }
  return out;
}

/** The first pair of overlapping segments in a list (not merged), if any. */
export function findOverlap<T extends Segment>(segments: readonly T[]): [T, T] | undefined {
  const sorted = [...segments].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.start <= sorted[i - 1]!.end) return [sorted[i - 1]!, sorted[i]!];
  }
  return undefined;
}

export function overlaps(a: Segment, b: Segment): boolean {
  return a.start <= b.end && b.start <= a.end;
}

/** a minus b, both normalized; the result is normalized. */
export function subtract(a: readonly Segment[], b: readonly Segment[]): Segment[] {
  const out: Segment[] = [];
  let j = 0;
  for (const seg of a) {
    let cur = seg.start;
    while (j < b.length && b[j]!.end < cur) j++;
    let k = j;
    while (k < b.length && b[k]!.start <= seg.end) {
      const x = b[k]!;
      if (x.start > cur) out.push({ start: cur, end: x.start - 1n });
      if (x.end + 1n > cur) cur = x.end + 1n;
      if (cur > seg.end) break;
      k++;
    }
    if (cur <= seg.end) out.push({ start: cur, end: seg.end });
  }
  return out;
}

/** a intersected with b, both normalized. */
export function intersect(a: readonly Segment[], b: readonly Segment[]): Segment[] {
  const out: Segment[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const s = a[i]!.start > b[j]!.start ? a[i]!.start : b[j]!.start;
    const e = a[i]!.end < b[j]!.end ? a[i]!.end : b[j]!.end;
    if (s <= e) out.push({ start: s, end: e });
    if (a[i]!.end < b[j]!.end) i++;
    else j++;
  }
  return out;
}

export function totalSize(segments: readonly Segment[]): bigint {
  return segments.reduce((n, s) => n + (s.end - s.start + 1n), 0n);
}

/** Whether [start, end] lies inside one of the (normalized) segments. */
export function containsSpan(segments: readonly Segment[], start: bigint, end: bigint): boolean {
  let lo = 0;
  let hi = segments.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = segments[mid]!;
    if (start < s.start) hi = mid - 1;
    else if (start > s.end) lo = mid + 1;
    else return end <= s.end;
  }
  return false;
}

/**
 * Maps an index in [0, size) onto the index-th address of normalized segments, given
 * cumulative sizes (`offsets[i]` = number of addresses before segment i).
 */
export function addressAt(segments: readonly Segment[], offsets: readonly bigint[], index: bigint): bigint {
  const i = segmentOf(offsets, index);
  return segments[i]!.start + (index - offsets[i]!);
}

/** The last i with offsets[i] <= index (offsets ascending, offsets[0] = 0). */
export function segmentOf(offsets: readonly bigint[], index: bigint): number {
  let lo = 0;
  let hi = offsets.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid]! <= index) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export function cumulativeOffsets(segments: readonly Segment[]): bigint[] {
  const out: bigint[] = [];
  let n = 0n;
  for (const s of segments) {
    out.push(n);
    n += s.end - s.start + 1n;
  }
  return out;
}

/** A uniformly random bigint in [0, n), drawn from `random` (uniform in [0, 1)). */
export function randomBelow(n: bigint, random: () => number = Math.random): bigint {
  if (n <= 0n) throw new RangeError('randomBelow needs n > 0');
  if (n <= BigInt(Number.MAX_SAFE_INTEGER)) return BigInt(Math.floor(random() * Number(n)));
  const bits = n.toString(2).length;
  for (;;) {
    let r = 0n;
    for (let b = 0; b < bits; b += 30) r = (r << 30n) | BigInt(Math.floor(random() * 2 ** 30));
    r &= (1n << BigInt(bits)) - 1n;
    if (r < n) return r;
  }
}

/**
 * Collapses addresses (any order, duplicates allowed) into the fewest ranges, in order:
 * contiguous runs become one range each (CIDR text when the run is one aligned block).
 */
export function collapse(family: Family, values: Iterable<bigint>): string[] {
  const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: string[] = [];
  let start: bigint | undefined;
  let prev = 0n;
  for (const v of sorted) {
    if (start !== undefined && (v === prev || v === prev + 1n)) {
      prev = v;
      continue;
    }
    if (start !== undefined) out.push(rangeText(family, start, prev));
    start = v;
    prev = v;
  }
  if (start !== undefined) out.push(rangeText(family, start, prev));
  return out;
}

/** Decimal string for counts that may exceed 2^53 (IPv6). */
export const count = (n: bigint): string => n.toString();
