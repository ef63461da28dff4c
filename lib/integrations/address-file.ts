/**
 * Reads a file of addresses (one address, CIDR or span per line; `#` comments) and collapses
 * it into the fewest ranges. Streams the file; reports progress every `every` lines.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { invalid } from '../core/errors.js';
import { normalize, parseRange, rangeText, type Family, type Segment } from '../core/ip.js';

export interface ImportProgress {
  lines: number;
  bytes: number;
  totalBytes: number;
}

export async function rangesFromAddressFile(file: string, onProgress?: (p: ImportProgress) => void, every = 100_000): Promise<{ family: Family; ranges: string[]; addresses: bigint; lines: number }> {
  const totalBytes = (await stat(file)).size;
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let family: Family | undefined;
  // IPv4 singles go to a typed array (4 bytes each); everything else is kept as segments.
  let v4 = new Uint32Array(1 << 16);
  let n4 = 0;
  const segments: Segment[] = [];
  let lines = 0;
  let bytes = 0;
  for await (const line of rl) {
    lines++;
    bytes += Buffer.byteLength(line) + 1;
    const text = line.replace(/#.*/, '').trim();
    if (text) {
      let r;
      try {
        r = parseRange(text);
      } catch (e) {
        throw invalid(`${file}:${lines}: ${(e as Error).message}`);
      }
      family ??= r.family;
      if (r.family !== family) throw invalid(`${file}:${lines}: ${text} is IPv${r.family} but earlier lines are IPv${family}; a pool holds one family`);
      if (r.family === 4 && r.start === r.end) {
        if (n4 === v4.length) {
          const bigger = new Uint32Array(v4.length * 2);
          bigger.set(v4);
          v4 = bigger;
        }
        v4[n4++] = Number(r.start);
      } else segments.push({ start: r.start, end: r.end });
    }
    if (onProgress && lines % every === 0) onProgress({ lines, bytes, totalBytes });
  }
  onProgress?.({ lines, bytes: totalBytes, totalBytes });
  if (!family) throw invalid(`${file} holds no address`);
  const sorted = v4.subarray(0, n4).sort();
  for (let i = 0; i < n4; ) {
    let j = i;
    while (j + 1 < n4 && sorted[j + 1]! - sorted[j]! <= 1) j++;
    segments.push({ start: BigInt(sorted[i]!), end: BigInt(sorted[j]!) });
    i = j + 1;
  }
  const merged = normalize(segments);
  return { family, ranges: merged.map((s) => rangeText(family!, s.start, s.end)), addresses: merged.reduce((a, s) => a + s.end - s.start + 1n, 0n), lines };
}
