/**
 * What the records say about one run, for people (`pipeline status`, the end-of-run summary)
 * and for programs (`--json`): counts by state, a row per host, the slowest jobs, the jobs that
 * used the most memory and CPU, and every failure with its reason and the path of its log.
 */
import type { RecordedJob, RecordedRun, RunStatus } from './job-journal.js';
import { jobLogPath } from './job-files.js';
import { clockTime } from '../logging/clock-time.js';

export interface HostRow {
  host: string;
  jobs: number;
  succeeded: number;
  failed: number;
  /** Seconds of job time on the host. */
  busy: number;
}

export interface FailureRow {
  job: string;
  host: string;
  failure: string;
  message: string;
  /** The job's job.log; none for a job that never started. */
  log?: string;
}

export interface RunReport {
  jobName: string;
  jobDirectory: string;
  run: string;
  recipe: string;
  status: RunStatus;
  started: string;
  ended: string | null;
  counts: Record<string, number>;
  /** Failed jobs per reason. */
  reasons: Record<string, number>;
  /** Jobs that were retried, and how many retries they took in all. */
  retried: number;
  retries: number;
  /** Jobs reused from an earlier run. */
  reused: number;
  hosts: HostRow[];
  slowest: Array<{ job: string; host: string; duration: number }>;
  /** The jobs with the highest peak memory and the most CPU (user and system), of those whose host measured them. */
  mostMemory: Array<{ job: string; host: string; peakRssBytes: number }>;
  mostCpu: Array<{ job: string; host: string; cpuSeconds: number }>;
  failures: FailureRow[];
  /** What the run could not record (its disk filled or went read-only), as its end record says. */
  unrecorded?: string;
}

const SLOWEST = 5;
/** Jobs named in each of the most-memory and most-CPU lists. */
const HEAVIEST = 3;
/** Failed jobs listed one by one; the rest are counted (the log and `pipeline status --json` have them all). */
const LISTED_FAILURES = 20;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function reportRun(jobDirectory: string, recorded: RecordedRun): RunReport {
  const jobs = [...recorded.jobs.values()];
  const counts: Record<string, number> = {};
  const reasons: Record<string, number> = {};
  const hosts = new Map<string, HostRow>();
  for (const job of jobs) {
    counts[job.state] = (counts[job.state] ?? 0) + 1;
    if (job.state === 'failed') reasons[job.ended?.failure ?? 'unknown'] = (reasons[job.ended?.failure ?? 'unknown'] ?? 0) + 1;
    let row = hosts.get(job.host);
    if (!row) hosts.set(job.host, (row = { host: job.host, jobs: 0, succeeded: 0, failed: 0, busy: 0 }));
    row.jobs++;
    if (job.state === 'succeeded') row.succeeded++;
    if (job.state === 'failed') row.failed++;
    if (job.ended && !job.ended.reused) row.busy += job.ended.duration;
  }
  const ran = jobs.filter((job): job is RecordedJob & { ended: NonNullable<RecordedJob['ended']> } => Boolean(job.ended && !job.ended.reused));
  const measured = ran.flatMap((job) => (job.ended.usage ? [{ job: job.job, host: job.host, usage: job.ended.usage }] : []));
  return {
    jobName: recorded.started.jobName,
    jobDirectory,
    run: recorded.started.run,
    recipe: recorded.started.recipe,
    status: recorded.status,
    started: recorded.started.time,
    ended: recorded.ended?.time ?? null,
    counts,
    reasons,
    retried: jobs.filter((job) => (job.ended?.retries ?? 0) > 0).length,
    retries: jobs.reduce((sum, job) => sum + (job.ended?.retries ?? 0), 0),
    reused: jobs.filter((job) => job.ended?.reused).length,
    hosts: [...hosts.values()].sort((a, b) => (a.host < b.host ? -1 : 1)),
    slowest: ran.sort((a, b) => b.ended.duration - a.ended.duration).slice(0, SLOWEST)
      .map((job) => ({ job: job.job, host: job.host, duration: job.ended.duration })),
    mostMemory: measured.filter((job) => job.usage.peakRssBytes > 0).sort((a, b) => b.usage.peakRssBytes - a.usage.peakRssBytes).slice(0, HEAVIEST)
      .map((job) => ({ job: job.job, host: job.host, peakRssBytes: job.usage.peakRssBytes })),
    mostCpu: measured.map((job) => ({ job: job.job, host: job.host, cpuSeconds: job.usage.userSeconds + job.usage.systemSeconds }))
      .filter((job) => job.cpuSeconds > 0).sort((a, b) => b.cpuSeconds - a.cpuSeconds).slice(0, HEAVIEST),
    failures: jobs.filter((job) => job.state === 'failed').map((job) => ({
      job: job.job,
      host: job.host,
      failure: job.ended?.failure ?? 'unknown',
      message: job.ended?.message ?? '',
      ...(job.attempt > 0 ? { log: jobLogPath(jobDirectory, job.job) } : {}),
    })),
    ...(recorded.ended?.unrecorded ? { unrecorded: recorded.ended.unrecorded } : {}),
  };
}

