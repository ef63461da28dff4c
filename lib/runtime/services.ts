/**
 * Process-wide singletons (Powertools style): the logger and the engine, built from the environment.
 * Lambda entries and the local service both take them from here.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { documentClient, DynamoStore } from '../dynamo/store.js';
import { Environments } from '../engine/environments.js';
import { Ipam } from '../engine/ipam.js';
import type { Services } from '../api/routes.js';
import { DEFAULT_TABLE_NAME } from '../dynamo/table.js';

export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'ipam' });

let engine: Ipam | undefined;
let services: Services | undefined;

/** The engine on the table named by IPAM_TABLE, at IPAM_DYNAMODB_ENDPOINT when set (local), else AWS. */
export function ipamFromEnv(env: NodeJS.ProcessEnv = process.env): Ipam {
  if (!engine) {
    const endpoint = env.IPAM_DYNAMODB_ENDPOINT;
    const doc = documentClient({
      ...(endpoint ? { endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
      region: env.IPAM_REGION ?? env.AWS_REGION ?? 'us-east-1',
      maxAttempts: 5,
    });
    const store = new DynamoStore(doc, env.IPAM_TABLE ?? DEFAULT_TABLE_NAME);
    engine = new Ipam(store);
    services = { ipam: engine, environments: new Environments(engine, store) };
  }
  return engine;
}

/** The engine and the environments over the same store, built once (the API's composition root). */
export function servicesFromEnv(env: NodeJS.ProcessEnv = process.env): Services {
  ipamFromEnv(env);
  return services!;
}
