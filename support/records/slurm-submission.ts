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

/** The job's state as squeue says it (PENDING, RUNNING, ...), or null once Slurm no longer lists it (it ended) or cannot be asked. */
export function slurmJobState(slurmJobId: string): string | null {
  try {
    const state = execFileSync('squeue', ['-h', '-j', slurmJobId, '-o', '%T'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
    return state === '' ? null : state;
  } catch {
    return null;
  }
}
