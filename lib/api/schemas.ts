/**
 * The API's schemas: one source of truth for request validation and the OpenAPI document.
 */
import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import * as z from 'zod';
import { NETWORK_LIMITS } from '../core/network.js';
import { ALLOCATION_NAME_RE, DOMAIN_RE, HOLDER_ID_RE, HOSTNAME_RE, LIMITS, MAC_RE, NAME_RE } from '../core/validate.js';

extendZodWithOpenApi({ ZodType: z.ZodType } as unknown as typeof z); // only ZodType is used; not `z` itself: a namespace passed as a value keeps all of zod (its 260 KB of locales) in the Lambda bundles

export const Name = z.string().regex(NAME_RE, 'must be 1-63 characters of a-z, 0-9 and -, starting with a letter or digit');
export const HolderId = z.string().regex(HOLDER_ID_RE, 'must be 1-128 characters of [A-Za-z0-9._:-]');
export const AllocationName = z.string().regex(ALLOCATION_NAME_RE, 'must be 1-128 characters of [A-Za-z0-9._:-]');
const MacAddress = z.string().regex(MAC_RE, 'must be a MAC address like 52:54:00:12:34:56').openapi({ description: 'unique per network (for a pool outside networks: per pool); a MAC held already: 409 MacTaken' });
const HostName = z
  .string()
  .regex(HOSTNAME_RE, 'must be a host name like web-1042 or web-1042.prod.example.com')
  .openapi({ description: "a single label (web-1042), or an FQDN in the pool's domain (web-1042.<domain>), else 400 HostnameOutsideDomain; unique within the domain (409 HostnameTaken)" });
const DnsSettings = z.object({ domain: z.string().regex(DOMAIN_RE, 'must be a DNS domain like prod.example.com').max(253) }).strict();
export const RangeText = z.string().min(1).max(128).openapi({ description: 'CIDR (10.0.0.0/16), span (10.1.0.10-10.1.0.99) or single address; IPv4 or IPv6', example: '10.0.0.0/24' });
export const Tags = z.record(z.string().min(1).max(LIMITS.tagKey), z.string().max(LIMITS.tagValue)).refine((t) => Object.keys(t).length <= LIMITS.tags, `at most ${LIMITS.tags} tags`);
export const Metadata = z.record(z.string(), z.unknown()).openapi({ description: `free-form JSON object, at most ${LIMITS.metadataBytes} bytes and ${LIMITS.metadataDepth} levels deep` });
const Prefix = z.number().int().min(0).max(128);

/** A network of the pool's own zone (the pool's ranges lie in its CIDR; its reserved addresses are never allocated). */
const PoolNetwork = Name.openapi({ description: "a network of the pool's zone: the ranges must lie in its CIDR; its network address, IPv4 broadcast and gateway are never allocated; the pool's hosts take its DNS domain" });

export const PoolBody = z
  .object({
    ranges: z.array(RangeText).min(1).max(LIMITS.rangesPerPool),
    exclude: z.array(RangeText).max(LIMITS.excludesPerPool).optional(),
    prefixLength: Prefix.optional().openapi({
      description:
        'default prefix length of allocations (kubipam chunkSize); in a prefix pool the one block size. A length whose blocks exceed 64 chunks (IPv4 shorter than /18, IPv6 shorter than /114) makes a prefix pool',
    }),
    prefixPool: z
      .boolean()
      .optional()
      .openapi({ description: 'a prefix pool hands out blocks of prefixLength only (IPv4 /8-/30, IPv6 /16-/126), at constant cost whatever their size; ranges (up to an IPv4 /8 or IPv6 /16) and exclude entries must be whole blocks; no network' }),
    quarantineSeconds: z.number().int().min(0).max(LIMITS.quarantineSeconds).optional(),
    dns: DnsSettings.optional(),
    network: PoolNetwork.optional(),
    tags: Tags.optional(),
    metadata: Metadata.optional(),
  })
  .strict()
  .openapi('PoolDefinition');

