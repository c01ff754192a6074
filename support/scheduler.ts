/**
 * Dispatches ComputeJobs: at most `maxPerNode` at a time on each host and `concurrency` in all;
 * resolves when every job has ended. A failure does not stop the others unless `failFast`.
 */
import pLimit, { type LimitFunction } from 'p-limit';
import type { ComputeJob } from './compute-job.js';
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
  dryRun: boolean;
  /** Hosts for jobs created without one: each goes to the one with the fewest outstanding jobs. */
  hosts: string[];
  /** Where --dry-run prints the jobs. */
  dryRunOutput: NodeJS.WritableStream;
}

export type JobEndedListener = (job: ComputeJob) => void;

export class Scheduler {
  readonly #settings: SchedulerSettings;
  /** Jobs queued or running per host, over every scheduleJobs call of the run. */
  readonly #outstanding = new Map<string, number>();

  constructor(settings: SchedulerSettings) {
    this.#settings = settings;
  }

  async run(jobs: readonly ComputeJob[], options: ScheduleOptions = {}, onEnded?: JobEndedListener): Promise<void> {
    const settings = this.#settings;
    for (const job of jobs) {
      if (!job.host) job.host = this.#leastBusyHost();
      job.results.host = job.host;
      this.#outstanding.set(job.host, (this.#outstanding.get(job.host) ?? 0) + 1);
    }
    if (settings.dryRun) {
      for (const job of jobs) {
        this.#printDryRun(job);
        this.#outstanding.set(job.host, this.#outstanding.get(job.host)! - 1);
      }
      return;
    }
    const maxPerNode = options.maxPerNode ?? settings.maxPerNode;
    const overall = pLimit(options.concurrency ?? Number.POSITIVE_INFINITY);
    const perHost = new Map<string, LimitFunction>();
    const stop = new AbortController();
    const signal = AbortSignal.any([settings.signal, stop.signal]);
    await Promise.all(jobs.map((job) => {
      let limit = perHost.get(job.host);
      if (!limit) perHost.set(job.host, (limit = pLimit(maxPerNode)));
      return limit(() => overall(async () => {
        await executeJob(job, {
          launcher: () => settings.launchers.for(job.host),
          command: buildCommand(job, settings.placement),
          logger: settings.logger,
          logLevel: settings.logLevel,
          signal,
          timeout: job.options.timeout ?? options.timeout ?? settings.timeout,
          graceMs: settings.graceMs,
        });
        if (job.results.state === 'failed' && options.failFast && !stop.signal.aborted) {
          settings.logger.warn(`fail-fast: job ${job.id} on ${job.host} failed, cancelling the rest`);
          stop.abort();
        }
        this.#outstanding.set(job.host, this.#outstanding.get(job.host)! - 1);
        onEnded?.(job);
      }));
    }));
  }

  #leastBusyHost(): string {
    let best = this.#settings.hosts[0] ?? 'localhost';
    for (const host of this.#settings.hosts) {
      if ((this.#outstanding.get(host) ?? 0) < (this.#outstanding.get(best) ?? 0)) best = host;
    }
    return best;
  }

  #printDryRun(job: ComputeJob): void {
    const command = buildCommand(job, this.#settings.placement, { guard: false });
    job.results = { ...job.results, state: 'skipped' };
    this.#settings.dryRunOutput.write(`dry-run: job ${job.id} on ${job.host}: ${job.describe()}\n  command: ${command}\n`);
  }
}
