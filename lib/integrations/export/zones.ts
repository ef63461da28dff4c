/**
 * The scheduled DNS export: every zone of every cloud as `dns/{cloud}/{zone}.zone`, plus
 * `dns/manifest.json`, in an ObjectStore (S3 or a directory).
 *
 * One streamed pass over each cloud's allocations spools every zone's records to temp files
 * (memory stays flat). Each zone's content hash covers the whole file with the SOA serial replaced
 * by a placeholder; a zone whose hash matches the previous manifest is not rewritten and keeps its
 * serial. A changed zone gets serial max(change clock, previous serial + 1), so serials only grow.
 * A zone that disappears (last PTR of a /24 released, pool domain removed) is written once more as an
 * empty zone (SOA and NS only) so that servers loading it drop its records, and is carried in the
 * manifest with `retiredAt` for RETIRED_KEEP_DAYS; the exporter never deletes objects.
 * The manifest is rewritten only when something changed.
 *
 * A cloud without DNS settings (its own, or the deployment's IPAM_DNS_* defaults) is skipped with a
 * warning, and so is a zone whose in-zone name server has no address: their previous files and manifest
 * entries stay as they were (nothing is retired), and the other clouds and zones are exported.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import * as z from 'zod';
import type { Ipam } from '../../engine/ipam.js';
import { compareZones, CloudDns, dnsNotConfigured, recordLine, SERIAL_PLACEHOLDER, toSerial, type DnsConfig } from '../dns/zones.js';
import { listClouds } from './clouds.js';
import type { ObjectStore } from './object-store.js';
import { ZoneSpool } from './spool.js';

export const EXPORT_PREFIX = 'dns/';
export const MANIFEST_KEY = `${EXPORT_PREFIX}manifest.json`;
export const RETIRED_KEEP_DAYS = 7;
export const zoneKey = (cloud: string, zone: string) => `${EXPORT_PREFIX}${cloud}/${zone}.zone`;

const ManifestZone = z.object({
  cloud: z.string(),
  zone: z.string(),
  key: z.string(),
  /** sha256 (hex) of the zone file with its SOA serial replaced by `SERIAL`. */
  sha256: z.string(),
  serial: z.number().int(),
  records: z.number().int(),
  bytes: z.number().int(),
  updatedAt: z.string(),
  retiredAt: z.string().optional(),
});
export type ManifestZone = z.infer<typeof ManifestZone>;

const Manifest = z.object({ version: z.literal(1), generatedAt: z.string(), zones: z.array(ManifestZone) });
export type Manifest = z.infer<typeof Manifest>;

export interface ExportOptions {
  ipam: Ipam;
  store: ObjectStore;
  /** Clouds to export; default every cloud of the table (and every cloud of the previous manifest). */
  clouds?: string[];
  /** Deployment defaults (IPAM_DNS_*) for clouds without DNS settings of their own. */
  dns?: DnsConfig;
  now?: () => number;
  /** Zones uploaded at once. Default 8. */
  concurrency?: number;
}

export interface ExportResult {
  clouds: string[];
  zones: number;
  records: number;
  written: { cloud: string; zone: string; serial: number; records: number; bytes: number }[];
  unchanged: number;
  retired: { cloud: string; zone: string }[];
  manifestWritten: boolean;
  /** Clouds not exported (no DNS settings), with why. */
  skipped: { cloud: string; reason: string }[];
  warnings: string[];
  ms: number;
}

export async function readManifest(store: ObjectStore): Promise<Manifest | undefined> {
  const raw = await store.getObject(MANIFEST_KEY);
  if (!raw) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new Error(`${store.location}/${MANIFEST_KEY} is not JSON; move it away to start afresh`);
  }
  const r = Manifest.safeParse(parsed);
  if (!r.success) throw new Error(`${store.location}/${MANIFEST_KEY} is not an export manifest: ${r.error.issues[0]?.message}`);
  return r.data;
}

const entryKey = (cloud: string, zone: string) => `${cloud}\u0000${zone}`;

function textStream(parts: (string | AsyncIterable<Buffer>)[]): Readable {
  return Readable.from(
    (async function* () {
      for (const p of parts) {
        if (typeof p === 'string') {
          if (p) yield Buffer.from(p);
        } else yield* p;
      }
    })(),
  );
}

async function runLimited<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

