/**
 * The security log of the running local service: every allocation and release, exactly once,
 * with the caller who made it, across a restart of the service.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSecurityEventsFile } from '../lib/local/stream-reader.js';
import { ADMIN, DMZ_ONLY, startService } from './service.js';
import { ddbEndpoint } from './support.js';

async function eventsWhen(file: string, ok: (ev: any[]) => boolean, timeoutMs = 15_000): Promise<any[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ev = (await readSecurityEventsFile(file).catch(() => [])) as any[];
    if (ok(ev) || Date.now() > deadline) return ev;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('security log of the local service', () => {
  it('records N allocations and M releases exactly once, with principals, across a restart', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'ipam-seclog-'));
    const env = { IPAM_DYNAMODB_ENDPOINT: ddbEndpoint(), IPAM_TABLE: `seclog-${randomBytes(4).toString('hex')}`, IPAM_QUIET: '1' };
    const file = path.join(dataDir, 'security-events.jsonl');
    let svc = await startService(env, { dataDir });
    const admin = svc.client();
    await admin.createPool('c1', 'dmz', 'web', { ranges: ['10.80.0.0/24'] });
    // 20 concurrent allocations by a zone-scoped pipeline, 10 sequential by the admin
    const first = await Promise.all(Array.from({ length: 20 }, (_, i) => svc.client(DMZ_ONLY).allocate('c1', 'dmz', 'web', { vm: `p-${i}`, mac: `52:54:00:00:00:${i.toString(16).padStart(2, '0')}` })));
    for (let i = 0; i < 10; i++) await admin.allocate('c1', 'dmz', 'web', { vip: `v-${i}` });
    // 8 releases, concurrent
    await Promise.all(first.slice(0, 8).map((a) => admin.release('c1', a.allocation.address, { vm: a.allocation.vm! })));
    // restart in the middle: some events may not have been written yet
    expect(await svc.stop('SIGTERM')).toBe(0);
    svc = await startService(env, { dataDir });
    const second = await Promise.all(Array.from({ length: 12 }, (_, i) => svc.client().allocate('c1', 'dmz', 'web', { vm: `after-${i}` })));
    await Promise.all(second.slice(0, 5).map((a) => svc.client().release('c1', a.allocation.address)));
    const N = 20 + 10 + 12;
    const M = 8 + 5;
    const events = await eventsWhen(file, (ev) => ev.filter((e) => e.eventType?.startsWith('address.')).length >= N + M);
    await svc.stop();
    const address = events.filter((e) => e.eventType.startsWith('address.'));
    expect(address.filter((e) => e.eventType === 'address.allocated')).toHaveLength(N);
    expect(address.filter((e) => e.eventType === 'address.released')).toHaveLength(M);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
    expect(events.filter((e) => e.eventType === 'pool.created')).toHaveLength(1);
    for (const a of first) {
      const ev = address.find((e) => e.eventType === 'address.allocated' && e.vm === a.allocation.vm);
      expect(ev).toMatchObject({ cloud: 'c1', zone: 'dmz', pool: 'web', address: a.allocation.address, cidr: a.allocation.cidr, name: 'default', mac: a.allocation.mac, principal: DMZ_ONLY.principal, time: a.allocation.allocatedAt });
      expect(ev.requestId).toEqual(expect.any(String));
    }
    for (const a of first.slice(0, 8)) {
      expect(address.find((e) => e.eventType === 'address.released' && e.address === a.allocation.address && e.vm === a.allocation.vm)).toMatchObject({ principal: ADMIN.principal, holder: `vm:${a.allocation.vm}` });
    }
  });
});
