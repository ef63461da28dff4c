/**
 * The local service's export loop: exportZones on an interval, into `<data dir>/exports/` or into
 * an S3-protocol server. Runs never overlap; a failed run is logged and the next one tries again.
 */
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Ipam } from '../../engine/ipam.js';
import { dnsConfigFromEnv, type DnsConfig } from '../dns/zones.js';
import { cloudsFromEnv } from './clouds.js';
import { DirStore, S3Store, s3ClientFor, type ObjectStore } from './object-store.js';
import { exportSummary, exportZones, type ExportResult } from './zones.js';

export interface SchedulerOptions {
  ipam: Ipam;
  /** Export into this directory (DirStore)... */
  dir?: string;
  /** ...or into this bucket (S3Store). `client` defaults to one for `endpoint` (path style). */
  s3?: { bucket: string; endpoint?: string; region?: string; accessKeyId?: string; secretAccessKey?: string; client?: S3Client };
  /** Milliseconds between runs. Default 60 000. */
  intervalMs?: number;
  /** Delay before the first run. Default 1000 ms. */
  firstRunMs?: number;
  clouds?: string[];
  dns?: DnsConfig;
  log?: (line: string) => void;
}

export interface ExportScheduler {
  readonly store: ObjectStore;
  /** Runs an export now (waits for a running one first). */
  runNow(): Promise<ExportResult>;
  /** The last finished run, if any. */
  last(): ExportResult | undefined;
  stop(): Promise<void>;
}

export function startExportScheduler(opts: SchedulerOptions): ExportScheduler {
  const log = opts.log ?? console.log;
  let store: ObjectStore;
  if (opts.s3) {
    const { bucket, client, ...conn } = opts.s3;
    store = new S3Store(bucket, client ?? s3ClientFor(conn));
  } else if (opts.dir) store = new DirStore(opts.dir);
  else throw new Error('startExportScheduler needs dir or s3');
  const intervalMs = opts.intervalMs ?? 60_000;
  let running: Promise<ExportResult> | undefined;
  let lastResult: ExportResult | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const run = (): Promise<ExportResult> => {
    const p = (async () => {
      const r = await exportZones({ ipam: opts.ipam, store, ...(opts.clouds ? { clouds: opts.clouds } : {}), ...(opts.dns ? { dns: opts.dns } : {}) });
      lastResult = r;
      for (const c of r.skipped) log(`zone export to ${store.location}: skipped cloud ${c.cloud}: ${c.reason}`);
      if (r.written.length || r.retired.length || r.warnings.length) log(`zone export to ${store.location}: ${JSON.stringify(exportSummary(r))}`);
      return r;
    })();
    running = p;
    p.then(
      () => (running === p ? (running = undefined) : undefined),
      () => (running === p ? (running = undefined) : undefined),
    );
    return p;
  };

  const tick = async () => {
    timer = undefined;
    if (stopped) return;
    try {
      await (running ?? run());
    } catch (e) {
      log(`zone export to ${store.location} failed: ${(e as Error).message}`);
    }
    if (!stopped) {
      timer = setTimeout(tick, intervalMs);
      timer.unref();
    }
  };
  timer = setTimeout(tick, opts.firstRunMs ?? 1000);
  timer.unref();

  return {
    store,
    async runNow() {
      if (running) await running.catch(() => undefined);
      return run();
    },
    last: () => lastResult,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}

/**
 * The scheduler the local service runs, from the environment: IPAM_EXPORT_INTERVAL_SECONDS (default 60;
 * 0 disables), IPAM_EXPORT_S3_ENDPOINT + IPAM_EXPORT_BUCKET (S3-protocol server; credentials from
 * IPAM_EXPORT_S3_ACCESS_KEY_ID / IPAM_EXPORT_S3_SECRET_ACCESS_KEY, default S3RVER/S3RVER), else the
 * directory `<dataDir>/exports`. IPAM_EXPORT_CLOUDS limits the clouds; IPAM_DNS_* set the zone header.
 */
export function exportSchedulerFromEnv(ipam: Ipam, dataDir: string, env: NodeJS.ProcessEnv = process.env, log?: (line: string) => void): ExportScheduler | undefined {
  const seconds = env.IPAM_EXPORT_INTERVAL_SECONDS === undefined || env.IPAM_EXPORT_INTERVAL_SECONDS === '' ? 60 : Number(env.IPAM_EXPORT_INTERVAL_SECONDS);
  if (!Number.isFinite(seconds) || seconds < 0) throw new Error(`IPAM_EXPORT_INTERVAL_SECONDS must be a number of seconds, not ${env.IPAM_EXPORT_INTERVAL_SECONDS}`);
  if (seconds === 0) return undefined;
  const clouds = cloudsFromEnv(env);
  const common = { ipam, intervalMs: seconds * 1000, dns: dnsConfigFromEnv(env), ...(clouds ? { clouds } : {}), ...(log ? { log } : {}) };
  if (env.IPAM_EXPORT_S3_ENDPOINT || env.IPAM_EXPORT_BUCKET) {
    if (!env.IPAM_EXPORT_BUCKET) throw new Error('IPAM_EXPORT_S3_ENDPOINT is set: set IPAM_EXPORT_BUCKET too');
    return startExportScheduler({
      ...common,
      s3: {
        bucket: env.IPAM_EXPORT_BUCKET,
        ...(env.IPAM_EXPORT_S3_ENDPOINT ? { endpoint: env.IPAM_EXPORT_S3_ENDPOINT } : {}),
        region: env.IPAM_REGION ?? env.AWS_REGION ?? 'us-east-1',
        ...(env.IPAM_EXPORT_S3_ENDPOINT
          ? { accessKeyId: env.IPAM_EXPORT_S3_ACCESS_KEY_ID ?? 'S3RVER', secretAccessKey: env.IPAM_EXPORT_S3_SECRET_ACCESS_KEY ?? 'S3RVER' }
          : {}),
      },
    });
  }
  return startExportScheduler({ ...common, dir: path.join(dataDir, 'exports') });
}