export async function exportZones(opts: ExportOptions): Promise<ExportResult> {
  const t0 = performance.now();
  const now = opts.now ?? Date.now;
  const { ipam, store } = opts;
  const prev = await readManifest(store);
  const prevEntries = new Map((prev?.zones ?? []).map((e) => [entryKey(e.cloud, e.zone), e]));
  const clouds = opts.clouds ? [...new Set(opts.clouds)].sort() : [...new Set([...(await listClouds(ipam)), ...(prev?.zones ?? []).map((e) => e.cloud)])].sort();
  const cloudSet = new Set(clouds);
  const result: ExportResult = { clouds, zones: 0, records: 0, written: [], unchanged: 0, retired: [], manifestWritten: false, skipped: [], warnings: [], ms: 0 };
  const next = new Map<string, ManifestZone>();
  let changed = false;
  // Entries of clouds outside this run stay as they are.
  for (const [k, e] of prevEntries) if (!cloudSet.has(e.cloud)) next.set(k, e);

  const keep = (cloud: string, zone?: string) => {
    for (const [k, e] of prevEntries) if (e.cloud === cloud && (zone === undefined || e.zone === zone)) next.set(k, e);
  };

  for (const cloud of clouds) {
    const dns = await CloudDns.load(ipam, cloud, opts.dns);
    if (!dns.settings) {
      const reason = dnsNotConfigured(cloud).message;
      result.skipped.push({ cloud, reason });
      keep(cloud);
      continue;
    }
    result.warnings.push(...dns.warnings);
    // Read the clock first: a change during the pass moves it past this value, so the next run sees it.
    const clock = toSerial(await ipam.changeClock(cloud));
    const spool = await ZoneSpool.create();
    try {
      for (const zone of dns.forward) spool.ensure(zone);
      for await (const a of ipam.iterateAllocations(cloud)) {
        for (const r of dns.recordsOf(a)) spool.add(r.zone, recordLine(r));
        await spool.relieve();
      }
      await spool.flush();
      const live = spool.names().sort(compareZones);
      const liveSet = new Set(live);
      const at = new Date(now()).toISOString();
      const jobs: { zone: string; retire: boolean }[] = live.map((zone) => ({ zone, retire: false }));
      for (const e of prevEntries.values()) {
        if (e.cloud !== cloud || liveSet.has(e.zone)) continue;
        if (e.retiredAt) {
          if (now() - Date.parse(e.retiredAt) < RETIRED_KEEP_DAYS * 86_400_000) next.set(entryKey(cloud, e.zone), e);
          else changed = true;
        } else jobs.push({ zone: e.zone, retire: true });
      }
      await runLimited(jobs, opts.concurrency ?? 8, async ({ zone, retire }) => {
        if (dns.unservableReason(zone)) {
          // Warned about above (or below, for a zone that vanished): its last good file stays.
          if (retire) result.warnings.push(dns.unservableReason(zone)!);
          keep(cloud, zone);
          return;
        }
        const info = retire ? { records: 0, bytes: 0 } : spool.info(zone);
        const body = () => (retire ? (async function* () {})() : spool.body(zone));
        const sha256 = await (retire ? Promise.resolve(hashText(dns.header(zone, SERIAL_PLACEHOLDER))) : spool.sha256(zone, dns.header(zone, SERIAL_PLACEHOLDER), ''));
        const old = prevEntries.get(entryKey(cloud, zone));
        if (!retire) {
          result.zones++;
          result.records += info.records;
        }
        if (old && old.sha256 === sha256 && !old.retiredAt && !retire) {
          next.set(entryKey(cloud, zone), old);
          result.unchanged++;
          return;
        }
        const serial = old ? Math.max(clock, Math.min(0xffffffff, old.serial + 1)) : clock;
        const header = dns.header(zone, serial);
        const bytes = Buffer.byteLength(header) + info.bytes;
        const key = zoneKey(cloud, zone);
        await store.putObject(key, textStream([header, body()]), { contentLength: bytes, contentType: 'text/dns' });
        next.set(entryKey(cloud, zone), { cloud, zone, key, sha256, serial, records: info.records, bytes, updatedAt: at, ...(retire ? { retiredAt: at } : {}) });
        changed = true;
        if (retire) result.retired.push({ cloud, zone });
        else result.written.push({ cloud, zone, serial, records: info.records, bytes });
      });
    } finally {
      await spool.dispose();
    }
  }
  if (changed || !prev || next.size !== prevEntries.size) {
    const zones = [...next.values()].sort((a, b) => (a.cloud !== b.cloud ? (a.cloud < b.cloud ? -1 : 1) : compareZones(a.zone, b.zone)));
    const manifest: Manifest = { version: 1, generatedAt: new Date(now()).toISOString(), zones };
    const text = JSON.stringify(manifest, null, 1) + '\n';
    await store.putObject(MANIFEST_KEY, textStream([text]), { contentLength: Buffer.byteLength(text), contentType: 'application/json' });
    result.manifestWritten = true;
  }
  result.written.sort((a, b) => (a.cloud !== b.cloud ? (a.cloud < b.cloud ? -1 : 1) : compareZones(a.zone, b.zone)));
  result.ms = Math.round(performance.now() - t0);
  return result;
}

const hashText = (s: string) => createHash('sha256').update(s).digest('hex');

/** A short, log-friendly summary of a run. */
export function exportSummary(r: ExportResult) {
  return {
    clouds: r.clouds.length,
    zones: r.zones,
    records: r.records,
    written: r.written.length,
    unchanged: r.unchanged,
    retired: r.retired.length,
    manifestWritten: r.manifestWritten,
    ms: r.ms,
    writtenZones: r.written.slice(0, 20).map((w) => `${w.cloud}/${w.zone}@${w.serial}`),
    ...(r.skipped.length ? { skippedClouds: r.skipped.map((x) => x.cloud) } : {}),
    ...(r.warnings.length ? { warnings: r.warnings.slice(0, 20) } : {}),
  };
}
