/**
 * What a job came to: its state, why it failed, what kept it from starting, the shape of its
 * results. Records, logging, the scheduler and the launchers all speak of jobs in these words,
 * so they sit at the bottom, beside the wire protocol, and depend on nothing of the master.
 */
import type { JobUsage } from './job-usage.js';
import type { JsonValue } from './messages.js';

export type { JobUsage } from './job-usage.js';

/** Why a job failed; a job that succeeded has none. */
export type FailureReason =
  | 'exit'            // ended with a non-zero return code
  | 'signal'          // killed by a signal
  | 'timeout'         // ran longer than its timeout and was stopped
  | 'connection-lost' // the connection to its host dropped while it ran
  | 'launch-failed'   // could not be started: host unreachable, authentication, host key, executable missing
  | 'cancelled'       // the run was interrupted, or fail-fast stopped it
  | 'node-exception'  // the node script threw
  | 'outputs-too-large' // its outputs were over the cap (MAX_OUTPUTS_BYTES): they could not all arrive
  | 'stage-in-failed'   // a stageIn file could not be copied to its host (the file is named)
  | 'stage-out-failed'; // a stageOut file was not made, or could not be copied back (the file is named)

export type JobState = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';

/** An earlier attempt of a job that was retried. */
export interface AttemptRecord {
  host: string;
  failure: FailureReason;
  message: string;
  duration: number;
}

export interface JobResults {
  state: JobState;
  /** The real exit code; null when the job was killed by a signal or never ran. */
  returncode: number | null;
  /** Name of the signal that ended the job, e.g. 'SIGKILL'. */
  signal: string | null;
  /** What the node script put in `this.outputs` (for a plain command: its `stdout` lines). */
  outputs: Record<string, JsonValue>;
  /** Wall-clock seconds from launch to end. */
  duration: number;
  /** The host the job ran on. */
  host: string;
  failure?: FailureReason;
  /** One line a user can act on, when the job failed. */
  message?: string;
  /** The node's stack trace, for `node-exception`. */
  stack?: string;
  /** For `launch-failed`, when known: unreachable, timeout, auth, host-key, not-started, not-startable, unhealthy. */
  launchProblem?: LaunchProblem;
  /** True when the job succeeded in an earlier run of this job name and was not run again. */
  reused?: boolean;
  /** CPU and peak memory, when the host measured them (absent for a job that never started). */
  usage?: JobUsage;
  /** How many times the job was retried; its earlier attempts, oldest first. */
  retries: number;
  attempts: AttemptRecord[];
  /** For `stage-in-failed` and `stage-out-failed`: why (`missing`, `denied`, `full`, `lost`, `failed`). */
  transferProblem?: TransferProblem;
  /** The job's stageOut files on the control node: each path as the job named it, and where it was copied. */
  stagedOut?: Record<string, string>;
}

export type TransferProblem = 'missing' | 'denied' | 'full' | 'lost' | 'failed';

/**
 * What kept a job from starting, when it is known: the connection's failure, a node executable
 * that is missing (`not-started`), a cause that is the same on every try (`not-startable`:
 * permission denied, no such file, a read-only file system), or a host given up on earlier in
 * the run (`unhealthy`).
 */
export type LaunchProblem = 'unreachable' | 'timeout' | 'auth' | 'host-key' | 'not-started' | 'not-startable' | 'unhealthy';
