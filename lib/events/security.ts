/**
 * Security events: what a DynamoDB stream record (NEW_AND_OLD_IMAGES) of the IPAM table means for a
 * security log. Pure functions, no I/O: the Lambda handler (lib/events/handler.ts) and the local
 * stream reader (lib/local/stream-reader.ts) both use them. docs/security-events.md describes the events.
 *
 * Three item types carry security meaning (lib/dynamo/store.ts writes them):
 * - `allocation` items (one per allocated address or block; released ones stay as tombstones until TTL),
 * - `pool` items,
 * - a cloud's `dnssettings` item (the name servers and hostmaster every zone of the cloud names).
 * - `network` items (a zone's on-link subnets: gateway, DNS and the domain they own).
 * Cloud, shard, chunk and held items are bookkeeping of the same transactions and produce nothing.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import * as z from 'zod';
import { keys as itemKeys, PREFIX } from '../dynamo/keys.js';

// ---------------------------------------------------------------- the event

export const SECURITY_EVENT_TYPES = ['address.allocated', 'address.released', 'allocation.updated', 'pool.created', 'pool.changed', 'pool.deleted', 'network.created', 'network.changed', 'network.deleted', 'dns.settings.changed'] as const;
export type SecurityEventType = (typeof SECURITY_EVENT_TYPES)[number];

/** One changed attribute: its value before and after (null = absent); lists also say what was added/removed. */
export const ChangeSchema = z.object({
  old: z.unknown(),
  new: z.unknown(),
  added: z.array(z.unknown()).optional(),
  removed: z.array(z.unknown()).optional(),
});
export type Change = z.infer<typeof ChangeSchema>;

const common = {
  /** Version of this event shape. */
  schemaVersion: z.literal(1),
  /** The stream record's eventID: a redelivered record yields the same eventId (deduplicate on it). */
  eventId: z.string(),
  /** The stream record's sequence number (order within the item's shard). */
  sequenceNumber: z.string().optional(),
  /** When the change happened (ISO 8601), from the item's own timestamps. */
  time: z.string(),
  /** When DynamoDB recorded the change in the stream (ApproximateCreationDateTime, ISO 8601). */
  recordedAt: z.string().optional(),
  /** Who made the change (IAM principal ARN as seen by the API), or 'unknown'. */
  principal: z.string(),
  /** Request id of the API call that made the change, when known. */
  requestId: z.string().optional(),
  cloud: z.string(),
  zone: z.string(),
  /** Pool name. */
  pool: z.string(),
  /** Pool incarnation id (a deleted and re-created pool has a new one). */
  poolUid: z.string().optional(),
  /** Set when the change is unusual, e.g. made directly in the table rather than through the API. */
  detail: z.string().optional(),
};

const addressFields = {
  address: z.string(),
  cidr: z.string(),
  prefixLength: z.number(),
  family: z.union([z.literal(4), z.literal(6)]),
  /** `vm:<id>` or `vip:<id>`: the holder of the address (for a release, the holder that gave it up). */
  holder: z.string(),
  vm: z.string().optional(),
  vip: z.string().optional(),
  /** Allocation name (a holder may hold several addresses of one pool under different names). */
  name: z.string(),
  mac: z.string().optional(),
  hostname: z.string().optional(),
  tags: z.record(z.string(), z.string()).optional(),
};

const poolFields = {
  family: z.union([z.literal(4), z.literal(6)]).optional(),
  ranges: z.array(z.string()),
  exclude: z.array(z.string()),
  /** Number of allocatable addresses (decimal string). */
  size: z.string().optional(),
  prefixLength: z.number().optional(),
  quarantineSeconds: z.number().optional(),
  /** The network (of the same zone) the pool is in. */
  network: z.string().optional(),
  tags: z.record(z.string(), z.string()).optional(),
};

/** A network event names the network, not a pool. */
const { pool: _pool, poolUid: _poolUid, ...networkWhere } = common;
const networkFields = {
  ...networkWhere,
  /** Network name. */
  network: z.string(),
  /** Network incarnation id. */
  networkUid: z.string().optional(),
  family: z.union([z.literal(4), z.literal(6)]).optional(),
  cidr: z.string(),
  gateway: z.string().optional(),
  dnsServers: z.array(z.string()).optional(),
  searchDomains: z.array(z.string()).optional(),
  ntpServers: z.array(z.string()).optional(),
  mtu: z.number().optional(),
  vlan: z.number().optional(),
  routes: z.array(z.object({ to: z.string(), via: z.string() })).optional(),
  /** The forward DNS domain the network owns. */
  domain: z.string().optional(),
  tags: z.record(z.string(), z.string()).optional(),
};

