/** Which DynamoDB errors bulk writers retry, and that they do. */
import { describe, expect, it } from 'vitest';
import { isPassing, retryPassing } from '../lib/dynamo/retry.js';

const err = (name: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(name), { name, ...extra });

describe('retryPassing', () => {
  it('retries conflicts, throttling and 5xx (DynamoDB Local lock timeouts), not failed conditions or bad requests', () => {
    expect(isPassing(err('InternalServerError', { $fault: 'server' }))).toBe(true);
    expect(isPassing(err('ThrottlingException'))).toBe(true);
    expect(isPassing(err('TransactionCanceledException', { CancellationReasons: [{ Code: 'None' }, { Code: 'TransactionConflict' }] }))).toBe(true);
    expect(isPassing(err('TransactionCanceledException', { CancellationReasons: [{ Code: 'ConditionalCheckFailed' }] }))).toBe(false);
    expect(isPassing(err('ValidationException', { $fault: 'client' }))).toBe(false);
    expect(isPassing(new Error('boom'))).toBe(false);
  });

  it('repeats a write until it goes through, and gives up after the last attempt', async () => {
    let calls = 0;
    await expect(retryPassing(async () => (++calls < 3 ? Promise.reject(err('InternalServerError', { $fault: 'server' })) : 'ok'))).resolves.toBe('ok');
    expect(calls).toBe(3);
    calls = 0;
    await expect(retryPassing(async () => (calls++, Promise.reject(err('ThrottlingException'))), 3)).rejects.toThrow('ThrottlingException');
    expect(calls).toBe(3);
    calls = 0;
    await expect(retryPassing(async () => (calls++, Promise.reject(err('ValidationException'))))).rejects.toThrow('ValidationException');
    expect(calls).toBe(1);
  });
});
