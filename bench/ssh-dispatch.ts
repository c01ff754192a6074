/**
 * Benchmark rows 1, 2 and 5 of issue 6: SSH dispatch against real OpenSSH sshd test hosts
 * (test/harness), the framework driven in-process against floors measured in the same run.
 *
 *  1. Shell-command jobs (`true`) to one host and to four hosts, 8 in flight per host:
 *     framework vs raw ssh2 on kept connections (TCP_NODELAY, the same channels in flight, at
 *     most 4 per connection);
 *     for context also OpenSSH ControlMaster and GNU parallel --controlmaster.
 *  2. Node-script jobs that do nothing: framework vs raw ssh2 running `node -e 0`, 8 in flight
 *     and one at a time.
 *  5. Fan-out: connect to 16 hosts and run one job on each, framework vs raw ssh2.
 *
 * The framework is driven in-process, as `pipeline run` drives it after start-up: a
 * PipelineRun (job journal, per-job directories, run log) whose scheduler runs the jobs,
 * then the end-of-run summary and close(). CLI start-up (node, imports, config) is excluded.
 * Measurements are interleaved (framework, floor, ...), medians over the repeats.
 *
 *  7. The warm agent per host (issue 16): `true` jobs through it, warm and cold node scripts.
 *
 * `npx tsx bench/ssh-dispatch.ts [--quick] [1] [2] [5] [7]` runs the rows on their own.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ssh2 from 'ssh2';
import { ComputeJob, NodeScript } from '../support/dispatch/compute-job.js';
import { PipelineConfig } from '../support/config/pipeline-config.js';
import { buildCommand, type CommandPlacement } from '../support/dispatch/launch-command.js';
import { PipelineRun } from '../support/run/pipeline-run.js';
import { encodeMessage, PROTOCOL_VERSION } from '../support/protocol/messages.js';
import { BaseRecipe } from '../support/recipe/base-recipe.js';
import type { LoadedRecipe } from '../support/run/recipe-loader.js';
import { startSshPipeline, type SshPipeline } from '../test/harness/ssh-pipeline.js';
import type { TestHost } from '../test/harness/ssh-hosts.js';
import type { BenchRow } from './bench-row.js';
import { plainRows } from './report.js';
import { RECORDS } from './records.js';
import { interleaved, median, now, perSecond, pool, spread } from './measure.js';

const { Client } = ssh2;

/** One line of the benchmark table (bench/bench-row.ts); a context row has target `-` and met true. */
export type { BenchRow };

export interface SshDispatchOptions {
  /** Fewer jobs and repeats (some 40 s for the three rows here, against four minutes for a full run). */
  quick?: boolean;
  /** Rounds of interleaved measurements; default 3, quick 2 (fan-out: 7, quick 3: each sample is short). */
  repeats?: number;
  /** Row 1: `true` jobs per measurement for the framework and raw ssh2; default 2000, quick 300. */
  jobs?: number;
  /** Jobs in flight per host on every side; default 8. */
  perHost?: number;
  /** Progress lines (one per measurement); default: stderr. */
  progress?: (line: string) => void;
  /**
   * Where the framework's runs are recorded (its runtime_directory); default a new directory
   * under `<repo>/.bench/`, removed when the row ends. Not under /tmp on purpose: see RECORDS.
   */
  recordsDirectory?: string;
}


const DEFAULT_PER_HOST = 8;

function settings(options: SshDispatchOptions) {
  const quick = options.quick ?? false;
  return {
    quick,
    repeats: options.repeats ?? (quick ? 2 : 3),
    jobs: options.jobs ?? (quick ? 300 : 2000),
    perHost: options.perHost ?? DEFAULT_PER_HOST,
    progress: options.progress ?? ((line: string) => process.stderr.write(`${line}\n`)),
    recordsDirectory: options.recordsDirectory,
  };
}

/** The same pipeline.cfg with `[remote] dispatch = channel`: a channel (sshd session) per job, as before the agent. */
function channelConfig(configPath: string): string {
  const path = configPath.replace(/[.]cfg$/, '.channel.cfg');
  writeFileSync(path, readFileSync(configPath, 'utf8').replace(/^\[remote\]$/m, '[remote]\ndispatch = channel'));
  return path;
}

