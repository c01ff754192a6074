/**
 * The RemoteCommand mixin (lofarpipe's RemoteCommandRecipeMixIn): adds `scheduleJobs` and the
 * `error` event to a recipe class.
 */
import type { ComputeJob } from '../dispatch/compute-job.js';
import { ErrorFlag } from '../dispatch/error-flag.js';
import type { BaseRecipe } from './base-recipe.js';
import type { ScheduleOptions } from '../dispatch/scheduler.js';

type RecipeConstructor = abstract new (...args: any[]) => BaseRecipe;

/** What RemoteCommand adds to a recipe. */
export interface RemoteCommandMembers {
  readonly error: ErrorFlag;
  scheduleJobs(jobs: readonly ComputeJob[], options?: ScheduleOptions): Promise<ComputeJob[]>;
}

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
  }
  return RemoteCommandRecipe;
}
