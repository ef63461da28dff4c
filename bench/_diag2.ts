import { BatchWriteItemCommand, CreateTableCommand, DynamoDBClient, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { startDynamoLocal, LOCAL_CREDENTIALS } from '../lib/dynamodb-local.js';
import { createTableInput } from '../lib/table.js';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const ddb = await startDynamoLocal({ dbPath: '/tmp/txb/diag2-' + Date.now() });
const c = new DynamoDBClient({ endpoint: ddb.endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
const withS = createTableInput('withstream');
const noS = { ...createTableInput('nostream') }; delete (noS as any).StreamSpecification;
const noIdx = { ...noS, TableName: 'bare', AttributeDefinitions: noS.AttributeDefinitions!.filter((a: any) => a.AttributeName === 'pk' || a.AttributeName === 'sk') }; delete (noIdx as any).GlobalSecondaryIndexes;
for (const t of [withS, noS, noIdx]) await c.send(new CreateTableCommand(t as any));
const item = (i: number, r: number) => ({ pk: { S: `ALLOC#c#4#${r}-${i}` }, sk: { S: 'A' }, gsi1pk: { S: `H#vm#x${i}` }, gsi1sk: { S: `c#z#p#${i}` }, cloud: { S: 'c' }, address: { S: '10.0.0.1' }, meta: { S: 'x'.repeat(300) }, allocatedAt: { S: new Date().toISOString() } });
for (let round = 0; round < 2; round++) for (const t of ['withstream', 'nostream', 'bare']) {
  const t0 = performance.now(); const N = 40;
  for (let b = 0; b < N; b++) await Promise.all([0, 1, 2, 3].map((p) => c.send(new BatchWriteItemCommand({ RequestItems: { [t]: Array.from({ length: 25 }, (_, i) => ({ PutRequest: { Item: item(b * 100 + p * 25 + i, round) } })) } }))));
  const ms = performance.now() - t0;
  console.log(t, round, `${(N * 100 / (ms / 1000)).toFixed(0)} items/s`);
}
await ddb.stop();
