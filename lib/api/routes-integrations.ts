/**
 * Integration routes: DNS zones and DHCP reservations generated from the IPAM.
 *
 * The documents are produced by streamed generators (lib/integrations/dns, lib/integrations/dhcp.ts); the API joins them into one
 * string because ApiResponse.body is a string (and API Gateway buffers responses anyway, up to 10 MB).
 * The scheduled export (lib/integrations/export) streams the same generators to storage instead.
 */
import * as z from 'zod';
import { dhcpReservations } from '../integrations/dhcp.js';
import { collect, listZones, zoneFile } from '../integrations/dns/zones.js';
import { dnsConfigFromEnv } from '../integrations/dns/zones.js';
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
    records: z.number().int().openapi({ description: 'A, AAAA and PTR records (SOA, NS and name-server addresses not counted)' }),
  })
  .openapi('DnsZone');

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

/** DNS settings are read once per process (IPAM_DNS_* environment variables). */
let dnsConfig: ReturnType<typeof dnsConfigFromEnv> | undefined;
const config = () => (dnsConfig ??= dnsConfigFromEnv());

export const integrationRoutes: Route[] = [
  {
    method: 'GET',
    path: '/v1/clouds/{cloud}/dns/zones',
    operationId: 'listDnsZones',
    tag: 'DNS',
    summary: "The cloud's DNS zones (forward zones of the pools' domains, reverse zones holding PTR records) with their record counts",
    params: z.object({ cloud: S.Name }),
    query: S.NoQuery,
    responses: { 200: { description: 'zones', schema: S.Items(ZoneSummary) }, ...problems(400) },
    async handle({ ipam, params }) {
      return json(200, { items: await listZones(ipam, params.cloud!, config()) });
    },
  },
  {
    method: 'GET',
    path: '/v1/clouds/{cloud}/dns/zones/{zoneName}',
    operationId: 'getDnsZoneFile',
    tag: 'DNS',
    summary: 'One DNS zone as an RFC 1035 master file (SOA serial = the cloud’s change clock)',
    params: z.object({ cloud: S.Name, zoneName: ZoneName }),
    query: S.NoQuery,
    responses: { 200: { description: 'the zone file', schema: z.string(), contentType: 'text/dns' }, ...problems(400, 404) },
    async handle({ ipam, params }) {
      return text(200, await collect(zoneFile(ipam, params.cloud!, params.zoneName!, { config: config() })), 'text/dns');
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
