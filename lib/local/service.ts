/**
 * `npm start`: the whole product on one machine. Starts DynamoDB Local (persisting under the
 * data dir) unless IPAM_DYNAMODB_ENDPOINT names one, creates the table, and serves the API
 * through the Lambda handler. Everything is configured by environment variables.
 */
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { callerLookup, loadCallers } from '../auth/callers.js';
import { createApiHandler } from '../api/lambda.js';
import { ensureTable, LOCAL_CREDENTIALS, startDynamoLocal, type DynamoLocal } from '../dynamodb-local.js';
import { documentClient, DynamoStore } from '../dynamo/store.js';
import { Ipam } from '../engine.js';
import { DEFAULT_TABLE_NAME } from '../table.js';
import { startApiServer } from './server.js';
import { startStreamReader, type StreamReader } from './stream-reader.js';

export interface LocalConfig {
  port: number;
  host: string;
  dataDir: string;
  callersFile: string;
  region: string;
  table: string;
  dynamodbEndpoint?: string;
  quiet: boolean;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): LocalConfig {
  const dataDir = path.resolve(env.IPAM_DATA_DIR ?? '.ipam');
  const port = Number(env.IPAM_PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`IPAM_PORT must be a port number, not ${env.IPAM_PORT}`);
  return {
    port,
    host: env.IPAM_HOST ?? '127.0.0.1',
    dataDir,
    callersFile: path.resolve(env.IPAM_CALLERS_FILE ?? path.join(dataDir, 'callers.json')),
    region: env.IPAM_REGION ?? 'us-east-1',
    table: env.IPAM_TABLE ?? DEFAULT_TABLE_NAME,
    ...(env.IPAM_DYNAMODB_ENDPOINT ? { dynamodbEndpoint: env.IPAM_DYNAMODB_ENDPOINT } : {}),
    quiet: env.IPAM_QUIET === '1',
  };
}

export interface LocalService {
  url: string;
  dynamodbEndpoint: string;
  ipam: Ipam;
  securityEvents: StreamReader;
  stop(): Promise<void>;
}

export async function startLocalService(cfg: LocalConfig, log: (line: string) => void = console.log): Promise<LocalService> {
  const t0 = performance.now();
  let ddb: DynamoLocal | undefined;
  let endpoint = cfg.dynamodbEndpoint;
  if (!endpoint) {
    ddb = await startDynamoLocal({ dbPath: path.join(cfg.dataDir, 'dynamodb') });
    endpoint = ddb.endpoint;
  }
  const clientCfg = { endpoint, region: cfg.region, credentials: LOCAL_CREDENTIALS };
  const raw = new DynamoDBClient(clientCfg);
  await ensureTable(raw, cfg.table);
  raw.destroy();
  // The local equivalent of the stream's event source mapping: security events to <data dir>/security-events.jsonl.
  const securityEvents: StreamReader = await startStreamReader({ endpoint, table: cfg.table, dataDir: cfg.dataDir, region: cfg.region, onError: (e) => log(`security events: ${e.message}`) });
  const { callers, created } = await loadCallers(cfg.callersFile, { create: true });
  if (created) {
    log(`Created ${cfg.callersFile} with one caller (${created.principal}, access key ${created.accessKeyId}); the CLI signs with it by default.`);
  }
  const ipam = new Ipam(new DynamoStore(documentClient({ ...clientCfg, maxAttempts: 5 }), cfg.table));
  const handler = createApiHandler(() => ipam);
  const api = await startApiServer({
    port: cfg.port,
    host: cfg.host,
    region: cfg.region,
    lookup: callerLookup(callers),
    handler,
    ...(cfg.quiet ? {} : { onRequest: (l) => log(`${l.method} ${l.path} ${l.status} ${l.ms.toFixed(0)}ms ${l.principal ?? '-'}`) }),
  });
  log(`IPAM API listening on ${api.url} (region ${cfg.region}, table ${cfg.table}, DynamoDB ${endpoint}, data ${cfg.dataDir}) ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  log(`Security events: ${path.join(cfg.dataDir, 'security-events.jsonl')}`);
  return {
    url: api.url,
    dynamodbEndpoint: endpoint,
    ipam,
    securityEvents,
    async stop() {
      await api.close();
      await securityEvents.stop();
      await ddb?.stop();
    },
  };
}
