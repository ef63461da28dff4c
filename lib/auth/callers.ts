/**
 * The local service's callers file: a JSON array of
 * `{ accessKeyId, secretAccessKey, principal, allow? }`, standing in for IAM.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as z from 'zod';
import type { Caller } from './sigv4.js';

const CallerSchema = z.strictObject({
  // No '/' (it separates the credential scope) and nothing exotic.
  accessKeyId: z.string().regex(/^[A-Za-z0-9]{3,128}$/, 'must be 3-128 letters or digits'),
  secretAccessKey: z.string().min(1, 'must not be empty').max(256).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
  principal: z.string().min(1, 'must not be empty').max(256),
  allow: z.array(z.string().min(1, 'patterns must not be empty')).optional(),
});

const CallersSchema = z.array(CallerSchema);

export class CallersFileError extends Error {
  constructor(readonly file: string, message: string) {
    super(`Invalid callers file ${file}: ${message}`);
    this.name = 'CallersFileError';
  }
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A random key pair shaped like real IAM user keys: `AKIA` + 16 base32 characters, and a 40-character secret. */
export function generateKeys(): { accessKeyId: string; secretAccessKey: string } {
  const accessKeyId = 'AKIA' + Array.from(randomBytes(16), (b) => BASE32[b & 31]).join('');
  const secretAccessKey = randomBytes(30).toString('base64'); // exactly 40 chars of [A-Za-z0-9+/]
  return { accessKeyId, secretAccessKey };
}

function describeEntry(data: unknown, index: unknown): string {
  if (typeof index !== 'number') return 'the top level';
  const entry = Array.isArray(data) ? data[index] : undefined;
  const principal = entry && typeof entry === 'object' && typeof (entry as { principal?: unknown }).principal === 'string' ? ` (principal ${JSON.stringify((entry as { principal: string }).principal)})` : '';
  return `entry [${index}]${principal}`;
}

/** Validates parsed JSON; throws CallersFileError naming the file and the offending entry. */
export function parseCallers(file: string, data: unknown): Caller[] {
  const result = CallersSchema.safeParse(data);
  if (!result.success) {
    const problems = result.error.issues.slice(0, 5).map((issue) => {
      const [index, ...rest] = issue.path;
      const field = rest.length > 0 ? `${rest.map(String).join('.')}: ` : '';
      return `${describeEntry(data, index)}: ${field}${issue.message}`;
    });
    const more = result.error.issues.length > 5 ? `; and ${result.error.issues.length - 5} more` : '';
    throw new CallersFileError(file, problems.join('; ') + more + '. Expected [{"accessKeyId", "secretAccessKey", "principal", "allow"?: [patterns]}].');
  }
  const callers = result.data as Caller[];
  const seen = new Map<string, number>();
  callers.forEach((c, i) => {
    const first = seen.get(c.accessKeyId);
    if (first !== undefined) throw new CallersFileError(file, `entry [${i}] (principal ${JSON.stringify(c.principal)}): accessKeyId ${c.accessKeyId} is already used by entry [${first}]; access key ids must be unique.`);
    seen.set(c.accessKeyId, i);
  });
  return callers;
}

/**
 * Reads and validates the callers file. When it does not exist and `create`
 * is set, writes one with a single `local-admin` caller (mode 0600, parent
 * directory created) and returns that caller as `created` too.
 */
export async function loadCallers(file: string, opts: { create?: boolean } = {}): Promise<{ callers: Caller[]; created?: Caller }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || !opts.create) {
      throw new CallersFileError(file, (e as Error).message);
    }
    const created: Caller = { ...generateKeys(), principal: 'local-admin' };
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    try {
      // 'wx': never clobber a file another process created meanwhile.
      await writeFile(file, JSON.stringify([created], null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadCallers(file, { create: false });
      throw err;
    }
    await chmod(file, 0o600);
    return { callers: [created], created };
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new CallersFileError(file, `not valid JSON: ${(e as Error).message}`);
  }
  return { callers: parseCallers(file, data) };
}

/** Lookup by access key id, for verifySigV4. */
export function callerLookup(callers: readonly Caller[]): (accessKeyId: string) => Caller | undefined {
  const byId = new Map<string, Caller>();
  for (const c of callers) {
    if (byId.has(c.accessKeyId)) throw new Error(`duplicate accessKeyId ${c.accessKeyId}`);
    byId.set(c.accessKeyId, c);
  }
  return (accessKeyId) => byId.get(accessKeyId);
}
