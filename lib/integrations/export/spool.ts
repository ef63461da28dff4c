/**
 * Per-zone record spool for a one-pass export: lines are appended to one temp file per zone,
 * buffered in memory only up to fixed limits, so memory stays flat however many records there are.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

interface SpoolZone {
  file: string;
  records: number;
  bytes: number;
  pending: string[];
  pendingBytes: number;
}

export class ZoneSpool {
  private readonly zones = new Map<string, SpoolZone>();
  private pendingTotal = 0;
  /** Zones whose buffer reached zoneLimit since the last relieve(). */
  private full: SpoolZone[] = [];

  private constructor(
    readonly dir: string,
    private readonly zoneLimit: number,
    private readonly totalLimit: number,
  ) {}

  /** `zoneLimit`: bytes buffered per zone before it is appended; `totalLimit`: bytes buffered overall. */
  static async create(opts: { zoneLimit?: number; totalLimit?: number } = {}): Promise<ZoneSpool> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ipam-export-'));
    return new ZoneSpool(dir, opts.zoneLimit ?? 64 * 1024, opts.totalLimit ?? 4 * 1024 * 1024);
  }

  /** Makes sure the zone exists (a forward zone may have no records). */
  ensure(zone: string): SpoolZone {
    let z = this.zones.get(zone);
    if (!z) {
      z = { file: path.join(this.dir, `z${this.zones.size}.txt`), records: 0, bytes: 0, pending: [], pendingBytes: 0 };
      this.zones.set(zone, z);
    }
    return z;
  }

  add(zone: string, line: string): void {
    const z = this.ensure(zone);
    const n = Buffer.byteLength(line);
    z.pending.push(line);
    z.pendingBytes += n;
    z.bytes += n;
    z.records++;
    this.pendingTotal += n;
    if (z.pendingBytes >= this.zoneLimit && z.pendingBytes - n < this.zoneLimit) this.full.push(z);
  }

  /** Writes buffered lines out when a limit is reached; call after every batch of adds. */
  async relieve(): Promise<void> {
    if (this.pendingTotal >= this.totalLimit) return this.flush();
    if (this.full.length === 0) return;
    const full = this.full;
    this.full = [];
    for (const z of full) if (z.pendingBytes > 0) await this.write(z);
  }

  async flush(): Promise<void> {
    this.full = [];
    for (const z of this.zones.values()) if (z.pendingBytes > 0) await this.write(z);
  }

  private async write(z: SpoolZone) {
    const text = z.pending.join('');
    this.pendingTotal -= z.pendingBytes;
    z.pending = [];
    z.pendingBytes = 0;
    await appendFile(z.file, text);
  }

  names(): string[] {
    return [...this.zones.keys()];
  }

  info(zone: string): { records: number; bytes: number } {
    const z = this.zones.get(zone);
    return { records: z?.records ?? 0, bytes: z?.bytes ?? 0 };
  }

  /** The zone's spooled lines as a stream (call after flush()). */
  async *body(zone: string): AsyncIterable<Buffer> {
    const z = this.zones.get(zone);
    if (!z || z.bytes === 0) return;
    yield* createReadStream(z.file) as AsyncIterable<Buffer>;
  }

  /** sha256 of prefix + body + suffix, streamed. */
  async sha256(zone: string, prefix: string, suffix: string): Promise<string> {
    const h = createHash('sha256');
    h.update(prefix);
    for await (const c of this.body(zone)) h.update(c);
    h.update(suffix);
    return h.digest('hex');
  }

  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
