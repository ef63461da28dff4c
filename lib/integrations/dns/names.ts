/**
 * DNS names: validation and normalisation of host and domain names, reverse-zone naming
 * (IPv4 at /24 boundaries under in-addr.arpa, IPv6 at /64 nibble boundaries under ip6.arpa),
 * and the RNAME form of a hostmaster address. Pure and synchronous.
 */
import { formatAddress, parseAddress, type Family } from '../../core/ip.js';

const LABEL_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** A lowercase name without the trailing dot, or undefined when it is not a valid host/domain name. */
export function normalizeName(name: string): string | undefined {
  if (typeof name !== 'string') return undefined;
  const n = name.toLowerCase().replace(/\.$/, '');
  if (n.length === 0 || n.length > 253) return undefined;
  return n.split('.').every((l) => LABEL_RE.test(l)) ? n : undefined;
}

/** `name` equals `zone` or lies below it. */
export const isUnder = (name: string, zone: string) => name === zone || name.endsWith(`.${zone}`);

/** The owner of `fqdn` relative to `$ORIGIN zone` (`@` for the apex). */
export function relativeOwner(fqdn: string, zone: string): string {
  return fqdn === zone ? '@' : fqdn.slice(0, fqdn.length - zone.length - 1);
}

/** Prefix length at which reverse zones are cut, per family. */
export const REVERSE_CUT: Record<Family, number> = { 4: 24, 6: 64 };

/** The reverse zone of an address and the address's owner name relative to it. */
export function reverseName(family: Family, value: bigint): { zone: string; owner: string } {
  if (family === 4) {
    const o = [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 255n));
    return { zone: `${o[2]}.${o[1]}.${o[0]}.in-addr.arpa`, owner: o[3]! };
  }
  const nibbles = value.toString(16).padStart(32, '0').split('').reverse();
  return { zone: `${nibbles.slice(16).join('.')}.ip6.arpa`, owner: nibbles.slice(0, 16).join('.') };
}

/** The network a reverse zone name covers, or undefined when the name is not one of ours (/24 or /64). */
export function parseReverseZone(zone: string): { family: Family; start: bigint; end: bigint } | undefined {
  const z = zone.toLowerCase().replace(/\.$/, '');
  let m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/.exec(z);
  if (m) {
    const octets = [m[3]!, m[2]!, m[1]!];
    if (octets.some((o) => (o.length > 1 && o.startsWith('0')) || Number(o) > 255)) return undefined;
    const start = octets.reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n) << 8n;
    return { family: 4, start, end: start + 255n };
  }
  m = /^((?:[0-9a-f]\.){16})ip6\.arpa$/.exec(z);
  if (m) {
    const hex = m[1]!.split('.').filter(Boolean).reverse().join('');
    const start = BigInt('0x' + hex) << 64n;
    return { family: 6, start, end: start + (1n << 64n) - 1n };
  }
  return undefined;
}

export const isReverseZone = (zone: string) => /\.arpa$/.test(zone.toLowerCase().replace(/\.$/, ''));

/** The network of a reverse zone as CIDR text (for messages and documents). */
export function reverseZoneCidr(zone: string): string | undefined {
  const r = parseReverseZone(zone);
  return r ? `${formatAddress(r.family, r.start)}/${REVERSE_CUT[r.family]}` : undefined;
}

/**
 * The SOA RNAME of a hostmaster: `hostmaster@example.com` (dots in the local part are escaped)
 * or already in DNS form (`hostmaster.example.com.`). Undefined when invalid.
 */
export function rname(text: string): string | undefined {
  const at = text.indexOf('@');
  if (at < 0) {
    const n = normalizeName(text);
    return n && n.includes('.') ? `${n}.` : undefined;
  }
  const local = text.slice(0, at);
  const domain = normalizeName(text.slice(at + 1));
  if (!domain || !/^[A-Za-z0-9._+-]{1,63}$/.test(local) || local.startsWith('.') || local.endsWith('.')) return undefined;
  return `${local.toLowerCase().replace(/\./g, '\\.')}.${domain}.`;
}

/** Parses an address given in configuration (glue): canonical text and family. */
export function configAddress(text: string): { family: Family; address: string } {
  const a = parseAddress(text.trim());
  return { family: a.family, address: formatAddress(a.family, a.value) };
}
