/** `pipeline status [JOB_NAME] [--json]`: how the newest run of a job went, from its records. */
import { loadConfig } from './load-config.js';
import { existsSync } from 'node:fs';
import type { PipelineConfig } from '../config/pipeline-config.js';
import { checkJobName, findJobDirectory, jobDirectoryFor } from '../records/job-directories.js';
import { pipelineSteps, stepsLine } from '../records/pipeline-steps.js';
import { readSubmission, runOfSubmission, slurmJobEnded, slurmJobState, type SlurmSubmission } from '../records/slurm-submission.js';
import { journalPath, readJournal, type JournalContents, type RunStatus } from '../records/job-journal.js';
import { formatReport, reportRun } from '../records/run-report.js';

export async function statusCommand(args: Record<string, unknown>): Promise<number> {
  const config = await loadConfig(args);
  const { submitted, journal: read } = submittedOnly(config, args.job as string | undefined);
  if (submitted) {
    // Submitted to Slurm, its run not started: where it is in the queue, or that it ended without one.
    const { name, submission } = submitted;
    const state = slurmJobState(submission.slurmJobId);
    const ended = slurmJobEnded(state);
    process.stdout.write(args.json
      ? JSON.stringify({ jobName: name, runs: 0, status: ended ? 'crashed' : 'submitted', slurm: { jobId: submission.slurmJobId, state, output: submission.output } }) + '\n'
      : ended
        ? `job ${name}: Slurm job ${submission.slurmJobId} ${state} without starting its run; see ${submission.output}\n`
        : `job ${name}: submitted as Slurm job ${submission.slurmJobId}, ${state}; its output: ${submission.output}\n`);
    return ended ? 1 : 0;
  }
  const { name, directory } = findJobDirectory(config, args.job as string | undefined);
  const journal = read ?? readJournal(journalPath(directory));
  const latest = journal.runs[journal.runs.length - 1];
  for (const problem of journal.problems) process.stderr.write(`pipeline: warning: ${problem}\n`);
  if (!latest) {
    process.stdout.write(args.json ? JSON.stringify({ jobName: name, jobDirectory: directory, runs: 0 }) + '\n' : `job ${name}: no run recorded yet\n`);
    return 0;
  }
  const report = reportRun(directory, latest);
  const submission = readSubmission(directory);
  const slurm = submission && runOfSubmission(submission, latest.started.time) ? { jobId: submission.slurmJobId, state: slurmJobState(submission.slurmJobId), output: submission.output } : undefined;
  // Slurm ended the job (time limit, scancel, a node lost) before the run could record its end: from here it can only be told by Slurm.
  if (slurm && report.status === 'running' && slurmJobEnded(slurm.state)) report.status = 'crashed';
  const steps = pipelineSteps(directory, latest);
  if (args.json) process.stdout.write(JSON.stringify({ ...report, ...(slurm ? { slurm } : {}), ...(steps ? { steps } : {}), jobs: [...latest.jobs.values()].map(({ ended, ...job }) => ({ ...job, ...(ended ? { failure: ended.failure, message: ended.message, returncode: ended.returncode, signal: ended.signal, duration: ended.duration, retries: ended.retries, reused: ended.reused ?? false } : {}) })) }) + '\n');
  else process.stdout.write([...formatReport(report), ...(steps ? [stepsLine(steps)] : []), ...(slurm ? [`Slurm job ${slurm.jobId}: ${slurm.state}`] : [])].join('\n') + '\n');
  return statusExitCode(report.status);
}

/**
 * A job name that has a Slurm submission but no recorded run of it yet; else the journal, when
 * finding that out read it (read once: a journal of 100,000 jobs is tens of MB).
 */
function submittedOnly(config: PipelineConfig, jobName: string | undefined): { submitted?: { name: string; submission: SlurmSubmission }; journal?: JournalContents } {
  if (jobName === undefined) return {};
  checkJobName(jobName);
  const directory = jobDirectoryFor(config, jobName);
  const submission = readSubmission(directory);
  if (!submission) return {};
  const journal = existsSync(journalPath(directory)) ? readJournal(journalPath(directory)) : undefined;
  if (runOfSubmission(submission, journal?.runs.at(-1)?.started.time)) return { journal };
  return { submitted: { name: jobName, submission } };
}

/** For scripts: 0 when the newest run succeeded or is still running, 1 when it failed, was interrupted or crashed. */
export function statusExitCode(status: RunStatus): number {
  return status === 'succeeded' || status === 'running' ? 0 : 1;
}