export const PoolPatchBody = z
  .object({
    addRanges: z.array(RangeText).max(LIMITS.rangesPerPool).optional(),
    removeRanges: z.array(RangeText).max(LIMITS.rangesPerPool).optional(),
    addExclude: z.array(RangeText).max(LIMITS.excludesPerPool).optional(),
    removeExclude: z.array(RangeText).max(LIMITS.excludesPerPool).optional(),
    prefixLength: Prefix.nullable().optional().openapi({ description: 'the default prefix length of future allocations (null: single addresses); existing allocations keep theirs' }),
    quarantineSeconds: z.number().int().min(0).max(LIMITS.quarantineSeconds).nullable().optional().openapi({ description: 'for releases from now on (0 or null: none); addresses already in quarantine keep their time' }),
    dns: DnsSettings.nullable().optional().openapi({ description: 'the domain of the pool in DNS exports from now on (null: none); not for a pool in a network' }),
    network: Name.nullable().optional().openapi({ description: "move the pool into this network of its zone (its reserved addresses must be free: 409 RangeInUse otherwise), or out of its network (null)" }),
    tags: Tags.optional(),
    metadata: Metadata.optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, 'nothing to change: give addRanges, removeRanges, addExclude, removeExclude, prefixLength, quarantineSeconds, dns, network, tags or metadata')
  .openapi('PoolPatch');

/** What pools and networks answer besides their definition: tags, metadata, who made and changed them, when. */
const Stamped = { tags: z.record(z.string(), z.string()), metadata: Metadata, createdAt: z.string(), createdBy: z.string(), updatedAt: z.string(), updatedBy: z.string() };

export const Pool = z
  .object({
    cloud: Name,
    zone: Name,
    name: Name,
    family: z.union([z.literal(4), z.literal(6)]),
    ranges: z.array(z.string()),
    exclude: z.array(z.string()),
    prefixLength: z.number().int().optional(),
    prefixPool: z.literal(true).optional().openapi({ description: 'a prefix pool: it hands out blocks of prefixLength only' }),
    quarantineSeconds: z.number().int().optional(),
    dns: z.object({ domain: z.string() }).optional(),
    network: z.string().optional(),
    reserved: z.array(z.string()).optional().openapi({ description: "with network: the network's addresses the pool never hands out (network address, IPv4 broadcast, gateway)" }),
    size: z.string().openapi({ description: 'allocatable addresses, decimal string (IPv6 counts exceed 2^53)' }),
    allocated: z.string(),
    free: z.string(),
    blocks: z
      .object({ size: z.string(), allocated: z.string(), free: z.string() })
      .optional()
      .openapi({ description: "a prefix pool's usage in blocks (size, allocated and free above count addresses)" }),
    ...Stamped,
  })
  .openapi('Pool');

/** What an allocation request carries besides where it is (the pool route's body, less `address`; the zone route's too). */
export const AllocateFields = {
  vm: HolderId.optional(),
  vip: HolderId.optional(),
  name: AllocationName.optional().openapi({ description: 'NIC or role; default "default"' }),
  prefixLength: Prefix.optional(),
  mac: MacAddress.optional(),
  hostname: HostName.optional(),
  tags: Tags.optional(),
  metadata: Metadata.optional(),
};
export const oneHolder = { message: 'exactly one of vm or vip is required', path: ['vm'] };

export const AllocateBody = z
  .object({
    ...AllocateFields,
    address: z.string().min(1).max(64).optional().openapi({ description: 'a specific address, or a block as CIDR' }),
  })
  .strict()
  .refine((b) => (b.vm === undefined) !== (b.vip === undefined), oneHolder)
  .openapi('AllocationRequest');

export const AllocationPatchBody = z
  .object({
    mac: MacAddress.nullable().optional(),
    hostname: HostName.nullable().optional(),
    tags: Tags.optional(),
    metadata: Metadata.optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, 'nothing to change: give mac, hostname, tags or metadata')
  .openapi('AllocationPatch');

// ---------------------------------------------------------------- networks

const Route = z.object({ to: z.string().min(1).max(64).openapi({ example: '192.168.0.0/16' }), via: z.string().min(1).max(64).openapi({ example: '10.20.0.254' }) });
const NETWORK_FIELDS = {
  gateway: z.string().min(1).max(64).openapi({ description: 'in the CIDR; for IPv6 it may be link-local (fe80::/10)', example: '10.20.0.1' }),
  dnsServers: z.array(z.string().min(1).max(64)).max(NETWORK_LIMITS.dnsServers).openapi({ example: ['10.20.0.53'] }),
  searchDomains: z.array(z.string().min(1).max(253)).max(NETWORK_LIMITS.searchDomains).openapi({ example: ['prod.example.com'] }),
  ntpServers: z.array(z.string().min(1).max(253)).max(NETWORK_LIMITS.ntpServers).openapi({ description: 'addresses or host names' }),
  mtu: z.number().int().min(68).max(9216).openapi({ description: '68-9216; IPv6 at least 1280' }),
  vlan: z.number().int().min(1).max(4094),
  routes: z.array(Route.strict()).max(NETWORK_LIMITS.routes).openapi({ description: 'static routes: `via` in the CIDR (IPv6: or link-local)' }),
  dns: DnsSettings.openapi({ description: "the forward domain of the network's hosts: one network (or pool) of the cloud owns it; no other zone may own it, a parent or a subdomain of it" }),
  tags: Tags,
  metadata: Metadata,
};
const NetworkCidr = z.string().min(1).max(64).openapi({ description: 'the on-link subnet, canonical (no host bits set)', example: '10.20.0.0/24' });

export const NetworkBody = z.object(NETWORK_FIELDS).partial().extend({ cidr: NetworkCidr }).strict().openapi('NetworkDefinition');

type NullableOptional<T extends Record<string, z.ZodType>> = { [K in keyof T]: z.ZodOptional<z.ZodNullable<T[K]>> };
const nullableOptional = <T extends Record<string, z.ZodType>>(shape: T) => Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, v.nullable().optional()])) as NullableOptional<T>;

