/**
 * The RemoteCommand mixin (lofarpipe's RemoteCommandRecipeMixIn): adds `scheduleJobs` and the
 * `error` event to a recipe class.
 */
import { ComputeJob, type ComputeJobOptions, type NodeScript } from '../dispatch/compute-job.js';
import type { JobResults } from '../protocol/job-outcome.js';
import type { JsonValue } from '../protocol/messages.js';
import { ErrorFlag } from '../dispatch/error-flag.js';
import type { BaseRecipe } from './base-recipe.js';
import type { ScheduleOptions } from '../dispatch/scheduler.js';

type RecipeConstructor = abstract new (...args: any[]) => BaseRecipe;

/** What RemoteCommand adds to a recipe. */
export interface RemoteCommandMembers {
  readonly error: ErrorFlag;
  scheduleJobs(jobs: readonly ComputeJob[], options?: ScheduleOptions): Promise<ComputeJob[]>;
  submit(job: ComputeJob, options?: ScheduleOptions): Promise<JobResults>;
  map(command: NodeScript | string, argumentLists: ReadonlyArray<readonly JsonValue[]>, options?: MapOptions): Promise<JobResults[]>;
}

/** map()'s options: the jobs' own (timeout, cores, retries ...), a host for them all, and the scheduling ones. */
export type MapOptions = Omit<ComputeJobOptions, 'name'> & ScheduleOptions & {
  /** Where every job runs; default: each the least busy of the cluster's hosts. */
  host?: string | null;
  /** Names for the jobs: `<name>.<index>` (default: their numbers in the run). */
  name?: string;
};

// The declared return type adds only the new members: the mixin class's own type would bring back
// BaseRecipe's untyped `inputs` and, intersected with a `recipe()`'s typed ones, let any name through.
export function RemoteCommand<TBase extends RecipeConstructor>(Base: TBase): TBase & (abstract new (...args: any[]) => RemoteCommandMembers) {
  abstract class RemoteCommandRecipe extends Base implements RemoteCommandMembers {
    /** Set when any job fails; `isSet()`, `set()`, `clear()`, `wait()`, `onSet(listener)`. */
    readonly error = new ErrorFlag();

    /** Dispatches the jobs and resolves when every one has ended; failures set `this.error`. */
    async scheduleJobs(jobs: readonly ComputeJob[], options: ScheduleOptions = {}): Promise<ComputeJob[]> {
      await this.context.scheduler.run(jobs, options, (job) => {
        if (job.results.state === 'failed') this.error.set();
      }, this.context.recipeName);
      return [...jobs];
    }

    /**
     * Runs one job and resolves with its results when it ends (a failure sets `this.error`; it
     * does not reject). Calls share the run's limits, records and resume, so that a recipe
     * builds a graph with ordinary `await` and `Promise.all` (desipipe's futures).
     */
    async submit(job: ComputeJob, options: ScheduleOptions = {}): Promise<JobResults> {
      await this.scheduleJobs([job], { ...options, shared: true });
      return job.results;
    }

    /** One job per argument list, sharing the run's limits; resolves with their results in the order given (PyGrid's map). */
    async map(command: NodeScript | string, argumentLists: ReadonlyArray<readonly JsonValue[]>, options: MapOptions = {}): Promise<JobResults[]> {
      const { host = null, name, maxPerNode, concurrency, failFast, retries, retryOn, timeout, ...jobOptions } = options;
      const jobs = argumentLists.map((args, index) => new ComputeJob(host, command, args, {
        ...jobOptions, ...(name !== undefined ? { name: `${name}.${index}` } : {}), ...(retries !== undefined ? { retries } : {}), ...(retryOn ? { retryOn } : {}), ...(timeout !== undefined ? { timeout } : {}),
      }));
      await this.scheduleJobs(jobs, { ...(maxPerNode !== undefined ? { maxPerNode } : {}), ...(concurrency !== undefined ? { concurrency } : {}), ...(failFast ? { failFast } : {}), shared: true });
      return jobs.map((job) => job.results);
    }
  }
  return RemoteCommandRecipe;
}
