/**
 * The chunk: the unit of the free-slot index. Every pool's space is cut into aligned runs of
 * CHUNK_SIZE addresses (or blocks), each tracked by one item. The one definition: the engine,
 * the store's keys and repair all take it from here.
 */
export const CHUNK_BITS = 8n;
export const CHUNK_SIZE = 1n << CHUNK_BITS;

/** The first address of the chunk holding `value`. */
export const chunkBaseOf = (value: bigint) => (value >> CHUNK_BITS) << CHUNK_BITS;
/** The offset of `value` inside its chunk (0..CHUNK_SIZE-1). */
export const offsetIn = (value: bigint) => Number(value & (CHUNK_SIZE - 1n));
