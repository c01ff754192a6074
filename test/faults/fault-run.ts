/**
 * Running the `faults` fixture recipe as a real `pipeline run` process against the SSH test
 * cluster, watching its log while it runs, and checking that nothing of the test user is left.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import type { JobResults } from '../../support/protocol/job-outcome.js';
import { cliPath } from '../harness/pipeline-cli.js';
import { startSshPipeline, type SshPipeline } from '../harness/ssh-pipeline.js';
import type { TestCluster, UserProcess } from '../harness/ssh-hosts.js';

export interface JobSpec {
  name: string;
  host?: string | null;
  node?: unknown[];
  /** A Python node script job (nodes/pyfault.py): [action, ...args]. */
  python?: unknown[];
  shell?: string;
  /** A node script job run in a warm worker of its host's agent. */
  warm?: boolean;
  timeout?: number;
  pinned?: boolean;
  retries?: number;
  retryOn?: string[];
  environment?: Record<string, string>;
  /** A JSON file of more variables, which the recipe reads (so they are on no command line). */
  environmentFile?: string;
  stageIn?: Array<string | { from: string; to?: string }>;
  stageOut?: Array<string | { from: string; to?: string }>;
  cleanup?: boolean;
  cores?: number;
}

export type JobReport = JobResults & { name: string };

export interface FaultRunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  jobs: JobReport[];
}

export interface FaultRun {
  master: ChildProcess;
  ended: Promise<FaultRunResult>;
  /** The run's pipeline.log as it is now ('' before it exists). */
  log(): string;
  /** Waits until the log matches `pattern` `times` times; fails the test after `ms`. */
  waitForLog(pattern: RegExp, times?: number, ms?: number): Promise<void>;
}

/** Three real sshd test hosts shared by the tests of a describe block: started before them, stopped after. */
export function sshTestHosts(): { readonly p: SshPipeline } {
  let pipeline: SshPipeline | undefined;
  before(async () => {
    pipeline = await startSshPipeline({ hosts: 3 });
  });
  after(async () => {
    await pipeline?.stop();
  });
  return {
    get p() {
      if (!pipeline) throw new Error('the SSH test hosts have not started');
      return pipeline;
    },
  };
}

let runNumber = 0;

/** Masters started by startFaultRun that have not ended. */
const liveMasters = new Set<ChildProcess>();

// A test that fails before its run ends must not leave the master running (with its jobs, and mocha waiting on it for ever).
afterEach(function () {
  for (const master of liveMasters) if (master.exitCode === null && master.signalCode === null) master.kill('SIGKILL');
  liveMasters.clear();
});

/** `extraArgs` may name the job (`--job-name X`, for a rerun of the same job); by default every run is a job of its own. */
export function startFaultRun(p: SshPipeline, specs: JobSpec[], extraArgs: string[] = []): FaultRun {
  const named = extraArgs.indexOf('--job-name');
  const jobName = named === -1 ? `faults${++runNumber}` : extraArgs.splice(named, 2)[1]!;
  const master = spawn(process.execPath, [cliPath, 'run', 'faults', '--job-name', jobName, '--jobs', JSON.stringify(specs), '--config', p.ws.configPath, ...extraArgs], {
    cwd: p.ws.dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveMasters.add(master);
  master.once('exit', () => liveMasters.delete(master));
  let stdout = '';
  let stderr = '';
  master.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  master.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const ended = new Promise<FaultRunResult>((resolve) => {
    master.on('close', (code, signal) => {
      let jobs: JobReport[] = [];
      try {
        jobs = (JSON.parse(stdout) as { jobs: JobReport[] }).jobs;
      } catch {
        // interrupted or killed runs print no outputs
      }
      resolve({ code, signal, stdout, stderr, jobs });
    });
  });
  const log = () => {
    const logs = join(p.ws.jobDirectory(jobName), 'logs');
    if (!existsSync(logs)) return '';
    const runs = readdirSync(logs).sort();
    const file = join(logs, runs[runs.length - 1]!, 'pipeline.log');
    return existsSync(file) ? readFileSync(file, 'utf8') : '';
  };
  return {
    master,
    ended,
    log,
    async waitForLog(pattern, times = 1, ms = 30_000) {
      const global = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : pattern.flags + 'g');
      const deadline = Date.now() + ms;
      while ((log().match(global) ?? []).length < times) {
        if (Date.now() > deadline) expect.fail(`log never matched ${pattern} ${times} times:\n${log()}\n${stderr}`);
        if (master.exitCode !== null) expect.fail(`pipeline run ended (${master.exitCode}) before the log matched ${pattern}:\n${stderr}`);
        await sleep(50);
      }
    },
  };
}

/** The job report named `name`; fails the test when it is missing. */
export function job(result: FaultRunResult, name: string): JobReport {
  const found = result.jobs.find((j) => j.name === name);
  if (!found) expect.fail(`no job ${name} in the outputs:\n${result.stdout}\n${result.stderr}`);
  return found;
}

function describeProcesses(procs: UserProcess[]): string {
  return procs.map((proc) => `${proc.pid} (${proc.state}) ${proc.cmd}`).join('\n');
}

/** The test user's processes that this cluster's sessions started (another cluster may be running tests too). */
async function leftOn(cluster: TestCluster): Promise<UserProcess[]> {
  return (await cluster.userProcesses()).filter((proc) => proc.ours);
}

/** Waits up to `ms` for the test user to have no process left on any host, and fails listing them if some remain. */
export async function expectNothingLeft(cluster: TestCluster, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  let left = await leftOn(cluster);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(100);
    left = await leftOn(cluster);
  }
  expect(left, `processes of ${cluster.user} left:\n${describeProcesses(left)}`).to.deep.equal([]);
}

/** Samples a process's resident memory (VmRSS, bytes) every `everyMs` until stopped; returns the largest. */
export function watchMemory(pid: number, everyMs = 100): { stop(): number } {
  let max = 0;
  const sample = () => {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (match) max = Math.max(max, Number(match[1]) * 1024);
    } catch {
      // the process has ended
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return max;
    },
  };
}
