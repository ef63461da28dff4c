/**
 * Allocation by zone over HTTP: an address from whichever pool of the zone has room
 * (lib/engine/zone-allocations.ts), idempotent per (zone, holder, name).
 */
import * as z from 'zod';
import { holderOf } from '../core/model.js';
import { json } from './http.js';
import { problems, type Route } from './routes.js';
import * as S from './schemas.js';

const PoolFilter = z
  .union([
    z.array(S.Name).min(1).max(100).openapi({ description: 'pools of the zone, tried in this order; a name that is not a pool of the zone: 400', example: ['web-a', 'web-b'] }),
    z
      .object({ tags: S.Tags })
      .strict()
      .openapi({ description: "the zone's pools whose tags include every given pair, IPv4 first, then by name; none: 400", example: { tags: { tier: 'web' } } }),
  ])
  .openapi('ZonePoolFilter');

export const ZoneAllocateBody = z
  .strictObject(
    {
      ...S.AllocateFields,
      family: z.union([z.literal(4), z.literal(6)]).optional().openapi({ description: 'only pools of this address family' }),
      pools: PoolFilter.optional().openapi({ description: 'which pools of the zone to try (default: all, IPv4 first, then by name). The top-level `tags` are the allocation’s own, as on the pool route' }),
    },
    // A specific address belongs to one pool: the pool route takes it.
    { error: (iss) => (iss.code === 'unrecognized_keys' && iss.keys.includes('address') ? "address: a specific address is allocated through its pool's route (POST .../zones/{zone}/pools/{pool}/allocations), not the zone's" : undefined) },
  )
  .refine((b) => (b.vm === undefined) !== (b.vip === undefined), S.oneHolder)
  .openapi('ZoneAllocationRequest');

export const zoneAllocationRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v1/clouds/{cloud}/zones/{zone}/allocations',
    operationId: 'allocateInZone',
    tag: 'Allocations',
    summary: 'Allocate the next free address (or a prefixLength block) from whichever pool of the zone has room (idempotent per zone, holder and name)',
    description:
      'Tries the pools of the zone in order (`pools` names them, or selects them by tags; default: every pool, IPv4 first, then by name), skipping those of another `family`, ' +
      'being imported or unable to hand out the `prefixLength`; a full pool passes to the next. The same (zone, holder, name) again answers the allocation made first (200), ' +
      'even if another pool would be chosen now; a field given with another value is 409 IdempotentParameterMismatch. Every pool full: 409 PoolExhausted.',
    params: z.object({ cloud: S.Name, zone: S.Name }),
    query: S.NoQuery,
    body: ZoneAllocateBody,
    responses: { 201: { description: 'allocated', schema: S.Allocation }, 200: { description: 'the holder already had it under that name in the zone', schema: S.Allocation }, ...problems(400, 409, 503) },
    async handle({ ipam, params, body, call }) {
      const { vm: _vm, vip: _vip, ...rest } = body;
      const r = await ipam.allocateInZone({ cloud: params.cloud!, zone: params.zone!, holder: holderOf(body), ...rest }, call);
      return json(r.created ? 201 : 200, r.allocation);
    },
  },
];
