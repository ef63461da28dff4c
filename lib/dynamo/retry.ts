/**
 * Retries a write that failed for a passing reason: a transaction conflict, throttling, or a 5xx
 * (DynamoDB Local answers "timed out waiting for a lock" with a 500 under heavy load). The SDK's own
 * retries draw on a token bucket that a long bulk load can drain, so bulk writers retry here as well.
 * Only for writes that may be repeated (unconditional puts of whole items).
 */
const PASSING = new Set(['TransactionCanceledException', 'TransactionConflictException', 'TransactionInProgressException', 'InternalServerError', 'ThrottlingException', 'ProvisionedThroughputExceededException', 'RequestLimitExceeded', 'ServiceUnavailable']);

export function isPassing(e: unknown): boolean {
  const err = e as { name?: string; $fault?: string; CancellationReasons?: { Code?: string }[] };
  if (err?.name === 'TransactionCanceledException') return (err.CancellationReasons ?? []).every((r) => r.Code !== 'ConditionalCheckFailed' && r.Code !== 'ValidationError');
  return PASSING.has(err?.name ?? '') || err?.$fault === 'server';
}

export async function retryPassing<T>(write: () => Promise<T>, attempts = 12): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (e) {
      if (attempt >= attempts || !isPassing(e)) throw e;
      await new Promise((res) => setTimeout(res, Math.min(2000, 20 * 2 ** attempt) * (0.5 + Math.random() / 2)));
    }
  }
}
