/**
 * Integration routes: the cloud's DNS settings, DNS zones and DHCP reservations generated from the IPAM.
 *
 * The documents are produced by streamed generators (lib/integrations/dns, lib/integrations/dhcp.ts); the API joins them into one
 * string because ApiResponse.body is a string (and API Gateway buffers responses anyway, up to 10 MB).
 * The scheduled export (lib/integrations/export) streams the same generators to storage instead.
 */
import * as z from 'zod';
import { IpamError } from '../core/errors.js';
import { DNS_TIMER_DEFAULTS, MAX_DNS_SECONDS, MAX_NS_ADDRESSES, MAX_SECONDARY_NS, type StoredDnsSettings } from '../core/dns.js';
import { HOSTNAME_RE } from '../core/validate.js';
import { dhcpReservations } from '../integrations/dhcp.js';
import { collect, dnsConfigFromEnv, dnsNotConfigured, listZones, resolveDns, zoneFile } from '../integrations/dns/zones.js';
import { json, text } from './http.js';
import { problems, type Route } from './routes.js';
import * as S from './schemas.js';

export const ZoneName = z
  .string()
  .min(1)
  .max(254)
  .regex(/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/, 'must be a DNS zone name such as prod.example.com or 0.20.10.in-addr.arpa')
  .openapi({ example: 'prod.example.com' });

export const ZoneSummary = z
  .object({
    name: z.string().openapi({ example: '0.20.10.in-addr.arpa' }),
    kind: z.enum(['forward', 'reverse']),
    records: z.number().int().openapi({ description: 'A, AAAA, PTR and CNAME records (SOA, NS and name-server addresses not counted)' }),
  })
  .openapi('DnsZone');

const Fqdn = z
  .string()
  .max(254)
  .regex(HOSTNAME_RE, 'must be a fully qualified host name such as ns1.example.com')
  .refine((v) => v.replace(/\.$/, '').includes('.'), 'must be a fully qualified host name such as ns1.example.com');
const NsAddresses = z.array(z.string().min(1).max(64)).max(MAX_NS_ADDRESSES);
const Seconds = (what: string, dflt: number) => z.number().int().min(0).max(MAX_DNS_SECONDS).openapi({ description: `${what}, seconds (default: the deployment's, else ${dflt})` });
const timers = {
  ttl: Seconds('$TTL of every record', DNS_TIMER_DEFAULTS.ttl),
  refresh: Seconds('SOA refresh', DNS_TIMER_DEFAULTS.refresh),
  retry: Seconds('SOA retry', DNS_TIMER_DEFAULTS.retry),
  expire: Seconds('SOA expire', DNS_TIMER_DEFAULTS.expire),
  negativeTtl: Seconds('SOA minimum: the negative-caching TTL', DNS_TIMER_DEFAULTS.negativeTtl),
};

export const DnsSettingsBody = z
  .object({
    primaryNs: Fqdn.openapi({ description: 'SOA MNAME and the first NS record of every zone of the cloud', example: 'ns1.example.com' }),
    primaryNsAddresses: NsAddresses.optional().openapi({ description: "the primary's addresses, written into every zone that contains its name (needed there)", example: ['192.0.2.53'] }),
    secondaryNs: z
      .array(z.union([Fqdn, z.object({ name: Fqdn, addresses: NsAddresses.optional() }).strict()]))
      .max(MAX_SECONDARY_NS)
      .optional()
      .openapi({ description: 'further NS records: names, or {name, addresses} for one whose name lies inside a zone of the cloud', example: ['ns2.example.net'] }),
    hostmaster: z.string().min(3).max(254).openapi({ description: 'SOA RNAME: an e-mail address or its DNS form', example: 'hostmaster@example.com' }),
    ttl: timers.ttl.optional(),
    refresh: timers.refresh.optional(),
    retry: timers.retry.optional(),
    expire: timers.expire.optional(),
    negativeTtl: timers.negativeTtl.optional(),
  })
  .strict()
  .openapi('DnsSettingsDefinition');

