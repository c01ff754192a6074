/**
 * Dispatches ComputeJobs: at most `maxPerNode` at a time on each host and `concurrency` in all;
 * resolves when every job has ended. A failure does not stop the others unless `failFast`.
 */
import { setTimeout as delay } from 'node:timers/promises';
import pLimit, { type LimitFunction } from 'p-limit';
import type { AttemptRecord, ComputeJob, JobResults, RetryOn } from './compute-job.js';
import { HostHealth } from './host-health.js';
import { buildCommand, type CommandPlacement } from './launch-command.js';
import { executeJob } from './job-execution.js';
import type { Launchers } from './launchers/index.js';
import type { Logger } from './logging.js';
import type { LogLevel } from './protocol.js';

export interface ScheduleOptions {
  /** Jobs at a time per host; default `[remote] max_per_node`. */
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
}

export interface SchedulerSettings {
  launchers: Launchers;
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
  /** Hosts for jobs created without one: each goes to the one with the fewest outstanding jobs. */
  hosts: string[];
  /** Where --dry-run prints the jobs. */
  dryRunOutput: NodeJS.WritableStream;
}

export type JobEndedListener = (job: ComputeJob) => void;

const MAX_RETRY_DELAY_S = 60;

/** Whether a failed attempt is tried again: infrastructure failures always (a wrong host key never), job failures when asked. */
export function isRetryable(results: JobResults, retryOn: RetryOn | undefined): boolean {
  switch (results.failure) {
    case undefined:
    case 'cancelled':
      return false;
    case 'connection-lost':
      return true;
    case 'launch-failed':
      return results.launchProblem !== 'host-key' && results.launchProblem !== 'unhealthy';
    default:
      if (!retryOn) return false;
      return typeof retryOn === 'function' ? retryOn(results) : retryOn.includes(results.failure);
  }
}

/** Concurrency limits of one scheduleJobs call: per host and overall. */
class JobLimits {
  readonly #perHost = new Map<string, LimitFunction>();
  readonly #overall: LimitFunction;
  readonly #maxPerNode: number;

  constructor(maxPerNode: number, concurrency: number) {
    this.#maxPerNode = maxPerNode;
    this.#overall = pLimit(concurrency);
  }

  run<T>(host: string, task: () => Promise<T>): Promise<T> {
    let limit = this.#perHost.get(host);
    if (!limit) this.#perHost.set(host, (limit = pLimit(this.#maxPerNode)));
    return limit(() => this.#overall(task));
  }
}

export class Scheduler {
  readonly #settings: SchedulerSettings;
  /** Jobs queued or running per host, over every scheduleJobs call of the run. */
  readonly #outstanding = new Map<string, number>();
  readonly health: HostHealth;
  /** Every job scheduled in the run, in order, for the summary and the records. */
  readonly #jobs = new Set<ComputeJob>();

  constructor(settings: SchedulerSettings) {
    this.#settings = settings;
    this.health = new HostHealth(async (host) => settings.launchers.for(host).probe(host), settings.logger);
  }

  async run(jobs: readonly ComputeJob[], options: ScheduleOptions = {}, onEnded?: JobEndedListener): Promise<void> {
    const settings = this.#settings;
    for (const job of jobs) {
      this.#jobs.add(job);
      if (!job.host) job.host = this.#leastBusyHost() ?? settings.hosts[0] ?? 'localhost';
      job.results.host = job.host;
      this.#count(job.host, +1);
    }
    if (settings.dryRun) {
      for (const job of jobs) {
        this.#printDryRun(job);
        this.#count(job.host, -1);
      }
      return;
    }
    const limits = new JobLimits(options.maxPerNode ?? settings.maxPerNode, options.concurrency ?? Number.POSITIVE_INFINITY);
    const stop = new AbortController();
    const signal = AbortSignal.any([settings.signal, stop.signal]);
    const settle = (job: ComputeJob) => {
      if (job.results.state === 'failed' && options.failFast && !stop.signal.aborted) {
        settings.logger.warn(`fail-fast: job ${job.id} on ${job.host} failed, cancelling the rest`);
        stop.abort();
      }
    };
    await Promise.all(jobs.map(async (job) => {
      await this.#runJob(job, options, limits, signal, settle);
      this.#count(job.host, -1);
      onEnded?.(job);
    }));
  }

  get jobs(): ComputeJob[] {
    return [...this.#jobs];
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
    for (;;) {
      const next = await limits.run(job.host, async (): Promise<'moved' | 'retry' | 'done'> => {
        // Its host was given up on while the job waited: move it if it may move, else fail it now.
        if (!this.health.isHealthy(job.host) && !job.pinned && this.#move(job)) return 'moved';
        if (!this.health.isHealthy(job.host)) this.#failUnstarted(job, earlier);
        else await this.#attempt(job, options, signal, earlier);
        const retry = await this.#shouldRetry(job, signal, earlier.length < retries, retryOn);
        if (!retry) settle(job);
        return retry ? 'retry' : 'done';
      });
      if (next === 'moved') continue;
      if (next === 'done') return;
      const results = job.results;
      earlier.push({ host: results.host, failure: results.failure!, message: results.message ?? '', duration: results.duration });
      const wait = Math.min(this.#settings.retryDelay * 2 ** (earlier.length - 1), MAX_RETRY_DELAY_S) * (0.75 + Math.random() / 2);
      this.#settings.logger.warn(
        `retrying job ${job.id} (${earlier.length} of ${retries})${job.host === results.host ? '' : ` on ${job.host}`} in ${wait.toFixed(1)} s after ${results.failure} on ${results.host}`,
        { host: results.host, job: job.id },
      );
      try {
        await delay(wait * 1000, undefined, { signal });
      } catch {
        settle(job);
        return; // cancelled while waiting: the failed attempt stands
      }
    }
  }

  /** After an attempt: whether to try again, having moved an unpinned job off a failed host. */
  async #shouldRetry(job: ComputeJob, signal: AbortSignal, retriesLeft: boolean, retryOn: RetryOn | undefined): Promise<boolean> {
    const results = job.results;
    if (results.state !== 'failed' || signal.aborted) return false;
    const healthy = await this.health.recheck(job.host, results);
    if (!retriesLeft || !isRetryable(results, retryOn)) return false;
    const failedOn = job.host;
    if (!job.pinned) this.#move(job, failedOn);
    if (!this.health.isHealthy(job.host) || (!healthy && job.host === failedOn)) {
      results.message = `${results.message}; not retried: ${failedOn} is unhealthy`;
      return false;
    }
    return true;
  }

  #attempt(job: ComputeJob, options: ScheduleOptions, signal: AbortSignal, earlier: readonly AttemptRecord[]): Promise<JobResults> {
    const settings = this.#settings;
    return executeJob(job, {
      launcher: () => settings.launchers.for(job.host),
      command: buildCommand(job, settings.placement),
      logger: settings.logger,
      logLevel: settings.logLevel,
      signal,
      timeout: job.options.timeout ?? options.timeout ?? settings.timeout,
      graceMs: settings.graceMs,
      earlier,
    });
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
    job.results.host = host;
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
    const command = buildCommand(job, this.#settings.placement, { guard: false });
    job.results = { ...job.results, host: job.host, state: 'skipped' };
    this.#settings.dryRunOutput.write(`dry-run: job ${job.id} on ${job.host}: ${job.describe()}\n  command: ${command}\n`);
  }
}
