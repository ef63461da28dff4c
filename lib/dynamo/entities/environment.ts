/** The environment item: `ENV#<cloud>#<name>` / `ENV`: a definition and the lease of whoever applies or releases it. */
import type { EnvironmentRecord } from '../../engine/store.js';
import { keys } from '../keys.js';
import { dynamoItem, type Item } from './item.js';

export const EnvironmentEntity = {
  key: (cloud: string, name: string) => keys.environment(cloud, name),
  toItem: (rec: EnvironmentRecord): Item => dynamoItem({ ...keys.environment(rec.cloud, rec.name), type: 'environment', ...rec }),
  fromItem(i: Item): EnvironmentRecord {
    const { pk: _pk, sk: _sk, type: _t, ...rest } = i;
    return rest as EnvironmentRecord;
  },
};