export const DnsSettingsOut = z
  .object({
    primaryNs: z.string(),
    primaryNsAddresses: z.array(z.string()),
    secondaryNs: z.array(z.object({ name: z.string(), addresses: z.array(z.string()) })),
    hostmaster: z.string(),
    ...timers,
    source: z.enum(['cloud', 'deployment']).openapi({ description: "cloud: this cloud's own settings; deployment: the deployment's defaults (IPAM_DNS_*, from the CDK context keys ipam:dns*)" }),
    updatedAt: z.string().optional(),
    updatedBy: z.string().optional(),
  })
  .openapi('DnsSettings');

const ZoneFilter = z.object({ zone: S.Name.optional().openapi({ description: 'only this security zone: the forward zones it owns and the records of its allocations' }) }).strict();

export const DhcpQuery = z
  .object({
    format: z.enum(['kea', 'dnsmasq']).default('kea').openapi({ description: 'kea: a Dhcp4 fragment (JSON) with one `subnet4` entry per IPv4 network; dnsmasq: configuration lines (dhcp-range, dhcp-option, dhcp-host) per network' }),
    zone: S.Name.optional().openapi({ description: "only this zone's networks" }),
    network: S.Name.optional().openapi({ description: 'only networks of this name (with `zone`: that one network)' }),
    pool: S.Name.optional().openapi({ description: "only this pool's reservations (and the networks holding such a pool)" }),
  })
  .strict();

const KeaOptionData = z.object({ name: z.enum(['routers', 'domain-name-servers', 'domain-name', 'domain-search', 'ntp-servers', 'interface-mtu']), data: z.string() });

const KeaFragment = z
  .object({
    subnet4: z.array(
      z.object({
        id: z.number().int().openapi({ description: 'stable for the cloud and the CIDR' }),
        subnet: z.string().openapi({ example: '10.20.0.0/24' }),
        'reservations-global': z.literal(false),
        'reservations-in-subnet': z.literal(true),
        'option-data': z.array(KeaOptionData),
        reservations: z.array(z.object({ 'hw-address': z.string(), 'ip-address': z.string(), hostname: z.string().optional() })),
        'user-context': z.object({
          ipam: z.object({
            cloud: z.string(),
            zone: z.string(),
            network: z.string(),
            pools: z.array(z.string()),
            skipped: z.array(z.object({ address: z.string(), holder: z.string(), reason: z.string() })).optional(),
          }),
        }),
      }),
    ).openapi({ description: 'one entry per IPv4 network; no `pools`, so only reserved MACs get an address' }),
    'user-context': z.object({
      ipam: z.object({
        cloud: z.string(),
        notExported: z
          .array(z.object({ pool: z.string().optional(), network: z.string().optional(), reason: z.string() }))
          .optional()
          .openapi({ description: 'selected pools outside IPv4 networks (they have no DHCP subnet), and networks left out (overlapping ones, which only damaged data can hold)' }),
      }),
    }),
  })
  .openapi('KeaDhcp4Config');

/** The deployment's default DNS settings are read once per process (IPAM_DNS_* environment variables). */
let dnsConfig: ReturnType<typeof dnsConfigFromEnv> | undefined;
const config = () => (dnsConfig ??= dnsConfigFromEnv());

/** The settings a cloud's zones use (its own, else the deployment's), as answered. */
function settingsOut(cloud: string, stored: StoredDnsSettings | undefined) {
  const r = resolveDns(stored, config());
  if (!r) throw new IpamError('DnsSettingsNotFound', dnsNotConfigured(cloud).message, { cloud });
  return { ...r.settings, source: r.source, ...(r.updatedAt ? { updatedAt: r.updatedAt, updatedBy: r.updatedBy } : {}) };
}

