/** `pipeline logs JOB_NAME [--job ID] [--follow]`: the newest run's log, or one job's own log. */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from './load-config.js';
import { NotFoundError } from '../errors.js';
import type { PipelineConfig } from '../config/pipeline-config.js';
import { checkJobName, findJobDirectory, jobDirectoryFor } from '../records/job-directories.js';
import { readSubmission, runOfSubmission, slurmJobEnded, slurmJobState } from '../records/slurm-submission.js';
import { jobLogPath } from '../records/job-files.js';
import { journalPath, readJournal } from '../records/job-journal.js';

const FOLLOW_POLL_MS = 200;

/** Copies the file from `offset` to stdout; returns the new offset. */
function copyFrom(path: string, offset: number): number {
  if (!existsSync(path)) return offset;
  const size = statSync(path).size;
  if (size <= offset) return offset;
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(1 << 20);
    let position = offset;
    while (position < size) {
      const n = readSync(fd, buffer, 0, Math.min(buffer.length, size - position), position);
      if (n === 0) break;
      process.stdout.write(buffer.subarray(0, n));
      position += n;
    }
    return position;
  } finally {
    closeSync(fd);
  }
}

export async function logsCommand(args: Record<string, unknown>): Promise<number> {
  const config = await loadConfig(args);
  if (args.follow && args.jobName !== undefined) await waitForSubmittedRun(config, String(args.jobName));
  const { name, directory } = findJobDirectory(config, args.jobName as string | undefined);
  const journal = journalPath(directory);
  const latest = () => readJournal(journal).runs.at(-1);
  const job = args.job === undefined ? undefined : logJobId(directory, String(args.job));
  const path = job !== undefined ? jobLogPath(directory, job) : latest()?.started.logFile;
  if (!path) throw new NotFoundError(`job ${name}: its newest run recorded no log file`);
  if (!existsSync(path) && !args.follow) {
    throw new NotFoundError(job !== undefined ? `job ${name} has no job ${job} with a log (${path} does not exist)` : `${path} does not exist`);
  }
  let offset = copyFrom(path, 0);
  if (!args.follow) return 0;
  // Follow until the run has ended (or its master is gone, or the Slurm job it ran in), then print what is left.
  const submission = readSubmission(directory);
  for (let polls = 1; latest()?.status === 'running'; polls++) {
    await sleep(FOLLOW_POLL_MS);
    offset = copyFrom(path, offset);
    if (submission && polls % 10 === 0 && slurmJobEnded(slurmJobState(submission.slurmJobId))) {
      copyFrom(path, offset);
      process.stderr.write(`pipeline: Slurm job ${submission.slurmJobId} ended before the run recorded its end; see ${submission.output}\n`);
      return 1;
    }
  }
  copyFrom(path, offset);
  return 0;
}

/** A job id as given: its name, or `host#name` as the log lines show it (when no job is named so itself). */
function logJobId(directory: string, given: string): string {
  const hash = given.indexOf('#');
  if (hash < 0 || existsSync(jobLogPath(directory, given))) return given;
  return given.slice(hash + 1);
}

/** A run submitted to Slurm that has not begun: wait while Slurm still has the job, so that --follow starts with its first line. */
async function waitForSubmittedRun(config: PipelineConfig, jobName: string): Promise<void> {
  checkJobName(jobName);
  const directory = jobDirectoryFor(config, jobName);
  const submission = readSubmission(directory);
  if (!submission) return;
  let announced = false;
  // The journal is read again only when it changed: an earlier run's may be tens of MB.
  let seen: string | undefined;
  const started = () => {
    // Size with the time: an append within one tick of the clock still changes the size.
    const stats = existsSync(journalPath(directory)) ? statSync(journalPath(directory)) : undefined;
    const changed = stats ? `${stats.size}:${stats.mtimeMs}` : undefined;
    if (changed === undefined || changed === seen) return false;
    seen = changed;
    return runOfSubmission(submission, readJournal(journalPath(directory)).runs.at(-1)?.started.time);
  };
  while (!started()) {
    const state = slurmJobState(submission.slurmJobId);
    if (slurmJobEnded(state)) throw new NotFoundError(`job ${jobName}: Slurm job ${submission.slurmJobId} ${state} without starting its run; see ${submission.output}`);
    if (!announced) process.stderr.write(`pipeline: job ${jobName} is Slurm job ${submission.slurmJobId}, ${state}; waiting for its run to start\n`);
    announced = true;
    await sleep(FOLLOW_POLL_MS * 5);
  }
}
