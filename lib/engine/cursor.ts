/**
 * The listing cursor: the last address listed, opaque to the caller.
 */
import { CHUNK_SIZE as CHUNK, chunkBaseOf as chunkBase } from '../core/chunk.js';
import { invalid } from '../core/errors.js';
import type { Family } from '../core/ip.js';

export function encodeCursor(value: bigint): string {
  return Buffer.from(value.toString(16)).toString('base64url');
}

export function decodeCursor(cursor: string, family: Family): { base: bigint; offset: number } {
  try {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(cursor)) throw new Error();
    const hex = Buffer.from(cursor, 'base64url').toString();
    if (!/^[0-9a-f]{1,32}$/.test(hex)) throw new Error();
    const v = BigInt('0x' + hex);
    if (family === 4 && v > 0xffffffffn) throw new Error();
    return { base: chunkBase(v), offset: Number(v % CHUNK) };
  } catch {
    throw invalid('cursor is not valid for this listing');
  }
}
