/** `pipeline status [JOB_NAME] [--json]`: how the newest run of a job went, from its records. */
import { loadConfig } from './load-config.js';
import { findJobDirectory } from '../records/job-directories.js';
import { journalPath, readJournal, type RunStatus } from '../records/job-journal.js';
import { formatReport, reportRun } from '../records/run-report.js';

export async function statusCommand(args: Record<string, unknown>): Promise<number> {
  const config = await loadConfig(args);
  const { name, directory } = findJobDirectory(config, args.job as string | undefined);
  const journal = readJournal(journalPath(directory));
  const latest = journal.runs[journal.runs.length - 1];
  for (const problem of journal.problems) process.stderr.write(`pipeline: warning: ${problem}\n`);
  if (!latest) {
    process.stdout.write(args.json ? JSON.stringify({ jobName: name, jobDirectory: directory, runs: 0 }) + '\n' : `job ${name}: no run recorded yet\n`);
    return 0;
  }
  const report = reportRun(directory, latest);
  if (args.json) process.stdout.write(JSON.stringify({ ...report, jobs: [...latest.jobs.values()].map(({ ended, ...job }) => ({ ...job, ...(ended ? { failure: ended.failure, message: ended.message, returncode: ended.returncode, signal: ended.signal, duration: ended.duration, retries: ended.retries, reused: ended.reused ?? false } : {}) })) }) + '\n');
  else process.stdout.write(formatReport(report).join('\n') + '\n');
  return statusExitCode(report.status);
}

/** For scripts: 0 when the newest run succeeded or is still running, 1 when it failed, was interrupted or crashed. */
export function statusExitCode(status: RunStatus): number {
  return status === 'succeeded' || status === 'running' ? 0 : 1;
}