/** A test cluster and a pipeline.cfg recording runs in `recordsDirectory` (made and removed here unless given). */
async function startBenchPipeline(hosts: number, s: Settings): Promise<{ p: SshPipeline; configPath: string; stop(): Promise<void> }> {
  let records = s.recordsDirectory;
  const own = records === undefined;
  if (own) {
    mkdirSync(RECORDS, { recursive: true });
    records = mkdtempSync(join(RECORDS, 'ssh-dispatch-'));
  }
  const configPath = join(records!, 'pipeline.cfg');
  const runtime = join(records!, 'runtime');
  const removeRecords = () => rmSync(own ? records! : runtime, { recursive: true, force: true });
  let p: SshPipeline;
  try {
    p = await startSshPipeline({ hosts });
  } catch (error) {
    removeRecords();
    throw error;
  }
  const stop = async () => {
    try {
      await p.stop();
    } finally {
      removeRecords();
    }
  };
  try {
    writeFileSync(configPath, p.ws.read('pipeline.cfg').replace(/^runtime_directory = .*$/m, `runtime_directory = ${runtime}`));
  } catch (error) {
    await stop();
    throw error;
  }
  return { p, configPath, stop };
}

type Settings = ReturnType<typeof settings>;

/** `n` jobs spread over `hosts` hosts: how many host `index` gets. */
function share(n: number, hosts: number, index: number): number {
  return Math.floor(n / hosts) + (index < n % hosts ? 1 : 0);
}

// ---------------------------------------------------------------------------
// raw ssh2: the floor

/** One kept ssh2 connection with TCP_NODELAY, as bare as a client gets. */
class RawSsh {
  /** Channel opens the server refused (MaxSessions) and that were retried. */
  static refusals = 0;
  readonly #client: ssh2.Client;

  private constructor(client: ssh2.Client) {
    this.#client = client;
  }

  static open(host: TestHost, user: string, privateKey: Buffer): Promise<RawSsh> {
    return new Promise((resolve, reject) => {
      const sock = tcpConnect({ host: host.address, port: host.port });
      sock.setNoDelay(true);
      sock.once('error', reject);
      sock.once('connect', () => {
        const client = new Client();
        client.once('ready', () => {
          client.removeListener('error', reject);
          client.on('error', () => {});
          resolve(new RawSsh(client));
        });
        client.once('error', reject);
        client.connect({ sock, username: user, privateKey, hostVerifier: () => true, readyTimeout: 30_000 });
      });
    });
  }

  /** Runs `command`; `stdin` is written first; stdin is closed once the command exited. Resolves with the exit code. */
  async exec(command: string, stdin?: string): Promise<number | null> {
    for (;;) {
      try {
        return await this.#execOnce(command, stdin);
      } catch (error) {
        if (!/Channel open failure/.test((error as Error).message)) throw error;
        RawSsh.refusals++;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  }

  #execOnce(command: string, stdin?: string): Promise<number | null> {
    return new Promise((resolve, reject) => {
      this.#client.exec(command, (error, channel) => {
        if (error) {
          reject(error);
          return;
        }
        let code: number | null = null;
        channel.once('exit', (exitCode: number | null) => {
          code = exitCode;
          channel.end();
        });
        channel.once('close', () => resolve(code));
        channel.resume();
        channel.stderr.resume();
        if (stdin !== undefined) channel.write(stdin);
      });
    });
  }

  end(): void {
    this.#client.end();
  }
}

/** What one raw-ssh2 job runs: a command, and what its stdin gets first. */
interface RawJob {
  command: string;
  stdin?: string;
}

/** CPU time of this process in the last rawRun, in ms: what a bare ssh2 client costs the master. */
let rawCpuMs = 0;

/**
 * Channels a raw connection carries at most. sshd frees a session slot only a little after the
 * client has seen the channel close, so 8 channels on one connection under MaxSessions 10 keep
 * being refused (measured: about one refusal per 1.5 jobs, each retried after 5 ms), and two
 * connections of 4 run some 15 % faster. The framework learns the same from the refusals and
 * opens a second connection; the floor does it from the start, so it is the better bare client.
 */
const RAW_CHANNELS_PER_CONNECTION = 4;

/**
 * Milliseconds to connect to every host (ceil(perHost / 4) connections each) and run `count`
 * jobs spread evenly over them, `perHost` channels in flight per host. `job` is asked once per
 * job: a framework command carries a mark of its own (PIPELINE_JOB_MARK), and two jobs with the
 * same mark would stop each other's processes.
 */
