/**
 * The scheduled zone export as a Lambda handler (EventBridge schedule): exports every cloud's DNS zones
 * to the export bucket. functions/zone-export.ts only wires it (as functions/security-events.ts wires
 * createSecurityEventsHandler).
 * Env: IPAM_EXPORT_BUCKET; optional IPAM_EXPORT_CLOUDS (comma list; default all clouds, found by a
 * Scan) and IPAM_DNS_* (the deployment's default DNS settings, for clouds without their own: see
 * lib/integrations/dns/zones.ts). A cloud with neither is skipped with a logged warning.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { S3Client } from '@aws-sdk/client-s3';
import type { Ipam } from '../../engine/ipam.js';
import { dnsConfigFromEnv } from '../dns/zones.js';
import { cloudsFromEnv } from './clouds.js';
import { S3Store } from './object-store.js';
import { exportSummary, exportZones } from './zones.js';

export interface ZoneExportHandlerOptions {
  ipam: () => Ipam | Promise<Ipam>;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  env?: NodeJS.ProcessEnv;
}

export type ZoneExportHandler = () => Promise<ReturnType<typeof exportSummary>>;

export function createZoneExportHandler(opts: ZoneExportHandlerOptions): ZoneExportHandler {
  const { logger } = opts;
  let s3: S3Client | undefined;
  return async () => {
    const env = opts.env ?? process.env;
    const bucket = env.IPAM_EXPORT_BUCKET;
    if (!bucket) throw new Error('IPAM_EXPORT_BUCKET is not set');
    s3 ??= new S3Client({ region: env.AWS_REGION ?? 'us-east-1' });
    const clouds = cloudsFromEnv(env);
    try {
      const result = await exportZones({ ipam: await opts.ipam(), store: new S3Store(bucket, s3), dns: dnsConfigFromEnv(env), ...(clouds ? { clouds } : {}) });
      const summary = exportSummary(result);
      for (const c of result.skipped) logger.warn('zone export skipped a cloud', { cloud: c.cloud, reason: c.reason });
      for (const w of result.warnings.slice(0, 20)) logger.warn('zone export warning', { warning: w });
      logger.info('zone export done', { bucket, ...summary });
      return summary;
    } catch (e) {
      logger.error('zone export failed', { bucket, error: e as Error });
      throw e;
    }
  };
}
