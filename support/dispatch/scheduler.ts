/**
 * Dispatches ComputeJobs: at most `maxPerNode` at a time on each host and `concurrency` in all;
 * resolves when every job has ended. A failure does not stop the others unless `failFast`.
 */
import { setMaxListeners } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { JobDefinitionError } from '../errors.js';
import type { ComputeJob, RetryOn } from './compute-job.js';
import type { AttemptRecord, JobResults } from '../protocol/job-outcome.js';
import { JobLimits } from './job-limits.js';
import { HostHealth } from './host-health.js';
import { JobIdentities } from '../records/job-identity.js';
import { agentJob, buildCommand, jobEnvironment, newJobMark, splitEnvironment, type CommandPlacement } from './launch-command.js';
import type { AgentDispatch } from './agent-dispatch.js';
import { executeJob } from './job-execution.js';
import type { Launchers } from '../launchers/launcher-choice.js';
import type { LogPressure } from '../logging/log-pressure.js';
import { perHostLimit } from '../config/pipeline-config.js';
import type { Logger } from '../logging/run-log.js';
import type { LogLevel } from '../protocol/messages.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pLimit, { type LimitFunction } from 'p-limit';
import { JobStaging, stagedDirectory } from './job-staging.js';
import { jobPathSegment } from '../records/job-files.js';
import type { JobEnded, RunEvent, RunEvents } from '../records/run-events.js';

export interface ScheduleOptions {
  /** Jobs at a time per host (0: no limit, as in lofarpipe); default `[remote] max_per_node`. */
  maxPerNode?: number;
  /** Jobs at a time over all hosts; default unlimited. */
  concurrency?: number;
  /** Seconds per job; a job's own `timeout` option wins; default `[remote] job_timeout`. */
  timeout?: number;
  /** Cancel the running jobs and start no more once one fails. */
  failFast?: boolean;
  /** Retries per job; a job's own `retries` option wins; default `[remote] retries`. */
  retries?: number;
  /** Job failures retried too; a job's own `retryOn` wins. Infrastructure failures always are. */
  retryOn?: RetryOn;
  /** Share the run's limits with every other call that does (submit, map) instead of having limits of its own. */
  shared?: boolean;
}

export interface SchedulerSettings {
  launchers: Launchers;
  /** Starts jobs through each host's agent (issue 16); without it, each job over a channel of its own. */
  dispatch?: AgentDispatch;
  logger: Logger;
  placement: CommandPlacement;
  /** Aborted when the run is interrupted. */
  signal: AbortSignal;
  logLevel: LogLevel;
  graceMs: number;
  maxPerNode: number;
  timeout: number;
  retries: number;
  /** Seconds before the first retry; doubling after each, at most 60 s. */
  retryDelay: number;
  dryRun: boolean;
  /** `--serial`: every job of the run one after another, in the order asked for. */
  serial?: boolean;
  /** Hosts for jobs created without one: each goes to the one with the fewest outstanding jobs. */
  hosts: string[];
  /** Where --dry-run prints the jobs. */
  dryRunOutput: NodeJS.WritableStream;
  /** Jobs' output is paused while the log is backlogged. */
  logPressure?: LogPressure;
  /** Where job-queued, job-started and job-ended go (the journal, --json, the status line). */
  events?: RunEvents;
  /** The run's id in the events. */
  runId?: string;
  /** A job that succeeded in an earlier run of this job name, by identity key: it is not run again. */
  reusable?: (key: string) => JobEnded | undefined;
  /** Resolves once every event so far is on disk (the journal): a job's end is, before the recipe hears of it. */
  durable?: () => Promise<void>;
  /** Undefined while the run's per-job files keep up; else resolves once they have caught up: no job starts before. */
  recordsCaughtUp?: () => Promise<void> | undefined;
  /** The pipeline step running now (a generic-pipeline run), and the rounds of the loops it is in (outermost first): its jobs carry it. */
  currentStep?: () => { step: string; rounds: readonly number[] } | undefined;
  /** A host's cores, when the cluster description or Slurm says: its jobs then run while their `cores` fit. */
  coresOf?: (host: string) => number | undefined;
  /** Where staged jobs' directories are (`<working_directory>/<job name>/<id>` on the host, `<job directory>/outputs/<id>` here), and the transfers a host takes at once. */
  staging?: { jobName: string; jobDirectory: string; transfersPerHost: number };
}

export type JobEndedListener = (job: ComputeJob) => void;

