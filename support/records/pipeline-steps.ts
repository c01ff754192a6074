/**
 * The steps of a generic-pipeline run, for `pipeline status`: each step of its parset with its
 * state (done, running, failed, interrupted, not started) and its jobs, from the run's records
 * (its step events, and the step each job carries) and the steps it recorded as finished (`steps.json`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPipelineParset } from '../config/pipeline-parset.js';
import { parseList } from '../config/ini.js';
import type { RecordedJob, RecordedRun } from './job-journal.js';

export type StepState = 'done' | 'running' | 'failed' | 'interrupted' | 'not started';

export interface StepStatus {
  name: string;
  state: StepState;
  jobs: number;
  succeeded: number;
  failed: number;
}

/** The run's steps, or undefined when it is not a generic-pipeline run (or its parset cannot be read any more). */
export function pipelineSteps(jobDirectory: string, run: RecordedRun): StepStatus[] | undefined {
  const parsetFile = run.started.inputs.parset;
  if (typeof parsetFile !== 'string' || !existsSync(parsetFile)) return undefined;
  const names: string[] = [];
  /** A loop's step: its loop, under which steps.json keeps what the step gave when the loop finished. */
  const loopOf = new Map<string, string>();
  try {
    // Only the order is wanted here: every type is taken as known.
    const parset = readPipelineParset(parsetFile, { isTask: () => true, isPlugin: () => true });
    for (const name of parset.order) {
      names.push(name);
      // A loop's steps follow it.
      const loopsteps = parset.steps.get(name)!.kind === 'loop' ? parset.steps.get(name)!.control.get('loopsteps') : undefined;
      for (const inner of loopsteps ? parseList(loopsteps.value).filter((step) => !names.includes(step)) : []) {
        names.push(inner);
        loopOf.set(inner, name);
      }
    }
  } catch {
    return undefined;
  }
  const recordFile = join(jobDirectory, 'steps.json');
  let finished: Record<string, unknown> = {};
  try {
    if (existsSync(recordFile)) finished = JSON.parse(readFileSync(recordFile, 'utf8')) as Record<string, unknown>;
  } catch {
    // a torn record: every step counts as not finished
  }
  const ended = run.status !== 'running';
  const jobsOf = new Map<string, RecordedJob[]>();
  for (const job of run.jobs.values()) {
    // Runs recorded before jobs carried their step: a task's jobs are named <step>.<n>.
    const step = job.step ?? names.find((name) => job.job.startsWith(`${name}.`));
    if (step !== undefined) jobsOf.set(step, [...(jobsOf.get(step) ?? []), job]);
  }
  return names.map((name) => {
    const jobs = jobsOf.get(name) ?? [];
    const succeeded = jobs.filter((job) => job.state === 'succeeded').length;
    const failed = jobs.filter((job) => job.state === 'failed').length;
    const heard = run.steps?.get(name)?.state;
    let state: StepState;
    const finishedBefore = name in finished || (loopOf.has(name) && `${loopOf.get(name)}/${name}` in finished);
    if (heard === 'done' || heard === 'skipped' || (heard === undefined && finishedBefore)) state = 'done';
    else if (heard === 'failed') state = 'failed';
    else if (heard === undefined && jobs.length === 0) state = 'not started';
    else if (heard === undefined && failed > 0 && (ended || jobs.every((job) => job.state === 'succeeded' || job.state === 'failed'))) state = 'failed';
    // Cut off by Ctrl-C or a killed master: not a failure of its own.
    else if (ended) state = run.status === 'interrupted' || run.status === 'crashed' ? 'interrupted' : 'failed';
    else state = 'running';
    return { name, state, jobs: jobs.length, succeeded, failed };
  });
}

/** `steps: listdata done, copy running (4 of 6 jobs done), ...`. */
export function stepsLine(steps: readonly StepStatus[]): string {
  return `steps: ${steps.map((step) => `${step.name} ${step.state}${step.jobs > 0 ? ` (${step.succeeded} of ${step.jobs} jobs succeeded${step.failed > 0 ? `, ${step.failed} failed` : ''})` : ''}`).join(', ')}`;
}
