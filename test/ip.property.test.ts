/**
 * Property-based tests of the address math (fast-check).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Address4, Address6 } from 'ip-address';
import { IpamError } from '../lib/core/errors.js';
import { blockSize, BITS, collapse, containsSpan, formatAddress, intersect, MAX, normalize, parseAddress, parseRange, subtract, totalSize, type Family, type Segment } from '../lib/core/ip.js';

const v4 = fc.bigInt({ min: 0n, max: MAX[4] });
/** IPv4-compatible ::/96 and IPv4-mapped ::ffff:0:0/96 are refused (MappedAddress): see their own test. */
const inIpv4Block = (v: bigint) => v <= 0xffffffffn || (v >= 0xffff00000000n && v <= 0xffffffffffffn);
const v6 = fc
  .oneof(
    fc.bigInt({ min: 0n, max: MAX[6] }),
    fc.constantFrom(0x100000000n, 0xfffeffffffffn, 0x1000000000000n, MAX[6], MAX[6] - 1n), // just outside both blocks, top
    fc.bigInt({ min: 0xfffe00000000n, max: 0x1000100000000n }), // around IPv4-mapped
  )
  .filter((v) => !inIpv4Block(v));
const familyValue = fc.oneof(v4.map((v) => ({ family: 4 as Family, value: v })), v6.map((v) => ({ family: 6 as Family, value: v })));

const segs = (family: Family) =>
  fc.array(fc.tuple(family === 4 ? v4 : v6, fc.bigInt({ min: 0n, max: 5000n })), { maxLength: 12 }).map((xs) => xs.map(([s, n]) => ({ start: s, end: s + n > MAX[family] ? MAX[family] : s + n })));

/** Brute-force membership for small spaces. */
const members = (ss: Segment[]) => {
  const out = new Set<bigint>();
  for (const s of ss) for (let v = s.start; v <= s.end; v++) out.add(v);
  return out;
};

