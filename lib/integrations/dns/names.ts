/**
 * DNS names: host and domain names (normalisation, owners relative to a zone) and reverse-zone naming.
 * Pure and synchronous.
 *
 * Reverse zones are cut at octet (IPv4, `in-addr.arpa`) or nibble (IPv6, `ip6.arpa`) boundaries.
 * `zoneAt(family, value, cut)` names the zone of the `cut`-bit prefix holding `value` and `ownerAt` the
 * value's owner name inside it. IPv4 zones of a network longer than /24 follow RFC 2317 and are named
 * `<first>-<last>.<c>.<b>.<a>.in-addr.arpa` (the hyphen form: `/` is not safe in file names and URLs).
 */
import { BITS, type Family } from '../../core/ip.js';

export { fqdn, isReverseZone, isUnder, normalizeName, rname } from '../../core/dns.js';

/** The owner of `fqdn` relative to `$ORIGIN zone` (`@` for the apex). */
export function relativeOwner(fqdn: string, zone: string): string {
  return fqdn === zone ? '@' : fqdn.slice(0, fqdn.length - zone.length - 1);
}

/** Bits per label of a reverse name: an octet or a nibble. */
export const REVERSE_STEP: Record<Family, number> = { 4: 8, 6: 4 };
/** Where reverse zones are cut for pools outside networks (as before networks existed). */
export const REVERSE_CUT: Record<Family, number> = { 4: 24, 6: 64 };
const SUFFIX: Record<Family, string> = { 4: 'in-addr.arpa', 6: 'ip6.arpa' };

/** The labels of an address, most significant first: octets in decimal, or nibbles in hex. */
function labelsOf(family: Family, value: bigint): string[] {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 255n));
  return value.toString(16).padStart(32, '0').split('');
}

/** The reverse zone of the `cut`-bit prefix (a multiple of 8 or 4, at least one label) that holds `value`. */
export function zoneAt(family: Family, value: bigint, cut: number): string {
  const n = cut / REVERSE_STEP[family];
  return [...labelsOf(family, value).slice(0, n).reverse(), SUFFIX[family]].join('.');
}

/** `value`'s owner name inside the reverse zone of its `cut`-bit prefix (`@` when the zone is the address). */
export function ownerAt(family: Family, value: bigint, cut: number): string {
  const n = cut / REVERSE_STEP[family];
  const rest = labelsOf(family, value).slice(n).reverse();
  return rest.length ? rest.join('.') : '@';
}

/** The legacy reverse zone of an address (/24, /64) and the address's owner name relative to it. */
export function reverseName(family: Family, value: bigint): { zone: string; owner: string } {
  const cut = REVERSE_CUT[family];
  return { zone: zoneAt(family, value, cut), owner: ownerAt(family, value, cut) };
}

/** The RFC 2317 zone of an IPv4 network longer than /24 (`64-127.0.2.10.in-addr.arpa` for 10.2.0.64/26). */
export function classlessZone(start: bigint, prefixLength: number): string {
  const first = start & 255n;
  const last = first + (1n << BigInt(32 - prefixLength)) - 1n;
  return `${first}-${last}.${zoneAt(4, start, 24)}`;
}

const OCTET = /^(0|[1-9]\d{0,2})$/;

/** The addresses a reverse zone name covers, or undefined when it is not a reverse zone we could generate. */
export function parseReverseZone(zone: string): { family: Family; start: bigint; end: bigint } | undefined {
  const labels = zone.toLowerCase().replace(/\.$/, '').split('.');
  const tail = labels.slice(-2).join('.');
  const body = labels.slice(0, -2);
  if (tail === SUFFIX[4]) {
    let classless: [bigint, bigint] | undefined;
    if (body[0]?.includes('-')) {
      const m = /^(\d{1,3})-(\d{1,3})$/.exec(body[0]);
      if (!m || !OCTET.test(m[1]!) || !OCTET.test(m[2]!) || body.length !== 4) return undefined;
      classless = [BigInt(m[1]!), BigInt(m[2]!)];
      const size = classless[1] - classless[0] + 1n;
      // A CIDR block of the /24: a power-of-two size at an aligned start, longer than /24.
      if (classless[1] > 255n || size < 1n || size >= 256n || (size & (size - 1n)) !== 0n || classless[0] % size !== 0n) return undefined;
      body.shift();
    }
    if (body.length < 1 || body.length > 4 || !body.every((o) => OCTET.test(o) && Number(o) <= 255)) return undefined;
    const free = BigInt(8 * (4 - body.length));
    const start = body.reverse().reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n) << free;
    if (classless) return { family: 4, start: start | classless[0], end: start | classless[1] };
    return { family: 4, start, end: start + (1n << free) - 1n };
  }
  if (tail === SUFFIX[6]) {
    if (body.length < 1 || body.length > 32 || !body.every((n) => /^[0-9a-f]$/.test(n))) return undefined;
    const free = BigInt(BITS[6] - 4 * body.length);
    const start = BigInt('0x' + body.reverse().join('')) << free;
    return { family: 6, start, end: start + (1n << free) - 1n };
  }
  return undefined;
}
