/**
 * Which clouds exist: the table's cloud items (pk `CLOUD#{cloud}`, sk `#META`, type 'cloud').
 * There is no index over them, so this is a filtered Scan of the table (it reads every item once;
 * the export reads every allocation anyway). Set IPAM_EXPORT_CLOUDS to skip it.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoStore } from '../dynamo/store.js';
import type { Ipam } from '../engine.js';
import { NAME_RE } from '../validate.js';

/** A store that can list its clouds itself (a future Store method) is used as is. */
interface CloudLister {
  listClouds(): Promise<string[]>;
}

export async function listClouds(ipam: Ipam): Promise<string[]> {
  const store = ipam.store as unknown as Partial<CloudLister>;
  if (typeof store.listClouds === 'function') return (await store.listClouds()).sort();
  if (!(ipam.store instanceof DynamoStore)) throw new Error('cannot list the clouds of this store: pass clouds explicitly (IPAM_EXPORT_CLOUDS)');
  const { doc, table } = ipam.store;
  const out = new Set<string>();
  let start: Record<string, unknown> | undefined;
  do {
    const r = await doc.send(
      new ScanCommand({
        TableName: table,
        FilterExpression: 'sk = :meta AND #t = :cloud',
        ProjectionExpression: 'cloud',
        ExpressionAttributeNames: { '#t': 'type' },
        ExpressionAttributeValues: { ':meta': '#META', ':cloud': 'cloud' },
        ExclusiveStartKey: start,
      }),
    );
    for (const i of r.Items ?? []) if (typeof i.cloud === 'string' && NAME_RE.test(i.cloud)) out.add(i.cloud);
    start = r.LastEvaluatedKey;
  } while (start);
  return [...out].sort();
}

/** IPAM_EXPORT_CLOUDS: a comma-separated list of clouds, or undefined (all clouds). */
export function cloudsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  const v = env.IPAM_EXPORT_CLOUDS?.trim();
  if (!v) return undefined;
  const list = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const c of list) if (!NAME_RE.test(c)) throw new Error(`IPAM_EXPORT_CLOUDS holds ${JSON.stringify(c)}, which is not a cloud name`);
  return list;
}