async function rawRun(cluster: SshPipeline['cluster'], hosts: readonly TestHost[], count: number, perHost: number, job: (host: TestHost) => RawJob): Promise<number> {
  const key = readFileSync(cluster.userKeyPath);
  const cpu = process.cpuUsage();
  const start = now();
  const connectionsPerHost = Math.max(1, Math.ceil(perHost / RAW_CHANNELS_PER_CONNECTION));
  const connections = await Promise.all(hosts.map((host) => Promise.all(Array.from({ length: connectionsPerHost }, () => RawSsh.open(host, cluster.user, key)))));
  try {
    await Promise.all(hosts.map((host, h) => {
      return pool(share(count, hosts.length, h), perHost, async (_index, lane) => {
        const { command, stdin } = job(host);
        const code = await connections[h]![lane % connectionsPerHost]!.exec(command, stdin);
        if (code !== 0) throw new Error(`raw ssh2: ${command.slice(0, 80)} on ${host.alias} exited ${code}`);
      });
    }));
    const ms = now() - start;
    const used = process.cpuUsage(cpu);
    rawCpuMs = (used.user + used.system) / 1000;
    return ms;
  } finally {
    for (const connection of connections.flat()) connection.end();
  }
}

// ---------------------------------------------------------------------------
// the framework, in-process

let runNumber = 0;

const BENCH_RECIPE: LoadedRecipe = {
  name: 'bench',
  path: fileURLToPath(import.meta.url),
  RecipeClass: BaseRecipe as unknown as LoadedRecipe['RecipeClass'],
};

interface FrameworkTiming {
  /** scheduleJobs until every job ended. */
  dispatchMs: number;
  /** The end-of-run summary and close(): log files flushed, job logs closed, connections ended. */
  finishMs: number;
  /** PipelineRun constructed and begun (config read, job directory, journal, log file); not counted. */
  setupMs: number;
  /** CPU time of this process (every thread) from dispatch to the end of close(). */
  cpuMs: number;
}

/**
 * Runs `jobs` through a fresh PipelineRun, as `pipeline run --fresh` does after start-up:
 * records (journal, per-job directories, job logs, run log), `perHost` jobs in flight per host.
 * Fails when any job did not succeed. The run's records stay (see RECORDS).
 */
async function frameworkRun(configPath: string, hosts: readonly string[], jobs: ComputeJob[], perHost: number): Promise<FrameworkTiming> {
  const config = await PipelineConfig.load(configPath);
  const began = now();
  const run = new PipelineRun({ config, jobName: `bench-${process.pid}-${++runNumber}`, consoleLevel: 'warn', fresh: true, hosts: hosts.join(',') });
  let closed = false;
  try {
    run.begin(BENCH_RECIPE, { jobs: jobs.length });
    const cpu = process.cpuUsage();
    const dispatched = now();
    await run.scheduler.run(jobs, { maxPerNode: perHost }, undefined, BENCH_RECIPE.name);
    const ended = now();
    run.logSummary();
    await run.close({ returncode: 0, outputs: {} });
    closed = true;
    const finished = now();
    const used = process.cpuUsage(cpu);
    const failed = jobs.filter((job) => job.results.state !== 'succeeded');
    if (failed.length > 0) {
      throw new Error(`framework: ${failed.length} of ${jobs.length} jobs failed, e.g. ${failed[0]!.results.failure}: ${failed[0]!.results.message}`);
    }
    return { setupMs: dispatched - began, dispatchMs: ended - dispatched, finishMs: finished - ended, cpuMs: (used.user + used.system) / 1000 };
  } finally {
    if (!closed) await run.close().catch(() => {});
  }
}

/** The placement a PipelineRun gives its scheduler, for building the exact command the framework runs. */
async function placementOf(configPath: string): Promise<CommandPlacement> {
  const config = await PipelineConfig.load(configPath);
  return {
    workingDirectory: config.workingDirectory,
    environment: config.environment,
    nodeExecutable: config.nodeExecutable,
    scriptPath: (path) => path,
  };
}

// ---------------------------------------------------------------------------
// OpenSSH ControlMaster and GNU parallel: context

