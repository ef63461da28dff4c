/**
 * Environments over HTTP: many addresses in one call, as JSON or as a Heat environment file.
 */
import * as z from 'zod';
import { Environments, heatEnvironment, type EnvironmentView } from '../environments.js';
import { LIMITS, SLOT_RE } from '../validate.js';
import { json, text, type ApiRequest } from './http.js';
import { problems, type Route } from './routes.js';
import * as S from './schemas.js';

const Slot = z
  .object({
    zone: S.Name,
    pool: S.Name,
    vm: S.HolderId.optional(),
    vip: S.HolderId.optional(),
    name: S.AllocationName.optional(),
    count: z.number().int().min(1).max(LIMITS.environmentAddresses).optional(),
    address: z.string().min(1).max(64).optional(),
    prefixLength: z.number().int().min(0).max(128).optional(),
    hostname: z.string().max(253).optional(),
  })
  .strict()
  .refine((s) => (s.vm === undefined) !== (s.vip === undefined), { message: 'exactly one of vm or vip is required', path: ['vm'] });

export const EnvironmentBody = z
  .object({
    slots: z.record(z.string().regex(SLOT_RE, 'slot names are Heat parameter names: a letter, then letters, digits or _'), Slot).refine((s) => Object.keys(s).length >= 1 && Object.keys(s).length <= LIMITS.environmentSlots, `1 to ${LIMITS.environmentSlots} slots`),
  })
  .strict()
  .openapi('EnvironmentDefinition');

const EnvironmentOut = z
  .object({
    environment: z.string(),
    cloud: z.string(),
    slots: z.record(z.string(), z.object({ zone: z.string(), pool: z.string(), count: z.number().int().optional(), addresses: z.array(z.string()) })),
  })
  .openapi('Environment');

const FormatQuery = z.object({ format: z.enum(['json', 'heat']).optional() }).strict();
const params = z.object({ cloud: S.Name, env: S.Name });

async function render(req: ApiRequest, format: 'json' | 'heat' | undefined, status: number, view: EnvironmentView) {
  const heat = format === 'heat' || (format === undefined && /application\/(x-)?yaml/.test(req.headers.accept ?? ''));
  return heat ? text(status, await heatEnvironment(view), 'application/yaml') : json(status, view);
}

const PATH = '/v1/clouds/{cloud}/environments/{env}';

export const environmentRoutes: Route[] = [
  {
    method: 'PUT',
    path: PATH,
    summary: 'Allocate every slot of an environment, all or nothing (idempotent; ?format=heat answers a Heat environment file)',
    params,
    query: FormatQuery,
    body: EnvironmentBody,
    responses: { 201: { description: 'allocated', schema: EnvironmentOut }, 200: { description: 'already allocated, identical', schema: EnvironmentOut }, ...problems(400, 409, 503) },
    async handle({ ipam, params: p, query, body, call, req }) {
      const r = await new Environments(ipam, ipam.store).apply(p.cloud!, p.env!, body, call);
      return render(req, query.format, r.created ? 201 : 200, r.view);
    },
  },
  {
    method: 'GET',
    path: PATH,
    summary: "An environment's addresses per slot; ?format=heat (or Accept: application/yaml) for a Heat environment file",
    params,
    query: FormatQuery,
    responses: { 200: { description: 'the environment', schema: EnvironmentOut }, ...problems(400, 404) },
    async handle({ ipam, params: p, query, req }) {
      return render(req, query.format, 200, await new Environments(ipam, ipam.store).get(p.cloud!, p.env!));
    },
  },
  {
    method: 'DELETE',
    path: PATH,
    summary: 'Release every address of an environment',
    params,
    query: S.NoQuery,
    responses: { 200: { description: 'what was released', schema: z.object({ released: z.array(S.Allocation) }) }, ...problems(400, 404, 503) },
    async handle({ ipam, params: p, call }) {
      return json(200, { released: await new Environments(ipam, ipam.store).release(p.cloud!, p.env!, call) });
    },
  },
];
