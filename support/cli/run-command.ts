/** `pipeline run <recipe> [--<input> value ...]` and `pipeline retry <job-name>`. */
import { basename, extname } from 'node:path';
import type { PipelineConfig } from '../config/pipeline-config.js';
import { loadConfig } from './load-config.js';
import { InterruptedError, NotFoundError } from '../errors.js';
import { checkJobName, findJobDirectory } from '../records/job-directories.js';
import { keepRunningWithoutStdout } from './closed-stdout.js';
import { journalPath, readJournal } from '../records/job-journal.js';
import { PipelineRun } from '../run/pipeline-run.js';
import type { LogLevel } from '../protocol/messages.js';

const RUN_OPTIONS = new Set([
  '_', '$0', 'recipe', 'config', 'c', 'job-name', 'j', 'dry-run', 'verbose', 'v', 'debug', 'd', 'help', 'hosts',
  'fresh', 'resume-anyway', 'json', 'deploy', 'serial',
]);

export function inputArguments(args: Record<string, unknown>): Record<string, unknown> {
  const given: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(args)) {
    if (!RUN_OPTIONS.has(key)) given[key] = value;
  }
  return given;
}

function consoleLevel(args: Record<string, unknown>): LogLevel {
  if (args.debug) return 'debug';
  if (args.verbose) return 'verbose';
  return 'info';
}

interface RunRequest {
  config: PipelineConfig;
  jobName: string;
  recipe: string;
  inputs: Record<string, unknown>;
  args: Record<string, unknown>;
}

async function execute({ config, jobName, recipe: recipeArg, inputs: given, args }: RunRequest): Promise<number> {
  checkJobName(jobName);
  keepRunningWithoutStdout();
  const hosts = args.hosts === undefined ? undefined : [args.hosts].flat().map(String).join(',');
  const json = Boolean(args.json);
  const dryRun = Boolean(args['dry-run']);
  const run = new PipelineRun({
    config, jobName, consoleLevel: consoleLevel(args), dryRun, hosts,
    fresh: Boolean(args.fresh), resumeAnyway: Boolean(args['resume-anyway']), deploy: Boolean(args.deploy), serial: Boolean(args.serial),
    // The live view only where a person watches, and never in the way of --json.
    statusLine: Boolean(process.stdout.isTTY && process.stderr.isTTY) && !json && !args['dry-run'],
  });
  if (json) run.events.subscribe((event) => process.stdout.write(JSON.stringify(event) + '\n'));
  // First signal: cancel every job (TERM, KILL after the grace) and let the recipe finish.
  // Second: KILL every job now and stop waiting for the recipe.
  let interrupts = 0;
  let forceStop!: (error: InterruptedError) => void;
  const forced = new Promise<never>((_, reject) => { forceStop = reject; });
  forced.catch(() => {}); // a second signal after the recipe ended has nothing left to stop
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts === 1) {
      run.interrupt(signal);
      return;
    }
    run.logger.warn(`${signal} again: killing every job now`);
    void run.launchers.close(0).then(() => forceStop(new InterruptedError(run.interruptedBy ?? signal)));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal); // the terminal closed: as SIGTERM, cancel, summarise and record, then exit 129
  let returncode = 1;
  let outputs: Record<string, unknown> = {};
  try {
    const { recipe, inputs } = await run.resolve(recipeArg, given);
    run.begin(recipe, inputs);
    if (run.log.logFile) run.logger.info(`job ${jobName}: log file ${run.log.logFile}`);
    if (run.deploys && !(await run.deploy(recipe.path))) return returncode;
    ({ returncode, outputs } = await Promise.race([run.runRecipe(recipe, inputs), forced]));
    run.stopLiveView();
    // A dry run's outputs are what jobs that never ran left: nulls, not worth printing as results.
    if (!json && !dryRun && Object.keys(outputs).length > 0) process.stdout.write(JSON.stringify(outputs, null, 2) + '\n');
    if (run.interruptedBy) throw new InterruptedError(run.interruptedBy);
    if (run.fatal) throw run.fatal;
    if (run.recordsFailure && returncode === 0) returncode = 1; // the jobs may have done their work, but a resume would not know it
    return returncode;
  } catch (error) {
    if (error instanceof InterruptedError) returncode = error.exitCode;
    else run.logger.debug(`run ended with ${error instanceof Error ? error.stack : String(error)}`);
    throw error;
  } finally {
    run.stopLiveView();
    run.logSummary();
    await run.close({ returncode, outputs });
  }
}

export async function runCommand(args: Record<string, unknown>): Promise<number> {
  const recipe = String(args.recipe);
  const config = await loadConfig(args);
  const jobName = (args['job-name'] as string | undefined) ?? basename(recipe, extname(recipe));
  return execute({ config, jobName, recipe, inputs: inputArguments(args), args });
}

/** Runs the newest recorded run of a job again, with its recipe and inputs: only what did not succeed runs. */
export async function retryCommand(args: Record<string, unknown>): Promise<number> {
  const config = await loadConfig(args);
  const jobName = String(args['job-name']);
  const { directory } = findJobDirectory(config, jobName);
  const last = readJournal(journalPath(directory)).runs.at(-1);
  if (!last) throw new NotFoundError(`job ${jobName} has no recorded run to retry`);
  const hosts = args.hosts ?? last.started.hosts.join(',');
  return execute({ config, jobName, recipe: last.started.recipePath, inputs: last.started.inputs, args: { ...args, hosts } });
}
