/**
 * What happens in a run, as typed events keyed on `type`: the journal records them, `--json`
 * prints them, the status line counts them. One union, so a new kind reaches every consumer.
 */
import type { FailureReason, JobState, JobUsage, LaunchProblem, TransferProblem } from '../protocol/job-outcome.js';
import type { JsonValue } from '../protocol/messages.js';

export const RECORD_VERSION = 1;

export interface RunStarted {
  type: 'run-started';
  v: number;
  time: string;
  /** This run's id: its start time and the master's pid. */
  run: string;
  jobName: string;
  recipe: string;
  recipePath: string;
  inputs: Record<string, unknown>;
  inputsHash: string;
  /** The cluster's hosts for this run (`--hosts` or the clusterdesc). */
  hosts: string[];
  /** The master process and its machine, so a reader can tell a live run from one that crashed. */
  pid: number;
  controlHost: string;
  /** Earlier records do not count for resume (`--fresh`). */
  fresh: boolean;
  /** The run's pipeline.log. */
  logFile: string | null;
  /** The pipeline.cfg the run read (absent in runs recorded before it was). */
  configFile?: string;
}

export interface JobQueued {
  type: 'job-queued';
  time: string;
  run: string;
  job: string;
  /** The job's identity: recipe, requested host, command and arguments, hashed. */
  key: string;
  host: string;
  /** The pipeline step the job belongs to (a generic-pipeline run). */
  step?: string;
}

/** A step of a pipeline run started, or ended: done, skipped (finished in an earlier run) or failed. */
export interface StepChanged {
  type: 'step';
  time: string;
  run: string;
  step: string;
  /** recipe, plugin, loop or pipeline. */
  kind: string;
  /** Its task, plugin or sub-pipeline parset. */
  stepType: string;
  state: 'started' | 'done' | 'skipped' | 'failed';
  /** A step inside a loop: the rounds of the loops it is in, outermost first, each from 1. */
  rounds?: number[];
  message?: string;
}

/** What a recipe says of a step; the run adds the time and its id. */
export type StepReport = Omit<StepChanged, 'type' | 'time' | 'run'>;

export interface JobStarted {
  type: 'job-started';
  time: string;
  run: string;
  job: string;
  key: string;
  host: string;
  attempt: number;
  /** What runs, as command.sh holds it: recorded when it runs, so nothing holds 100,000 queued commands. */
  command: string;
  args: JsonValue[];
  step?: string;
}

export interface JobEnded {
  type: 'job-ended';
  time: string;
  run: string;
  job: string;
  key: string;
  host: string;
  state: JobState;
  failure?: FailureReason;
  message?: string;
  launchProblem?: LaunchProblem;
  returncode: number | null;
  signal: string | null;
  duration: number;
  retries: number;
  outputs: Record<string, JsonValue>;
  /** True when the job succeeded in an earlier run and was not run again. */
  reused?: boolean;
  /** CPU and peak memory of the job's processes on its host, when measured. */
  usage?: JobUsage;
  transferProblem?: TransferProblem;
  /** Where the job's stageOut files were copied on the control node (a resumed run checks they are still there). */
  stagedOut?: Record<string, string>;
  step?: string;
}

export interface RunEnded {
  type: 'run-ended';
  time: string;
  run: string;
  returncode: number;
  /** The signal that interrupted the run, if one did. */
  interrupted: string | null;
  outputs: Record<string, unknown>;
  /** When the records failed during the run (a full disk): since when, why, and what was not recorded. */
  unrecorded?: string;
}

export type RunEvent = RunStarted | JobQueued | JobStarted | JobEnded | StepChanged | RunEnded;
export type RunEventType = RunEvent['type'];

export type RunEventListener = (event: RunEvent) => void;

/** Hands every event to every listener, in the order they subscribed. */
export class RunEvents {
  readonly #listeners: RunEventListener[] = [];

  subscribe(listener: RunEventListener): void {
    this.#listeners.push(listener);
  }

  emit(event: RunEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}