const changes = z.record(z.string(), ChangeSchema);

export const AddressAllocatedSchema = z.object({ eventType: z.literal('address.allocated'), ...common, ...addressFields });
export const AddressReleasedSchema = z.object({
  eventType: z.literal('address.released'),
  ...common,
  ...addressFields,
  /** When and by whom the released allocation had been made. */
  allocatedAt: z.string().optional(),
  allocatedBy: z.string().optional(),
});
export const AllocationUpdatedSchema = z.object({ eventType: z.literal('allocation.updated'), ...common, ...addressFields, changes });
export const PoolCreatedSchema = z.object({ eventType: z.literal('pool.created'), ...common, ...poolFields });
export const PoolChangedSchema = z.object({ eventType: z.literal('pool.changed'), ...common, ...poolFields, changes });
export const PoolDeletedSchema = z.object({ eventType: z.literal('pool.deleted'), ...common, ...poolFields });
export const NetworkCreatedSchema = z.object({ eventType: z.literal('network.created'), ...networkFields });
export const NetworkChangedSchema = z.object({ eventType: z.literal('network.changed'), ...networkFields, changes });
export const NetworkDeletedSchema = z.object({ eventType: z.literal('network.deleted'), ...networkFields });

/** A cloud's DNS settings were set or changed (or, outside the API, deleted): the settings after the change. */
export const DnsSettingsChangedSchema = z.object({
  eventType: z.literal('dns.settings.changed'),
  schemaVersion: common.schemaVersion,
  eventId: common.eventId,
  sequenceNumber: common.sequenceNumber,
  time: common.time,
  recordedAt: common.recordedAt,
  principal: common.principal,
  requestId: common.requestId,
  cloud: common.cloud,
  detail: common.detail,
  primaryNs: z.string().optional(),
  primaryNsAddresses: z.array(z.string()),
  /** Names of the secondary name servers. */
  secondaryNs: z.array(z.string()),
  hostmaster: z.string().optional(),
  changes,
});

export const SecurityEventSchema = z.discriminatedUnion('eventType', [
  AddressAllocatedSchema,
  AddressReleasedSchema,
  AllocationUpdatedSchema,
  PoolCreatedSchema,
  PoolChangedSchema,
  PoolDeletedSchema,
  NetworkCreatedSchema,
  NetworkChangedSchema,
  NetworkDeletedSchema,
  DnsSettingsChangedSchema,
]);
export type SecurityEvent = z.infer<typeof SecurityEventSchema>;

// ---------------------------------------------------------------- the mapping

type Item = Record<string, unknown>;

/** Attributes that are bookkeeping, not content, when diffing two versions of an item. */
const ALLOCATION_BOOKKEEPING = new Set(['pk', 'sk', 'type', 'state', 'version', 'updatedAt', 'updatedBy', 'requestId', 'gsi1pk', 'gsi1sk', 'expiresAt', 'releasedAt', 'releasedBy', 'releaseRequestId']);
const DNS_BOOKKEEPING = new Set(['pk', 'sk', 'type', 'updatedAt', 'updatedBy', 'requestId']);
const NETWORK_BOOKKEEPING = new Set(['pk', 'sk', 'type', 'updatedAt', 'updatedBy', 'requestId', 'createdAt', 'createdBy', 'deletedAt', 'deletedBy', 'deleteRequestId']);
const POOL_BOOKKEEPING = new Set(['pk', 'sk', 'type', 'updatedAt', 'updatedBy', 'requestId', 'epoch', 'size', 'reserved', 'createdAt', 'createdBy', ...['deletedAt', 'deletedBy', 'deleteRequestId']]);
/** Attributes the engine may set on a pool or network just before deleting it, to name the deleting principal. */
const POOL_DELETION_MARKERS = ['deletedAt', 'deletedBy', 'deleteRequestId'] as const;

const TTL_PRINCIPAL = 'dynamodb.amazonaws.com';

/**
 * The security events of one stream record: zero or one. Throws only when a record of an allocation or
 * pool item lacks the image it needs (the stream must be NEW_AND_OLD_IMAGES).
 */
