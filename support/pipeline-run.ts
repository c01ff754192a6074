/**
 * One `pipeline run`: the job directory, the central log, the launchers and the scheduler that
 * a recipe and the recipes it calls through runTask share; interruption; clean shut-down.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import type { PipelineConfig } from './config/pipeline-config.js';
import { InputError, RecipeFailedError, UsageError } from './errors.js';
import { resolveInputs } from './fields.js';
import { ClusterDescription, expandHostRange } from './cluster-description.js';
import { frameworkRoot } from './framework-paths.js';
import { createLaunchers, type Launchers } from './launchers/index.js';
import { openRunLog, type RunLog } from './logging.js';
import { KILL_GRACE_MS } from './process-group.js';
import type { LogLevel } from './protocol.js';
import { findRecipe, findTask, loadRecipe, type LoadedRecipe } from './recipe-loader.js';
import type { RecipeContext } from './recipe.js';
import { summarizeJobs } from './run-summary.js';
import { Scheduler } from './scheduler.js';

export interface PipelineRunOptions {
  config: PipelineConfig;
  jobName: string;
  consoleLevel: LogLevel;
  dryRun?: boolean;
  /** `--hosts`: host names with ranges (`node[01..04]`); default: the clusterdesc's compute nodes. */
  hosts?: string;
  /** Milliseconds between TERM and KILL when jobs are stopped. */
  graceMs?: number;
}

export interface RecipeResult {
  returncode: number;
  outputs: Record<string, unknown>;
}

/** Start time as lofarpipe writes it into log paths: 2026-11-22T00:41:02. */
function startTimeStamp(date: Date): string {
  return date.toISOString().slice(0, 19);
}

export class PipelineRun {
  readonly config: PipelineConfig;
  readonly jobName: string;
  readonly jobDirectory: string;
  readonly log: RunLog;
  readonly launchers: Launchers;
  readonly scheduler: Scheduler;
  /** The cluster's compute hosts: `--hosts`, else `[cluster] clusterdesc`, else localhost. */
  readonly hosts: string[];
  readonly #abort = new AbortController();
  readonly #hostsGiven: boolean;
  #interruptedBy: NodeJS.Signals | undefined;

  constructor(options: PipelineRunOptions) {
    this.config = options.config.withVars({ job_name: options.jobName, start_time: startTimeStamp(new Date()) });
    this.jobName = options.jobName;
    this.jobDirectory = this.config.jobDirectory;
    // Read every setting before anything is created, so a bad key fails the run before it starts.
    const maxPerNode = this.config.maxPerNode;
    const timeout = this.config.jobTimeout;
    const retries = this.config.retries;
    const retryDelay = this.config.retryDelay;
    const logFile = this.config.logFile;
    const workingDirectory = this.config.workingDirectory;
    const nodeExecutable = this.config.nodeExecutable;
    const installRoot = this.config.installRoot;
    const environment = this.config.environment;
    const launchers = createLaunchers(this.config, (target, file, print) => {
      this.logger.warn(`accepted new host key of ${target.alias} (${print}) into ${file}`);
    });
    this.#hostsGiven = options.hosts !== undefined;
    this.hosts = options.hosts !== undefined ? expandHostRange(options.hosts, '--hosts') : clusterHosts(this.config);
    mkdirSync(this.jobDirectory, { recursive: true });
    this.log = openRunLog({ consoleLevel: options.consoleLevel, logFile });
    this.launchers = launchers;
    this.scheduler = new Scheduler({
      launchers: this.launchers,
      logger: this.log.logger,
      placement: {
        workingDirectory,
        environment,
        nodeExecutable,
        scriptPath: (path) => installedPath(path, installRoot),
      },
      hosts: this.hosts,
      signal: this.#abort.signal,
      logLevel: 'debug',
      graceMs: options.graceMs ?? KILL_GRACE_MS,
      maxPerNode,
      timeout,
      retries,
      retryDelay,
      dryRun: options.dryRun ?? false,
      dryRunOutput: process.stdout,
    });
  }

  get logger() {
    return this.log.logger;
  }

  get interruptedBy(): NodeJS.Signals | undefined {
    return this.#interruptedBy;
  }

