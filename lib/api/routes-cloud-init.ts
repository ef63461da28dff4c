/**
 * cloud-init: a VM's network configuration (network-config version 2, netplan's format) from the addresses
 * it holds (lib/integrations/cloud-init.ts). Under the cloud (every zone, for cloud-wide callers) and under a
 * zone (that zone's allocations only: a zone pipeline's grant; a VM holding nothing there is 404, whatever
 * it holds in other zones).
 */
import * as z from 'zod';
import { IpamError } from '../core/errors.js';
import { networkConfigYaml } from '../integrations/cloud-init.js';
import { text } from './http.js';
import { problems, type Route } from './routes.js';
import * as S from './schemas.js';

const NetworkConfig = z.string().openapi({
  description: 'a cloud-init network-config version 2 document (netplan format): one ethernet per NIC of the VM, matched by MAC where known; addresses with their network’s prefix length, default route via the gateway, static routes, nameservers, MTU',
  example: 'network:\n  version: 2\n  ethernets:\n    eth0:\n      match:\n        macaddress: "52:54:00:12:34:56"\n      set-name: eth0\n      addresses:\n        - "10.20.0.87/24"\n      routes:\n        - to: default\n          via: "10.20.0.1"\n',
});

export const cloudInitRoutes: Route[] = (['cloud', 'zone'] as const).map(
  (scope): Route => ({
    method: 'GET',
    path: scope === 'cloud' ? '/v1/clouds/{cloud}/vms/{vm}/network-config' : '/v1/clouds/{cloud}/zones/{zone}/vms/{vm}/network-config',
    operationId: scope === 'cloud' ? 'getVmNetworkConfig' : 'getZoneVmNetworkConfig',
    tag: 'CloudInit',
    summary: `A VM's cloud-init network-config (version 2, netplan) for every NIC it holds ${scope === 'cloud' ? 'in the cloud' : 'in the zone'}`,
    params: z.object({ cloud: S.Name, ...(scope === 'zone' ? { zone: S.Name } : {}), vm: S.HolderId }),
    query: S.NoQuery,
    responses: {
      200: { description: 'the network-config document', schema: NetworkConfig, contentType: 'application/yaml' },
      ...problems(400, 404, 409),
    },
    async handle({ ipam, params: p }) {
      const held = await ipam.byHolder(p.cloud!, { kind: 'vm', id: p.vm! }, p.zone);
      const where = p.zone === undefined ? `cloud ${p.cloud}` : `zone ${p.zone} of cloud ${p.cloud}`;
      if (held.length === 0) throw new IpamError('AllocationNotFound', `vm ${p.vm} holds no address in ${where}`);
      return text(200, await networkConfigYaml(`vm ${p.vm} in ${where}`, held), 'application/yaml');
    },
  }),
);
