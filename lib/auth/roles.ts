/**
 * The two roles of docs/operations.md as data, one source of truth for both enforcement points:
 * the CDK grants (`IpamApi.grantRole` → execute-api ARNs, AWS) and the local callers file
 * (`allowPatterns` → `allow` entries, matched by lib/auth/sigv4.ts `isAllowed`). Both use the same
 * wildcard semantics: `*` matches any run of characters, `/` included.
 *
 * - zone pipeline: the allocation lifecycle of one zone, and reading its pools and networks; nothing of
 *   its topology (no pool or network create, change or delete) and nothing outside the zone's path.
 * - network admin: pools and networks (create, change, delete, read), the cloud's zone limits and DNS
 *   settings (and reading its DNS zones); no allocations. With a zone, only that zone's pools and networks
 *   (no limits, no DNS settings, no cloud-wide listing).
 */
export type Method = 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

/** One grant: a method and a path below `/v1/` (no leading slash), `*` a wildcard. */
export interface RouteGrant {
  method: Method;
  path: string;
}

export type RoleName = 'zonePipeline' | 'networkAdmin';

/** A name as it may appear in a grant: a plain path segment, so it can never widen a pattern or an ARN. */
const SEGMENT = /^[A-Za-z0-9._~-]{1,128}$/;

function segment(what: string, v: string): string {
  if (!SEGMENT.test(v)) throw new Error(`role grant: ${what} ${JSON.stringify(v)} is not a plain path segment ([A-Za-z0-9._~-])`);
  return v;
}

const each = (methods: Method[], path: string): RouteGrant[] => methods.map((method) => ({ method, path }));

/** The allocation lifecycle of zone `zone` of `cloud`, exactly. */
export function zonePipeline(cloud: string, zone: string): RouteGrant[] {
  const z = `clouds/${segment('cloud', cloud)}/zones/${segment('zone', zone)}`;
  return [
    ...each(['GET'], `${z}/pools/*`), // a pool's utilisation and its allocations (GET .../pools/{pool}/allocations)
    ...each(['GET'], `${z}/networks/*`), // its networks: what its allocations carry
    ...each(['POST'], `${z}/pools/*/allocations`),
    ...each(['POST'], `${z}/allocations`), // allocation by zone: whichever of its pools has room
    ...each(['GET', 'PATCH', 'DELETE'], `${z}/addresses/*`),
    ...each(['GET', 'DELETE'], `${z}/vms/*/allocations`),
    ...each(['GET'], `${z}/vms/*/network-config`), // cloud-init of the zone's NICs of a VM
    ...each(['GET', 'DELETE'], `${z}/vips/*/allocations`),
    ...each(['PUT', 'GET', 'DELETE'], `${z}/environments/*`),
  ];
}

/** Pools and networks of the cloud (or of one zone) and, cloud-wide only, their lists, the per-zone limits and the DNS settings. */
export function networkAdmin(cloud: string, zone?: string): RouteGrant[] {
  const c = `clouds/${segment('cloud', cloud)}`;
  const z = `${c}/zones/${zone === undefined ? '*' : segment('zone', zone)}`;
  return [
    ...each(['PUT', 'GET', 'PATCH', 'DELETE'], `${z}/pools/*`),
    ...each(['PUT', 'GET', 'PATCH', 'DELETE'], `${z}/networks/*`),
    ...(zone === undefined ? [...each(['GET'], `${c}/pools`), ...each(['GET'], `${c}/networks`), ...each(['PUT', 'GET'], `${c}/limits`)] : []),
    // The cloud's DNS settings (SOA, NS, hostmaster of all its zones) and the zones they produce.
    ...(zone === undefined ? [...each(['PUT', 'GET'], `${c}/dns`), ...each(['GET'], `${c}/dns/zones`), ...each(['GET'], `${c}/dns/zones/*`)] : []),
  ];
}

export function roleGrants(role: RoleName, cloud: string, zone?: string): RouteGrant[] {
  if (role === 'zonePipeline') {
    if (zone === undefined) throw new Error('role grant: a zone pipeline needs its zone');
    return zonePipeline(cloud, zone);
  }
  return networkAdmin(cloud, zone);
}

/** The local callers file's `allow` entries for these grants (`METHOD path`). */
export const allowPatterns = (grants: RouteGrant[]): string[] => grants.map((g) => `${g.method} ${g.path}`);
