/**
 * The end-of-run summary: how many jobs ended how, and each failed job with its one reason,
 * so that a user who scrolled past the log still sees what went wrong.
 */
import type { ComputeJob } from './compute-job.js';

/** Failed jobs listed one per line; the rest are counted, the log has them all. */
const LISTED_FAILURES = 20;

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export interface RunSummary {
  /** The headline: counts per state, failures per reason, retries. */
  headline: string;
  /** One line per failed job (at most LISTED_FAILURES, then how many more). */
  failures: string[];
  failed: number;
}

export function summarizeJobs(jobs: readonly ComputeJob[]): RunSummary {
  const states = countBy(jobs, (job) => job.results.state);
  const failedJobs = jobs.filter((job) => job.results.state === 'failed');
  const parts = [...states].map(([state, n]) => `${n} ${state}`);
  let headline = `${plural(jobs.length, 'job')}${parts.length ? ': ' + parts.join(', ') : ''}`;
  if (failedJobs.length > 0) {
    const reasons = countBy(failedJobs, (job) => job.results.failure ?? 'unknown');
    headline += ` (${[...reasons].map(([reason, n]) => `${n} ${reason}`).join(', ')})`;
  }
  const retried = jobs.filter((job) => job.results.retries > 0);
  if (retried.length > 0) {
    const retries = retried.reduce((sum, job) => sum + job.results.retries, 0);
    headline += `; ${plural(retried.length, 'job')} retried ${plural(retries, 'time')}`;
  }
  const failures = failedJobs.slice(0, LISTED_FAILURES).map((job) => {
    const { host, failure, message } = job.results;
    return `${host}#${job.id} ${failure}: ${message ?? ''}`;
  });
  if (failedJobs.length > LISTED_FAILURES) failures.push(`... and ${failedJobs.length - LISTED_FAILURES} more failed jobs (see the log file)`);
  return { headline, failures, failed: failedJobs.length };
}