const MAX_RETRY_DELAY_S = 60;
/** Copies to or from one host at once, over all its staged jobs (`[remote] max_transfers_per_node`). */
export const DEFAULT_TRANSFERS_PER_HOST = 4;

/** Whether a failed attempt is tried again: infrastructure failures always (a wrong host key or a cause the same on every try never), job failures when asked. */
export function isRetryable(results: JobResults, retryOn: RetryOn | undefined): boolean {
  switch (results.failure) {
    case undefined:
    case 'cancelled':
      return false;
    case 'connection-lost':
      return true;
    case 'stage-in-failed':
    case 'stage-out-failed':
      // A dropped connection, or what the host could not say more of, may pass; a missing file, a refusal or a full disk will not.
      if (results.transferProblem === 'lost' || results.transferProblem === 'failed') return true;
      if (!retryOn) return false;
      return typeof retryOn === 'function' ? retryOn(results) : retryOn.includes(results.failure);
    case 'launch-failed':
      return results.launchProblem !== 'host-key' && results.launchProblem !== 'unhealthy' && results.launchProblem !== 'not-startable';
    default:
      if (!retryOn) return false;
      return typeof retryOn === 'function' ? retryOn(results) : retryOn.includes(results.failure);
  }
}

export class Scheduler {
  readonly #settings: SchedulerSettings;
  /** The pipeline step of each job queued while one ran. */
  readonly #steps = new WeakMap<ComputeJob, string>();
  /** Jobs queued or running per host, over every scheduleJobs call of the run. */
  readonly #outstanding = new Map<string, number>();
  readonly health: HostHealth;
  readonly #identities = new JobIdentities();
  readonly #keys = new WeakMap<ComputeJob, string>();
  /** The names of the run's jobs, and the jobs they belong to: a job's log, files and records are found by its name. */
  readonly #names = new Set<string>();
  readonly #named = new WeakSet<ComputeJob>();
  #sharedLimits: JobLimits | undefined;
  /** Each host's transfer slots, shared by the staged jobs on it. */
  readonly #transfers = new Map<string, LimitFunction>();

  constructor(settings: SchedulerSettings) {
    this.#settings = settings;
    this.health = new HostHealth(async (host) => settings.launchers.for(host).probe(host), settings.logger);
  }