export function toSecurityEvents(record: DynamoDBRecord): SecurityEvent[] {
  const ddb = record.dynamodb;
  if (!ddb || !record.eventName) return [];
  const keys = ddb.Keys ? image(ddb.Keys) : {};
  const oldItem = ddb.OldImage ? image(ddb.OldImage) : undefined;
  const newItem = ddb.NewImage ? image(ddb.NewImage) : undefined;
  const kind = itemKind(newItem ?? oldItem ?? keys);
  if (!kind) return [];

  const needs = (which: 'new' | 'old') => {
    const it = which === 'new' ? newItem : oldItem;
    if (!it) throw new Error(`stream record ${record.eventID ?? '?'} (${record.eventName} of a ${kind} item) has no ${which} image: the table's stream must be NEW_AND_OLD_IMAGES`);
    return it;
  };
  const meta: RecordMeta = {
    eventId: record.eventID ?? `seq:${ddb.SequenceNumber ?? 'unknown'}`,
    ...(ddb.SequenceNumber ? { sequenceNumber: ddb.SequenceNumber } : {}),
    ...(recordedAt(ddb.ApproximateCreationDateTime) ? { recordedAt: recordedAt(ddb.ApproximateCreationDateTime)! } : {}),
    identity: identityOf(record.userIdentity),
  };

  if (kind === 'dnssettings') {
    const n = newItem;
    const o = oldItem ?? {};
    if (!n && record.eventName !== 'REMOVE') needs('new');
    const stamped = n !== undefined && n.updatedAt !== undefined && n.updatedAt !== o.updatedAt;
    const who: Attribution = stamped
      ? { time: str(n.updatedAt), principal: str(n.updatedBy), requestId: changedString(o.requestId, n.requestId) }
      : n
        ? outOfBand(meta)
        : { principal: meta.identity.principalId, detail: "the cloud's DNS settings were deleted from the table directly, not through the IPAM API" };
    return [dnsSettingsChanged(meta, n ?? needs('old'), n ?? {}, diffItems(o, n ?? {}, DNS_BOOKKEEPING), who)];
  }

  if (kind === 'allocation') {
    switch (record.eventName) {
      case 'INSERT': {
        const n = needs('new');
        return n.state === 'allocated' ? [allocated(meta, n)] : [];
      }
      case 'MODIFY': {
        const n = needs('new');
        const o = needs('old');
        if (n.state === 'allocated' && o.state !== 'allocated') return [allocated(meta, n)];
        if (n.state !== 'allocated' && o.state === 'allocated') return [released(meta, o, n)];
        if (n.state === 'allocated' && o.state === 'allocated') return [updated(meta, o, n)];
        return []; // a tombstone changed: no address changed hands
      }
      case 'REMOVE': {
        const o = needs('old');
        // Tombstones of released allocations expire by TTL (or are cleaned up): nothing changes hands.
        if (o.state !== 'allocated') return [];
        return [released(meta, o, undefined)];
      }
    }
    return [];
  }

  // A pool or a network: created, changed, deleted (with the deleting principal from the deletion stamp).
  const topology = (n: Item, who: Attribution) => (kind === 'pool' ? poolEvent(meta, n, who) : networkEvent(meta, n, who));
  const type = <T extends 'created' | 'changed' | 'deleted'>(t: T) => `${kind}.${t}` as `${typeof kind}.${T}`;
  switch (record.eventName) {
    case 'INSERT': {
      const n = needs('new');
      return [{ eventType: type('created'), ...topology(n, { time: str(n.createdAt), principal: str(n.createdBy), requestId: str(n.requestId) }) } as SecurityEvent];
    }
    case 'MODIFY': {
      const n = needs('new');
      const o = needs('old');
      const diff = diffItems(o, n, kind === 'pool' ? POOL_BOOKKEEPING : NETWORK_BOOKKEEPING);
      const markersChanged = POOL_DELETION_MARKERS.some((k) => stable(o[k]) !== stable(n[k]));
      // The engine marked the item with its deleting principal; the deleted event follows with it.
      if (Object.keys(diff).length === 0 && markersChanged && n.deletedBy !== undefined) return [];
      const stamped = n.updatedAt !== undefined && n.updatedAt !== o.updatedAt;
      const who = stamped ? { time: str(n.updatedAt), principal: str(n.updatedBy), requestId: changedString(o.requestId, n.requestId) } : outOfBand(meta);
      return [{ eventType: type('changed'), ...topology(n, who), changes: diff } as SecurityEvent];
    }
    case 'REMOVE': {
      const o = needs('old');
      const by = str(o.deletedBy) ?? (meta.identity.principalId ? meta.identity.principalId : undefined);
      return [{ eventType: type('deleted'), ...topology(o, { time: str(o.deletedAt), principal: by, requestId: str(o.deleteRequestId) }) } as SecurityEvent];
    }
  }
  return [];
}

