/**
 * Property-based tests of the address math (fast-check).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Address4, Address6 } from 'ip-address';
import { IpamError } from '../lib/errors.js';
import { blockSize, BITS, collapse, containsSpan, formatAddress, intersect, MAX, normalize, parseAddress, parseRange, subtract, totalSize, type Family, type Segment } from '../lib/ip.js';

const v4 = fc.bigInt({ min: 0n, max: MAX[4] });
const v6 = fc.oneof(
  fc.bigInt({ min: 0n, max: MAX[6] }),
  fc.constantFrom(0n, 1n, MAX[6], MAX[6] - 1n, 0xffff00000000n, 0xffffffffffffn, 0xffff00000001n), // ::, ::1, top, ::ffff:0:0/96 edges
  fc.bigInt({ min: 0xffff00000000n, max: 0xffffffffffffn }), // IPv4-mapped
);
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
    expect(parseAddress('::').value).toBe(0n);
    expect(parseAddress('::ffff:10.0.0.1')).toEqual({ family: 6, value: 0xffff0a000001n });
    expect(parseRange('::ffff:0:0/96')).toMatchObject({ start: 0xffff00000000n, end: 0xffffffffffffn, text: '::ffff:0:0/96' });
    expect(parseRange('ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124').end).toBe(MAX[6]);
    expect(parseRange('::/0')).toMatchObject({ start: 0n, end: MAX[6] });
  });

  it('never throws anything but a typed InvalidInput on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('1.2.3.4/', '/8', '-', '1.2.3.4-', '::/129', '1.2.3.4/-1', '1.2.3.04', '1.2.3.4%eth0', 'fe80::1%1', '1..2.3', '0x1.2.3.4', '１.２.３.４')), (s) => {
        try {
          parseRange(s);
        } catch (e) {
          expect(e).toBeInstanceOf(IpamError);
          expect((e as IpamError).reason).toBe('InvalidInput');
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
      fc.property(fc.array(fc.bigInt({ min: 0n, max: 4000n }), { maxLength: 400 }), fc.oneof(fc.constant(0n), fc.constant(0xffff_ffff_0000n)), (xs, offset) => {
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