  /** Runs the jobs; `recipe` (the calling recipe's name) is part of each job's identity for resume. */
  async run(jobs: readonly ComputeJob[], options: ScheduleOptions = {}, onEnded?: JobEndedListener, recipe = ''): Promise<void> {
    const settings = this.#settings;
    const scope = settings.currentStep?.();
    const laterRound = scope !== undefined && scope.rounds.some((round) => round > 1);
    if (scope) {
      for (const job of jobs) {
        if (this.#named.has(job)) continue;
        if (laterRound) job.nameInRound(scope.rounds);
        this.#steps.set(job, scope.step);
      }
    }
    this.#claimNames(jobs);
    const pending: ComputeJob[] = [];
    const reused: ComputeJob[] = [];
    for (const job of jobs) {
      const key = this.#identities.keyOf(job, recipe, laterRound ? scope.rounds : undefined);
      this.#keys.set(job, key);
      const recorded = settings.dryRun ? undefined : settings.reusable?.(key);
      const gone = recorded?.stagedOut ? Object.values(recorded.stagedOut).find((path) => !existsSync(path)) : undefined;
      if (gone) settings.logger.info(`succeeded in an earlier run, but its staged output ${gone} is gone: run again`, { host: recorded!.host, job: job.id });
      if (recorded && !gone) {
        this.#reuse(job, recorded);
        reused.push(job);
        continue;
      }
      if (!job.host) job.host = this.#leastBusyHost() ?? settings.hosts[0] ?? 'localhost';
      job.results.host = job.host;
      this.#count(job.host, +1);
      pending.push(job);
      if (!settings.dryRun) this.#queued(job);
    }
    if (reused.length > 0) {
      await settings.durable?.();
      for (const job of reused) onEnded?.(job);
    }
    if (settings.dryRun) {
      for (const job of pending) {
        this.#printDryRun(job);
        this.#count(job.host, -1);
      }
      return;
    }
    // A call that asks for limits of its own has them, shared or not.
    const limits = settings.serial || (options.shared && options.maxPerNode === undefined && options.concurrency === undefined)
      ? this.#runLimits()
      : new JobLimits(perHostLimit(options.maxPerNode ?? settings.maxPerNode), options.concurrency ?? Number.POSITIVE_INFINITY, (host) => settings.coresOf?.(host));
    const stop = new AbortController();
    const signal = AbortSignal.any([settings.signal, stop.signal]);
    setMaxListeners(0, signal); // every running job listens on it: more than 10 is expected, not a leak
    const settle = (job: ComputeJob) => {
      if (job.results.state === 'failed' && options.failFast && !stop.signal.aborted) {
        settings.logger.warn(`fail-fast: job ${job.id} on ${job.host} failed, cancelling the rest`);
        stop.abort();
      }
    };
    // Each job waits for its host's slot as a callback, in the order given; its run begins when it has one.
    await new Promise<void>((resolve, reject) => {
      let running = pending.length;
      if (running === 0) resolve();
      for (const job of pending) {
        limits.reserve(job.host, () => {
          this.#runJob(job, options, limits, signal, settle).then(async () => {
            this.#count(job.host, -1);
            await settings.durable?.(); // its slot is already free: the sync holds up only the recipe
            onEnded?.(job);
            if (--running === 0) resolve();
          }).catch(reject);
        }, job.cores);
      }
    });
  }

  /**
   * Runs a job's attempts until one succeeds, or it may not or need not be tried again. The
   * outcome of an attempt is decided while it still holds its host's slot, so that a dead host
   * is probed before the next queued job tries it, and fail-fast stops the queue in time.
   */
  async #runJob(job: ComputeJob, options: ScheduleOptions, limits: JobLimits, signal: AbortSignal, settle: (job: ComputeJob) => void): Promise<void> {
    const retries = job.options.retries ?? options.retries ?? this.#settings.retries;
    const retryOn = job.options.retryOn ?? options.retryOn;
    const earlier: AttemptRecord[] = [];
    for (let first = true; ; first = false) { // the first attempt runs in the host slot run() reserved for it
      const next = await limits.run(job.host, async (): Promise<'moved' | 'retry' | 'done'> => {
        const behind = this.#settings.recordsCaughtUp?.();
        if (behind) await behind; // a slow disk slows the starts rather than filling memory
        if (signal.aborted) {
          // Cancelled while it waited for its slot: it never starts, gets no directory and no log line of its own (the summary counts them).
          if (earlier.length === 0) this.#cancelUnstarted(job);
          this.#ended(job);
          return 'done';
        }
        // Its host was given up on while the job waited: move it if it may move, else fail it now.
        if (!this.health.isHealthy(job.host) && !job.pinned && this.#move(job)) return 'moved';
        if (!this.health.isHealthy(job.host)) this.#failUnstarted(job, earlier);
        else await this.#attempt(job, options, signal, earlier);
        const retry = await this.#shouldRetry(job, signal, earlier, retries, retryOn);
        if (!retry) {
          this.#ended(job);
          settle(job);
        }
        return retry ? 'retry' : 'done';
      }, first, job.cores);
      if (next === 'moved') continue;
      if (next === 'done') return;
      const results = job.results;
      const wait = Math.min(this.#settings.retryDelay * 2 ** (earlier.length - 1), MAX_RETRY_DELAY_S) * (0.75 + Math.random() / 2);
      this.#settings.logger.warn(
        `retrying job ${job.id} (${earlier.length} of ${retries})${job.host === results.host ? '' : ` on ${job.host}`} in ${wait.toFixed(1)} s after ${results.failure} on ${results.host}`,
        { host: results.host, job: job.id },
      );
      try {
        await delay(wait * 1000, undefined, { signal });
      } catch {
        this.#ended(job);
        settle(job);
        return; // cancelled while waiting: the failed attempt stands
      }
    }
  }

  /**
   * After an attempt: whether to try again. When so, the attempt joins `earlier` and an unpinned
   * job has moved off the host it failed on (the job's results still name that host).
   */
  async #shouldRetry(job: ComputeJob, signal: AbortSignal, earlier: AttemptRecord[], retries: number, retryOn: RetryOn | undefined): Promise<boolean> {
    const results = job.results;
    if (results.state !== 'failed' || signal.aborted) return false;
    const healthy = await this.health.recheck(job.host, results);
    if (earlier.length >= retries || !isRetryable(results, retryOn)) return false;
    const failedOn = job.host;
    if (!job.pinned) this.#move(job, failedOn);
    if (!this.health.isHealthy(job.host) || (!healthy && job.host === failedOn)) {
      results.message = `${results.message}; not retried: ${failedOn} is unhealthy`;
      return false;
    }
    earlier.push({ host: failedOn, failure: results.failure!, message: results.message ?? '', duration: results.duration });
    return true;
  }

  #attempt(job: ComputeJob, options: ScheduleOptions, signal: AbortSignal, earlier: readonly AttemptRecord[]): Promise<JobResults> {
    const settings = this.#settings;
    // Recorded without the values that travel on stdin: command.sh and the journal hold no secrets.
    this.#emit({ type: 'job-started', time: new Date().toISOString(), run: settings.runId ?? '', job: job.id, key: this.#keys.get(job) ?? '', host: job.host, attempt: earlier.length + 1,
      command: buildCommand(job, settings.placement, { guard: false, environment: 'omitted' }), args: job.args, ...this.#stepField(job) });
    const mark = newJobMark();
    const staging = job.isStaged ? this.#staging(job) : undefined;
    const placement = staging ? { ...settings.placement, workingDirectory: staging.remoteDirectory } : settings.placement;
    // A launcher whose exit status waits for the job's output to close (srun) cannot have the guard keep stderr for its usage report.
    const command = buildCommand(job, placement, { mark, measure: !this.#statusAfterOutput(job.host) });
    const { dispatch } = settings;
    // The variables only when a launcher asks (a custom command line's {env}): not a copy per job at warm-job rates.
    const details = { cores: job.cores, name: job.id, get environment() { return jobEnvironment(job, placement); } };
    return executeJob(job, {
      start: async () => dispatch
        ? dispatch.start(job.host, { command, details, agentJob: () => agentJob(job, placement, { mark, logLevel: settings.logLevel }) })
        : settings.launchers.for(job.host).start(job.host, command, details),
      command,
      environment: splitEnvironment(job, placement).stdin,
      mark,
      ...(staging ? { staging: staging.staging } : {}),
      logger: settings.logger,
      logLevel: settings.logLevel,
      signal,
      timeout: job.options.timeout ?? options.timeout ?? settings.timeout,
      graceMs: settings.graceMs,
      earlier,
      logPressure: settings.logPressure,
    });
  }

  #emit(event: RunEvent): void {
    this.#settings.events?.emit(event);
  }

  /** Refuses, before any of them runs, a job whose name another job of the run already has. */
  #claimNames(jobs: readonly ComputeJob[]): void {
    const fresh = new Set<string>();
    for (const job of jobs) {
      if (this.#named.has(job)) continue; // the same job scheduled again
      if (this.#names.has(job.id) || fresh.has(job.id)) {
        throw new JobDefinitionError(job.id, 'another job of this run has the same name; give each job a name of its own (its log, files and records are found by it)');
      }
      fresh.add(job.id);
    }
    for (const job of jobs) {
      this.#names.add(job.id);
      this.#named.add(job);
    }
  }

  #queued(job: ComputeJob): void {
    this.#emit({
      type: 'job-queued', time: new Date().toISOString(), run: this.#settings.runId ?? '', job: job.id, key: this.#keys.get(job) ?? '',
      host: job.host, ...this.#stepField(job),
    });
  }

  #stepField(job: ComputeJob): { step?: string } {
    const step = this.#steps.get(job);
    return step === undefined ? {} : { step };
  }

  /** Written (to the journal: durably) before the job is reported to the recipe as ended. */
  #ended(job: ComputeJob): void {
    const { results } = job;
    this.#emit({
      type: 'job-ended', time: new Date().toISOString(), run: this.#settings.runId ?? '', job: job.id, key: this.#keys.get(job) ?? '',
      host: job.host, state: results.state, returncode: results.returncode, signal: results.signal, duration: results.duration,
      retries: results.retries, outputs: results.outputs,
      ...(results.failure ? { failure: results.failure, message: results.message } : {}),
      ...(results.launchProblem ? { launchProblem: results.launchProblem } : {}),
      ...(results.reused ? { reused: true } : {}),
      ...(results.usage ? { usage: results.usage } : {}),
      ...(results.transferProblem ? { transferProblem: results.transferProblem } : {}),
      ...(results.stagedOut ? { stagedOut: results.stagedOut } : {}),
      ...this.#stepField(job),
    });
  }

  /**
   * The run's own limits, shared by every call that asks (submit and map: many small calls that
   * together must keep to `[remote] max_per_node`), and by every call under --serial (one at a time).
   */
  #runLimits(): JobLimits {
    const settings = this.#settings;
    this.#sharedLimits ??= settings.serial
      ? new JobLimits(1, 1)
      : new JobLimits(perHostLimit(settings.maxPerNode), Number.POSITIVE_INFINITY, (host) => settings.coresOf?.(host));
    return this.#sharedLimits;
  }

  /** Whether the host's launcher gives the exit status only after the job's output closed; a host no launcher reaches fails at its start, said there. */
  #statusAfterOutput(host: string): boolean {
    try {
      return this.#settings.launchers.for(host).statusAfterOutput ?? false;
    } catch {
      return false;
    }
  }

  /** A staged job's directory on its host and its copies in and out. */
  #staging(job: ComputeJob): { remoteDirectory: string; staging: JobStaging } {
    const settings = this.#settings;
    const where = settings.staging ?? { jobName: 'pipeline', jobDirectory: '.', transfersPerHost: DEFAULT_TRANSFERS_PER_HOST };
    const remoteDirectory = stagedDirectory(settings.placement.workingDirectory ?? '~', where.jobName, job);
    let transfers = this.#transfers.get(job.host);
    if (!transfers) this.#transfers.set(job.host, (transfers = pLimit(where.transfersPerHost)));
    const staging = new JobStaging(job, {
      launcher: settings.launchers.for(job.host),
      remoteDirectory,
      localDirectory: join(where.jobDirectory, 'outputs', jobPathSegment(job.id)),
      transfers,
    });
    return { remoteDirectory, staging };
  }

  /** A job that succeeded in an earlier run with the same identity: its recorded results, not run again. */
  #reuse(job: ComputeJob, recorded: JobEnded): void {
    job.host = recorded.host;
    job.results = {
      state: 'succeeded', returncode: recorded.returncode, signal: recorded.signal, outputs: recorded.outputs, duration: recorded.duration,
      host: recorded.host, retries: recorded.retries, attempts: [], reused: true,
      ...(recorded.stagedOut ? { stagedOut: recorded.stagedOut } : {}),
    };
    this.#settings.logger.verbose(`succeeded in an earlier run (${recorded.time}); not run again, its outputs reused`, { host: job.host, job: job.id });
    this.#queued(job);
    this.#ended(job);
  }

  #cancelUnstarted(job: ComputeJob): void {
    job.results = {
      state: 'failed', returncode: null, signal: null, outputs: {}, duration: 0, host: job.host,
      failure: 'cancelled', message: 'cancelled before it started', retries: 0, attempts: [],
    };
  }

  #failUnstarted(job: ComputeJob, earlier: readonly AttemptRecord[]): void {
    const message = `not started: ${job.host} is unhealthy (${this.health.why(job.host)})`;
    job.results = {
      state: 'failed', returncode: null, signal: null, outputs: {}, duration: 0, host: job.host,
      failure: 'launch-failed', launchProblem: 'unhealthy', message, retries: earlier.length, attempts: [...earlier],
    };
    this.#settings.logger.error(`failed (launch-failed): ${message}`, { host: job.host, job: job.id });
  }

  /** Moves an unpinned job to the least busy healthy host other than `avoid`; false when there is none. */
  #move(job: ComputeJob, avoid: string = job.host): boolean {
    const host = this.#leastBusyHost(avoid);
    if (!host) return false;
    this.#count(job.host, -1);
    this.#count(host, +1);
    job.host = host;
    if (job.results.state === 'pending') job.results.host = host;
    return true;
  }

  #count(host: string, delta: number): void {
    this.#outstanding.set(host, (this.#outstanding.get(host) ?? 0) + delta);
  }

  /** The healthy cluster host with the fewest outstanding jobs, other than `avoid`. */
  #leastBusyHost(avoid?: string): string | undefined {
    let best: string | undefined;
    for (const host of this.#settings.hosts) {
      if (host === avoid || !this.health.isHealthy(host)) continue;
      if (best === undefined || (this.#outstanding.get(host) ?? 0) < (this.#outstanding.get(best) ?? 0)) best = host;
    }
    return best;
  }

  #printDryRun(job: ComputeJob): void {
    const { placement } = this.#settings;
    const command = buildCommand(job, placement, { guard: false });
    const environment = Object.entries(jobEnvironment(job, placement)).map(([name, value]) => `${name}=${value}`);
    job.results = { ...job.results, host: job.host, state: 'skipped' };
    this.#settings.dryRunOutput.write([
      `dry-run: job ${job.id} on ${job.host}: ${job.describe()}`,
      `  command: ${command}`,
      `  arguments: ${JSON.stringify(job.args)}`,
      `  environment: ${environment.length > 0 ? environment.join(' ') : '(none)'}`,
      `  working directory: ${placement.workingDirectory ?? '(the login directory)'}`,
      '',
    ].join('\n'));
  }
}
