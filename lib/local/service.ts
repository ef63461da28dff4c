/**
 * `npm start`: the whole product on one machine. Starts DynamoDB Local (persisting under the
 * data dir) unless IPAM_DYNAMODB_ENDPOINT names one, creates the table, and serves the API
 * through the Lambda handler. Everything is configured by environment variables.
 */
import { existsSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { callerLookup, loadCallers } from '../auth/callers.js';
import { createApiHandler } from '../api/lambda.js';
import { ensureTable, LOCAL_CREDENTIALS, startDynamoLocal, type DynamoLocal } from './dynamodb-local.js';
import { repairTable } from '../dynamo/repair.js';
import { documentClient, DynamoStore } from '../dynamo/store.js';
import type { Ipam } from '../engine/ipam.js';
import { compose } from '../runtime/ipam.js';
import { DEFAULT_TABLE_NAME } from '../dynamo/table.js';
import { dnsConfigFromEnv } from '../integrations/dns/zones.js';
import { exportSchedulerFromEnv } from '../integrations/export/scheduler.js';
import { startApiServer } from './server.js';
import { startReplica, type Replica } from './replica.js';
import { startStreamReader, type StreamReader } from './stream-reader.js';

export interface LocalConfig {
  port: number;
  host: string;
  /** More Host header values the API answers to (IPAM_PUBLIC_HOST, comma-separated), beside its own address:port. */
  publicHosts?: string[];
  dataDir: string;
  callersFile: string;
  region: string;
  table: string;
  dynamodbEndpoint?: string;
  /** Keep a replica (a second DynamoDB Local) in this directory, in sync from the stream. */
  replicaDir?: string;
  /** Group-commit slots per pool (EngineOptions.groupCommit); 0: one transaction per allocation. */
  groupCommit?: number;
  /** DynamoDB Local's Java heap (-Xmx), MB. Default 1024; a million allocations want more. */
  dynamodbHeapMb?: number;
  quiet: boolean;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): LocalConfig {
  const dataDir = path.resolve(env.IPAM_DATA_DIR ?? '.ipam');
  const port = Number(env.IPAM_PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`IPAM_PORT must be a port number, not ${env.IPAM_PORT}`);
  // The default DNS settings (IPAM_DNS_*) are read by the API and the export later: a bad one stops the start now.
  dnsConfigFromEnv(env);
  return {
    port,
    host: env.IPAM_HOST ?? '127.0.0.1',
    ...(env.IPAM_PUBLIC_HOST ? { publicHosts: env.IPAM_PUBLIC_HOST.split(',').map((h) => h.trim()).filter(Boolean) } : {}),
    dataDir,
    callersFile: path.resolve(env.IPAM_CALLERS_FILE ?? path.join(dataDir, 'callers.json')),
    region: env.IPAM_REGION ?? 'us-east-1',
    table: env.IPAM_TABLE ?? DEFAULT_TABLE_NAME,
    ...(env.IPAM_DYNAMODB_ENDPOINT ? { dynamodbEndpoint: env.IPAM_DYNAMODB_ENDPOINT } : {}),
    ...(env.IPAM_REPLICA_DIR ? { replicaDir: path.resolve(env.IPAM_REPLICA_DIR) } : {}),
    ...(env.IPAM_GROUP_COMMIT !== undefined ? { groupCommit: wholeNumber('IPAM_GROUP_COMMIT', env.IPAM_GROUP_COMMIT, 0, 64) } : {}),
    ...(env.IPAM_DYNAMODB_HEAP_MB !== undefined ? { dynamodbHeapMb: wholeNumber('IPAM_DYNAMODB_HEAP_MB', env.IPAM_DYNAMODB_HEAP_MB, 256, 65536, 'MB') } : {}),
    quiet: env.IPAM_QUIET === '1',
  };
}

/** A setting that must be a whole number in [min, max]. */
function wholeNumber(name: string, text: string, min: number, max: number, unit?: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < min || n > max) throw new Error(`${name} must be a whole number${unit ? ` of ${unit}` : ''} from ${min} to ${max}, not ${JSON.stringify(text)}`);
  return n;
}

export interface LocalService {
  url: string;
  dynamodbEndpoint: string;
  ipam: Ipam;
  securityEvents: StreamReader;
  replica?: Replica;
  stop(): Promise<void>;
}

export async function startLocalService(cfg: LocalConfig, log: (line: string) => void = console.log): Promise<LocalService> {
  const t0 = performance.now();
  let ddb: DynamoLocal | undefined;
  let endpoint = cfg.dynamodbEndpoint;
  if (!endpoint) {
    ddb = await startDynamoLocal({ dbPath: path.join(cfg.dataDir, 'dynamodb'), ...(cfg.dynamodbHeapMb ? { heapMb: cfg.dynamodbHeapMb } : {}) });
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
  const replica: Replica | undefined = cfg.replicaDir ? await startReplica({ primaryEndpoint: endpoint, table: cfg.table, replicaDir: cfg.replicaDir, callersFile: cfg.callersFile, log }) : undefined;
  // readAfterWrite: DynamoDB Local acknowledges writes a few ms before they survive a kill -9.
  const store = new DynamoStore(documentClient({ ...clientCfg, maxAttempts: 5 }), cfg.table, { readAfterWrite: true });
  // Serving from a replica (failover): first make its derived items agree with its allocation records.
  const promoted = existsSync(path.join(cfg.dataDir, 'replica-status.json'));
  if (promoted || process.env.IPAM_RECOVER === '1') {
    log(`${promoted ? 'This data dir is a replica: promoting it.' : 'IPAM_RECOVER=1:'} Repairing the table before serving...`);
    await repairTable(store, log);
    if (promoted) await rename(path.join(cfg.dataDir, 'replica-status.json'), path.join(cfg.dataDir, `promoted-${Date.now()}.json`));
  }
  // The composition root of the local service: the engine and Environments, built once over this store.
  const services = compose(store, cfg.groupCommit !== undefined ? { groupCommit: cfg.groupCommit } : {});
  const { ipam } = services;
  const handler = createApiHandler(() => services);
  // The scheduled DNS zone export: to <data dir>/exports/, or to an S3-protocol server when configured.
  const exports = exportSchedulerFromEnv(ipam, cfg.dataDir, process.env, log);
  const api = await startApiServer({
    port: cfg.port,
    host: cfg.host,
    ...(cfg.publicHosts ? { publicHosts: cfg.publicHosts } : {}),
    region: cfg.region,
    lookup: callerLookup(callers),
    handler,
    ...(cfg.quiet ? {} : { onRequest: (l) => log(`${l.method} ${l.path} ${l.status} ${l.ms.toFixed(0)}ms ${l.principal ?? '-'}`) }),
  });
  if (ddb) log(`DynamoDB Local: ${ddb.listen}, port ${ddb.port}, no authentication`);
  log(`IPAM API listening on ${api.url} (region ${cfg.region}, table ${cfg.table}, DynamoDB ${endpoint}, data ${cfg.dataDir}) ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  log(`Security events: ${path.join(cfg.dataDir, 'security-events.jsonl')}`);
  return {
    url: api.url,
    dynamodbEndpoint: endpoint,
    ipam,
    securityEvents,
    ...(replica ? { replica } : {}),
    async stop() {
      await api.close();
      await exports?.stop();
      await securityEvents.stop();
      await replica?.stop();
      await ddb?.stop();
    },
  };
}
