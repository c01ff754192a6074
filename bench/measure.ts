/**
 * Small generic helpers for benchmarks: timers, medians, interleaved repeats and a bounded
 * concurrency pool. Nothing here knows about SSH or the framework.
 */
import { performance } from 'node:perf_hooks';

/** Milliseconds since an arbitrary origin, sub-millisecond resolution. */
export function now(): number {
  return performance.now();
}

/** How long `fn` takes, in milliseconds, with its result. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = now();
  const value = await fn();
  return { ms: now() - start, value };
}

/** The median of the values (the mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The lowest and highest value, as `min..max` with `digits` decimals, for notes. */
export function spread(values: readonly number[], digits = 1): string {
  if (values.length === 0) return '-';
  return `${Math.min(...values).toFixed(digits)}..${Math.max(...values).toFixed(digits)}`;
}

/**
 * Runs each variant `repeats` times, interleaved (A, B, C, A, B, C, ...), rotating which
 * variant goes first in each round, so slow drift of the machine (caches, other load, a
 * growing sshd log) spreads over every variant instead of biasing one. Each variant returns
 * its own measurement (a time, a rate: whatever it measures). Resolves with the measurements
 * per variant, in run order.
 */
export async function interleaved<K extends string>(
  repeats: number,
  variants: Record<K, () => Promise<number>>,
  onResult?: (name: K, round: number, value: number) => void,
): Promise<Record<K, number[]>> {
  const names = Object.keys(variants) as K[];
  const results = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<K, number[]>;
  for (let round = 0; round < repeats; round++) {
    const order = names.map((_, i) => names[(i + round) % names.length]!);
    for (const name of order) {
      const value = await variants[name]();
      results[name].push(value);
      onResult?.(name, round, value);
    }
  }
  return results;
}

/**
 * Runs `count` tasks with at most `inFlight` at once; `task(i, worker)` is started for
 * i = 0..count-1 in order, `worker` (0..inFlight-1) saying which of the in-flight lanes runs it.
 * Rejects with the first error (tasks already started still run to their end).
 */
export async function pool(count: number, inFlight: number, task: (index: number, worker: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  let failure: unknown;
  const lane = async (worker: number) => {
    while (!failed && next < count) {
      const index = next++;
      try {
        await task(index, worker);
      } catch (error) {
        if (!failed) failure = error;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(inFlight, count)) }, (_, worker) => lane(worker)));
  if (failed) throw failure;
}

/** Jobs per second for `count` jobs done in `ms` milliseconds. */
export function perSecond(count: number, ms: number): number {
  return (count * 1000) / ms;
}
