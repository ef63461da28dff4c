/**
 * The one DynamoDB table of the product: its keys and indexes.
 * The CDK stack and the local service both create the table from this definition,
 * so they cannot drift apart. docs/design.md explains every item type.
 */
export const TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk' } as const;

/** GSI1: allocations by holder (VM or VIP) within a cloud. Projection ALL. */
export const GSI_HOLDER = { name: 'byHolder', partitionKey: 'gsi1pk', sortKey: 'gsi1sk', projection: 'ALL' } as const;

/** GSI2: the chunks a pool has touched, in address order. Sparse, KEYS_ONLY, written once per chunk. */
export const GSI_POOL_CHUNKS = { name: 'byPoolChunk', partitionKey: 'gsi2pk', sortKey: 'gsi2sk', projection: 'KEYS_ONLY' } as const;

export const GLOBAL_INDEXES = [GSI_HOLDER, GSI_POOL_CHUNKS] as const;

/** Attribute that DynamoDB TTL deletes released-allocation tombstones by. */
export const TTL_ATTRIBUTE = 'expiresAt';

export const DEFAULT_TABLE_NAME = 'ipam';

/** A CreateTable request for the local service and tests (on AWS the CDK stack creates it). */
export function createTableInput(tableName: string) {
  const attr = (name: string) => ({ AttributeName: name, AttributeType: 'S' as const });
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [TABLE_KEYS.partitionKey, TABLE_KEYS.sortKey, ...GLOBAL_INDEXES.flatMap((i) => [i.partitionKey, i.sortKey])].map(attr),
    KeySchema: [
      { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' as const },
      { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' as const },
    ],
    GlobalSecondaryIndexes: GLOBAL_INDEXES.map((i) => ({
      IndexName: i.name,
      KeySchema: [
        { AttributeName: i.partitionKey, KeyType: 'HASH' as const },
        { AttributeName: i.sortKey, KeyType: 'RANGE' as const },
      ],
      Projection: { ProjectionType: i.projection },
    })),
    StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' as const },
  };
}