// ---------------------------------------------------------------- builders

interface RecordMeta {
  eventId: string;
  sequenceNumber?: string;
  recordedAt?: string;
  identity: { type?: string; principalId?: string };
}

interface Attribution {
  time?: string;
  principal?: string;
  requestId?: string;
  detail?: string;
}

function base(meta: RecordMeta, item: Item, who: Attribution) {
  return {
    schemaVersion: 1 as const,
    eventId: meta.eventId,
    ...(meta.sequenceNumber ? { sequenceNumber: meta.sequenceNumber } : {}),
    time: who.time ?? meta.recordedAt ?? new Date(0).toISOString(),
    ...(meta.recordedAt ? { recordedAt: meta.recordedAt } : {}),
    principal: who.principal ?? 'unknown',
    ...(who.requestId ? { requestId: who.requestId } : {}),
    cloud: str(item.cloud) ?? cloudFromPk(item.pk) ?? '',
    zone: str(item.zone) ?? '',
    pool: str(item.type === 'pool' ? item.name : item.pool) ?? '',
    ...(str(item.type === 'pool' ? item.uid : item.poolUid) ? { poolUid: str(item.type === 'pool' ? item.uid : item.poolUid)! } : {}),
    ...(who.detail ? { detail: who.detail } : {}),
  };
}

function addressOf(item: Item) {
  const vm = str(item.vm);
  const vip = str(item.vip);
  return {
    address: str(item.address) ?? '',
    cidr: str(item.cidr) ?? '',
    prefixLength: num(item.prefixLength) ?? 0,
    family: (num(item.family) === 6 ? 6 : 4) as 4 | 6,
    holder: vm !== undefined ? `vm:${vm}` : vip !== undefined ? `vip:${vip}` : 'unknown',
    ...(vm !== undefined ? { vm } : {}),
    ...(vip !== undefined ? { vip } : {}),
    name: str(item.name) ?? '',
    ...(str(item.mac) ? { mac: str(item.mac)! } : {}),
    ...(str(item.hostname) ? { hostname: str(item.hostname)! } : {}),
    ...(isStringMap(item.tags) ? { tags: item.tags } : {}),
  };
}

function allocated(meta: RecordMeta, n: Item): SecurityEvent {
  return {
    eventType: 'address.allocated',
    ...base(meta, n, { time: str(n.allocatedAt), principal: str(n.allocatedBy), requestId: str(n.requestId) }),
    ...addressOf(n),
  };
}

/** `o` is the allocation as it was (the holder that gave the address up); `n` the tombstone, if any. */
function released(meta: RecordMeta, o: Item, n: Item | undefined): SecurityEvent {
  const who: Attribution = n
    ? { time: str(n.releasedAt), principal: str(n.releasedBy), requestId: str(n.releaseRequestId) }
    : {
        principal: meta.identity.principalId,
        detail:
          meta.identity.principalId === TTL_PRINCIPAL
            ? 'the allocation item was deleted by DynamoDB TTL while still allocated'
            : 'the allocation item was deleted from the table directly, not released through the IPAM API',
      };
  return {
    eventType: 'address.released',
    ...base(meta, o, who),
    ...addressOf(o),
    ...(str(o.allocatedAt) ? { allocatedAt: str(o.allocatedAt)! } : {}),
    ...(str(o.allocatedBy) ? { allocatedBy: str(o.allocatedBy)! } : {}),
  };
}

function updated(meta: RecordMeta, o: Item, n: Item): SecurityEvent {
  const stamped = n.updatedAt !== undefined && n.updatedAt !== o.updatedAt;
  return {
    eventType: 'allocation.updated',
    ...base(meta, n, stamped ? { time: str(n.updatedAt), principal: str(n.updatedBy), requestId: changedString(o.requestId, n.requestId) } : outOfBand(meta)),
    ...addressOf(n),
    changes: diffItems(o, n, ALLOCATION_BOOKKEEPING),
  };
}

