// Benchmark row 4, the breakdown: the same `true` jobs through the framework's Scheduler and
// local launcher with the run's configuration, but without PipelineRun's records (no journal,
// no per-job directories, no job.log transport), to tell where the master's cost lies.
//   bare: scheduler + launcher + winston with only a console at info (to /dev/null)
//   log:  as bare, plus pipeline.log at debug (what the run log costs)
// Usage: node --import ./usage-at-exit.mjs scale-runner.mjs <bare|log> <jobs> <concurrency> <pipeline.cfg> <log file>
import { createWriteStream } from 'node:fs';
import { PipelineConfig } from '../../dist/support/config/pipeline-config.js';
import { ComputeJob } from '../../dist/support/dispatch/compute-job.js';
import { Launchers } from '../../dist/support/launchers/launcher-choice.js';
import { openRunLog } from '../../dist/support/logging/run-log.js';
import { Scheduler } from '../../dist/support/dispatch/scheduler.js';

const [mode, jobsArg, concurrencyArg, configFile, logFile] = process.argv.slice(2);
const config = (await PipelineConfig.load(configFile)).withVars({ job_name: 'scale', start_time: 'now' });
const log = openRunLog({
  consoleLevel: 'info',
  console: createWriteStream('/dev/null'),
  color: false,
  ...(mode === 'log' ? { logFile } : {}),
});
const launchers = new Launchers('local');
const scheduler = new Scheduler({
  launchers,
  logger: log.logger,
  placement: { workingDirectory: config.workingDirectory, environment: config.environment, nodeExecutable: config.nodeExecutable, scriptPath: (p) => p },
  hosts: ['localhost'],
  signal: new AbortController().signal,
  logLevel: 'debug',
  graceMs: 2000,
  maxPerNode: Number(concurrencyArg),
  timeout: 0,
  retries: 0,
  retryDelay: 1,
  dryRun: false,
  dryRunOutput: process.stdout,
  logPressure: log.pressure,
});
const jobs = [];
for (let i = 0; i < Number(jobsArg); i++) jobs.push(new ComputeJob('localhost', 'true'));
await scheduler.run(jobs, { maxPerNode: Number(concurrencyArg) });
let succeeded = 0;
for (const job of jobs) if (job.results.state === 'succeeded') succeeded++;
await launchers.close();
await log.close();
process.stdout.write(JSON.stringify({ succeeded }) + '\n');
process.exit(0);
