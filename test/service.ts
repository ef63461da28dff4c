/**
 * Runs the local service (`bin/local.ts`, what `npm start` runs) as a child process,
 * on a free port, with its own data dir and callers file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IpamClient } from '../lib/client.js';

export const ADMIN = { accessKeyId: 'AKIAADMINTEST0000001', secretAccessKey: 'admin-secret-0123456789abcdefghijklmnopqrs', principal: 'arn:aws:iam::111122223333:role/admin' };
export const DMZ_ONLY = { accessKeyId: 'AKIADMZONLYTEST00002', secretAccessKey: 'dmz-secret-0123456789abcdefghijklmnopqrstu', principal: 'arn:aws:iam::111122223333:role/dmz-pipeline', allow: ['clouds/c1/zones/dmz/*'] };

export interface RunningService {
  url: string;
  dataDir: string;
  callersFile: string;
  proc: ChildProcess;
  output: () => string;
  client(caller?: { accessKeyId: string; secretAccessKey: string }): IpamClient;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startService(env: Record<string, string> = {}, opts: { dataDir?: string; timeoutMs?: number } = {}): Promise<RunningService> {
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'ipam-svc-'));
  const callersFile = path.join(dataDir, 'callers.json');
  if (!env.IPAM_CALLERS_FILE) writeFileSync(callersFile, JSON.stringify([ADMIN, DMZ_ONLY], null, 2), { mode: 0o600 });
  const proc = spawn(process.execPath, ['--import', 'tsx', 'bin/local.ts'], {
    cwd: path.resolve(import.meta.dirname, '..'),
    env: { ...process.env, IPAM_PORT: '0', IPAM_DATA_DIR: dataDir, IPAM_TABLE: `svc-${randomBytes(4).toString('hex')}`, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`service did not start:\n${out}`)), opts.timeoutMs ?? 60_000);
    const check = () => {
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', check);
    void exited.then((c) => reject(new Error(`service exited with ${c}:\n${out}`)));
  });
  return {
    url,
    dataDir,
    callersFile,
    proc,
    output: () => out,
    client: (caller = ADMIN) => new IpamClient({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId: caller.accessKeyId, secretAccessKey: caller.secretAccessKey } }),
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}