/** Bytes as people read memory sizes: KiB, MiB or GiB, with a decimal while the number is small. */
export function memoryText(bytes: number): string {
  const [value, unit] = bytes >= 1024 ** 3 ? [bytes / 1024 ** 3, 'GiB'] : bytes >= 1024 ** 2 ? [bytes / 1024 ** 2, 'MiB'] : [bytes / 1024, 'KiB'];
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${unit}`;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}

/** One line: counts per state, failures per reason, retries, reuse. */
export function headline(report: RunReport): string {
  const total = Object.values(report.counts).reduce((sum, n) => sum + n, 0);
  const counts = Object.entries(report.counts).map(([state, n]) => `${n} ${state}`).join(', ');
  let line = `${plural(total, 'job')}${counts ? ': ' + counts : ''}`;
  const reasons = Object.entries(report.reasons);
  if (reasons.length > 0) line += ` (${reasons.map(([reason, n]) => `${n} ${reason}`).join(', ')})`;
  if (report.retried > 0) line += `; ${plural(report.retried, 'job')} retried ${plural(report.retries, 'time')}`;
  if (report.reused > 0) line += `; ${report.reused} reused from an earlier run`;
  return line;
}

/** The summary under the headline: a row per host, the slowest jobs, the heaviest (when measured), each failure with its log. */
export function detailLines(report: RunReport): string[] {
  const lines: string[] = [];
  if (report.hosts.length > 0) {
    lines.push(...table(['host', 'jobs', 'succeeded', 'failed', 'busy'],
      report.hosts.map((row) => [row.host, String(row.jobs), String(row.succeeded), String(row.failed), `${row.busy.toFixed(1)} s`])));
  }
  if (report.slowest.length > 0) {
    lines.push(`slowest: ${report.slowest.map((job) => `${job.host}#${job.job} ${job.duration.toFixed(1)} s`).join(', ')}`);
  }
  const heaviest = [
    ...(report.mostMemory.length > 0 ? [`most memory: ${report.mostMemory.map((job) => `${job.host}#${job.job} ${memoryText(job.peakRssBytes)}`).join(', ')}`] : []),
    // A tenth of a second is the unit, but a job that used less still shows what it used.
    ...(report.mostCpu.length > 0 ? [`most CPU: ${report.mostCpu.map((job) => `${job.host}#${job.job} ${job.cpuSeconds.toFixed(job.cpuSeconds < 0.1 ? 2 : 1)} s`).join(', ')}`] : []),
  ];
  if (heaviest.length > 0) lines.push(heaviest.join('; '));
  for (const row of report.failures.slice(0, LISTED_FAILURES)) lines.push(`${row.host}#${row.job} ${row.failure}: ${row.message}${row.log ? `  (log: ${row.log})` : ''}`);
  if (report.failures.length > LISTED_FAILURES) lines.push(`... and ${report.failures.length - LISTED_FAILURES} more failed jobs (pipeline status ${report.jobName} --json lists them)`);
  if (report.unrecorded) lines.push(report.unrecorded);
  return lines;
}

/** `pipeline status`: the run, then its summary. */
export function formatReport(report: RunReport): string[] {
  const elapsed = report.ended ? ` in ${clockTime((Date.parse(report.ended) - Date.parse(report.started)) / 1000)}` : '';
  return [
    `job ${report.jobName}: ${report.status}${elapsed} (recipe ${report.recipe}, run ${report.run})`,
    headline(report),
    ...detailLines(report).map((line) => '  ' + line),
  ];
}