function poolEvent(meta: RecordMeta, p: Item, who: Attribution) {
  const fam = num(p.family);
  return {
    ...base(meta, p, who),
    ...(fam === 4 || fam === 6 ? { family: fam as 4 | 6 } : {}),
    ranges: strings(p.ranges),
    exclude: strings(p.exclude),
    ...(p.size !== undefined ? { size: String(p.size) } : {}),
    ...(num(p.prefixLength) !== undefined ? { prefixLength: num(p.prefixLength)! } : {}),
    ...(num(p.quarantineSeconds) !== undefined ? { quarantineSeconds: num(p.quarantineSeconds)! } : {}),
    ...(str(p.network) ? { network: str(p.network)! } : {}),
    ...(isStringMap(p.tags) ? { tags: p.tags } : {}),
  };
}

function dnsSettingsChanged(meta: RecordMeta, keyed: Item, n: Item, diff: Record<string, Change>, who: Attribution): SecurityEvent {
  const { zone: _z, pool: _p, poolUid: _u, ...b } = base(meta, keyed, who);
  return {
    eventType: 'dns.settings.changed',
    ...b,
    ...(str(n.primaryNs) ? { primaryNs: str(n.primaryNs)! } : {}),
    primaryNsAddresses: strings(n.primaryNsAddresses),
    secondaryNs: Array.isArray(n.secondaryNs) ? n.secondaryNs.map((x) => str((x as Item)?.name)).filter((x): x is string => x !== undefined) : [],
    ...(str(n.hostmaster) ? { hostmaster: str(n.hostmaster)! } : {}),
    changes: diff,
  };
}

function networkEvent(meta: RecordMeta, n: Item, who: Attribution) {
  const { pool: _p, poolUid: _u, ...where } = base(meta, n, who);
  const fam = num(n.family);
  const dns = n.dns as { domain?: unknown } | undefined;
  const routes = Array.isArray(n.routes) ? n.routes.filter((r): r is { to: string; via: string } => !!r && typeof r === 'object' && typeof r.to === 'string' && typeof r.via === 'string').map((r) => ({ to: r.to, via: r.via })) : [];
  return {
    ...where,
    network: str(n.name) ?? '',
    ...(str(n.uid) ? { networkUid: str(n.uid)! } : {}),
    ...(fam === 4 || fam === 6 ? { family: fam as 4 | 6 } : {}),
    cidr: str(n.cidr) ?? '',
    ...(str(n.gateway) ? { gateway: str(n.gateway)! } : {}),
    ...(strings(n.dnsServers).length ? { dnsServers: strings(n.dnsServers) } : {}),
    ...(strings(n.searchDomains).length ? { searchDomains: strings(n.searchDomains) } : {}),
    ...(strings(n.ntpServers).length ? { ntpServers: strings(n.ntpServers) } : {}),
    ...(num(n.mtu) !== undefined ? { mtu: num(n.mtu)! } : {}),
    ...(num(n.vlan) !== undefined ? { vlan: num(n.vlan)! } : {}),
    ...(routes.length ? { routes } : {}),
    ...(typeof dns?.domain === 'string' ? { domain: dns.domain } : {}),
    ...(isStringMap(n.tags) ? { tags: n.tags } : {}),
  };
}

/** A change without the API's updatedAt/updatedBy stamp: someone wrote the table directly. */
function outOfBand(meta: RecordMeta): Attribution {
  return {
    principal: meta.identity.principalId,
    detail: 'the item changed without a new updatedAt/updatedBy stamp, i.e. not through the IPAM API',
  };
}

// ---------------------------------------------------------------- helpers

/** Which security-relevant item a record is about, from its image's `type` or, failing that, its keys. */
function itemKind(item: Item): 'allocation' | 'pool' | 'network' | 'dnssettings' | undefined {
  if (item.type === 'allocation' || item.type === 'pool' || item.type === 'network' || item.type === 'dnssettings') return item.type;
  if (item.type !== undefined) return undefined;
  const pk = str(item.pk) ?? '';
  const sk = str(item.sk) ?? '';
  if (pk.startsWith(PREFIX.cloud) && sk === itemKeys.dnsSettings('').sk) return 'dnssettings';
  if (pk.startsWith(PREFIX.chunk) && sk.startsWith(PREFIX.allocation)) return 'allocation';
  if (pk.startsWith(PREFIX.cloud) && sk.startsWith(PREFIX.pool)) return 'pool';
  if (pk.startsWith(PREFIX.cloud) && sk.startsWith(PREFIX.network)) return 'network';
  return undefined;
}

