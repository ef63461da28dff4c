/**
 * Grouping of concurrent work per key (a pool, a table): while `slots` units of a key are in flight, new ones
 * wait; each time a unit ends, what waited goes out together as groups, one per free slot. The engine
 * groups releases with it (lib/engine/release.ts), the DynamoDB store its single-item reads; allocations
 * have their own form of the same idea (lib/engine/group-commit.ts), which also picks each group's free
 * addresses. Pure: no I/O, no clock.
 */

/** A unit waiting for its group, and how to answer its caller. */
export interface Waiter<T, R> {
  item: T;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

export interface LaneOptions<T, R> {
  /** Units of one key in flight at once before new ones wait (0: never wait, every unit alone). */
  slots: number;
  /** Members of one group at most. */
  max: number;
  /** Units with the same identity never share a group (a later one waits for the next). */
  identity: (item: T) => string;
  /** Runs one unit on its own. */
  alone: (item: T) => Promise<R>;
  /** Runs a group, answering every member (`resolve` or `reject`) before it settles. */
  together: (group: Waiter<T, R>[]) => Promise<void>;
}

export class Lanes<T, R> {
  private readonly lanes = new Map<string, { queue: Waiter<T, R>[]; inflight: number }>();

  constructor(private readonly o: LaneOptions<T, R>) {}

  run(key: string, item: T): Promise<R> {
    if (this.o.slots <= 0) return this.o.alone(item);
    let lane = this.lanes.get(key);
    if (!lane) this.lanes.set(key, (lane = { queue: [], inflight: 0 }));
    if (lane.inflight < this.o.slots) return this.slot(key, () => this.o.alone(item));
    const waiting = lane;
    return new Promise<R>((resolve, reject) => waiting.queue.push({ item, resolve, reject }));
  }

  private async slot<V>(key: string, work: () => Promise<V>): Promise<V> {
    const lane = this.lanes.get(key)!;
    lane.inflight++;
    try {
      return await work();
    } finally {
      lane.inflight--;
      while (lane.queue.length > 0 && lane.inflight < this.o.slots) {
        const group: Waiter<T, R>[] = [];
        const later: Waiter<T, R>[] = [];
        const seen = new Set<string>();
        for (const w of lane.queue) {
          const id = this.o.identity(w.item);
          if (group.length < this.o.max && !seen.has(id)) {
            seen.add(id);
            group.push(w);
          } else later.push(w);
        }
        lane.queue = later;
        void this.slot(key, () => this.o.together(group).catch((e) => group.forEach((w) => w.reject(e))));
      }
      if (lane.queue.length === 0 && lane.inflight === 0) this.lanes.delete(key);
    }
  }
}
