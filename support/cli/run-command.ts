/** `pipeline run <recipe> [--<input> value ...]`. */
import { locateConfig, PipelineConfig } from '../config/pipeline-config.js';
import { InterruptedError } from '../errors.js';
import { PipelineRun } from '../pipeline-run.js';
import type { LogLevel } from '../protocol.js';
import { basename, extname } from 'node:path';

const RUN_OPTIONS = new Set(['_', '$0', 'recipe', 'config', 'job-name', 'j', 'dry-run', 'verbose', 'v', 'debug', 'd', 'help', 'hosts']);

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

export async function runCommand(args: Record<string, unknown>): Promise<number> {
  const recipeArg = String(args.recipe);
  const config = await PipelineConfig.load(locateConfig(args.config as string | undefined));
  const jobName = (args['job-name'] as string | undefined) ?? basename(recipeArg, extname(recipeArg));
  const hosts = args.hosts === undefined ? undefined : [args.hosts].flat().map(String).join(',');
  const run = new PipelineRun({ config, jobName, consoleLevel: consoleLevel(args), dryRun: Boolean(args['dry-run']), hosts });
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
  try {
    const { recipe, inputs } = await run.resolve(recipeArg, inputArguments(args));
    run.logger.info(`job ${jobName}: log file ${run.log.logFile}`);
    const result = await Promise.race([run.runRecipe(recipe, inputs), forced]);
    if (Object.keys(result.outputs).length > 0) process.stdout.write(JSON.stringify(result.outputs, null, 2) + '\n');
    if (run.interruptedBy) throw new InterruptedError(run.interruptedBy);
    return result.returncode;
  } catch (error) {
    if (!(error instanceof InterruptedError)) run.logger.debug(`run ended with ${error instanceof Error ? error.stack : String(error)}`);
    throw error;
  } finally {
    run.logSummary();
    await run.close();
  }
}
