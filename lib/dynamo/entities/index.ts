/** Every item type of the table, one entity each (keys from ../keys.ts). docs/design.md lists them. */
export { dynamoItem, dynamoValue, type Item } from './item.js';
export { AllocationEntity, TOMBSTONE_SECONDS } from './allocation.js';
export { blockAttr, ChunkEntity, quarantineAttr } from './chunk.js';
export { ClaimEntity, type Claim } from './claim.js';
export { CloudEntity, DnsSettingsEntity, LimitsEntity } from './cloud.js';
export { EnvironmentEntity } from './environment.js';
export { NetworkEntity } from './network.js';
export { PoolEntity } from './pool.js';
export { ShardEntity } from './shard.js';
export { UniqueEntity } from './unique.js';
