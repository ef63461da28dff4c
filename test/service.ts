/**
 * Runs the local service (`bin/local.ts`, what `npm start` runs) as a child process,
 * on a free port, with its own data dir and callers file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { IpamClient } from '../lib/client/client.js';
import { checkedFetch } from './contract.js';

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
  /** kill -9 of the service and everything it started (DynamoDB Local included): a crash. */
  kill9(): Promise<void>;
}

export async function startService(env: Record<string, string> = {}, opts: { dataDir?: string; timeoutMs?: number } = {}): Promise<RunningService> {
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'ipam-svc-'));
  const callersFile = path.join(dataDir, 'callers.json');
  if (!env.IPAM_CALLERS_FILE) writeFileSync(callersFile, JSON.stringify([ADMIN, DMZ_ONLY], null, 2), { mode: 0o600 });
  const proc = spawn(process.execPath, ['--import', 'tsx', 'bin/local.ts'], {
    cwd: path.resolve(import.meta.dirname, '..'),
    env: { ...process.env, IPAM_PORT: '0', IPAM_DATA_DIR: dataDir, IPAM_TABLE: `svc-${randomBytes(4).toString('hex')}`, IPAM_EXPORT_INTERVAL_SECONDS: '0', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
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
    client: (caller = ADMIN) => new IpamClient({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId: caller.accessKeyId, secretAccessKey: caller.secretAccessKey }, fetch: checkedFetch }),
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
    async kill9() {
      try {
        process.kill(-proc.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
      await exited;
      // the group's other members (java) die with it; give the kernel a moment to release ports and files
      await new Promise((r) => setTimeout(r, 300));
    },
  };
}

export interface SignOptions {
  body?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  caller?: { accessKeyId: string; secretAccessKey: string };
  signingDate?: Date;
  region?: string;
  service?: string;
}

/** A raw request signed by the AWS SDK's SigV4 signer (so tests can tamper with what was signed). */
export async function signRequest(svc: { url: string }, method: string, path: string, opts: SignOptions = {}) {
  const url = new URL(svc.url);
  const caller = opts.caller ?? ADMIN;
  const signer = new SignatureV4({ service: opts.service ?? 'execute-api', region: opts.region ?? 'us-east-1', credentials: { accessKeyId: caller.accessKeyId, secretAccessKey: caller.secretAccessKey }, sha256: Sha256 });
  const req = new HttpRequest({
    method,
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path,
    query: opts.query ?? {},
    headers: { host: url.host, 'content-type': 'application/json', ...opts.headers },
    ...(opts.body !== undefined ? { body: opts.body } : {}),
  });
  return signer.sign(req, opts.signingDate ? { signingDate: opts.signingDate } : {});
}

export interface SendOverride {
  body?: string;
  path?: string;
  headers?: Record<string, string>;
}

/** Sends a signed request as is (or with parts swapped after signing); checks the answer against the contract; parses a JSON answer. */
export async function sendSigned(svc: { url: string }, req: { method: string; path: string; query?: unknown; headers: unknown; body?: unknown }, override: SendOverride = {}) {
  const qs = new URLSearchParams(req.query as Record<string, string>).toString();
  const res = await checkedFetch(`${svc.url}${override.path ?? req.path}${qs ? `?${qs}` : ''}`, {
    method: req.method,
    headers: { ...(req.headers as Record<string, string>), ...override.headers },
    ...((override.body ?? req.body) ? { body: (override.body ?? req.body) as string } : {}),
  });
  const text = await res.text();
  let body: any = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.status, type: res.headers.get('content-type') ?? '', body };
}
