/**
 * A run submitted to Slurm with `pipeline submit`: its batch script and Slurm job id, kept in the
 * job directory so that `pipeline status` can say where it is before its first record exists.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const SUBMISSION_FILE = 'slurm-submission.json';

export interface SlurmSubmission {
  slurmJobId: string;
  script: string;
  submitted: string;
  /** Where Slurm writes the batch script's own stdout and stderr. */
  output: string;
}

export function readSubmission(jobDirectory: string): SlurmSubmission | undefined {
  const file = join(jobDirectory, SUBMISSION_FILE);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as SlurmSubmission;
  } catch {
    return undefined; // half written by a submit that was killed: as if none
  }
}

/** States in which Slurm still lists a job for a while (MinJobAge) although it has ended. */
const ENDED_STATES = new Set(['COMPLETED', 'CANCELLED', 'FAILED', 'TIMEOUT', 'NODE_FAIL', 'PREEMPTED', 'OUT_OF_MEMORY', 'BOOT_FAIL', 'DEADLINE', 'SPECIAL_EXIT', 'REVOKED']);

/**
 * The job's state as squeue says it: `PENDING`, `RUNNING`, ...; `ENDED` once Slurm no longer
 * lists it; `ENDED (<state>)` for an ended job it still lists; `UNKNOWN (...)` when squeue cannot be asked.
 */
export function slurmJobState(slurmJobId: string): string {
  let state: string;
  try {
    state = execFileSync('squeue', ['-h', '-j', slurmJobId, '-o', '%T'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  } catch (error) {
    const err = error as NodeJS.ErrnoException & { status?: number };
    // squeue -j of a job it has forgotten exits 1 on some versions: that is an ended job too.
    if (err.status === 1) return 'ENDED';
    return `UNKNOWN (squeue: ${err.code === 'ENOENT' ? 'not found here' : err.message.split('\n')[0]})`;
  }
  if (state === '') return 'ENDED';
  return ENDED_STATES.has(state) ? `ENDED (${state})` : state;
}

export function slurmJobEnded(state: string): boolean {
  return state.startsWith('ENDED');
}

/** Whether the journal's newest run began after this submission (else an earlier run of the job name is all there is). */
export function runOfSubmission(submission: SlurmSubmission, runStarted: string | undefined): boolean {
  return runStarted !== undefined && runStarted >= submission.submitted;
}
