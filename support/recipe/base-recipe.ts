/**
 * BaseRecipe: a master recipe, run on the control node. Declared `inputs` are checked before
 * `go()` runs; `outputs` are printed and returned when it ends.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { NotFoundError } from '../errors.js';
import { NodeScript } from '../dispatch/compute-job.js';
import { shippedNodeDirectory } from '../config/framework-paths.js';
import type { StepReport } from '../records/run-events.js';
import type { Fields, InputsOf } from './fields.js';
import type { Logger } from '../logging/run-log.js';
import type { PipelineConfig } from '../config/pipeline-config.js';
import type { Scheduler } from '../dispatch/scheduler.js';

/** What a recipe gets from the run it is part of. */
export interface RecipeContext {
  config: PipelineConfig;
  logger: Logger;
  jobName: string;
  jobDirectory: string;
  /** The cluster's compute hosts. */
  hosts: string[];
  /** The recipe's own module file: node scripts are looked up next to it. */
  recipePath: string;
  /** The recipe's name: part of its jobs' identity for resume. */
  recipeName: string;
  scheduler: Scheduler;
  /** Runs another recipe or tasks.cfg task in the same run and returns its outputs. */
  runTask(name: string, overrides: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** A pipeline step started or ended (the generic pipeline says so): the run records it, and its jobs carry it. */
  reportStep?(report: StepReport): void;
}

export type RecipeClass = {
  new (context: RecipeContext, inputs: Record<string, unknown>): BaseRecipe;
  description: string;
  inputs: Fields;
};

export class BaseRecipe {
  /** One line, shown by `pipeline list`. */
  static description = '';
  /** Declared inputs: `{ name: field.string({ help }) }`. */
  static inputs: Fields = {};

  /** Checked input values, by name. */
  readonly inputs: Record<string, any>;
  /** Results of the recipe: printed at the end of `pipeline run`, returned by `runTask`. */
  outputs: Record<string, unknown> = {};
  readonly logger: Logger;
  readonly config: PipelineConfig;
  readonly jobName: string;
  readonly jobDirectory: string;
  /** The cluster's compute hosts: `--hosts`, else the clusterdesc's compute nodes, else localhost. */
  get hosts(): string[] {
    return this.context.hosts;
  }
  /** The run this recipe belongs to; framework internals, used by mixins such as RemoteCommand. */
  readonly context: RecipeContext;

  constructor(context: RecipeContext, inputs: Record<string, unknown>) {
    this.context = context;
    this.inputs = inputs;
    this.logger = context.logger;
    this.config = context.config;
    this.jobName = context.jobName;
    this.jobDirectory = context.jobDirectory;
  }

  /** The recipe's work; resolves with its exit code (0 success). */
  async go(): Promise<number> {
    throw new Error(`${this.constructor.name} does not implement go()`);
  }

  /**
   * A node script by name (looked up in `nodes/` beside or above the recipe, the recipe's own
   * directory, then the framework's shipped nodes) or by path.
   */
  nodeScript(nameOrPath: string): NodeScript {
    // A name without extension is a Node script (.js), else a Python one (.py, on lofarpipe_node).
    const files = /\.(m?js|py)$/.test(nameOrPath) ? [nameOrPath] : [`${nameOrPath}.js`, `${nameOrPath}.py`];
    const recipeDir = dirname(this.context.recipePath);
    const candidates = isAbsolute(nameOrPath) || nameOrPath.includes('/')
      ? files.map((file) => resolve(recipeDir, file))
      : [join(recipeDir, 'nodes'), join(recipeDir, '..', 'nodes'), recipeDir, shippedNodeDirectory].flatMap((dir) => files.map((file) => join(dir, file)));
    const found = candidates.find((path) => existsSync(path));
    if (!found) throw new NotFoundError(`node script ${JSON.stringify(nameOrPath)} not found; looked in ${candidates.join(', ')}`);
    return new NodeScript(resolve(found), nameOrPath);
  }

  /** Tells the run that a step of a pipeline started or ended: `--json` and the journal show it, and the jobs queued while it runs carry its name. */
  reportStep(report: StepReport): void {
    this.context.reportStep?.(report);
  }

  /** Runs another recipe or a tasks.cfg task in this run, with `overrides` on its inputs; returns its outputs. */
  runTask(name: string, overrides: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.context.runTask(name, overrides);
  }
}

/**
 * A recipe base class whose `this.inputs` is typed from the fields it declares, so that the
 * inputs are written once: `class Greet extends RemoteCommand(recipe({ description, inputs })) {}`.
 * `extends BaseRecipe` with `static inputs` keeps working, untyped (or with `declare inputs: InputsOf<...>`).
 */
export function recipe<F extends Fields>(spec: { description?: string; inputs: F }) {
  abstract class DeclaredRecipe extends BaseRecipe {
    static override description = spec.description ?? '';
    static override inputs: F = spec.inputs;
    // The values are those resolveInputs checked against `inputs`; this only gives them their types.
    declare readonly inputs: InputsOf<F>;
  }
  return DeclaredRecipe;
}

/** The class `recipe()` returns for the fields `F`. */
export type RecipeBase<F extends Fields> = ReturnType<typeof recipe<F>>;