/**
 * Unmarshalls an image into plain JSON values: numbers stay numbers when safe (else decimal strings),
 * sets become sorted arrays, binary becomes base64. DynamoDB Local writes an empty map as `{}` instead
 * of `{"M":{}}` in stream records; that is repaired first.
 */
export function image(raw: Record<string, unknown>): Item {
  const fixed: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) fixed[k] = repair(v);
  const item = unmarshall(fixed as Record<string, AttributeValue>, {
    wrapNumbers: (s: string) => (Number.isSafeInteger(Number(s)) || !/^-?\d+$/.test(s) ? Number(s) : s),
  });
  return plain(item) as Item;
}

function repair(v: unknown): unknown {
  if (!v || typeof v !== 'object') return v;
  const av = v as Record<string, unknown>;
  const keys = Object.keys(av);
  if (keys.length === 0) return { M: {} };
  if (av.M && typeof av.M === 'object') return { M: Object.fromEntries(Object.entries(av.M as object).map(([k, x]) => [k, repair(x)])) };
  if (Array.isArray(av.L)) return { L: av.L.map(repair) };
  return v;
}

function plain(v: unknown): unknown {
  if (v instanceof Set) return [...v].map(plain).sort((a, b) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0));
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

/** Changed content attributes between two versions of an item. */
export function diffItems(o: Item, n: Item, ignore: ReadonlySet<string>): Record<string, Change> {
  const out: Record<string, Change> = {};
  const names = [...new Set([...Object.keys(o), ...Object.keys(n)])].filter((k) => !ignore.has(k)).sort();
  for (const k of names) {
    if (stable(o[k]) === stable(n[k])) continue;
    const change: Change = { old: o[k] ?? null, new: n[k] ?? null };
    const a = o[k];
    const b = n[k];
    if ((Array.isArray(a) || a === undefined) && (Array.isArray(b) || b === undefined)) {
      const before = new Set((a ?? []).map(stable));
      const after = new Set((b ?? []).map(stable));
      change.added = (b ?? []).filter((x) => !before.has(stable(x)));
      change.removed = (a ?? []).filter((x) => !after.has(stable(x)));
    }
    out[k] = change;
  }
  return out;
}

/** JSON with sorted object keys, for comparisons. */
function stable(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function identityOf(u: unknown): { type?: string; principalId?: string } {
  if (!u || typeof u !== 'object') return {};
  // Lambda events spell these in camelCase, the DynamoDB Streams API (GetRecords) in PascalCase.
  const o = u as Record<string, unknown>;
  const type = str(o.type) ?? str(o.Type);
  const principalId = str(o.principalId) ?? str(o.PrincipalId);
  return { ...(type ? { type } : {}), ...(principalId ? { principalId } : {}) };
}

/** ApproximateCreationDateTime: epoch seconds in Lambda events, a Date from the SDK, a string in JSON dumps. */
export function recordedAt(v: unknown): string | undefined {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v.toISOString();
  if (typeof v === 'number' && Number.isFinite(v)) return new Date(v > 1e11 ? v : v * 1000).toISOString();
  if (typeof v === 'string' && v !== '') {
    const d = /^\d+(\.\d+)?$/.test(v) ? new Date(Number(v) * 1000) : new Date(v);
    return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
  }
  return undefined;
}

/**
 * The engine keeps the allocation's requestId when an update comes without one, so an unchanged
 * requestId belongs to an earlier change, not to this one.
 */
function changedString(before: unknown, after: unknown): string | undefined {
  const a = str(after);
  return a !== undefined && a !== str(before) ? a : undefined;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const isStringMap = (v: unknown): v is Record<string, string> => !!v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
const cloudFromPk = (pk: unknown): string | undefined => {
  const s = str(pk);
  if (!s) return undefined;
  const [kind, cloud] = s.split('#');
  return kind === 'CLOUD' || kind === 'CHUNK' ? cloud : undefined;
};
