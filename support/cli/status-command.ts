/** `pipeline status [JOB_NAME] [--json]`: how the newest run of a job went, from its records. */
import { loadConfig } from './load-config.js';
import { existsSync } from 'node:fs';
import type { PipelineConfig } from '../config/pipeline-config.js';
import { checkJobName, findJobDirectory, jobDirectoryFor } from '../records/job-directories.js';
import { readSubmission, slurmJobState, type SlurmSubmission } from '../records/slurm-submission.js';
import { journalPath, readJournal, type RunStatus } from '../records/job-journal.js';
import { formatReport, reportRun } from '../records/run-report.js';

export async function statusCommand(args: Record<string, unknown>): Promise<number> {
  const config = await loadConfig(args);
  const submitted = submittedOnly(config, args.job as string | undefined);
  if (submitted) {
    // Submitted to Slurm, not started yet: where it is in the queue.
    const { name, submission } = submitted;
    const state = slurmJobState(submission.slurmJobId) ?? 'ENDED (it recorded no run: see its output file)';
    process.stdout.write(args.json
      ? JSON.stringify({ jobName: name, runs: 0, slurm: { jobId: submission.slurmJobId, state, output: submission.output } }) + '\n'
      : `job ${name}: submitted as Slurm job ${submission.slurmJobId}, ${state}; its output: ${submission.output}\n`);
    return 0;
  }
  const { name, directory } = findJobDirectory(config, args.job as string | undefined);
  const journal = readJournal(journalPath(directory));
  const latest = journal.runs[journal.runs.length - 1];
  for (const problem of journal.problems) process.stderr.write(`pipeline: warning: ${problem}\n`);
  if (!latest) {
    process.stdout.write(args.json ? JSON.stringify({ jobName: name, jobDirectory: directory, runs: 0 }) + '\n' : `job ${name}: no run recorded yet\n`);
    return 0;
  }
  const report = reportRun(directory, latest);
  const submission = readSubmission(directory);
  const slurm = submission ? { jobId: submission.slurmJobId, state: slurmJobState(submission.slurmJobId) ?? 'ENDED', output: submission.output } : undefined;
  if (args.json) process.stdout.write(JSON.stringify({ ...report, ...(slurm ? { slurm } : {}), jobs: [...latest.jobs.values()].map(({ ended, ...job }) => ({ ...job, ...(ended ? { failure: ended.failure, message: ended.message, returncode: ended.returncode, signal: ended.signal, duration: ended.duration, retries: ended.retries, reused: ended.reused ?? false } : {}) })) }) + '\n');
  else process.stdout.write([...formatReport(report), ...(slurm ? [`Slurm job ${slurm.jobId}: ${slurm.state}`] : [])].join('\n') + '\n');
  return statusExitCode(report.status);
}

/** A job name that has a Slurm submission but no recorded run yet. */
function submittedOnly(config: PipelineConfig, jobName: string | undefined): { name: string; submission: SlurmSubmission } | undefined {
  if (jobName === undefined) return undefined;
  checkJobName(jobName);
  const directory = jobDirectoryFor(config, jobName);
  const submission = readSubmission(directory);
  if (!submission || existsSync(journalPath(directory))) return undefined;
  return { name: jobName, submission };
}

/** For scripts: 0 when the newest run succeeded or is still running, 1 when it failed, was interrupted or crashed. */
export function statusExitCode(status: RunStatus): number {
  return status === 'succeeded' || status === 'running' ? 0 : 1;
}
