import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';
import { ensureTable, LOCAL_CREDENTIALS } from '../lib/local/dynamodb-local.js';
import { documentClient, DynamoStore } from '../lib/dynamo/store.js';
import { Ipam, type EngineOptions } from '../lib/engine/ipam.js';
import { IpamError } from '../lib/core/errors.js';

export const ddbEndpoint = () => inject('ddbEndpoint');
export const clientConfig = () => ({ endpoint: ddbEndpoint(), region: 'us-east-1', credentials: LOCAL_CREDENTIALS });

/** A fresh table in the shared DynamoDB Local, and an engine on it. */
export async function freshIpam(opts: EngineOptions = {}) {
  const table = `t-${randomBytes(6).toString('hex')}`;
  const raw = new DynamoDBClient(clientConfig());
  await ensureTable(raw, table);
  raw.destroy();
  const doc = documentClient({ ...clientConfig(), maxAttempts: 8 });
  const store = new DynamoStore(doc, table);
  return { ipam: new Ipam(store, opts), store, doc, table };
}

export const ctx = { principal: 'arn:aws:iam::123456789012:role/test', requestId: 'req-1' };

/** The IpamError reason a call fails with, or 'no error'. */
export const reasonOf = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    if (e instanceof IpamError) return e.reason;
    throw e;
  }
  return 'no error';
};

/**
 * An engine on an existing table of the shared DynamoDB Local (the local service's, started with
 * `IPAM_TABLE`), to lay out what a test needs before it calls the service.
 */
export function ipamOn(table: string) {
  return new Ipam(new DynamoStore(documentClient({ ...clientConfig(), maxAttempts: 8 }), table));
}
