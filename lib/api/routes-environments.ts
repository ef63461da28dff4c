/**
 * Environments over HTTP: many addresses in one call, as JSON or as a Heat environment file.
 */
import * as z from 'zod';
import type { EnvironmentView } from '../engine/environments.js';
import { heatEnvironment } from '../integrations/heat.js';
import { LIMITS, SLOT_RE } from '../core/validate.js';
import { json, text, type ApiRequest } from './http.js';
import { problems, type Route } from './routes.js';
import * as S from './schemas.js';

const SlotFields = {
    pool: S.Name.optional().openapi({ description: "the slot's pool; left out, its addresses come from whichever pool of the zone has room (allocation by zone, idempotent per zone, holder and name)" }),
    vm: S.HolderId.optional(),
    vip: S.HolderId.optional(),
    name: S.AllocationName.optional(),
    count: z.number().int().min(1).max(LIMITS.environmentAddresses).optional(),
    address: z.string().min(1).max(64).optional(),
    prefixLength: z.number().int().min(0).max(128).optional(),
    hostname: z.string().max(253).optional().openapi({ description: 'the host name; with count, %index% is the position in the slot from 0 (Heat ResourceGroup), else -1..-n is appended to its first label' }),
};

/** The body of an environment; on a zone's route a slot's zone may be left out (and may only be that zone). */
const environmentBody = (zone: z.ZodType) => {
  const Slot = z
    .object({ zone, ...SlotFields })
    .strict()
    .refine((s) => (s.vm === undefined) !== (s.vip === undefined), { message: 'exactly one of vm or vip is required', path: ['vm'] });
  return z
    .object({
      slots: z.record(z.string().regex(SLOT_RE, 'slot names are Heat parameter names: a letter, then letters, digits or _'), Slot).refine((s) => Object.keys(s).length >= 1 && Object.keys(s).length <= LIMITS.environmentSlots, `1 to ${LIMITS.environmentSlots} slots`),
    })
    .strict();
};

export const EnvironmentBody = environmentBody(S.Name).openapi('EnvironmentDefinition');
const ZoneEnvironmentBody = environmentBody(S.Name.optional()).openapi('ZoneEnvironmentDefinition');

const EnvironmentOut = z
  .object({
    environment: z.string(),
    cloud: z.string(),
    zone: z.string().optional(),
    slots: z.record(z.string(), z.object({ zone: z.string(), pool: z.string().optional().openapi({ description: "the slot's pool; for a slot allocated by zone, the pool of its first address" }), pools: z.array(z.string()).optional().openapi({ description: 'a slot allocated by zone whose addresses come from several pools: all of them' }), count: z.number().int().optional(), addresses: z.array(z.string()), network: S.NicNetwork.optional() })),
  })
  .openapi('Environment');

/** What ?format=heat (or Accept: application/yaml) answers instead of the JSON view. */
const HeatFile = { 'application/yaml': z.string().openapi({ description: 'a Heat environment file: parameter_defaults with one parameter per slot' }) };

const FormatQuery = z.object({ format: z.enum(['json', 'heat']).optional() }).strict();

async function render(req: ApiRequest, format: 'json' | 'heat' | undefined, status: number, view: EnvironmentView) {
  const heat = format === 'heat' || (format === undefined && /application\/(x-)?yaml/.test(req.headers.accept ?? ''));
  return heat ? text(status, await heatEnvironment(view), 'application/yaml') : json(status, view);
}

/**
 * Environments under the cloud (slots in any zone; cloud-wide grants) and under a zone (slots only in that
 * zone; a zone pipeline's grant). The two are separate namespaces: see environmentId.
 */
export const environmentRoutes: Route[] = (['cloud', 'zone'] as const).flatMap((scope): Route[] => {
  const PATH = scope === 'cloud' ? '/v1/clouds/{cloud}/environments/{env}' : '/v1/clouds/{cloud}/zones/{zone}/environments/{env}';
  const params = scope === 'cloud' ? z.object({ cloud: S.Name, env: S.Name }) : z.object({ cloud: S.Name, zone: S.Name, env: S.Name });
  const slots = scope === 'cloud' ? 'every slot' : 'every slot (all in this zone)';
  const id = (verb: string) => (scope === 'cloud' ? `${verb}Environment` : `${verb}ZoneEnvironment`);
  return [
    {
      method: 'PUT',
      path: PATH,
      operationId: id('apply'),
      tag: 'Environments',
      summary: `Allocate ${slots} of an environment, all or nothing (idempotent; ?format=heat answers a Heat environment file)`,
      params,
      query: FormatQuery,
      body: scope === 'cloud' ? EnvironmentBody : ZoneEnvironmentBody,
      responses: { 201: { description: 'allocated', schema: EnvironmentOut, content: HeatFile }, 200: { description: 'already allocated, identical', schema: EnvironmentOut, content: HeatFile }, ...problems(400, 409, 503) },
      async handle({ environments, params: p, query, body, call, req }) {
        const r = await environments.apply(p.cloud!, p.env!, body, call, p.zone);
        return render(req, query.format, r.created ? 201 : 200, r.view);
      },
    },
    {
      method: 'GET',
      path: PATH,
      operationId: id('get'),
      tag: 'Environments',
      summary: "An environment's addresses per slot; ?format=heat (or Accept: application/yaml) for a Heat environment file",
      params,
      query: FormatQuery,
      responses: { 200: { description: 'the environment', schema: EnvironmentOut, content: HeatFile }, ...problems(400, 404) },
      async handle({ environments, params: p, query, req }) {
        return render(req, query.format, 200, await environments.get(p.cloud!, p.env!, p.zone));
      },
    },
    {
      method: 'DELETE',
      path: PATH,
      operationId: id('release'),
      tag: 'Environments',
      summary: 'Release every address of an environment',
      params,
      query: S.NoQuery,
      responses: { 200: { description: 'what was released', schema: z.object({ released: z.array(S.Allocation) }) }, ...problems(400, 404, 503) },
      async handle({ environments, params: p, call }) {
        return json(200, { released: await environments.release(p.cloud!, p.env!, call, p.zone) });
      },
    },
  ];
});
