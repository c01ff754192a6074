#!/usr/bin/env node
/**
 * The `pipeline` command. Exit codes: 0 success, 1 the recipe reported failure, 2 usage,
 * configuration or input error, 130 interrupted (SIGINT), 143 terminated (SIGTERM).
 */
// Each command's module is imported when it runs: winston, ssh2 and the scheduler cost
// `pipeline --help` and `pipeline status` a third of a second at every start otherwise.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { UsageError } from '../errors.js';
import { exitWith, reportFatal } from './exit.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { frameworkRoot } from '../config/framework-paths.js';
import { watchStdout } from './closed-stdout.js';

const GLOBAL_OPTIONS = {
  // -c as lofarpipe's runPipeline.sh passes it.
  config: { alias: 'c', type: 'string', describe: 'pipeline.cfg to use (default: ./pipeline.cfg, ~/.pipeline.cfg, the shipped one)' },
} as const;

/** Options that take one value: given twice, yargs makes a list of them, which nothing below expects. */
const SINGLE_VALUED = ['config', 'job-name', 'hosts', 'job', 'output', 'slurm'];

/** The framework's version, from its package.json. */
function frameworkVersion(): string {
  return (JSON.parse(readFileSync(join(frameworkRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

function refuseRepeated(argv: Record<string, unknown>): void {
  for (const name of SINGLE_VALUED) {
    const value = argv[name];
    if (Array.isArray(value)) throw new UsageError(`--${name} was given ${value.length} times (${value.map(String).join(', ')}); give it once`);
  }
}

async function main(argv: string[]): Promise<number> {
  let result: Promise<number> | undefined;
  await yargs(argv)
    .scriptName('pipeline')
    .usage('$0 <command> [options]')
    .parserConfiguration({ 'camel-case-expansion': false, 'parse-numbers': false, 'parse-positional-numbers': false, 'dot-notation': false })
    .options(GLOBAL_OPTIONS)
    .middleware(refuseRepeated)
    .command('run <recipe> [parset]', 'run a recipe (name or path to a .js file); recipe inputs are --<input> value', (y) => y
      .positional('recipe', { type: 'string', describe: 'recipe name, tasks.cfg task, or path to a .js recipe' })
      .positional('parset', { type: 'string', describe: 'for genericpipeline: the pipeline parset (its --parset input)' })
      .option('job-name', { alias: 'j', type: 'string', describe: 'job name (default: the recipe name); the same name resumes' })
      .option('hosts', { type: 'string', describe: 'compute hosts, with ranges: node[01..16],gpu1..4 (default: the clusterdesc)' })
      .option('dry-run', { type: 'boolean', describe: 'print every job that would be dispatched, dispatch none' })
      .option('fresh', { type: 'boolean', describe: 'start over: run every job again, even those an earlier run of this job name finished' })
      .option('resume-anyway', { type: 'boolean', describe: 'resume even though the recipe inputs differ from the recorded run' })
      .option('deploy', { type: 'boolean', describe: 'first copy the framework and your node scripts to the hosts (pipeline deploy); only changed files travel' })
      .option('serial', { type: 'boolean', describe: 'run every job on this machine, one after another, in the order asked for (debugging)' })
      .option('json', { type: 'boolean', describe: 'write NDJSON events (run, job queued/started/ended) to stdout' })
      .option('verbose', { alias: 'v', type: 'boolean', describe: 'show verbose messages on the console' })
      .option('debug', { alias: 'd', type: 'boolean', describe: 'show debug messages on the console' })
      .strict(false),
    (args) => { result = import('./run-command.js').then((m) => m.runCommand(args)); })
    .command('submit <recipe>', 'submit the run to Slurm as a batch job (sbatch) that runs pipeline run inside its allocation; prints the Slurm job id', (y) => y
      .positional('recipe', { type: 'string', describe: 'recipe name, tasks.cfg task, or path to a .js recipe' })
      .option('slurm', { type: 'string', describe: "sbatch's flags, e.g. '-N 4 --time=2:00:00 --partition=cpu'", default: '' })
      .option('job-name', { alias: 'j', type: 'string', describe: 'job name (default: the recipe name)' })
      .option('json', { type: 'boolean', describe: 'print the submission as one JSON object' })
      .strict(false),
    (args) => { result = import('./submit-command.js').then((m) => m.submitCommand(args)); })
    .command('retry <job-name>', 'rerun only the jobs of a run that failed or never ended, with its recorded recipe and inputs', (y) => y
      .positional('job-name', { type: 'string' })
      .option('json', { type: 'boolean', describe: 'write NDJSON events to stdout' })
      .option('verbose', { alias: 'v', type: 'boolean' })
      .option('debug', { alias: 'd', type: 'boolean' })
      .strict(),
    (args) => { result = import('./run-command.js').then((m) => m.retryCommand(args)); })
    .command('status [job]', "how a run went, from its records: counts, hosts, failures (default: the newest run)", (y) => y
      .positional('job', { type: 'string', describe: 'job name' })
      .option('json', { type: 'boolean', describe: 'print one JSON object' })
      .strict(),
    (args) => { result = import('./status-command.js').then((m) => m.statusCommand(args)); })
    .command('logs <job-name>', "print a run's log, or one job's own log", (y) => y
      .positional('job-name', { type: 'string' })
      .option('job', { type: 'string', describe: 'the id (name or number) of one job' })
      .option('follow', { alias: 'f', type: 'boolean', describe: 'keep printing until the run ends' })
      .strict(),
    (args) => { result = import('./logs-command.js').then((m) => m.logsCommand({ ...args, jobName: args['job-name'] })); })
    .command('jobs', 'the runs recorded in the runtime directory, newest first', (y) => y
      .option('json', { type: 'boolean', describe: 'one JSON object per line' })
      .strict(),
    (args) => { result = import('./jobs-command.js').then((m) => m.jobsCommand(args)); })
    .command('list', 'list the recipes with their descriptions', {}, (args) => { result = import('./list-command.js').then((m) => m.listCommand(args)); })
    .command('describe <recipe>', "show a recipe's inputs: kinds, defaults, help", (y) => y.positional('recipe', { type: 'string' }),
      (args) => { result = import('./describe-command.js').then((m) => m.describeCommand(args)); })
    .command('report <job-name>', "write the run's HTML page: a timeline per host, each job's CPU and memory, the failures", (y) => y
      .positional('job-name', { type: 'string' })
      .option('output', { alias: 'o', type: 'string', describe: 'where to write it (default: <job directory>/report.html)' })
      .option('open', { type: 'boolean', describe: 'open it in the desktop\'s browser' })
      .strict(),
    (args) => { result = import('./report-command.js').then((m) => m.reportCommand({ ...args, jobName: args['job-name'] })); })
    .command('hosts <action>', "check the cluster's hosts: SSH, node, the framework, latency", (y) => y
      .positional('action', { type: 'string', choices: ['check'], describe: 'check: can every host run jobs?' })
      .option('hosts', { type: 'string', describe: 'hosts to check, with ranges: node[01..16],gpu1..4 (default: the clusterdesc)' })
      .option('json', { type: 'boolean', describe: 'print a JSON array instead of the table' })
      .strict(),
    (args) => { result = import('./hosts-command.js').then((m) => m.hostsCommand(args)); })
    .command('deploy', 'copy the framework and the node scripts of the recipe directories to the hosts over SFTP, into install_root', (y) => y
      .option('hosts', { type: 'string', describe: 'hosts to deploy to, with ranges: node[01..16],gpu1..4 (default: the clusterdesc)' })
      .option('json', { type: 'boolean', describe: 'print a JSON array instead of the table' })
      .strict(),
    (args) => { result = import('./deploy-command.js').then((m) => m.deployCommand(args)); })
    .demandCommand(1, 'say which command: run, submit, retry, status, logs, report, jobs, list, describe, hosts or deploy')
    .strictCommands()
    .fail((message, error) => {
      throw error ?? new UsageError(message);
    })
    .help()
    .version(frameworkVersion())
    .parseAsync();
  return result ?? 0;
}

watchStdout();
main(hideBin(process.argv)).then(exitWith, reportFatal);
