/**
 * The listing cursor: the last address listed, opaque to the caller.
 */
import { CHUNK_SIZE as CHUNK, chunkBaseOf as chunkBase, slotOf, type SlotSpace } from '../core/chunk.js';
import { invalid } from '../core/errors.js';

export function encodeCursor(value: bigint): string {
  return Buffer.from(value.toString(16)).toString('base64url');
}

/** The chunk and offset (in the pool's slots) of the last address listed. */
export function decodeCursor(cursor: string, space: SlotSpace): { base: bigint; offset: number } {
  try {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(cursor)) throw new Error();
    const hex = Buffer.from(cursor, 'base64url').toString();
    if (!/^[0-9a-f]{1,32}$/.test(hex)) throw new Error();
    const address = BigInt('0x' + hex);
    if (space.family === 4 && address > 0xffffffffn) throw new Error();
    const v = slotOf(space, address);
    return { base: chunkBase(v), offset: Number(v % CHUNK) };
  } catch {
    throw invalid('cursor is not valid for this listing');
  }
}
