/** Starts the local service (`bin/local.ts`, what `npm start` runs) for the benchmarks, and times its start. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IpamClient } from '../lib/client/client.js';
import { LOCAL_CREDENTIALS } from '../lib/local/dynamodb-local.js';
import type { DdbCounts } from './ddb-counter.js';

const ROOT = path.resolve(import.meta.dirname, '..');

export interface Svc {
  proc: ChildProcess;
  url: string;
  ddb: string;
  client: IpamClient;
  /** The service's DynamoDB calls so far, by client and command (with `countDdb`). */
  ddbCounts(): Promise<DdbCounts>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Preload bench/ddb-counter.ts into the service: count its DynamoDB calls (read with `ddbCounts()`). */
  countDdb?: boolean;
  /** More node options for the service, before the entry (e.g. --cpu-prof). */
  nodeArgs?: string[];
}

/** Starts the service on `dataDir` and times it to the first successful allocation. */
export async function startLocal(dataDir: string, env: Record<string, string> = {}, opts: StartOptions = {}): Promise<Svc & { firstAllocationMs: number }> {
  const t0 = performance.now();
  const proc = spawn(process.execPath, ['--import', 'tsx', ...(opts.countDdb ? ['--import', './bench/ddb-counter.ts'] : []), ...(opts.nodeArgs ?? []), 'bin/local.ts'], {
    cwd: ROOT,
    env: { ...process.env, IPAM_PORT: '0', IPAM_DATA_DIR: dataDir, IPAM_QUIET: '1', IPAM_EXPORT_INTERVAL_SECONDS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe', ...(opts.countDdb ? (['ipc'] as const) : [])],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  if (process.env.BENCH_SERVICE_LOG === '1') proc.stderr!.pipe(process.stderr); // the service's own diagnostics
  const m = await new Promise<RegExpExecArray>((resolve, reject) => {
    const t = setInterval(() => {
      const x = /listening on (http:\/\/[\d.]+:\d+) .*DynamoDB (http:\/\/[\d.]+:\d+)/.exec(out);
      if (x) {
        clearInterval(t);
        resolve(x);
      } else if (proc.exitCode !== null) {
        clearInterval(t);
        reject(new Error(out));
      }
    }, 20);
  });
  const callers = JSON.parse(readFileSync(path.join(dataDir, 'callers.json'), 'utf8'));
  const client = new IpamClient({ endpoint: m[1]!, credentials: { accessKeyId: callers[0].accessKeyId, secretAccessKey: callers[0].secretAccessKey } });
  await client.createPool('boot', 'z', 'p', { ranges: ['10.250.0.0/16'] }).catch(() => undefined);
  await client.allocate('boot', 'z', 'p', { vm: `boot-${Date.now()}` });
  const firstAllocationMs = performance.now() - t0;
  return {
    proc,
    url: m[1]!,
    ddb: m[2]!,
    client,
    firstAllocationMs,
    ddbCounts: () =>
      new Promise<DdbCounts>((resolve, reject) => {
        if (!opts.countDdb || !proc.send) return reject(new Error('the service was started without countDdb'));
        const on = (m: unknown) => {
          const counts = (m as { ddbCounts?: DdbCounts }).ddbCounts;
          if (!counts) return;
          proc.off('message', on);
          resolve(counts);
        };
        proc.on('message', on);
        proc.send('bench:ddb-counts');
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

/**
 * A benchmark's main: the service on a fresh data dir (removed afterwards), a raw client of its
 * DynamoDB Local, and `work` with both; a failure ends the process with status 1.
 */
export function benchOnFreshService(
  name: string,
  work: (svc: Svc & { firstAllocationMs: number }, raw: DynamoDBClient, dataDir: string) => Promise<void>,
  env: Record<string, string> = {},
  opts: StartOptions & { before?: (dataDir: string) => void } = {},
): void {
  const run = async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), `ipam-bench-${name}-`));
    opts.before?.(dataDir);
    const svc = await startLocal(dataDir, env, opts);
    const raw = new DynamoDBClient({ endpoint: svc.ddb, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
    try {
      await work(svc, raw, dataDir);
    } finally {
      raw.destroy();
      await svc.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  };
  run().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
