/**
 * The read-after-write durability barrier for DynamoDB Local, shared by concurrent writers.
 *
 * Why a read is a barrier there (DynamoDB Local 3.3.0, read from its bytecode): every SQLite access
 * is a job on one FIFO queue served by one thread (sqlite4java's SQLiteQueue). A TransactWriteItems
 * runs its item jobs, then only *enqueues* the job that COMMITs (SQLiteDBAccess.commitTransaction does
 * not wait for it) and answers 200. A kill -9 before that job has run loses an acknowledged
 * transaction (seen in test/durability.test.ts, 1-6 ms windows). Any read that reaches the queue later
 * (a GetItem of any key waits for its own job) runs after that COMMIT. Single-item PutItem, UpdateItem
 * and DeleteItem wait for their own job, BEGIN to COMMIT.
 *
 * So one read serves every write acknowledged before it was sent. `pass()` resolves after a read that
 * was sent after the call: when none is in flight it sends one at once; when one is (it may have been
 * sent before the caller's write was acknowledged), the caller waits for the next one, which all
 * callers arriving meanwhile share. At most one read is in flight and one waiting, whatever the load.
 */
interface Waiting<K> {
  done: Promise<void>;
  key: K;
}

export class ReadBarrier<K> {
  private inflight: Promise<void> | undefined;
  private next: Waiting<K> | undefined;

  /** `read(key)`: one strongly consistent read; `key` is the written item of the caller that opened it. */
  constructor(private readonly read: (key: K) => Promise<unknown>) {}

  /** Resolves once a read sent after this call has been answered (rejects if that read fails). */
  pass(key: K): Promise<void> {
    if (this.next) return this.next.done;
    if (!this.inflight) return this.start(key);
    const after = this.inflight.catch(() => undefined);
    const next: Waiting<K> = { key, done: after.then(() => this.start(next.key, next)) };
    this.next = next;
    return next.done;
  }

  private start(key: K, from?: Waiting<K>): Promise<void> {
    if (from && this.next === from) this.next = undefined;
    const p = this.read(key).then(() => undefined);
    const running = p.finally(() => {
      if (this.inflight === running) this.inflight = undefined;
    });
    this.inflight = running;
    // The tracking promise must not report a failure nobody awaits: callers see it through `p`.
    running.catch(() => undefined);
    return p;
  }
}
