/**
 * The composition root: the one place that builds the engine and what sits on it (Environments) from a
 * Store. Lambda functions take the process-wide instance from the environment (`servicesFromEnv`); the
 * local service composes its own over the store it configured (`compose`).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Services } from '../api/routes.js';
import { documentClient, DynamoStore } from '../dynamo/store.js';
import { DEFAULT_TABLE_NAME } from '../dynamo/table.js';
import { Environments } from '../engine/environments.js';
import { Ipam, type EngineOptions } from '../engine/ipam.js';
import type { Store } from '../engine/store.js';
import { traced } from './tracer.js';

export type { Services } from '../api/routes.js';

/** The engine over `store`, and Environments over both, built once. */
export function compose(store: Store, options: EngineOptions = {}): Services {
  const ipam = new Ipam(store, options);
  return { ipam, environments: new Environments(ipam, store) };
}

let services: Promise<Services> | undefined;

/**
 * The services on the table named by IPAM_TABLE, at IPAM_DYNAMODB_ENDPOINT when set (local), else AWS;
 * built on first use and kept for the life of the process. The DynamoDB client is traced when tracing
 * is on (lib/runtime/tracer.ts).
 */
export function servicesFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<Services> {
  services ??= (async () => {
    const endpoint = env.IPAM_DYNAMODB_ENDPOINT;
    const client = new DynamoDBClient({
      ...(endpoint ? { endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
      region: env.IPAM_REGION ?? env.AWS_REGION ?? 'us-east-1',
      maxAttempts: 5,
    });
    return compose(new DynamoStore(documentClient(await traced(client, env)), env.IPAM_TABLE ?? DEFAULT_TABLE_NAME));
  })();
  return services;
}

/** The engine alone (see servicesFromEnv). */
export const ipamFromEnv = async (env: NodeJS.ProcessEnv = process.env): Promise<Ipam> => (await servicesFromEnv(env)).ipam;
