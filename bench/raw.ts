/** The raw DynamoDB baseline of the benchmarks: one conditional PutItem of an allocation-sized item. */
import { PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** A conditional PutItem of a new item `RAW#<tag>#<i>` in `table`, per call of the returned function. */
export const rawPut = (raw: DynamoDBClient, table: string, tag: string) => (i: number) =>
  raw.send(
    new PutItemCommand({
      TableName: table,
      Item: { pk: { S: `RAW#${tag}#${i}` }, sk: { S: 'R' }, cloud: { S: 'bench' }, address: { S: `10.0.${i >> 8}.${i & 255}` }, vm: { S: `vm-${i}` }, at: { S: new Date().toISOString() } },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
