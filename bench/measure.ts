/**
 * What the benchmarks share: CONCURRENCY workers calling an operation for a fixed time, its rate and
 * latencies, and the one-line report of a phase.
 */
export const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);

export interface Rate {
  n: number;
  perSec: number;
  p50: number;
  p99: number;
  errors: number;
  /** From the start to the last call's end (the calls in flight at the deadline finish). */
  secs: number;
}

/** CONCURRENCY workers call fn(i) with i = 0, 1, 2, ... for `seconds` (or until fn has no more work: `limit`). */
export async function rate(label: string, seconds: number, fn: (i: number) => Promise<unknown>, limit = Infinity): Promise<Rate> {
  let next = 0;
  let errors = 0;
  let firstError: unknown;
  const lat: number[] = [];
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const tty = process.stdout.isTTY;
  const tick = setInterval(() => {
    const s = (performance.now() - t0) / 1000;
    if (tty) process.stdout.write(`\r  ${label}: ${s.toFixed(0)}/${seconds} s, ${lat.length} done`);
  }, 1000);
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end && next < limit) {
        const i = next++;
        const s = performance.now();
        try {
          await fn(i);
          lat.push(performance.now() - s);
        } catch (e) {
          errors++;
          firstError ??= e;
        }
      }
    }),
  );
  clearInterval(tick);
  if (tty) process.stdout.write('\r\x1b[K');
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  if (firstError) console.error(`  ${label}: ${errors} errors; the first: ${(firstError as Error).stack ?? firstError}`);
  return { n: lat.length, perSec: lat.length / secs, p50: lat[Math.floor(lat.length * 0.5)] ?? NaN, p99: lat[Math.floor(lat.length * 0.99)] ?? NaN, errors, secs };
}

export const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '—');
export const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '—');
export const line = (label: string, r: Rate) => console.log(`${label.padEnd(52)} ${f0(r.perSec).padStart(6)} /s   p50 ${f1(r.p50).padStart(6)} ms   p99 ${f1(r.p99).padStart(6)} ms   (${r.n} in ${r.secs.toFixed(1)} s${r.errors ? `, ${r.errors} ERRORS` : ''})`);