export const NetworkPatchBody = z
  .object({ cidr: NetworkCidr.optional().openapi({ description: 'only while no pool uses the network' }), ...nullableOptional(NETWORK_FIELDS) })
  .strict()
  .refine((b) => Object.keys(b).length > 0, `nothing to change: give cidr, ${Object.keys(NETWORK_FIELDS).join(', ')}`)
  .openapi('NetworkPatch');

/** What every allocation of a pool in a network carries: the NIC configuration. */
export const NicNetwork = z
  .object({
    name: z.string(),
    cidr: z.string(),
    prefixLength: z.number().int(),
    gateway: z.string().optional(),
    dnsServers: z.array(z.string()),
    searchDomains: z.array(z.string()),
    ntpServers: z.array(z.string()),
    mtu: z.number().int().optional(),
    vlan: z.number().int().optional(),
    routes: z.array(Route),
  })
  .openapi('NicNetwork');

/** A network as the API answers it: the NIC configuration, plus where it is, its DNS domain, tags and stamps. */
export const Network = NicNetwork.extend({
  cloud: Name,
  zone: Name,
  name: Name,
  family: z.union([z.literal(4), z.literal(6)]),
  dns: z.object({ domain: z.string() }).optional(),
  ...Stamped,
}).openapi('Network');

export const NetworkListQuery = z.object({ zone: Name.optional() }).strict();

export const Allocation = z
  .object({
    address: z.string(),
    cidr: z.string(),
    prefixLength: z.number().int(),
    family: z.union([z.literal(4), z.literal(6)]),
    cloud: Name,
    zone: Name,
    pool: Name,
    vm: z.string().optional(),
    vip: z.string().optional(),
    name: z.string(),
    mac: z.string().optional(),
    hostname: z.string().optional(),
    tags: z.record(z.string(), z.string()),
    metadata: Metadata,
    allocatedAt: z.string(),
    allocatedBy: z.string(),
    updatedAt: z.string().optional(),
    updatedBy: z.string().optional(),
    version: z.number().int(),
    byZone: z.literal(true).optional().openapi({ description: "made by the zone route (POST .../zones/{zone}/allocations): it holds the zone's (holder, name), that route's idempotency key, until released" }),
    network: NicNetwork.optional().openapi({ description: "the network of the allocation's pool, when it is in one: everything a NIC needs (prefix length, gateway, DNS, NTP, MTU, VLAN, routes)" }),
  })
  .openapi('Allocation');

export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    reason: z.string().optional(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi('Problem');

export const GatewayError = z.object({ message: z.string() }).openapi('GatewayError');

export const PageQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(LIMITS.pageSize).optional(),
    cursor: z.string().max(128).optional(),
  })
  .strict();

export const HolderGuardQuery = z
  .object({ vm: HolderId.optional(), vip: HolderId.optional() })
  .strict()
  .refine((q) => !(q.vm !== undefined && q.vip !== undefined), 'give vm or vip, not both');

export const PoolListQuery = z.object({ zone: Name.optional() }).strict();
export const NoQuery = z.object({}).strict();

export const Items = <T extends z.ZodTypeAny>(t: T) => z.object({ items: z.array(t) });
export const PageOf = <T extends z.ZodTypeAny>(t: T) => z.object({ items: z.array(t), cursor: z.string().optional() });

/** Per-zone limits of a cloud. maxAddresses: a whole number (a string for counts beyond 2^53, as pool sizes are). */
export const LimitsBody = z
  .object({
    zones: z
      .record(Name, z.object({ maxAddresses: z.union([z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.string().regex(/^(0|[1-9]\d{0,38})$/, 'must be a whole number')]).transform(String) }).strict())
      .refine((z) => Object.keys(z).length <= 1000, 'at most 1000 zones'),
  })
  .strict()
  .openapi('LimitsDefinition');

export const Limits = z
  .object({ zones: z.record(z.string(), z.object({ maxAddresses: z.string().openapi({ example: '65536' }) })) })
  .openapi('Limits');
