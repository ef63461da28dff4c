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
    format: z.enum(['kea', 'dnsmasq']).default('kea').openapi({ description: 'kea: a Dhcp4 `subnet4` fragment (JSON); dnsmasq: dhcp-host lines' }),
    zone: S.Name.optional(),
    pool: S.Name.optional(),
  })
  .strict();

const KeaFragment = z
  .object({
    subnet4: z.array(
      z.object({
        id: z.number().int(),
        subnet: z.string(),
        'user-context': z.record(z.string(), z.unknown()),
        reservations: z.array(z.object({ 'hw-address': z.string(), 'ip-address': z.string(), hostname: z.string().optional() })),
      }),
    ),
  })
  .openapi('KeaDhcp4Reservations');

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
    summary: 'DHCP host reservations (single IPv4 addresses with a MAC) for Kea or dnsmasq, optionally of one zone or pool',
    params: z.object({ cloud: S.Name }),
    query: DhcpQuery,
    responses: {
      200: { description: 'kea: application/json Dhcp4 fragment; dnsmasq: text/plain dhcp-host lines', schema: KeaFragment, content: { 'text/plain': z.string().openapi({ description: 'dnsmasq dhcp-host lines' }) } },
      ...problems(400),
    },
    async handle({ ipam, params, query }) {
      const body = await collect(dhcpReservations(ipam, params.cloud!, { format: query.format, ...(query.zone ? { zone: query.zone } : {}), ...(query.pool ? { pool: query.pool } : {}) }));
      return query.format === 'kea' ? text(200, body, 'application/json') : text(200, body, 'text/plain; charset=utf-8');
    },
  },
];
