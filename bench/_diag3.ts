import { BatchWriteItemCommand, CreateTableCommand, DynamoDBClient, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { startDynamoLocal, LOCAL_CREDENTIALS } from '../lib/dynamodb-local.js';
import { createTableInput } from '../lib/table.js';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const ddb = await startDynamoLocal({ dbPath: '/tmp/txb/diag3-' + Date.now() });
const c = new DynamoDBClient({ endpoint: ddb.endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
await c.send(new CreateTableCommand(createTableInput('tbl')));
const item = (i: number, r: string) => ({ pk: { S: `ALLOC#c#4#${r}-${i}` }, sk: { S: 'A' }, gsi1pk: { S: `H#vm#x${i}` }, gsi1sk: { S: `c#z#p#${i}` }, cloud: { S: 'c' }, address: { S: '10.0.0.1' }, meta: { S: 'x'.repeat(300) }, allocatedAt: { S: new Date().toISOString() } });
for (let round = 0; round < 3; round++) {
  for (const mode of ['batch4x25', 'batch-seq', 'tx100', 'tx2x50']) {
    const t0 = performance.now(); const N = 30;
    for (let b = 0; b < N; b++) {
      const items = Array.from({ length: 100 }, (_, i) => item(b * 100 + i, `${mode}${round}`));
      if (mode === 'batch4x25') await Promise.all([0, 1, 2, 3].map((p) => c.send(new BatchWriteItemCommand({ RequestItems: { tbl: items.slice(p * 25, p * 25 + 25).map((Item) => ({ PutRequest: { Item } })) } }))));
      else if (mode === 'batch-seq') for (let p = 0; p < 4; p++) await c.send(new BatchWriteItemCommand({ RequestItems: { tbl: items.slice(p * 25, p * 25 + 25).map((Item) => ({ PutRequest: { Item } })) } }));
      else if (mode === 'tx100') await c.send(new TransactWriteItemsCommand({ TransactItems: items.map((Item) => ({ Put: { TableName: 'tbl', Item } })) }));
      else await Promise.all([0, 1].map((p) => c.send(new TransactWriteItemsCommand({ TransactItems: items.slice(p * 50, p * 50 + 50).map((Item) => ({ Put: { TableName: 'tbl', Item } })) }))));
    }
    console.log(round, mode, `${(N * 100 / ((performance.now() - t0) / 1000)).toFixed(0)} items/s`);
  }
}
await ddb.stop();
