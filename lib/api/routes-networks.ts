/**
 * Networks over HTTP: a zone's on-link subnets under the zone's path (so one grant on
 * `clouds/{cloud}/zones/{zone}/*` covers them), and the cloud's list.
 */
import * as z from 'zod';
import type { Network as NetworkModel } from '../core/network.js';
import { empty, json } from './http.js';
import { problems, type Route } from './routes.js';
import * as S from './schemas.js';

const NetworkParams = z.object({ cloud: S.Name, zone: S.Name, network: S.Name });
const PATH = '/v1/clouds/{cloud}/zones/{zone}/networks/{network}';

export function networkOut(n: NetworkModel) {
  const { uid: _u, requestId: _r, ...rest } = n;
  return rest;
}

export const networkRoutes: Route[] = [
  {
    method: 'PUT',
    path: PATH,
    operationId: 'createNetwork',
    tag: 'Networks',
    summary: 'Create a network of the zone (idempotent: the identical definition again answers 200)',
    description: 'Networks of a cloud never overlap (409 NetworkOverlap); its DNS domain must be free (409 DomainTaken).',
    params: NetworkParams,
    query: S.NoQuery,
    body: S.NetworkBody,
    responses: { 201: { description: 'created', schema: S.Network }, 200: { description: 'already exists, identical', schema: S.Network }, ...problems(400, 409) },
    async handle({ ipam, params, body, call }) {
      const r = await ipam.createNetwork(params.cloud!, params.zone!, params.network!, body, call);
      return json(r.created ? 201 : 200, networkOut(r.network));
    },
  },
  {
    method: 'GET',
    path: PATH,
    operationId: 'getNetwork',
    tag: 'Networks',
    summary: 'A network of the zone',
    params: NetworkParams,
    query: S.NoQuery,
    responses: { 200: { description: 'the network', schema: S.Network }, ...problems(400, 404) },
    async handle({ ipam, params }) {
      return json(200, networkOut(await ipam.getNetwork(params.cloud!, params.zone!, params.network!)));
    },
  },
  {
    method: 'PATCH',
    path: PATH,
    operationId: 'updateNetwork',
    tag: 'Networks',
    summary: 'Change a network: fields given replace, null removes; cidr and gateway only while no pool uses it (409 NetworkInUse)',
    params: NetworkParams,
    query: S.NoQuery,
    body: S.NetworkPatchBody,
    responses: { 200: { description: 'the changed network', schema: S.Network }, ...problems(400, 404, 409) },
    async handle({ ipam, params, body, call }) {
      return json(200, networkOut(await ipam.updateNetwork(params.cloud!, params.zone!, params.network!, body, call)));
    },
  },
  {
    method: 'DELETE',
    path: PATH,
    operationId: 'deleteNetwork',
    tag: 'Networks',
    summary: 'Delete a network no pool uses (409 NetworkInUse otherwise)',
    params: NetworkParams,
    query: S.NoQuery,
    responses: { 204: { description: 'deleted' }, ...problems(400, 404, 409) },
    async handle({ ipam, params, call }) {
      await ipam.deleteNetwork(params.cloud!, params.zone!, params.network!, call);
      return empty();
    },
  },
  {
    method: 'GET',
    path: '/v1/clouds/{cloud}/networks',
    operationId: 'listNetworks',
    tag: 'Networks',
    summary: "The cloud's networks, optionally of one zone",
    params: z.object({ cloud: S.Name }),
    query: S.NetworkListQuery,
    responses: { 200: { description: 'networks', schema: S.Items(S.Network) }, ...problems(400) },
    async handle({ ipam, params, query }) {
      return json(200, { items: (await ipam.listNetworks(params.cloud!, query.zone)).map(networkOut) });
    },
  },
];
