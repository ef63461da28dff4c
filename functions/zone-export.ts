/**
 * Lambda entry (EventBridge schedule): exports every cloud's DNS zones to the export bucket.
 * Env: IPAM_TABLE, IPAM_EXPORT_BUCKET; optional IPAM_EXPORT_CLOUDS (comma list; default all clouds,
 * found by a Scan) and IPAM_DNS_* (zone header: see lib/integrations/dns/zones.ts).
 */
import { S3Client } from '@aws-sdk/client-s3';
import { dnsConfigFromEnv } from '../lib/integrations/dns/zones.js';
import { cloudsFromEnv } from '../lib/integrations/export/clouds.js';
import { S3Store } from '../lib/integrations/export/object-store.js';
import { exportSummary, exportZones } from '../lib/integrations/export/zones.js';
import { ipamFromEnv, logger } from '../lib/runtime/services.js';

let s3: S3Client | undefined;

export const handler = async (): Promise<ReturnType<typeof exportSummary>> => {
  const bucket = process.env.IPAM_EXPORT_BUCKET;
  if (!bucket) throw new Error('IPAM_EXPORT_BUCKET is not set');
  s3 ??= new S3Client({ region: process.env.AWS_REGION ?? 'us-east-1' });
  const clouds = cloudsFromEnv();
  try {
    const result = await exportZones({ ipam: ipamFromEnv(), store: new S3Store(bucket, s3), dns: dnsConfigFromEnv(), ...(clouds ? { clouds } : {}) });
    const summary = exportSummary(result);
    for (const w of result.warnings.slice(0, 20)) logger.warn('zone export warning', { warning: w });
    logger.info('zone export done', { bucket, ...summary });
    return summary;
  } catch (e) {
    logger.error('zone export failed', { bucket, error: e as Error });
    throw e;
  }
};