export const integrationRoutes: Route[] = [
  {
    method: 'PUT',
    path: '/v1/clouds/{cloud}/dns',
    operationId: 'setDnsSettings',
    tag: 'DNS',
    summary: "Set the cloud's DNS settings: primary and secondary name servers, hostmaster and timers of all its zones (cloud-wide admins only)",
    description: 'Replaces the settings as a whole; a timer left out falls back to the deployment default. The change moves the SOA serial of every zone of the cloud.',
    params: z.object({ cloud: S.Name }),
    query: S.NoQuery,
    body: DnsSettingsBody,
    responses: { 200: { description: 'the settings now in force', schema: DnsSettingsOut }, ...problems(400) },
    async handle({ ipam, params, body, call }) {
      return json(200, settingsOut(params.cloud!, await ipam.setDnsSettings(params.cloud!, body, call)));
    },
  },
  {
    method: 'GET',
    path: '/v1/clouds/{cloud}/dns',
    operationId: 'getDnsSettings',
    tag: 'DNS',
    summary: "The DNS settings the cloud's zones use: its own, else the deployment's defaults",
    params: z.object({ cloud: S.Name }),
    query: S.NoQuery,
    responses: { 200: { description: 'the settings', schema: DnsSettingsOut }, ...problems(400, 404) },
    async handle({ ipam, params }) {
      return json(200, settingsOut(params.cloud!, await ipam.getDnsSettings(params.cloud!)));
    },
  },
  {
    method: 'GET',
    path: '/v1/clouds/{cloud}/dns/zones',
    operationId: 'listDnsZones',
    tag: 'DNS',
    summary: "The cloud's DNS zones (a forward zone per owned domain, the reverse zones of its networks holding records) with their record counts",
    params: z.object({ cloud: S.Name }),
    query: ZoneFilter,
    responses: { 200: { description: 'zones', schema: S.Items(ZoneSummary) }, ...problems(400, 409) },
    async handle({ ipam, params, query }) {
      return json(200, { items: await listZones(ipam, params.cloud!, { config: config(), ...(query.zone ? { zone: query.zone } : {}) }) });
    },
  },
  {
    method: 'GET',
    path: '/v1/clouds/{cloud}/dns/zones/{zoneName}',
    operationId: 'getDnsZoneFile',
    tag: 'DNS',
    summary: 'One DNS zone as an RFC 1035 master file (SOA serial = the cloud’s change clock)',
    params: z.object({ cloud: S.Name, zoneName: ZoneName }),
    query: ZoneFilter,
    responses: { 200: { description: 'the zone file', schema: z.string(), contentType: 'text/dns' }, ...problems(400, 404, 409) },
    async handle({ ipam, params, query }) {
      return text(200, await collect(zoneFile(ipam, params.cloud!, params.zoneName!, { config: config(), ...(query.zone ? { zone: query.zone } : {}) })), 'text/dns');
    },
  },
  {
    method: 'GET',
    path: '/v1/clouds/{cloud}/dhcp',
    operationId: 'getDhcpReservations',
    tag: 'DHCP',
    summary: "DHCP per IPv4 network, reservations only, for Kea or dnsmasq: each network's subnet and options (router, DNS, domain, search, NTP, MTU) and its pools' single IPv4 allocations with a MAC; optionally of one zone, network or pool",
    params: z.object({ cloud: S.Name }),
    query: DhcpQuery,
    responses: {
      200: { description: 'kea: application/json Dhcp4 fragment; dnsmasq: text/plain configuration lines', schema: KeaFragment, content: { 'text/plain': z.string().openapi({ description: 'dnsmasq dhcp-range, dhcp-option, domain and dhcp-host lines' }) } },
      ...problems(400),
    },
    async handle({ ipam, params, query }) {
      const { format, zone, network, pool } = query;
      const body = await collect(dhcpReservations(ipam, params.cloud!, { format, ...(zone ? { zone } : {}), ...(network ? { network } : {}), ...(pool ? { pool } : {}) }));
      return format === 'kea' ? text(200, body, 'application/json') : text(200, body, 'text/plain; charset=utf-8');
    },
  },
];