describe('address parsing and formatting', () => {
  it('round-trips every address through its canonical text, agreeing with ip-address', () => {
    fc.assert(
      fc.property(familyValue, ({ family, value }) => {
        const text = formatAddress(family, value);
        expect(parseAddress(text)).toEqual({ family, value });
        const ref = family === 4 ? Address4.fromBigInt(value).correctForm() : Address6.fromBigInt(value).correctForm();
        expect(text).toBe(ref);
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts uppercase and uncompressed IPv6 as the same address', () => {
    fc.assert(
      fc.property(v6, (value) => {
        const full = value.toString(16).padStart(32, '0').match(/.{4}/g)!.join(':').toUpperCase();
        expect(parseAddress(full)).toEqual({ family: 6, value });
      }),
    );
  });

  it('parses the IPv6 edge cases', () => {
    expect(parseAddress('::1:0:0:0')).toEqual({ family: 6, value: 0x1000000000000n });
    expect(parseRange('ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124').end).toBe(MAX[6]);
    expect(parseRange('8000::/1')).toMatchObject({ start: 1n << 127n, end: MAX[6] });
  });

  it('refuses IPv4-mapped and IPv4-compatible IPv6, as addresses and inside ranges, naming the IPv4 form', () => {
    fc.assert(
      fc.property(fc.oneof(fc.bigInt({ min: 0n, max: 0xffffffffn }), fc.bigInt({ min: 0xffff00000000n, max: 0xffffffffffffn })), (value) => {
        const v4text = formatAddress(4, value & 0xffffffffn);
        for (const text of [formatAddress(6, value), `${formatAddress(6, value)}/128`, `${formatAddress(6, value)}-::1:0:0:0`]) {
          let err: unknown;
          try {
            parseRange(text);
          } catch (e) {
            err = e;
          }
          expect((err as IpamError).reason, text).toBe('MappedAddress');
        }
        expect(() => parseAddress(formatAddress(6, value))).toThrow(v4text);
      }),
    );
    for (const t of ['::', '::1', '::/0', '::ffff:10.0.0.1', '::ffff:0:0/96', '::fffe:ffff:ff00-::1:0:0:ff']) expect(() => parseRange(t), t).toThrow(IpamError);
  });

  it('never throws anything but a typed InvalidInput on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('1.2.3.4/', '/8', '-', '1.2.3.4-', '::/129', '1.2.3.4/-1', '1.2.3.04', '1.2.3.4%eth0', 'fe80::1%1', '1..2.3', '0x1.2.3.4', '１.２.３.４')), (s) => {
        try {
          parseRange(s);
        } catch (e) {
          expect(e).toBeInstanceOf(IpamError);
          expect(['InvalidInput', 'MappedAddress']).toContain((e as IpamError).reason);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('ranges', () => {
  it('CIDR parsing yields aligned blocks of the right size, and refuses host bits', () => {
    fc.assert(
      fc.property(familyValue, fc.nat(128), ({ family, value }, p0) => {
        const p = p0 % (BITS[family] + 1);
        const size = blockSize(family, p);
        const net = value - (value % size);
        if (family === 6 && (net <= 0xffffffffn || (net <= 0xffffffffffffn && net + size - 1n >= 0xffff00000000n))) return void expect(() => parseRange(`${formatAddress(family, net)}/${p}`)).toThrow(/IPv4/);
        const r = parseRange(`${formatAddress(family, net)}/${p}`);
        expect(r.start).toBe(net);
        expect(r.end - r.start + 1n).toBe(size);
        expect(r.start % size).toBe(0n);
        if (value !== net) expect(() => parseRange(`${formatAddress(family, value)}/${p}`)).toThrow(/host bits/);
      }),
      { numRuns: 2000 },
    );
  });

  it('spans are inclusive, reversed spans are refused, and text round-trips', () => {
    fc.assert(
      fc.property(fc.oneof(fc.constant(4 as Family), fc.constant(6 as Family)), fc.bigInt({ min: 0n, max: MAX[4] }), fc.bigInt({ min: 0n, max: 100000n }), (family, a, n) => {
        if (family === 6) a += 1n << 64n; // clear of the refused IPv4-in-IPv6 blocks
        const b = a + n > MAX[family] ? MAX[family] : a + n;
        const r = parseRange(`${formatAddress(family, a)}-${formatAddress(family, b)}`);
        expect([r.start, r.end]).toEqual([a, b]);
        expect(parseRange(r.text)).toMatchObject({ start: a, end: b });
        if (b > a) expect(() => parseRange(`${formatAddress(family, b)}-${formatAddress(family, a)}`)).toThrow(/reversed/);
      }),
    );
  });

  it('normalize, subtract and intersect agree with brute-force set arithmetic', () => {
    fc.assert(
      fc.property(segs(4), segs(4), (a0, b0) => {
        const small = (ss: Segment[]) => ss.map((s) => ({ start: s.start % 3000n, end: (s.start % 3000n) + ((s.end - s.start) % 300n) }));
        const a = normalize(small(a0));
        const b = normalize(small(b0));
        const A = members(a);
        const B = members(b);
        for (let i = 1; i < a.length; i++) expect(a[i]!.start > a[i - 1]!.end + 1n).toBe(true);
        expect(members(subtract(a, b))).toEqual(new Set([...A].filter((x) => !B.has(x))));
        expect(members(intersect(a, b))).toEqual(new Set([...A].filter((x) => B.has(x))));
        expect(totalSize(a)).toBe(BigInt(A.size));
        for (const x of [...A].slice(0, 20)) expect(containsSpan(a, x, x)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('collapse turns any address list into the fewest ranges that hold exactly those addresses', () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: 4000n }), { maxLength: 400 }), fc.oneof(fc.constant(0n), fc.constant(0x1_0000_0000_0000n)), (xs, offset) => {
        const values = xs.map((x) => x + offset);
        const family: Family = offset === 0n ? 4 : 6;
        const ranges = collapse(family, values);
        const back = new Set<bigint>();
        for (const r of ranges.map((t) => parseRange(t))) for (let v = r.start; v <= r.end; v++) back.add(v);
        expect(back).toEqual(new Set(values));
        // fewest: no two ranges touch
        const parsed = ranges.map((t) => parseRange(t));
        for (let i = 1; i < parsed.length; i++) expect(parsed[i]!.start > parsed[i - 1]!.end + 1n).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
