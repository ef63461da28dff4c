/**
 * Which clouds exist: the store's cloud items (a filtered Scan; the export reads every allocation
 * anyway). Set IPAM_EXPORT_CLOUDS to skip it.
 */
import type { Ipam } from '../../engine/ipam.js';
import { NAME_RE } from '../../core/validate.js';

export async function listClouds(ipam: Ipam): Promise<string[]> {
  return (await ipam.listClouds()).filter((c) => NAME_RE.test(c));
}

/** IPAM_EXPORT_CLOUDS: a comma-separated list of clouds, or undefined (all clouds). */
export function cloudsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  const v = env.IPAM_EXPORT_CLOUDS?.trim();
  if (!v) return undefined;
  const list = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const c of list) if (!NAME_RE.test(c)) throw new Error(`IPAM_EXPORT_CLOUDS holds ${JSON.stringify(c)}, which is not a cloud name`);
  return list;
}
