/**
 * One `pipeline run`: the job directory, the central log, the launchers and the scheduler that
 * a recipe and the recipes it calls through runTask share; interruption; clean shut-down.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { PipelineConfig } from '../config/pipeline-config.js';
import { ConfigError, InputError, RecipeFailedError, UsageError, type RecordsError } from '../errors.js';
import { inputNameKey, resolveInputs } from '../recipe/fields.js';
import { clusterComputeHosts, expandHostRange } from '../config/cluster-description.js';
import { slurmAllocation } from '../config/slurm-allocation.js';
import { agentScript, pythonRuntimeDirectory } from '../config/framework-paths.js';
import { deployedPath, makeBundle, type UserProject } from '../deploy/deploy-bundle.js';
import { deployHosts, deploymentPlan, describeDeploy } from '../deploy/deployment.js';
import { createLaunchers, type Launchers } from '../launchers/launcher-choice.js';
import { fileLine } from '../logging/log-lines.js';
import { openRunLog, wantsColor, type RunLog } from '../logging/run-log.js';
import { JobFiles } from '../records/job-files.js';
import { canonicalJson, hashOf } from '../records/job-identity.js';
import { JobJournal, journalPath, readJournal, recordEvent, statusOf, type RecordedRun } from '../records/job-journal.js';
import { RECORD_VERSION, RunEvents, type JobEnded, type RunStarted, type StepReport } from '../records/run-events.js';
import { RunLock } from '../records/run-lock.js';
import { RUN_PAGE_FILE, writeRunPage } from '../records/run-page.js';
import { recording, RecordsOutage } from '../records/records-outage.js';
import { StatusLine } from './status-line.js';
import { KILL_GRACE_MS } from '../protocol/process-group.js';
import type { LogLevel } from '../protocol/messages.js';
import { loadRecipeOrTask, type LoadedRecipe } from './recipe-loader.js';
import { TaskCatalog } from '../config/task-catalog.js';
import type { RecipeContext } from '../recipe/base-recipe.js';
import { detailLines, headline, reportRun } from '../records/run-report.js';
import { Scheduler } from '../dispatch/scheduler.js';
import { AgentDispatch } from '../dispatch/agent-dispatch.js';
import { agentCommand, type CommandPlacement } from '../dispatch/launch-command.js';

export interface PipelineRunOptions {
  config: PipelineConfig;
  jobName: string;
  consoleLevel: LogLevel;
  dryRun?: boolean;
  /** `--hosts`: host names with ranges (`node[01..04]`); default: the clusterdesc's compute nodes. */
  hosts?: string;
  /** Milliseconds between TERM and KILL when jobs are stopped. */
  graceMs?: number;
  /** Run every job again, even those an earlier run of this job name finished. */
  fresh?: boolean;
  /** Resume although the recipe or its inputs differ from the recorded run. */
  resumeAnyway?: boolean;
  /** Keep a status line at the bottom of the console (a terminal). */
  statusLine?: boolean;
  /** `--deploy`: deploy to the hosts first and run the deployed node scripts (also `[remote] deploy = true`). */
  deploy?: boolean;
  /** `--serial`: every job on this machine, one after another, in the order asked for. */
  serial?: boolean;
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
  #dispatch: AgentDispatch;
  #fatal: Error | undefined;
  readonly scheduler: Scheduler;
  /** `--hosts`, or the clusterdesc's compute nodes; or why there are none (asked for only when a job needs a host). */
  readonly #hosts: string[] | ConfigError;
  /** Every job event of the run: the journal, the per-job files, --json and the status line listen. */
  readonly events = new RunEvents();
  readonly runId: string;
  readonly #abort = new AbortController();
  readonly #hostsGiven: boolean;
  readonly #options: PipelineRunOptions;
  readonly #journal: JobJournal | undefined;
  /** One master at a time in the job directory (none for --dry-run, which records nothing). */
  readonly #lock: RunLock | undefined;
  readonly #jobFiles: JobFiles | undefined;
  readonly #statusLine: StatusLine | undefined;
  #reusable = new Map<string, JobEnded>();
  /** This run as its records describe it (not kept for a dry run, which records nothing). */
  #recorded: RecordedRun | undefined;
  #began = false;
  #tasks: Promise<TaskCatalog> | undefined;
  #interruptedBy: NodeJS.Signals | undefined;
  /** The pipeline step whose jobs are being queued now. */
  #currentStep: { step: string; rounds: readonly number[] } | undefined;
  /** What the run could not record once its disk filled or went read-only. */
  readonly #outage: RecordsOutage;
  /** The user directories whose node scripts the hosts run from their deployed copy. */
  #projects: UserProject[];
  /** Whether the run deploys before its first job (`--deploy`, `[remote] deploy`). */
  readonly deploys: boolean;
  /** Where the hosts' copy of the framework is: install_root, or the version a deploying run deployed (`<install_root>/versions/<v>`). */
  #installBase: string;

  constructor(options: PipelineRunOptions) {
    const startTime = startTimeStamp(new Date());
    this.config = options.config.withVars({ job_name: options.jobName, start_time: startTime });
    this.#options = options;
    this.runId = `${startTime}.${process.pid}`;
    this.jobName = options.jobName;
    this.jobDirectory = this.config.jobDirectory;
    // Read every setting before anything is created, so a bad key fails the run before it starts.
    const maxPerNode = this.config.maxPerNode;
    const timeout = this.config.jobTimeout;
    const retries = this.config.retries;
    const retryDelay = this.config.retryDelay;
    const logFile = this.config.logFile;
    const workingDirectory = this.config.hostWorkingDirectory;
    const nodeExecutable = this.config.nodeExecutable;
    const pythonExecutable = this.config.pythonExecutable;
    const installRoot = this.config.installRoot;
    const environment = this.config.environment;
    const dispatchMode = this.config.dispatchMode;
    const transfersPerHost = this.config.transfersPerHost;
    // --serial: every job here, one after another, for debugging (PyGrid's use_cluster=False).
    const launchers = createLaunchers(this.config, (target, file, print) => {
      this.logger.warn(`accepted new host key of ${target.alias} (${print}) into ${file}`);
    }, options.serial ? 'local' : undefined);
    this.#hostsGiven = options.hosts !== undefined;
    this.#hosts = options.hosts !== undefined ? expandHostRange(options.hosts, '--hosts') : clusterHostsOrWhyNot(this.config);
    // A dry run records nothing, not even its log: it would look like a run to resume from.
    if (!options.dryRun) recording(this.jobDirectory, () => mkdirSync(this.jobDirectory, { recursive: true, mode: 0o700 }));
    this.#outage = new RecordsOutage(this.jobDirectory, (error) => this.#recordsFailed(error), (kind, error) => {
      // One line, not one per job: the jobs and the journal go on.
      const what = kind === 'log file' ? `the log file ${this.log.logFile}` : `a job's files under ${join(this.jobDirectory, 'jobs')}`;
      this.logger.error(`could not write ${what}: ${error.message}; the jobs run on, later such errors are not shown`);
    });
    // A dry run records nothing: it would look like a run to resume from.
    if (!options.dryRun) {
      const outage = this.#outage;
      this.#lock = new RunLock(this.jobDirectory, this.runId);
      this.#journal = new JobJournal(journalPath(this.jobDirectory), (error) => outage.lost('journal events', error));
      this.#jobFiles = new JobFiles(this.jobDirectory, fileLine, (error) => outage.lost('job file writes', error));
      const journal = this.#journal;
      const jobFiles = this.#jobFiles;
      this.events.subscribe((event) => journal.append(event)); // first: on disk before anyone hears of it
      this.events.subscribe((event) => jobFiles.onEvent(event));
      // The same record the journal holds, kept in memory for the summary: no reading it back at the end.
      this.events.subscribe((event) => {
        if (event.type === 'run-started') this.#recorded = { started: event, jobs: new Map(), status: 'running' };
        else if (this.#recorded) recordEvent(this.#recorded, event);
      });
    }
    if (options.statusLine) {
      const statusLine = new StatusLine(process.stderr);
      this.#statusLine = statusLine;
      this.events.subscribe((event) => statusLine.onEvent(event));
    }
    this.log = recording(this.jobDirectory, () => openRunLog({
      consoleLevel: options.consoleLevel,
      ...(options.dryRun ? {} : { logFile, ...(this.config.jsonLogFile ? { jsonFile: this.config.jsonLogFile } : {}) }),
      onFileError: (error) => this.#outage.lost('log file', error),
      ...(this.#statusLine ? { console: this.#statusLine.logStream, color: wantsColor(process.stderr) } : {}),
      transports: this.#jobFiles ? [this.#jobFiles.transport('debug')] : [],
      moreSinks: () => this.#jobFiles?.streams ?? [],
    }));
    this.launchers = launchers;
    // A deploying run runs the deployed copies of the recipe directories' node scripts; otherwise they are at their own path on the hosts.
    this.deploys = !options.dryRun && !options.serial && (Boolean(options.deploy) || this.config.deploy);
    this.#projects = this.deploys ? deploymentPlan(this.config).projects : [];
    this.#installBase = installRoot;
    const run = this;
    const placement: CommandPlacement = {
      workingDirectory,
      environment,
      nodeExecutable,
      get python() {
        return { executable: pythonExecutable, runtimeDirectory: deployedPath(pythonRuntimeDirectory, run.#installBase, []) };
      },
      scriptPath: (path) => deployedPath(path, run.#installBase, run.#projects),
    };
    this.#dispatch = new AgentDispatch({
      mode: options.serial ? 'channel' : dispatchMode,
      launcherFor: (host) => launchers.for(host),
      agentCommand: () => agentCommand(placement, agentScript),
      installRoot,
      logger: this.log.logger,
      onFatal: (error) => this.#stopFor(error),
    });
    this.scheduler = new Scheduler({
      launchers: this.launchers,
      dispatch: this.#dispatch,
      logger: this.log.logger,
      placement,
      get hosts() {
        return run.hosts;
      },
      signal: this.#abort.signal,
      logLevel: 'debug',
      graceMs: options.graceMs ?? KILL_GRACE_MS,
      maxPerNode,
      timeout,
      retries,
      retryDelay,
      dryRun: options.dryRun ?? false,
      serial: options.serial ?? false,
      dryRunOutput: process.stdout,
      logPressure: this.log.pressure,
      events: this.events,
      runId: this.runId,
      reusable: (key) => this.#reusable.get(key),
      durable: () => this.#journal?.synced() ?? Promise.resolve(),
      recordsCaughtUp: () => this.#jobFiles?.caughtUp(),
      staging: { jobName: this.jobName, jobDirectory: this.jobDirectory, transfersPerHost },
      coresOf: hostCoresOf(this.config),
      currentStep: () => this.#currentStep,
    });
  }

  get logger() {
    return this.log.logger;
  }

  /**
   * The cluster's compute hosts: `--hosts`, else `[cluster] clusterdesc`, else localhost. A
   * clusterdesc that cannot be read is an error only here, when a recipe needs the cluster
   * (prefactor's default pipeline.cfg names one that need not exist).
   */
  get hosts(): string[] {
    if (this.#hosts instanceof ConfigError) throw this.#hosts;
    return this.#hosts;
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

  /** A problem that makes every further job pointless (an agent of another version): cancel every job; the run ends with it (exit 2). */
  #stopFor(error: Error): void {
    if (this.#fatal) return;
    this.#fatal = error;
    this.logger.error(`${error.message}; cancelling every job`);
    this.#abort.abort();
  }

  /** What stopped the run from inside, when something did. */
  get fatal(): Error | undefined {
    return this.#fatal;
  }

  /** The records cannot be written: record nothing more but the journal (its reserve is for that), and cancel every job. */
  #recordsFailed(error: RecordsError): void {
    this.#jobFiles?.stop();
    this.log.stopFiles();
    if (!this.#began) return; // begin() throws it: nothing has run
    this.logger.error(`${error.message}; cancelling every job (what ended before is recorded)`);
    this.#abort.abort();
  }

  /** The records failed during the run: the error, and one line of what could not be recorded. */
  get recordsFailure(): { error: RecordsError; lost: string } | undefined {
    const error = this.#outage.failure;
    return error ? { error, lost: this.#outage.describe()! } : undefined;
  }

  /**
   * Finds a tasks.cfg task or else a recipe (by name or path). A task wins over a recipe of the
   * same name, as in lofarpipe (a task usually has its recipe's name and names that recipe).
   * Task values come first and `given` wins; task keys the recipe does not declare are passed on
   * as extra text inputs, as lofarpipe passes them.
   */
  async resolve(nameOrPath: string, given: Record<string, unknown>): Promise<{ recipe: LoadedRecipe; inputs: Record<string, unknown> }> {
    const { recipe, task } = await loadRecipeOrTask(nameOrPath, this.config, await this.#taskCatalog());
    const fields = recipe.RecipeClass.inputs ?? {};
    const raw: Record<string, unknown> = {};
    const extra: Record<string, string> = {};
    const byKey = new Map(Object.keys(fields).map((name) => [inputNameKey(name), name]));
    if (task) {
      for (const [key, value] of Object.entries(task.inputs)) {
        const name = byKey.get(inputNameKey(key));
        if (name) raw[name] = value;
        else extra[key] = value;
      }
      const passed = Object.keys(extra);
      if (passed.length > 0) {
        this.logger.verbose(`task [${task.name}] sets ${passed.join(', ')}, which recipe ${task.recipe} does not declare: passed on as text in this.inputs`);
      }
    }
    // A recipe that declares a `hosts` input receives --hosts there too.
    if ('hosts' in fields && this.#hostsGiven) raw.hosts = this.hosts;
    // Given inputs by any spelling of their names (max_per_node, maxPerNode), as task keys are.
    for (const [key, value] of Object.entries(given)) raw[byKey.get(inputNameKey(key)) ?? key] = value;
    return { recipe, inputs: resolveInputs(fields, raw, extra) };
  }

  /** The configured task files, read once per run. */
  #taskCatalog(): Promise<TaskCatalog> {
    this.#tasks ??= TaskCatalog.load(this.config).then((catalog) => {
      for (const warning of catalog.warnings) this.logger.warn(warning);
      return catalog;
    });
    return this.#tasks;
  }

  /**
   * Starts the run's records for the top-level recipe. Jobs that succeeded in earlier runs of
   * this job name are reused, unless `fresh`: those whose identity still matches, also when the
   * inputs changed (said in the log); another recipe under the same job name is an error unless
   * `fresh` or `resumeAnyway` says what to do.
   */
  begin(recipe: LoadedRecipe, inputs: Record<string, unknown>): void {
    const inputsHash = hashOf({ recipe: recipe.name, inputs });
    let changedInputs: string | undefined;
    if (this.#lock) {
      const lock = this.#lock;
      recording(this.jobDirectory, () => {
        mkdirSync(this.jobDirectory, { recursive: true, mode: 0o700 });
        lock.acquire(this.jobName, (why, holder) => {
          this.logger.warn(`taking over job ${this.jobName} from ${holder ? `pid ${holder.pid} on ${holder.host}` : 'a master'}: ${why}`);
        });
      });
    }
    if (this.#journal && !this.#options.fresh) {
      const recorded = readJournal(this.#journal.path);
      const last = recorded.runs.at(-1)?.started;
      if (last && recorded.succeeded.size > 0 && last.recipe !== recipe.name && !this.#options.resumeAnyway) {
        throw new UsageError(`job ${this.jobName} was last run with recipe ${last.recipe}, not ${recipe.name}; `
          + 'give this run another --job-name, rerun with --fresh to start over, or --resume-anyway to keep the jobs it finished');
      }
      // Changed inputs: go on, as Nextflow's -resume does; a job is reused only if its identity (command, arguments) still matches.
      if (last && recorded.succeeded.size > 0 && last.inputsHash !== inputsHash) changedInputs = describeChanges(last, recipe.name, inputs);
      this.#reusable = recorded.succeeded;
    }
    if (this.#journal) {
      const journal = this.#journal;
      recording(this.jobDirectory, () => journal.open());
    }
    this.events.emit({
      type: 'run-started', v: RECORD_VERSION, time: new Date().toISOString(), run: this.runId, jobName: this.jobName,
      recipe: recipe.name, recipePath: recipe.path, inputs, inputsHash, hosts: this.#hosts instanceof ConfigError ? [] : this.#hosts, pid: process.pid, controlHost: hostname(),
      fresh: Boolean(this.#options.fresh), logFile: this.log.logFile ?? null, configFile: this.config.file,
    });
    if (this.#outage.failure) throw this.#outage.failure; // not even the start could be recorded: run nothing
    this.#began = true;
    if (changedInputs) {
      this.logger.info(`job ${this.jobName} was last run with ${changedInputs}: the jobs whose command and arguments are unchanged are reused, the others run (--fresh runs them all)`);
    }
    if (this.#reusable.size > 0) {
      this.logger.info(`resuming job ${this.jobName}: ${this.#reusable.size} jobs succeeded in earlier runs and are not run again (--fresh reruns them)`);
    }
  }

  /**
   * `--deploy` or `[remote] deploy`: brings the framework and the node scripts of the recipe directories (and of the
   * recipe's own) onto the run's hosts before any job starts; only changed files travel. False,
   * with an error per host, when a host could not be deployed to: then no job is started.
   */
  async deploy(recipePath: string): Promise<boolean> {
    const { installRoot, projects } = deploymentPlan(this.config, [dirname(recipePath)]);
    this.#projects = projects;
    const bundle = makeBundle(projects);
    const outcomes = await deployHosts(this.hosts, (host) => this.launchers.for(host), bundle, installRoot);
    for (const outcome of outcomes) {
      if (outcome.result) this.logger.info(`deploy: ${outcome.host}: ${describeDeploy(outcome.result)}`);
      else this.logger.error(`deploy: ${outcome.host}: ${outcome.error}`);
    }
    const failed = outcomes.filter((outcome) => !outcome.ok).length;
    if (failed > 0) this.logger.error(`deploy failed on ${failed} of ${outcomes.length} hosts; no job was started`);
    // The run's jobs use its own version, whatever another master makes current meanwhile.
    this.#installBase = `${installRoot.replace(/\/+$/, '')}/versions/${bundle.version}`;
    return failed === 0;
  }

  /** Clears the status line for good, so that what follows (outputs, the summary) is plain text. */
  stopLiveView(): void {
    this.#statusLine?.stop();
  }

  /** Runs a recipe with checked inputs; resolves with its return code and outputs. */
  async runRecipe(recipe: LoadedRecipe, inputs: Record<string, unknown>): Promise<RecipeResult> {
    const run = this;
    const context: RecipeContext = {
      config: this.config,
      logger: this.logger,
      jobName: this.jobName,
      jobDirectory: this.jobDirectory,
      get hosts() {
        return run.hosts;
      },
      recipePath: recipe.path,
      recipeName: recipe.name,
      scheduler: this.scheduler,
      runTask: (name, overrides) => this.#runTask(name, overrides),
      reportStep: (report) => this.#reportStep(report),
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

  /** A pipeline step started or ended: recorded, and the jobs queued while it runs carry it (a loop's own start names no jobs). */
  #reportStep(report: StepReport): void {
    if (report.kind !== 'loop') this.#currentStep = report.state === 'started' ? { step: report.step, rounds: report.rounds ?? [] } : undefined;
    if (!this.#options.dryRun) this.events.emit({ type: 'step', time: new Date().toISOString(), run: this.runId, ...report });
  }

  async #runTask(name: string, overrides: Record<string, unknown>): Promise<Record<string, unknown>> {
    const { recipe, inputs } = await this.resolve(name, overrides);
    const result = await this.runRecipe(recipe, inputs);
    if (result.returncode !== 0) throw new RecipeFailedError(name, result.returncode);
    return result.outputs;
  }

  /** Logs how every job of the run ended, from its records; nothing when it ran no job. */
  logSummary(): void {
    const run = this.#recorded;
    if (!run || run.jobs.size === 0) return;
    const report = reportRun(this.jobDirectory, run);
    const level = report.failures.length > 0 ? 'error' : 'info';
    this.logger.log(level, `summary: ${headline(report)}`);
    for (const line of detailLines(report)) this.logger.log(level, `  ${line}`);
    const unrecorded = this.#outage.describe();
    if (unrecorded) this.logger.error(`  ${unrecorded}`);
  }

  /**
   * Stops what is still running and writes the last log lines to disk; then, when the run
   * began, records its end: a reader that sees run-ended knows every log line is written.
   */
  async close(ended?: { returncode: number; outputs: Record<string, unknown> }): Promise<void> {
    this.#dispatch.close();
    await this.launchers.close();
    this.stopLiveView();
    await this.log.close();
    await this.#jobFiles?.close();
    if (this.#began && ended) {
      this.events.emit({
        type: 'run-ended', time: new Date().toISOString(), run: this.runId, returncode: ended.returncode,
        interrupted: this.#interruptedBy ?? null, outputs: ended.outputs, ...(this.#outage.failure ? { unrecorded: this.#outage.describe() } : {}),
      });
    }
    this.#journal?.close();
    if (this.#began && ended && !this.#outage.failure) this.#writePage();
    this.#lock?.release();
  }

  /** The run's HTML page beside its journal, from the record the run kept of itself (its end included: no second reading of the journal). */
  #writePage(): void {
    const file = join(this.jobDirectory, RUN_PAGE_FILE);
    try {
      const run = this.#recorded;
      if (run) writeRunPage(this.jobDirectory, { ...run, status: statusOf(run) }, file);
    } catch (error) {
      // The run is recorded; `pipeline report` can write the page again.
      process.stderr.write(`pipeline: warning: could not write ${file}: ${(error as Error).message}\n`);
    }
  }

}

/** What differs between the recorded run and this one, for the message that asks what to do. */
function describeChanges(last: RunStarted, recipe: string, inputs: Record<string, unknown>): string {
  if (last.recipe !== recipe) return `recipe ${last.recipe}, not ${recipe}`;
  const names = [...new Set([...Object.keys(last.inputs), ...Object.keys(inputs)])]
    .filter((name) => canonicalJson(last.inputs[name]) !== canonicalJson(inputs[name]));
  const shown = names.slice(0, 3).map((name) => `--${name} ${canonicalJson(last.inputs[name]) ?? '(unset)'}, now ${canonicalJson(inputs[name]) ?? '(unset)'}`);
  return `other inputs (${shown.join('; ')}${names.length > 3 ? `; and ${names.length - 3} more` : ''})`;
}

/** The compute hosts of `[cluster] clusterdesc`, or localhost when none is configured; throws when the file cannot give them. */
export function clusterHosts(config: PipelineConfig): string[] {
  const hosts = clusterHostsOrWhyNot(config);
  if (hosts instanceof ConfigError) throw hosts;
  return hosts;
}

/** As clusterHosts, but the error is returned, for a run that may not need the cluster. */
export function clusterHostsOrWhyNot(config: PipelineConfig): string[] | ConfigError {
  if (config.remoteMethod === 'slurm') {
    // Under Slurm the cluster is the allocation this master runs in.
    try {
      const allocation = slurmAllocation(process.env, config.nodelistVariable);
      if (!allocation) {
        return new ConfigError(config.file, `${config.file}: [remote] method = slurm runs inside a Slurm allocation, and SLURM_JOB_ID is not set; run it under salloc or sbatch, or submit it with pipeline submit`);
      }
      return allocation.nodes;
    } catch (error) {
      if (error instanceof ConfigError) return error;
      throw error;
    }
  }
  const file = config.clusterdesc;
  if (!file) return ['localhost'];
  if (!existsSync(file)) return new ConfigError(config.file, `${config.file}: [cluster] clusterdesc: ${file} does not exist; expected a clusterdesc file listing the compute nodes (or give --hosts)`);
  try {
    // A clusterdesc that lists no compute nodes is a mistake to say, not a reason to run everything on localhost.
    return clusterComputeHosts(file);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
}

/** Each host's cores: `[cluster] cores` for every host, else what the Slurm allocation gave each node; undefined when neither says. */
function hostCoresOf(config: PipelineConfig): (host: string) => number | undefined {
  const every = config.hostCores;
  if (every !== undefined) return () => every;
  let allocation: ReturnType<typeof slurmAllocation>;
  try {
    allocation = config.remoteMethod === 'slurm' ? slurmAllocation(process.env, config.nodelistVariable) : undefined;
  } catch {
    allocation = undefined; // said where the hosts are asked for
  }
  return (host) => allocation?.cpus.get(host);
}
