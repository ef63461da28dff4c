/**
 * The one retry policy of the engine (go-ipam's retryOnOptimisticLock). A step reads, decides and
 * makes one conditional write; when the write loses a race the store answers `'raced'`, and the
 * step is run again after a short random backoff. `'again'` runs it again at once: the step has
 * already learned what changed (a refreshed pool, a chunk's real state) and has nothing to wait for.
 * After `maxAttempts` the caller gets a retryable Contention error.
 */
import { IpamError } from '../core/errors.js';

/** The step lost a race: back off, then run it again. */
export const RACED = 'raced' as const;
/** The step learned something: run it again without waiting. */
export const AGAIN = 'again' as const;

export type Attempt<T> = T | typeof RACED | typeof AGAIN;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function backoff(attempt: number): Promise<void> {
  await sleep(Math.random() * Math.min(200, 5 * 2 ** Math.min(attempt, 6)));
}

export function contention(what: string): IpamError {
  return new IpamError('Contention', `too much contention while ${what}; retry shortly`);
}

/** Runs `step` until it returns a result, at most `maxAttempts` times; `what` names it in the Contention error. */
export async function retrying<T>(what: string, maxAttempts: number, step: (attempt: number) => Promise<Attempt<T>>): Promise<T> {
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const r = await step(attempt);
    if (r === RACED) await backoff(attempt);
    else if (r !== AGAIN) return r;
  }
  throw contention(what);
}