  /** Cancels every job of the run; the recipe's scheduleJobs calls then resolve with `cancelled` jobs. */
  interrupt(signal: NodeJS.Signals): void {
    if (this.#interruptedBy) return;
    this.#interruptedBy = signal;
    this.logger.warn(`${signal} received: cancelling every job`);
    this.#abort.abort();
  }

  /** Finds a recipe (by name or path) or else a tasks.cfg task; task defaults come first, `given` wins. */
  async resolve(nameOrPath: string, given: Record<string, unknown>): Promise<{ recipe: LoadedRecipe; inputs: Record<string, unknown> }> {
    let path = tryFind(nameOrPath, this.config);
    const task = path ? undefined : await findTask(nameOrPath, this.config);
    path ??= findRecipe(task ? task.recipe : nameOrPath, this.config);
    const recipe = await loadRecipe(path);
    const fields = recipe.RecipeClass.inputs ?? {};
    const raw: Record<string, unknown> = {};
    if (task) {
      const byLowerName = new Map(Object.keys(fields).map((name) => [name.toLowerCase(), name]));
      for (const [key, value] of Object.entries(task.inputs)) {
        const name = byLowerName.get(key);
        if (!name) throw new InputError(key, `${task.file}: task [${task.name}] sets ${key}, which recipe ${task.recipe} does not take`);
        raw[name] = value;
      }
    }
    // A recipe that declares a `hosts` input receives --hosts there too.
    if ('hosts' in fields && this.#hostsGiven) raw.hosts = this.hosts;
    Object.assign(raw, given);
    return { recipe, inputs: resolveInputs(fields, raw) };
  }

  /** Runs a recipe with checked inputs; resolves with its return code and outputs. */
  async runRecipe(recipe: LoadedRecipe, inputs: Record<string, unknown>): Promise<RecipeResult> {
    const context: RecipeContext = {
      config: this.config,
      logger: this.logger,
      jobName: this.jobName,
      jobDirectory: this.jobDirectory,
      hosts: this.hosts,
      recipePath: recipe.path,
      scheduler: this.scheduler,
      runTask: (name, overrides) => this.#runTask(name, overrides),
    };
    const instance = new recipe.RecipeClass(context, inputs);
    this.logger.info(`recipe ${recipe.name} started`);
    let returncode: number;
    try {
      const returned = await instance.go();
      returncode = Number.isInteger(returned) ? returned : 1;
    } catch (error) {
      if (error instanceof UsageError) throw error;
      const err = error instanceof Error ? error : new Error(String(error));
      this.logger.error(`recipe ${recipe.name} raised ${err.name}: ${err.message}`);
      this.logger.debug(err.stack ?? err.message);
      returncode = 1;
    }
    if (returncode === 0) this.logger.info(`recipe ${recipe.name} completed`);
    else this.logger.error(`recipe ${recipe.name} failed with return code ${returncode}`);
    return { returncode, outputs: instance.outputs };
  }

  async #runTask(name: string, overrides: Record<string, unknown>): Promise<Record<string, unknown>> {
    const { recipe, inputs } = await this.resolve(name, overrides);
    const result = await this.runRecipe(recipe, inputs);
    if (result.returncode !== 0) throw new RecipeFailedError(name, result.returncode);
    return result.outputs;
  }

  /** Logs how every job of the run ended; nothing when the run scheduled no job. */
  logSummary(): void {
    const jobs = this.scheduler.jobs;
    if (jobs.length === 0) return;
    const summary = summarizeJobs(jobs);
    if (summary.failed === 0) {
      this.logger.info(`summary: ${summary.headline}`);
      return;
    }
    this.logger.error(`summary: ${summary.headline}`);
    for (const line of summary.failures) this.logger.error(`  ${line}`);
  }

  /** Stops what is still running and writes the last log lines to disk. */
  async close(): Promise<void> {
    await this.launchers.close();
    await this.log.close();
  }
}

function tryFind(nameOrPath: string, config: PipelineConfig): string | undefined {
  try {
    return findRecipe(nameOrPath, config);
  } catch {
    return undefined;
  }
}

/** A node script's path on the hosts: under install_root when it is part of the framework. */
function installedPath(path: string, installRoot: string): string {
  const inside = relative(frameworkRoot, path);
  if (installRoot === frameworkRoot || inside.startsWith('..') || isAbsolute(inside)) return path;
  return join(installRoot, inside);
}

/** The compute hosts of `[cluster] clusterdesc`, or localhost when there is none. */
export function clusterHosts(config: PipelineConfig): string[] {
  const file = config.clusterdesc;
  if (!file || !existsSync(file)) return ['localhost'];
  const nodes = ClusterDescription.parse(readFileSync(file, 'utf8'), file).computeNodes();
  return nodes.length > 0 ? nodes : ['localhost'];
}
