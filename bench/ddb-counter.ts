/**
 * Counts DynamoDB calls by client and command, with a middleware on every DynamoDB client of the
 * process (table, document and stream clients). Imported by the benchmark itself, and preloaded into
 * the local service by bench/service.ts (`node --import tsx --import ./bench/ddb-counter.ts`), which
 * then answers the message 'bench:ddb-counts' on its IPC channel with the counts so far.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Per "Client.Command": calls (as sent by the code), HTTP attempts (with SDK retries) and errors. */
export type DdbCounts = Record<string, { calls: number; attempts: number; errors: number }>;
export const ddbCounts: DdbCounts = {};

type Stack = { add(mw: unknown, opts: { step: string; name: string }): void };
const instrumented = new WeakSet<object>();
const counter =
  (next: (args: unknown) => Promise<{ output?: { $metadata?: { attempts?: number } } }>, context: { clientName?: string; commandName?: string }) =>
  async (args: unknown) => {
    const c = (ddbCounts[`${context.clientName ?? '?'}.${context.commandName ?? '?'}`] ??= { calls: 0, attempts: 0, errors: 0 });
    c.calls++;
    try {
      const r = await next(args);
      c.attempts += r.output?.$metadata?.attempts ?? 1;
      return r;
    } catch (e) {
      c.errors++;
      c.attempts += (e as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1;
      throw e;
    }
  };

// send() lives on the smithy Client base class; the document client shares its DynamoDBClient's middleware stack.
for (const proto of new Set([DynamoDBClient, DynamoDBStreamsClient, DynamoDBDocumentClient].map((C) => Object.getPrototypeOf(C.prototype) as { send: (...a: unknown[]) => unknown }))) {
  const send = proto.send;
  if ((send as { benchCounted?: boolean }).benchCounted) continue;
  const counted = function (this: { middlewareStack: Stack }, ...a: unknown[]) {
    if (!instrumented.has(this.middlewareStack)) {
      instrumented.add(this.middlewareStack);
      this.middlewareStack.add(counter, { step: 'initialize', name: 'benchDdbCounter' });
    }
    return send.apply(this, a);
  };
  (counted as { benchCounted?: boolean }).benchCounted = true;
  proto.send = counted;
}

if (process.send) {
  process.on('message', (m) => {
    if (m === 'bench:ddb-counts') process.send!({ ddbCounts });
  });
  // The IPC channel must not keep the service alive on its own.
  process.channel?.unref();
}

/** Calls between two snapshots of the counts. */
export function ddbDelta(before: DdbCounts, after: DdbCounts): DdbCounts {
  const out: DdbCounts = {};
  for (const [k, a] of Object.entries(after)) {
    const b = before[k] ?? { calls: 0, attempts: 0, errors: 0 };
    if (a.calls - b.calls > 0) out[k] = { calls: a.calls - b.calls, attempts: a.attempts - b.attempts, errors: a.errors - b.errors };
  }
  return out;
}

export const snapshot = (c: DdbCounts = ddbCounts): DdbCounts => JSON.parse(JSON.stringify(c));