function runProcess(file: string, args: readonly string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: [options.input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'], env: options.env ?? process.env });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      if (stderr.length < 4000) stderr += text;
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${file} ${args.join(' ').slice(0, 200)}: ${signal ?? `exit ${code}`}: ${stderr.trim()}`));
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}

/**
 * Milliseconds for `count` `ssh host true` over OpenSSH ControlMaster, `perHost` ssh processes
 * at a time per host; each host's first job starts its master (inside the time).
 */
async function controlMasterRun(p: SshPipeline, hosts: readonly TestHost[], count: number, perHost: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'cm-')); // a short path: socket paths are limited to 108 bytes
  const base = ['-F', p.cluster.sshConfigPath, '-o', 'ControlMaster=auto', '-o', `ControlPath=${dir}/%C`, '-o', 'ControlPersist=120'];
  try {
    const start = now();
    await Promise.all(hosts.map(async (host, h) => {
      const n = share(count, hosts.length, h);
      await runProcess('ssh', [...base, host.alias, 'true']);
      await pool(n - 1, perHost, () => runProcess('ssh', [...base, host.alias, 'true']));
    }));
    return now() - start;
  } finally {
    await Promise.all(hosts.map((host) => runProcess('ssh', [...base, '-O', 'exit', host.alias]).catch(() => {})));
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Milliseconds for `parallel --controlmaster -S hosts -j perHost true` over `count` inputs.
 * `--ssh` is a wrapper script: parallel execs the master's ssh command as one word, so an
 * `--ssh 'ssh -F file'` with arguments never starts a master (GNU parallel 20221122) and every
 * job would pay a full handshake.
 */
async function gnuParallelRun(p: SshPipeline, hosts: readonly TestHost[], count: number, perHost: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'par-'));
  try {
    const wrapper = join(dir, 'ssh');
    writeFileSync(wrapper, `#!/bin/sh\nexec ssh -F '${p.cluster.sshConfigPath}' "$@"\n`, { mode: 0o755 });
    const input = Array.from({ length: count }, (_, i) => `${i + 1}\n`).join('');
    const start = now();
    await runProcess('parallel', ['--will-cite', '-N0', '--controlmaster', '--ssh', wrapper, '-S', hosts.map((h) => h.alias).join(','), '-j', String(perHost), 'true'], {
      input, env: { ...process.env, TMPDIR: dir },
    });
    return now() - start;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function haveGnuParallel(progress: (line: string) => void): Promise<boolean> {
  const works = () => runProcess('parallel', ['--version']).then(() => true, () => false);
  if (await works()) return true;
  if (process.getuid?.() !== 0) {
    progress('GNU parallel is not installed (and not root to install it): its rows are left out');
    return false;
  }
  progress('installing GNU parallel with apt-get');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    await runProcess('apt-get', ['update'], { env });
    await runProcess('apt-get', ['install', '-y', 'parallel'], { env });
  } catch (error) {
    progress(`could not install GNU parallel: ${(error as Error).message.split('\n')[0]}`);
  }
  return works();
}

// ---------------------------------------------------------------------------
// row 1: shell-command jobs

function fmt(value: number, digits = 0): string {
  return value.toFixed(digits);
}

/**
 * Row 1: `true` jobs to one host and to four hosts. Framework vs raw ssh2 (target: at least
 * 0.8 x its jobs/s); OpenSSH ControlMaster and GNU parallel as context rows. Notes give raw
 * ssh2 running the framework's exact command string with and without its process-group guard.
 */
export async function benchShellJobs(options: SshDispatchOptions = {}): Promise<BenchRow[]> {
  const s = settings(options);
  const parallelOk = await haveGnuParallel(s.progress);
  const bench = await startBenchPipeline(4, s);
  try {
    const rows: BenchRow[] = [];
    // Row 1 is the channel-per-job path (`dispatch = channel`); row 7 the agent's.
    const configPath = channelConfig(bench.configPath);
    for (const hostCount of [1, 4]) rows.push(...await shellJobsOn(bench.p, configPath, bench.p.cluster.hosts.slice(0, hostCount), s, parallelOk));
    return rows;
  } finally {
    await bench.stop();
  }
}

async function shellJobsOn(p: SshPipeline, configPath: string, hosts: readonly TestHost[], s: Settings, parallelOk: boolean): Promise<BenchRow[]> {
  const ids = hosts.length === 1 ? ['1a', '1b', '1c'] : ['1d', '1e', '1f'];
  const aliases = hosts.map((h) => h.alias);
  const placement = await placementOf(configPath);
  const guarded = () => buildCommand(new ComputeJob('bench', 'true'), placement);
  const unguarded = buildCommand(new ComputeJob('bench', 'true'), placement, { guard: false });
  const n = s.jobs;
  // ssh processes and parallel's perl cost tens of ms of CPU per job: fewer jobs, the same rate.
  const cmJobs = Math.min(n, s.quick ? 100 : 600);
  const parallelJobs = Math.min(n, s.quick ? 50 : 300);
  const where = hosts.length === 1 ? '1 host' : `${hosts.length} hosts`;
  const dispatch: number[] = [];
  const finish: number[] = [];
  const cpu: number[] = [];
  const frameworkJobs = (count: number) => Array.from({ length: count }, (_, i) => new ComputeJob(aliases[i % aliases.length]!, 'true'));
  const frameworkRate = async (count: number) => {
    const timing = await frameworkRun(configPath, aliases, frameworkJobs(count), s.perHost);
    if (count === n) {
      dispatch.push(timing.dispatchMs);
      finish.push(timing.finishMs);
      cpu.push(timing.cpuMs / count);
    }
    return perSecond(count, timing.dispatchMs + timing.finishMs);
  };
  const rawCpu: number[] = [];
  const raw = async (count: number, command: string | (() => string)) => {
    const ms = await rawRun(p.cluster, hosts, count, s.perHost, () => ({ command: typeof command === 'string' ? command : command() }));
    if (count === n && command === 'true') rawCpu.push(rawCpuMs / count);
    return perSecond(count, ms);
  };
  const variants = {
    framework: () => frameworkRate(n),
    'raw ssh2': () => raw(n, 'true'),
    'raw ssh2 + framework command': () => raw(n, guarded),
    'raw ssh2 + framework command, no guard': () => raw(n, unguarded),
    'OpenSSH ControlMaster': () => controlMasterRun(p, hosts, cmJobs, s.perHost).then((ms) => perSecond(cmJobs, ms)),
    ...(parallelOk ? { 'GNU parallel': () => gnuParallelRun(p, hosts, parallelJobs, s.perHost).then((ms) => perSecond(parallelJobs, ms)) } : {}),
  } as Record<string, () => Promise<number>>;
  // warm-up (JIT, page cache, sshd's first sessions), not counted
  await frameworkRate(Math.min(n, 100));
  await raw(Math.min(n, 100), 'true');
  const results = await interleaved(s.repeats, variants, (name, round, value) => {
    s.progress(`row 1 [${where}] round ${round + 1}: ${name}: ${fmt(value)} jobs/s`);
  });
  const rate = (name: string) => median(results[name] ?? []);
  const fw = rate('framework');
  const floor = rate('raw ssh2');
  const guardedRate = rate('raw ssh2 + framework command');
  const unguardedRate = rate('raw ssh2 + framework command, no guard');
  const rows: BenchRow[] = [{
    row: ids[0]!,
    what: `${n} \`true\` jobs, ${where}, ${s.perHost} in flight per host: jobs/s (higher is better), vs raw ssh2 on kept connections`,
    framework: fw,
    floor,
    unit: 'jobs/s',
    ratio: fw / floor,
    target: '>= 0.8 x raw ssh2',
    met: fw / floor >= 0.8,
    note: [
      `framework ${spread(results.framework!, 0)} jobs/s over ${s.repeats} rounds (dispatch ${fmt(median(dispatch))} ms + summary and close ${fmt(median(finish))} ms;`
        + ` master CPU ${fmt(median(cpu), 2)} ms per job, records included, against ${fmt(median(rawCpu), 2)} for the raw ssh2 client)`,
      `raw ssh2 ${spread(results['raw ssh2']!, 0)}`,
      `raw ssh2 running the framework's command string: ${fmt(guardedRate)} jobs/s (${fmt(guardedRate / floor, 2)} x) with its guard,`
        + ` ${fmt(unguardedRate)} (${fmt(unguardedRate / floor, 2)} x) without; the framework is ${fmt(fw / guardedRate, 2)} x that`,
      RawSsh.refusals > 0 ? `raw ssh2 channel opens refused and retried so far: ${RawSsh.refusals}` : '',
    ].filter(Boolean).join('; '),
  }];
  rows.push({
    row: ids[1]!,
    what: `${where}, ${s.perHost} in flight per host: jobs/s vs OpenSSH ControlMaster (ssh process per job; context)`,
    framework: fw,
    floor: rate('OpenSSH ControlMaster'),
    unit: 'jobs/s',
    ratio: fw / rate('OpenSSH ControlMaster'),
    target: '-',
    note: `ControlMaster measured over ${cmJobs} jobs, ${spread(results['OpenSSH ControlMaster']!, 0)} jobs/s`,
  });
  if (parallelOk) {
    rows.push({
      row: ids[2]!,
      what: `${where}, -j ${s.perHost} per host: jobs/s vs GNU parallel --controlmaster (context)`,
      framework: fw,
      floor: rate('GNU parallel'),
      unit: 'jobs/s',
      ratio: fw / rate('GNU parallel'),
      target: '-',
      note: `parallel measured over ${parallelJobs} jobs (its start-up included), ${spread(results['GNU parallel']!, 0)} jobs/s`,
    });
  }
  return rows;
}

// ---------------------------------------------------------------------------
// row 2: node-script jobs

/** A node script whose run() returns 0, where the test user can read it, importing the deployed runtime. */
function writeNoopScript(p: SshPipeline): NodeScript {
  const dir = join(p.installRoot, 'bench');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  const path = join(dir, 'noop.js');
  writeFileSync(path, [
    "import { Node } from '../dist/support/node/runtime.js';",
    'export class NoopNode extends Node { async run() { return 0; } }',
    'Node.main(NoopNode, import.meta);',
    '',
  ].join('\n'), { mode: 0o644 });
  return new NodeScript(realpathSync(path), 'noop');
}

/**
 * Row 2: node-script jobs that do nothing on one host, framework vs raw ssh2 running
 * `node -e 0`, in milliseconds per job (lower is better): `perHost` in flight (wall time /
 * jobs) and one at a time (latency). Target: at most 15 ms per job over the floor. The note
 * gives raw ssh2 running the framework's exact command with its start message, which
 * separates what the node side costs from what the master's bookkeeping costs.
 */
export async function benchNodeJobs(options: SshDispatchOptions = {}): Promise<BenchRow[]> {
  const s = settings(options);
  const bench = await startBenchPipeline(1, s);
  const p = bench.p;
  try {
    const script = writeNoopScript(p);
    const placement = await placementOf(bench.configPath);
    const host = p.cluster.hosts[0]!;
    const rows: BenchRow[] = [];
    for (const inFlight of [s.perHost, 1]) {
      const n = inFlight === 1 ? (s.quick ? 15 : 40) : (s.quick ? 48 : 200);
      const cpu: number[] = [];
      const frameworkMs = async (count: number) => {
        const jobs = Array.from({ length: count }, () => new ComputeJob(host.alias, script));
        const timing = await frameworkRun(bench.configPath, [host.alias], jobs, inFlight);
        if (count === n) cpu.push(timing.cpuMs / count);
        return (timing.dispatchMs + timing.finishMs) / count;
      };
      const rawCpu: number[] = [];
      const rawMs = async (count: number, job: () => RawJob) => {
        const ms = await rawRun(p.cluster, [host], count, inFlight, job);
        if (count === n && job === nodeE0Job) rawCpu.push(rawCpuMs / count);
        return ms / count;
      };
      const nodeE0 = `${placement.nodeExecutable} -e 0`;
      const nodeE0Job = () => ({ command: nodeE0 });
      const frameworkCommand = () => {
        const job = new ComputeJob(host.alias, script);
        return {
          command: buildCommand(job, placement),
          stdin: encodeMessage({ v: PROTOCOL_VERSION, type: 'start', job: job.id, args: [], logLevel: 'debug' }),
        };
      };
      const variants = {
        framework: () => frameworkMs(n),
        'raw ssh2 node -e 0': () => rawMs(n, nodeE0Job),
        'raw ssh2 + framework command': () => rawMs(n, frameworkCommand),
      };
      await frameworkMs(Math.min(n, 8));
      await rawMs(Math.min(n, 8), nodeE0Job);
      const label = inFlight === 1 ? 'one at a time' : `${inFlight} in flight`;
      const results = await interleaved(s.repeats, variants, (name, round, value) => {
        s.progress(`row 2 [${label}] round ${round + 1}: ${name}: ${fmt(value, 1)} ms/job`);
      });
      const fw = median(results.framework);
      const floor = median(results['raw ssh2 node -e 0']);
      const command = median(results['raw ssh2 + framework command']);
      rows.push({
        row: inFlight === 1 ? '2b' : '2a',
        what: `${n} node-script jobs that do nothing, 1 host, ${label}: ms per job (${inFlight === 1 ? 'latency' : 'wall time / jobs'}; lower is better), vs raw ssh2 \`node -e 0\``,
        framework: fw,
        floor,
        unit: 'ms/job',
        ratio: fw / floor,
        target: '<= floor + 15 ms',
        met: fw - floor <= 15,
        note: `framework ${fmt(fw - floor, 1)} ms over the floor (${spread(results.framework)} vs ${spread(results['raw ssh2 node -e 0'])}); `
          + `raw ssh2 running the framework's command and start message: ${fmt(command, 1)} ms/job, so the node side costs ${fmt(command - floor, 1)} ms and the master's bookkeeping ${fmt(fw - command, 1)} ms; `
          + `master CPU ${fmt(median(cpu), 2)} ms per job (raw ssh2 client ${fmt(median(rawCpu), 2)})`,
      });
    }
    return rows;
  } finally {
    await bench.stop();
  }
}

// ---------------------------------------------------------------------------
// row 5: fan-out

/**
 * Row 5: connect to 16 hosts and run one `true` job on each, all at once: framework (a fresh
 * PipelineRun: its connections are new) vs raw ssh2 (16 connects in parallel, one exec each),
 * in milliseconds (lower is better). Target: at most 1.3 x raw ssh2.
 */
export async function benchFanOut(options: SshDispatchOptions = {}): Promise<BenchRow[]> {
  const s = settings(options);
  const repeats = options.repeats ?? (s.quick ? 3 : 7);
  const hostCount = 16;
  const bench = await startBenchPipeline(hostCount, s);
  const p = bench.p;
  try {
    const hosts = p.cluster.hosts;
    const aliases = hosts.map((h) => h.alias);
    const setups: number[] = [];
    const frameworkMs = async () => {
      const timing = await frameworkRun(bench.configPath, aliases, aliases.map((alias) => new ComputeJob(alias, 'true')), s.perHost);
      setups.push(timing.setupMs);
      return timing.dispatchMs + timing.finishMs;
    };
    const rawMs = () => rawRun(p.cluster, hosts, hostCount, 1, () => ({ command: 'true' }));
    await frameworkMs();
    await rawMs();
    const results = await interleaved(repeats, { framework: frameworkMs, 'raw ssh2': rawMs }, (name, round, value) => {
      s.progress(`row 5 round ${round + 1}: ${name}: ${fmt(value)} ms`);
    });
    const fw = median(results.framework);
    const floor = median(results['raw ssh2']);
    return [{
      row: '5',
      what: `fan-out: connect to ${hostCount} hosts and run one job on each: ms (lower is better), vs raw ssh2 (${hostCount} connects in parallel)`,
      framework: fw,
      floor,
      unit: 'ms',
      ratio: fw / floor,
      target: '<= 1.3 x raw ssh2',
      met: fw / floor <= 1.3,
      note: `framework ${spread(results.framework, 0)} ms, raw ssh2 ${spread(results['raw ssh2'], 0)} ms over ${repeats} rounds; `
        + `PipelineRun set-up before it (not counted): ${fmt(median(setups), 1)} ms`,
    }];
  } finally {
    await bench.stop();
  }
}

// ---------------------------------------------------------------------------
// row 7: the agent (issue 16)

/**
 * Row 7: the warm agent per host. 7a/7b: `true` jobs through the agent, 1 and 4 hosts, against
 * raw ssh2 with a channel per job (target: at least 1.5 x), with the channel path of row 1 in the
 * note. 7c: warm no-op node-script jobs to one host, records on (target: 5,000 jobs/s), against
 * the same jobs cold. 7d: a cold no-op node-script job through the agent, one at a time, against
 * the agent running `node -e 0` (target: within 10 ms).
 */
export async function benchAgentJobs(options: SshDispatchOptions = {}): Promise<BenchRow[]> {
  const s = settings(options);
  const bench = await startBenchPipeline(4, s);
  const p = bench.p;
  const channel = channelConfig(bench.configPath);
  try {
    const rows: BenchRow[] = [];
    for (const hostCount of [1, 4]) {
      const hosts = p.cluster.hosts.slice(0, hostCount);
      const aliases = hosts.map((h) => h.alias);
      const where = hostCount === 1 ? '1 host' : `${hostCount} hosts`;
      const n = s.jobs;
      const cpu: number[] = [];
      const rate = async (configPath: string, count: number) => {
        const jobs = Array.from({ length: count }, (_, i) => new ComputeJob(aliases[i % aliases.length]!, 'true'));
        const timing = await frameworkRun(configPath, aliases, jobs, s.perHost);
        if (count === n && configPath === bench.configPath) cpu.push(timing.cpuMs / count);
        return perSecond(count, timing.dispatchMs + timing.finishMs);
      };
      await rate(bench.configPath, Math.min(n, 100));
      await rawRun(p.cluster, hosts, Math.min(n, 100), s.perHost, () => ({ command: 'true' }));
      const results = await interleaved(s.repeats, {
        agent: () => rate(bench.configPath, n),
        'channel per job': () => rate(channel, n),
        'raw ssh2': async () => perSecond(n, await rawRun(p.cluster, hosts, n, s.perHost, () => ({ command: 'true' }))),
      }, (name, round, value) => s.progress(`row 7 [${where}] round ${round + 1}: ${name}: ${fmt(value)} jobs/s`));
      const agent = median(results.agent!);
      const floor = median(results['raw ssh2']!);
      const perChannel = median(results['channel per job']!);
      rows.push({
        row: hostCount === 1 ? '7a' : '7b',
        what: `${n} \`true\` jobs through the agent, ${where}, ${s.perHost} in flight per host: jobs/s (higher is better), vs raw ssh2 with a channel per job`,
        framework: agent,
        floor,
        unit: 'jobs/s',
        ratio: agent / floor,
        target: '>= 1.5 x raw ssh2',
        met: agent / floor >= 1.5,
        note: `agent ${spread(results.agent!, 0)}, raw ssh2 ${spread(results['raw ssh2']!, 0)}; the channel-per-job path (row 1) ${fmt(perChannel)} jobs/s, `
          + `so the agent is ${fmt(agent / perChannel, 2)} x it; master CPU ${fmt(median(cpu), 2)} ms per job, records included`,
      });
    }

    const host = p.cluster.hosts[0]!;
    const script = writeNoopScript(p);
    const nodeJobs = (count: number, warm: boolean) => Array.from({ length: count }, () => new ComputeJob(host.alias, script, [], { warm }));
    const warmN = s.quick ? 2000 : 20000;
    const coldN = s.quick ? 100 : 400;
    const warmCpu: number[] = [];
    const nodeRate = async (count: number, warm: boolean) => {
      const timing = await frameworkRun(bench.configPath, [host.alias], nodeJobs(count, warm), s.perHost);
      if (warm && count === warmN) warmCpu.push(timing.cpuMs / count);
      return perSecond(count, timing.dispatchMs + timing.finishMs);
    };
    await nodeRate(200, true);
    const warmResults = await interleaved(s.repeats, { warm: () => nodeRate(warmN, true), cold: () => nodeRate(coldN, false) },
      (name, round, value) => s.progress(`row 7c round ${round + 1}: ${name}: ${fmt(value)} jobs/s`));
    const warm = median(warmResults.warm!);
    const cold = median(warmResults.cold!);
    rows.push({
      row: '7c',
      what: `${warmN} warm no-op node-script jobs, 1 host, ${s.perHost} in flight, records on: jobs/s (higher is better), vs the same jobs cold`,
      framework: warm,
      floor: cold,
      unit: 'jobs/s',
      ratio: warm / cold,
      target: '>= 5,000 jobs/s',
      met: warm >= 5000,
      note: `warm ${spread(warmResults.warm!, 0)}, cold ${spread(warmResults.cold!, 0)} jobs/s; master CPU ${fmt(median(warmCpu), 3)} ms per warm job with records on (aim: <= 0.3)`,
    });

    const oneN = s.quick ? 15 : 40;
    const latency = async (jobs: () => ComputeJob[]) => {
      const list = jobs();
      const timing = await frameworkRun(bench.configPath, [host.alias], list, 1);
      return (timing.dispatchMs + timing.finishMs) / list.length;
    };
    const nodeE0 = () => Array.from({ length: oneN }, () => new ComputeJob(host.alias, `${process.execPath} -e 0`));
    await latency(() => nodeJobs(5, false));
    const coldResults = await interleaved(s.repeats, { 'cold node script': () => latency(() => nodeJobs(oneN, false)), 'node -e 0': () => latency(nodeE0) },
      (name, round, value) => s.progress(`row 7d round ${round + 1}: ${name}: ${fmt(value, 1)} ms/job`));
    const coldMs = median(coldResults['cold node script']!);
    const floorMs = median(coldResults['node -e 0']!);
    rows.push({
      row: '7d',
      what: `${oneN} cold no-op node-script jobs through the agent, one at a time: ms per job (lower is better), vs the agent running \`node -e 0\``,
      framework: coldMs,
      floor: floorMs,
      unit: 'ms/job',
      ratio: coldMs / floorMs,
      target: '<= floor + 10 ms',
      met: coldMs - floorMs <= 10,
      note: `${fmt(coldMs - floorMs, 1)} ms over \`node -e 0\` (${spread(coldResults['cold node script']!)} vs ${spread(coldResults['node -e 0']!)}): the runtime's import and start message`,
    });
    return rows;
  } finally {
    await bench.stop();
  }
}

/** Rows 1, 2 and 5, in that order. */
export async function benchSshDispatch(options: SshDispatchOptions = {}): Promise<BenchRow[]> {
  return [...await benchShellJobs(options), ...await benchNodeJobs(options), ...await benchFanOut(options)];
}

// ---------------------------------------------------------------------------
// on its own: npx tsx bench/ssh-dispatch.ts [--quick] [1] [2] [5]

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const wanted = args.filter((arg) => /^\d$/.test(arg));
  const pick = (row: string) => wanted.length === 0 || wanted.includes(row);
  const rows: BenchRow[] = [];
  if (pick('1')) rows.push(...await benchShellJobs({ quick }));
  if (pick('2')) rows.push(...await benchNodeJobs({ quick }));
  if (pick('5')) rows.push(...await benchFanOut({ quick }));
  if (pick('7')) rows.push(...await benchAgentJobs({ quick }));
  process.stdout.write(plainRows(rows));
}
