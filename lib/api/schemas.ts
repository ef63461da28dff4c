/**
 * The API's schemas: one source of truth for request validation and the OpenAPI document.
 */
import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import * as z from 'zod';
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

export const PoolBody = z
  .object({
    ranges: z.array(RangeText).min(1).max(LIMITS.rangesPerPool),
    exclude: z.array(RangeText).max(LIMITS.excludesPerPool).optional(),
    prefixLength: Prefix.optional().openapi({ description: 'default prefix length of allocations (kubipam chunkSize)' }),
    quarantineSeconds: z.number().int().min(0).max(LIMITS.quarantineSeconds).optional(),
    dns: DnsSettings.optional(),
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
    dns: DnsSettings.nullable().optional().openapi({ description: 'the domain of the pool in DNS exports from now on (null: none)' }),
    tags: Tags.optional(),
    metadata: Metadata.optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, 'nothing to change: give addRanges, removeRanges, addExclude, removeExclude, prefixLength, quarantineSeconds, dns, tags or metadata')
  .openapi('PoolPatch');

export const Pool = z
  .object({
    cloud: Name,
    zone: Name,
    name: Name,
    family: z.union([z.literal(4), z.literal(6)]),
    ranges: z.array(z.string()),
    exclude: z.array(z.string()),
    prefixLength: z.number().int().optional(),
    quarantineSeconds: z.number().int().optional(),
    dns: z.object({ domain: z.string() }).optional(),
    size: z.string().openapi({ description: 'allocatable addresses, decimal string (IPv6 counts exceed 2^53)' }),
    allocated: z.string(),
    free: z.string(),
    tags: z.record(z.string(), z.string()),
    metadata: Metadata,
    createdAt: z.string(),
    createdBy: z.string(),
    updatedAt: z.string(),
    updatedBy: z.string(),
  })
  .openapi('Pool');

export const AllocateBody = z
  .object({
    vm: HolderId.optional(),
    vip: HolderId.optional(),
    name: AllocationName.optional().openapi({ description: 'NIC or role; default "default"' }),
    address: z.string().min(1).max(64).optional().openapi({ description: 'a specific address, or a block as CIDR' }),
    prefixLength: Prefix.optional(),
    mac: MacAddress.optional(),
    hostname: HostName.optional(),
    tags: Tags.optional(),
    metadata: Metadata.optional(),
  })
  .strict()
  .refine((b) => (b.vm === undefined) !== (b.vip === undefined), { message: 'exactly one of vm or vip is required', path: ['vm'] })
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
