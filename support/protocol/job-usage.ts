/**
 * A job's CPU and peak memory on its host (issue 20): the shape both runtimes send with a job's
 * end, the check the master applies to it, and the sampling pace both sides share. Its own
 * module because the wire messages and the job's results both carry it, and neither may import
 * the other.
 */

/**
 * What a job used on its host, over its whole process group and the processes carrying its
 * mark (children included): CPU time in user and system mode, and the peak resident memory of
 * all of them together.
 */
export interface JobUsage {
  userSeconds: number;
  systemSeconds: number;
  peakRssBytes: number;
}

/** How often a running job's processes are sampled: its node runtime's timer, and the master's ticks to a plain command's guard. */
export const USAGE_SAMPLE_MS = 200;

/** /proc gives CPU times in clock ticks of USER_HZ, which Linux fixes at 100 on every architecture. */
export const CLOCK_TICKS_PER_SECOND = 100;

/**
 * `value` as a JobUsage when it is one: three finite numbers, none negative; else undefined.
 * A bad measurement is dropped rather than failing what carries it (a job's return code).
 */
export function usageOf(value: unknown): JobUsage | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { userSeconds, systemSeconds, peakRssBytes } = value as Record<string, unknown>;
  const fine = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0;
  return fine(userSeconds) && fine(systemSeconds) && fine(peakRssBytes) ? { userSeconds, systemSeconds, peakRssBytes } : undefined;
}
