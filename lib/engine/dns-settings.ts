/**
 * The cloud's DNS settings (name servers, hostmaster, timers of its zones): one item in the cloud
 * partition, replaced as a whole. The write is fenced on the cloud version like a topology change, so
 * the cloud's change clock (the SOA serial of every zone) moves with it.
 */
import { checkDnsSettings, type StoredDnsSettings } from '../core/dns.js';
import type { CallContext } from '../core/model.js';
import { checkName } from '../core/validate.js';
import type { Engine } from './context.js';
import { RACED, retrying } from './retry.js';

export class DnsSettingsOps {
  constructor(private readonly e: Engine) {}

  /** The cloud's own settings, or undefined when it has none (the deployment's defaults then apply). */
  async getDnsSettings(cloud: string): Promise<StoredDnsSettings | undefined> {
    return this.e.store.getDnsSettings(checkName('cloud', cloud));
  }

  /** Replaces the cloud's settings (400 for an invalid one; nothing is changed then). */
  async setDnsSettings(cloud: string, input: unknown, ctx: CallContext): Promise<StoredDnsSettings> {
    checkName('cloud', cloud);
    const settings = checkDnsSettings(input);
    return retrying('setting the DNS settings', this.e.maxAttempts, async () => {
      const { cloudVersion } = await this.e.store.listPools(cloud);
      if ((await this.e.store.putDnsSettings(cloud, settings, cloudVersion, ctx)) !== 'ok') return RACED;
      return (await this.e.store.getDnsSettings(cloud)) ?? RACED;
    });
  }
}
