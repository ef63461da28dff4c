/**
 * `npm run repair -- --table <name> [--region <r>] [--endpoint <url>]`: after a failover, makes the
 * table's derived items (counters, free-slot sets, claims) agree with its allocation records.
 * See lib/dynamo/repair.ts and docs/operations.md. Reads the whole table once.
 */
import { Command } from 'commander';
import { repairTable } from '../lib/dynamo/repair.js';
import { documentClient, DynamoStore } from '../lib/dynamo/store.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const o = new Command('repair')
  .requiredOption('--table <name>', 'the table (on AWS: the standby Region\'s replica)')
  .option('--region <region>', 'AWS Region', process.env.AWS_REGION ?? 'us-east-1')
  .option('--endpoint <url>', 'a DynamoDB endpoint (DynamoDB Local); default: AWS')
  .parse()
  .opts<{ table: string; region: string; endpoint?: string }>();
const doc = documentClient({ region: o.region, ...(o.endpoint ? { endpoint: o.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}) });
const report = await repairTable(new DynamoStore(doc, o.table), console.log);
console.log(JSON.stringify(report));
