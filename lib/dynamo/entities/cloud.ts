/**
 * The cloud's items, in the partition `CLOUD#<cloud>` next to its pools:
 *  - `#META` (`type: 'cloud'`): the version every topology change of the cloud is fenced on, and when it changed;
 *  - `#LIMITS` (`type: 'limits'`): a cloud admin's per-zone address limits;
 *  - `#DNS` (`type: 'dnssettings'`): the cloud's DNS settings (name servers, hostmaster, timers of its zones).
 */
import { DNS_TIMER_KEYS, type DnsSettings, type StoredDnsSettings } from '../../core/dns.js';
import type { CallContext } from '../../core/model.js';
import type { CloudLimits } from '../../engine/store.js';
import { keys } from '../keys.js';
import type { Item } from './item.js';

export const CloudEntity = {
  key: (cloud: string) => keys.cloud(cloud),
  fromItem: (i: Item): { cloud: string; version: number; changedAt: number } => ({ cloud: i.cloud, version: Number(i.version), changedAt: Number(i.changedAt ?? 0) }),
  /**
   * The fence: bumps the version from `cloudVersion` (0: the item must not exist yet), as the Update
   * of a transaction. Any topology change that raced it cancels the transaction.
   */
  fence: (cloud: string, cloudVersion: number, now = Date.now()) => ({
    Key: keys.cloud(cloud),
    UpdateExpression: 'SET #v = :next, #t = :type, cloud = :cloud, changedAt = :now',
    ConditionExpression: cloudVersion === 0 ? 'attribute_not_exists(pk)' : '#v = :cur',
    ExpressionAttributeNames: { '#v': 'version', '#t': 'type' },
    ExpressionAttributeValues: { ':next': cloudVersion + 1, ':type': 'cloud', ':cloud': cloud, ':now': now, ...(cloudVersion === 0 ? {} : { ':cur': cloudVersion }) },
  }),
};

export const LimitsEntity = {
  key: (cloud: string) => keys.limits(cloud),
  toItem: (cloud: string, limits: CloudLimits, by: CallContext): Item => ({ ...keys.limits(cloud), type: 'limits', cloud, zones: limits.zones, updatedAt: new Date().toISOString(), updatedBy: by.principal, ...(by.requestId ? { requestId: by.requestId } : {}) }),
  fromItem: (i: Item): CloudLimits => ({ zones: i.zones as CloudLimits['zones'] }),
};

export const DnsSettingsEntity = {
  type: 'dnssettings',
  key: (cloud: string) => keys.dnsSettings(cloud),
  toItem: (cloud: string, s: DnsSettings, by: CallContext, now = new Date()): Item => ({
    ...keys.dnsSettings(cloud),
    type: DnsSettingsEntity.type,
    cloud,
    primaryNs: s.primaryNs,
    primaryNsAddresses: s.primaryNsAddresses,
    secondaryNs: s.secondaryNs.map((n) => ({ name: n.name, addresses: n.addresses })),
    hostmaster: s.hostmaster,
    ...Object.fromEntries(DNS_TIMER_KEYS.filter((k) => s[k] !== undefined).map((k) => [k, s[k]])),
    updatedAt: now.toISOString(),
    updatedBy: by.principal,
    ...(by.requestId ? { requestId: by.requestId } : {}),
  }),
  fromItem: (i: Item): StoredDnsSettings => ({
    primaryNs: String(i.primaryNs),
    primaryNsAddresses: Array.isArray(i.primaryNsAddresses) ? i.primaryNsAddresses.map(String) : [],
    secondaryNs: Array.isArray(i.secondaryNs) ? i.secondaryNs.map((n: Item) => ({ name: String(n.name), addresses: Array.isArray(n.addresses) ? n.addresses.map(String) : [] })) : [],
    hostmaster: String(i.hostmaster),
    ...Object.fromEntries(DNS_TIMER_KEYS.filter((k) => i[k] !== undefined).map((k) => [k, Number(i[k])])),
    updatedAt: String(i.updatedAt),
    updatedBy: String(i.updatedBy),
  }),
};
