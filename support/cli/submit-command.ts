/**
 * `pipeline submit <recipe> [--<input> value ...] --slurm '<sbatch flags>'`: the run as a Slurm
 * batch job. Writes a batch script that runs `pipeline run` with the same recipe, inputs, config
 * and job name inside the allocation, submits it with sbatch and prints the Slurm job id;
 * `pipeline status` and `pipeline logs --follow` then work on it from here while it runs.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { UsageError } from '../errors.js';
import { cliPath } from '../config/framework-paths.js';
import { checkJobName, jobDirectoryFor } from '../records/job-directories.js';
import { SUBMISSION_FILE, type SlurmSubmission } from '../records/slurm-submission.js';
import { shellQuote, splitShellWords } from '../protocol/shell-words.js';
import { inputArguments } from './run-command.js';
import { PipelineRun } from '../run/pipeline-run.js';
import { loadConfig } from './load-config.js';

const run = promisify(execFile);

/** The inputs again as `--name value` words (lists as JSON, so that commas inside items survive). */
function inputWords(inputs: Record<string, unknown>): string[] {
  return Object.entries(inputs).flatMap(([name, value]) => {
    if (value === true) return [`--${name}`];
    if (value === false) return [`--no-${name}`];
    return [`--${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`];
  });
}

export async function submitCommand(args: Record<string, unknown>): Promise<number> {
  const config = await loadConfig(args);
  const recipe = String(args.recipe);
  const jobName = (args['job-name'] as string | undefined) ?? basename(recipe, extname(recipe));
  checkJobName(jobName);
  const flags = splitShellWords(String(args.slurm ?? ''));
  if (!flags) throw new UsageError(`--slurm ${JSON.stringify(args.slurm)}: a quote is not closed`);
  // The recipe and its inputs are checked here, not an hour later in the queue (a dry run: nothing recorded, no host contacted).
  const check = new PipelineRun({ config, jobName, consoleLevel: 'warn', dryRun: true, ...(args.hosts !== undefined ? { hosts: String(args.hosts) } : {}) });
  try {
    await check.resolve(recipe, submittedInputs(args));
  } catch (error) {
    if (error instanceof UsageError && args.slurm === '' && /unknown input/.test(error.message)) {
      throw new UsageError(`${error.message} (sbatch's flags go in one value with =: --slurm='-N 3 --time=1:00:00')`);
    }
    throw error;
  } finally {
    await check.close();
  }
  const jobDirectory = jobDirectoryFor(config, jobName);
  const dir = join(jobDirectory, 'submit');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stamp = new Date().toISOString().slice(0, 19).replace(/:/g, '-');
  const script = join(dir, `${stamp}.sbatch`);
  const output = join(dir, 'slurm-%j.out');
  // A recipe given by path is found from here, not from the batch job's directory.
  const recipeArgument = recipe.includes('/') || recipe.endsWith('.js') ? resolve(recipe) : recipe;
  if (args['dry-run']) throw new UsageError('pipeline submit --dry-run: a dry run dispatches nothing; run it here with pipeline run --dry-run');
  // pipeline run's own options travel with the run, as given here.
  const runOptions = [
    ...(args.fresh ? ['--fresh'] : []), ...(args['resume-anyway'] ? ['--resume-anyway'] : []), ...(args.deploy ? ['--deploy'] : []),
    ...(args.hosts !== undefined ? [`--hosts=${String(args.hosts)}`] : []), ...(args.verbose ? ['--verbose'] : []), ...(args.debug ? ['--debug'] : []),
  ];
  const command = [process.execPath, cliPath, 'run', recipeArgument, ...inputWords(submittedInputs(args)), ...runOptions, '--config', config.file, '--job-name', jobName];
  writeFileSync(script, [
    '#!/bin/sh',
    `#SBATCH --job-name=${jobName}`,
    // sbatch reads %-patterns in the path and takes the line as it is: % doubled, the path quoted.
    `#SBATCH --output="${output.replace(/%(?!j)/g, '%%').replace(/["\\]/g, '\\$&')}"`,
    `# written by pipeline submit; runs the pipeline inside the allocation (method ${config.remoteMethod})`,
    `cd ${shellQuote(process.cwd())} || exit 1`,
    `exec ${command.map(shellQuote).join(' ')}`,
    '',
  ].join('\n'), { mode: 0o700 });
  let stdout: string;
  try {
    ({ stdout } = await run('sbatch', ['--parsable', ...flags, script], { timeout: 60_000 }));
  } catch (error) {
    const err = error as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new UsageError('pipeline submit needs sbatch, which is not on PATH here (a Slurm login node has it)');
    throw new UsageError(`sbatch refused the job: ${(err.stderr ?? err.message).trim().split('\n').at(-1)}`);
  }
  const slurmJobId = stdout.trim().split(';')[0]!;
  const submission: SlurmSubmission = { slurmJobId, script, submitted: new Date().toISOString(), output: output.replace('%j', slurmJobId) };
  const file = join(jobDirectory, SUBMISSION_FILE);
  writeFileSync(`${file}.draft`, JSON.stringify(submission, null, 2) + '\n', { mode: 0o600 });
  renameSync(`${file}.draft`, file);
  process.stdout.write(args.json ? JSON.stringify({ jobName, ...submission }) + '\n' : `${slurmJobId}\n`);
  process.stderr.write(`pipeline: submitted job ${jobName} as Slurm job ${slurmJobId}; follow it with pipeline status ${jobName} or pipeline logs ${jobName} --follow\n`);
  return 0;
}

/** The recipe's inputs of the command line: everything but submit's own options. */
function submittedInputs(args: Record<string, unknown>): Record<string, unknown> {
  const { slurm: _slurm, ...rest } = args;
  return inputArguments(rest);
}
