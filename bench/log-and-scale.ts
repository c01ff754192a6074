/**
 * Benchmark rows 3 and 4 (issue 6):
 *
 * 3. Log streaming: one node script logs N lines through `this.logger` (bench/nodes/log_lines.js)
 *    in a real `pipeline run`; lines per second into the central pipeline.log, and every line
 *    checked there (none lost, none twice). Floor: a node process writing the very same bytes
 *    (the runtime's JSON log messages, in the runtime's 64 KiB synchronous writes) to a pipe
 *    that the benchmark process counts and copies into a file: moving the bytes, without the
 *    protocol, parsing, formatting or the job's own job.log.
 *
 * 4. Master scale: N plain `true` jobs (bench/recipes/true_jobs.js) in a real `pipeline run`
 *    on the local launcher, records, job files and logging included: the master's peak RSS and
 *    its own CPU time per job (getrusage of the master process only, via
 *    bench/lib/usage-at-exit.mjs; the jobs' CPU is not counted). Floor: node spawning the same
 *    number of `/bin/sh -c true` as the local launcher does, at the same concurrency
 *    (bench/lib/spawn-floor.mjs). Breakdown: the same jobs through the Scheduler without
 *    PipelineRun's records (bench/lib/scale-runner.mjs), with and without pipeline.log.
 *
 * Needs the built framework (`npm run build`). Standalone: `npx tsx bench/log-and-scale.ts --help`.
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

import type { BenchRow } from './bench-row.js';
import { plainRows } from './report.js';
import { RECORDS } from './records.js';
import { median } from './measure.js';
export type { BenchRow };

export interface LogStreamingOptions {
  /** 100,000 lines instead of 1,000,000. */
  quick?: boolean;
  /** Lines to log; overrides `quick`. */
  lines?: number;
  /** Runs of each side; the median run is reported. Default 3. */
  runs?: number;
  /** Keep the scratch workspace (its path is in the note). */
  keep?: boolean;
  /** Progress messages. */
  progress?: (message: string) => void;
}

export interface MasterScaleOptions {
  /** 4,000 jobs instead of 100,000 (a cost per job: it is flat in the number of jobs). */
  quick?: boolean;
  /** Jobs; overrides `quick`. */
  jobs?: number;
  /** Jobs at a time (maxPerNode), the same for the floor. Default 8. */
  concurrency?: number;
  /**
   * Also run jobs without PipelineRun's records, to locate the costs (rows 4c, 4d), with at most
   * 10,000 jobs (a cost per job). Default: in a full run, not with `quick`.
   */
  breakdown?: boolean;
  /** Measure the floor too. Default true; without it the floor columns are NaN. */
  floor?: boolean;
  keep?: boolean;
  progress?: (message: string) => void;
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cliPath = join(repoRoot, 'dist', 'support', 'cli', 'main.js');
const benchDir = join(repoRoot, 'bench');
const usagePreload = pathToFileURL(join(benchDir, 'lib', 'usage-at-exit.mjs')).href;

const LOG_TARGET_LINES_PER_S = 100_000;
const RSS_TARGET_MB = 300;
const CPU_TARGET_MS_PER_JOB = 0.3;
/** The spawn floor's CPU per job and RSS are flat in the number of jobs: 20,000 measure them as well as 100,000, in a fifth of the time. */
const FLOOR_JOBS = 20_000;

// ---------------------------------------------------------------------------------------------
// small helpers


function round(value: number, digits = 3): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function fmt(value: number): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: value < 10 ? 3 : 0 });
}

/** What bench/lib/usage-at-exit.mjs wrote: the process's own CPU and peak RSS. */
interface Usage {
  code: number;
  userMs: number;
  systemMs: number;
  maxRssKiB: number;
  wallMs: number;
}

function cpuMs(usage: Usage): number {
  return usage.userMs + usage.systemMs;
}

function rssMB(usage: Usage): number {
  return usage.maxRssKiB / 1024;
}

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  wallMs: number;
  usage?: Usage;
}

/**
 * Runs `node [--import usage-at-exit] args...`; stderr goes to `stderrFile` (a file, as a batch
 * user's `2> file`), stdout is collected.
 */
async function runNode(args: string[], options: { cwd: string; stderrFile: string; usageFile?: string }): Promise<Finished> {
  const stderr = openSync(options.stderrFile, 'a');
  const began = performance.now();
  try {
    const child = spawn(process.execPath, [...(options.usageFile ? ['--import', usagePreload] : []), ...args], {
      cwd: options.cwd,
      env: { ...process.env, NO_COLOR: '1', ...(options.usageFile ? { BENCH_USAGE_FILE: options.usageFile } : {}) },
      stdio: ['ignore', 'pipe', stderr],
    });
    let stdout = '';
    child.stdout!.setEncoding('utf8').on('data', (data: string) => (stdout += data));
    const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    const wallMs = performance.now() - began;
    const usage = options.usageFile && existsSync(options.usageFile) ? (JSON.parse(readFileSync(options.usageFile, 'utf8')) as Usage) : undefined;
    return { code, signal, stdout, wallMs, usage };
  } finally {
    closeSync(stderr);
  }
}

/** The machine's 1-minute load average (other work on it slows every measurement here). */
function load(): string {
  return loadavg()[0]!.toFixed(1);
}

function tail(file: string, lines = 15): string {
  if (!existsSync(file)) return '(no output)';
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}

/** A scratch user project: its own pipeline.cfg and runtime directory, outside the repository. */
class Workspace {
  readonly dir = (mkdirSync(RECORDS, { recursive: true }), mkdtempSync(join(RECORDS, 'scale-'))); // not /tmp: see RECORDS
  readonly config = join(this.dir, 'pipeline.cfg');
  readonly runtime = join(this.dir, 'runtime');

  constructor(maxPerNode = 4) {
    writeFileSync(this.config, [
      '[DEFAULT]',
      `runtime_directory = ${this.runtime}`,
      'working_directory = %(runtime_directory)s/working',
      '',
      '[remote]',
      `max_per_node = ${maxPerNode}`,
      'retries = 0',
      '',
    ].join('\n'));
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  jobDirectory(jobName: string): string {
    return join(this.runtime, 'jobs', jobName);
  }

  /** The newest run's pipeline.log of a job name. */
  logFile(jobName: string): string {
    const logs = join(this.jobDirectory(jobName), 'logs');
    const runs = readdirSync(logs).sort();
    return join(logs, runs.at(-1)!, 'pipeline.log');
  }

  /** `pipeline run <recipe> ...` as a user runs it, with the master's usage recorded. */
  async pipelineRun(recipe: string, jobName: string, inputs: string[]): Promise<Finished> {
    const usageFile = this.path(`${jobName}.usage.json`);
    const stderrFile = this.path(`${jobName}.stderr`);
    rmSync(usageFile, { force: true });
    const finished = await runNode([cliPath, 'run', recipe, '--config', this.config, '--job-name', jobName, '--fresh', ...inputs], { cwd: this.dir, stderrFile, usageFile });
    if (finished.code !== 0) {
      throw new Error(`pipeline run ${recipe} exited with ${finished.code ?? finished.signal}; its stderr ends:\n${tail(stderrFile)}`);
    }
    return finished;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function checkBuilt(): void {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` first`);
}

/** Reads a text file line by line without holding it whole. */
async function forEachLine(file: string, onLine: (line: string) => void): Promise<void> {
  let carry = '';
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const text = carry + (chunk as string);
    let start = 0;
    for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', start)) {
      onLine(text.slice(start, newline));
      start = newline + 1;
    }
    carry = text.slice(start);
  }
  if (carry) onLine(carry);
}

// ---------------------------------------------------------------------------------------------
// Row 3: log streaming

interface LineCheck {
  /** Distinct line numbers 1..n found. */
  found: number;
  missing: number;
  duplicates: number;
  /** Timestamps (ms since epoch, from the log's own stamps) of the first and last benchmark line written. */
  firstMs: number;
  lastMs: number;
}

const BENCH_LINE = / localhost#log bench line (\d+)$/;

/** Checks that `file` holds `bench line 1..n` exactly once each; the stamps say when they were written. */
async function checkLogLines(file: string, n: number): Promise<LineCheck> {
  const seen = new Uint8Array(n + 1);
  let found = 0;
  let duplicates = 0;
  let firstMs = Number.POSITIVE_INFINITY;
  let lastMs = Number.NEGATIVE_INFINITY;
  await forEachLine(file, (line) => {
    const match = BENCH_LINE.exec(line);
    if (!match) return;
    const index = Number(match[1]);
    if (index < 1 || index > n) return;
    if (seen[index]) duplicates++;
    else {
      seen[index] = 1;
      found++;
    }
    // "2026-11-22 00:41:02.123 INFO ..." in UTC
    const stamp = Date.parse(`${line.slice(0, 10)}T${line.slice(11, 23)}Z`);
    if (stamp < firstMs) firstMs = stamp;
    if (stamp > lastMs) lastMs = stamp;
  });
  return { found, missing: n - found, duplicates, firstMs, lastMs };
}

interface LogRun {
  linesPerS: number;
  steadyLinesPerS: number;
  check: LineCheck;
  jobLogCheck: LineCheck;
  wallMs: number;
  jobSeconds: number;
  usage: Usage;
}

async function frameworkLogRun(ws: Workspace, lines: number, run: number): Promise<LogRun> {
  const jobName = `log-lines-${run}`; // job.log is appended to: a job name of its own per run
  const finished = await ws.pipelineRun(join(benchDir, 'recipes', 'log_lines.js'), jobName, ['--lines', String(lines)]);
  const outputs = JSON.parse(finished.stdout) as { state: string; duration: number };
  const journal = readFileSync(join(ws.jobDirectory(jobName), 'journal.ndjson'), 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as { type: string; time: string });
  const started = Date.parse(journal.findLast((event) => event.type === 'job-started')!.time);
  const check = await checkLogLines(ws.logFile(jobName), lines);
  const jobLogCheck = await checkLogLines(join(ws.jobDirectory(jobName), 'jobs', 'log', 'job.log'), lines);
  // From the job's start (a node start-up included, as in the floor) to the last line stamped into pipeline.log.
  const spanMs = Math.max(1, check.lastMs - started);
  return {
    linesPerS: check.found / (spanMs / 1000),
    steadyLinesPerS: (check.found - 1) / (Math.max(1, check.lastMs - check.firstMs) / 1000),
    check,
    jobLogCheck,
    wallMs: finished.wallMs,
    jobSeconds: outputs.duration,
    usage: finished.usage!,
  };
}

interface FloorLogRun {
  linesPerS: number;
  counted: number;
  wallMs: number;
}

/** The floor: the same bytes through a pipe, counted here and copied into a file. */
async function floorLogRun(ws: Workspace, lines: number): Promise<FloorLogRun> {
  const out = createWriteStream(ws.path('floor.log'));
  const began = performance.now();
  const child = spawn(process.execPath, [join(benchDir, 'lib', 'log-lines-floor.mjs'), String(lines)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let counted = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) counted++;
    if (!out.write(chunk)) {
      child.stdout.pause();
      out.once('drain', () => child.stdout.resume());
    }
  });
  const [code] = (await once(child, 'close')) as [number | null];
  out.end();
  await once(out, 'close');
  const wallMs = performance.now() - began;
  if (code !== 0) throw new Error(`log-lines-floor.mjs exited with ${code}`);
  return { linesPerS: counted / (wallMs / 1000), counted, wallMs };
}

/** Row 3. */
export async function benchLogStreaming(options: LogStreamingOptions = {}): Promise<BenchRow[]> {
  checkBuilt();
  const lines = options.lines ?? (options.quick ? 100_000 : 1_000_000);
  const runs = Math.max(1, options.runs ?? 3);
  const progress = options.progress ?? (() => {});
  const loadBefore = load();
  const ws = new Workspace();
  try {
    const framework: LogRun[] = [];
    const floor: FloorLogRun[] = [];
    for (let i = 0; i < runs; i++) {
      progress(`row 3: framework run ${i + 1}/${runs}, ${fmt(lines)} lines`);
      framework.push(await frameworkLogRun(ws, lines, i + 1));
      progress(`row 3: floor run ${i + 1}/${runs}`);
      floor.push(await floorLogRun(ws, lines));
    }
    const pick = [...framework].sort((a, b) => a.linesPerS - b.linesPerS)[Math.floor(framework.length / 2)]!;
    const floorRate = median(floor.map((run) => run.linesPerS));
    const lost = Math.max(...framework.map((run) => run.check.missing));
    const doubled = Math.max(...framework.map((run) => run.check.duplicates));
    const jobLogLost = Math.max(...framework.map((run) => run.jobLogCheck.missing + run.jobLogCheck.duplicates));
    const floorLost = Math.max(...floor.map((run) => lines - run.counted));
    const rate = pick.linesPerS;
    return [{
      row: '3',
      what: `log streaming: ${fmt(lines)} lines from one node script's this.logger into pipeline.log`,
      framework: round(rate, 0),
      floor: round(floorRate, 0),
      unit: 'lines/s',
      ratio: round(rate / floorRate),
      target: `>= ${fmt(LOG_TARGET_LINES_PER_S)} lines/s, none lost`,
      met: rate >= LOG_TARGET_LINES_PER_S && lost === 0 && doubled === 0,
      note: [
        `from job start to the last line stamped in pipeline.log; ${lost} lost, ${doubled} twice in pipeline.log (${jobLogLost} lost or twice in job.log)`,
        `steady ${fmt(round(pick.steadyLinesPerS, 0))} lines/s; whole \`pipeline run\` ${fmt(round(pick.wallMs / 1000, 2))} s, job ${fmt(round(pick.jobSeconds, 2))} s`,
        `master CPU ${fmt(round(cpuMs(pick.usage) / 1000, 2))} s (${fmt(round((cpuMs(pick.usage) * 1000) / lines, 1))} us/line, start-up included), peak RSS ${fmt(round(rssMB(pick.usage), 0))} MB; console (info) to a file`,
        `floor: the same message bytes from a node process through a pipe, counted and copied to a file (${floorLost} lost)`,
        ...(runs > 1 ? [`median of ${runs} runs`] : []),
        `load average ${loadBefore} before, ${load()} after`,
        ...(options.keep ? [`workspace ${ws.dir}`] : []),
      ].join('; '),
    }];
  } finally {
    if (!options.keep) ws.remove();
  }
}

// ---------------------------------------------------------------------------------------------
// Row 4: master scale

interface ScaleRun {
  jobs: number;
  usage: Usage;
  wallMs: number;
}

function succeededCount(stdout: string): number {
  const last = stdout.trim().split('\n').filter(Boolean);
  try {
    return (JSON.parse(last.join('\n')) as { succeeded: number }).succeeded;
  } catch {
    return (JSON.parse(last.at(-1) ?? '{}') as { succeeded?: number }).succeeded ?? -1;
  }
}

async function frameworkScaleRun(ws: Workspace, jobs: number, concurrency: number): Promise<ScaleRun> {
  const finished = await ws.pipelineRun(join(benchDir, 'recipes', 'true_jobs.js'), 'true-jobs', ['--jobs', String(jobs), '--max-per-node', String(concurrency)]);
  const succeeded = succeededCount(finished.stdout);
  if (succeeded !== jobs) throw new Error(`pipeline run true_jobs: ${succeeded} of ${jobs} jobs succeeded`);
  return { jobs, usage: finished.usage!, wallMs: finished.wallMs };
}

async function helperScaleRun(ws: Workspace, script: string, args: string[], jobs: number): Promise<ScaleRun> {
  const name = `${script}-${args[0]}`;
  const usageFile = ws.path(`${name}.usage.json`);
  const stderrFile = ws.path(`${name}.stderr`);
  const finished = await runNode([join(benchDir, 'lib', script), ...args], { cwd: ws.dir, stderrFile, usageFile });
  if (finished.code !== 0 || !finished.usage) throw new Error(`${script} ${args.join(' ')} exited with ${finished.code ?? finished.signal}:\n${tail(stderrFile)}`);
  const succeeded = succeededCount(finished.stdout);
  if (succeeded !== jobs) throw new Error(`${script}: ${succeeded} of ${jobs} jobs succeeded`);
  return { jobs, usage: finished.usage, wallMs: finished.wallMs };
}

/** Row 4: 4a peak RSS, 4b CPU per job; with `breakdown`, 4c and 4d locate the CPU. */
export async function benchMasterScale(options: MasterScaleOptions = {}): Promise<BenchRow[]> {
  checkBuilt();
  const jobs = options.jobs ?? (options.quick ? 4_000 : 100_000);
  const concurrency = options.concurrency ?? 8;
  const progress = options.progress ?? (() => {});
  const loadBefore = load();
  const ws = new Workspace(concurrency);
  try {
    progress(`row 4: framework, ${fmt(jobs)} jobs, ${concurrency} at a time`);
    const framework = await frameworkScaleRun(ws, jobs, concurrency);
    let floor: ScaleRun = { jobs: FLOOR_JOBS, usage: { code: 0, userMs: Number.NaN, systemMs: Number.NaN, maxRssKiB: Number.NaN, wallMs: Number.NaN }, wallMs: Number.NaN };
    if (options.floor ?? true) {
      const floorJobs = Math.min(jobs, FLOOR_JOBS);
      progress(`row 4: floor (node spawning sh -c true), ${fmt(floorJobs)} jobs`);
      floor = await helperScaleRun(ws, 'spawn-floor.mjs', [String(floorJobs), String(concurrency)], floorJobs);
    }
    const perJob = (run: ScaleRun) => cpuMs(run.usage) / run.jobs;
    const wall = (run: ScaleRun) => `${fmt(round(run.wallMs / 1000, 1))} s wall for ${fmt(run.jobs)} (${fmt(round(run.jobs / (run.wallMs / 1000), 0))} jobs/s)`;
    const rows: BenchRow[] = [
      {
        row: '4a',
        what: `master scale: peak RSS of the master, ${fmt(jobs)} \`true\` jobs, ${concurrency} at a time (local launcher, full pipeline run)`,
        framework: round(rssMB(framework.usage), 1),
        floor: round(rssMB(floor.usage), 1),
        unit: 'MB',
        ratio: round(rssMB(framework.usage) / rssMB(floor.usage)),
        target: `< ${RSS_TARGET_MB} MB`,
        met: rssMB(framework.usage) < RSS_TARGET_MB,
        note: `getrusage maxrss of the master process; floor: node spawning the same jobs with child_process.spawn (at most ${fmt(FLOOR_JOBS)}: it holds nothing per job)${options.keep ? `; workspace ${ws.dir}` : ''}`,
      },
      {
        row: '4b',
        what: `master scale: master CPU time per job, ${fmt(jobs)} \`true\` jobs (records, job files, logging included)`,
        framework: round(perJob(framework), 4),
        floor: round(perJob(floor), 4),
        unit: 'ms/job',
        ratio: round(perJob(framework) / perJob(floor)),
        target: `< ${CPU_TARGET_MS_PER_JOB} ms/job`,
        met: perJob(framework) < CPU_TARGET_MS_PER_JOB,
        note: `user+system CPU of the master process only (start-up included), over all jobs; framework ${wall(framework)}, floor ${wall(floor)}; load average ${loadBefore} before, ${load()} after`,
      },
    ];
    if (options.breakdown ?? !options.quick) {
      const breakdownJobs = Math.min(jobs, 10_000);
      for (const [row, mode, what] of [
        ['4c', 'log', 'without records (scheduler, launcher, pipeline.log; no journal, no job files)'],
        ['4d', 'bare', 'without records or log file (scheduler, launcher, winston to a console at info)'],
      ] as const) {
        progress(`row 4: breakdown, ${mode}`);
        const run = await helperScaleRun(ws, 'scale-runner.mjs', [mode, String(breakdownJobs), String(concurrency), ws.config, ws.path(`${mode}.log`)], breakdownJobs);
        const runPerJob = perJob(run);
        rows.push({
          row,
          what: `master scale breakdown: CPU per job ${what}, ${fmt(breakdownJobs)} jobs`,
          framework: round(runPerJob, 4),
          floor: round(perJob(floor), 4),
          unit: 'ms/job',
          ratio: round(runPerJob / perJob(floor)),
          target: '-',
          note: `peak RSS ${fmt(round(rssMB(run.usage), 0))} MB; ${fmt(round(run.wallMs / 1000, 1))} s wall (${fmt(round(breakdownJobs / (run.wallMs / 1000), 0))} jobs/s)`,
        });
      }
    }
    return rows;
  } finally {
    if (!options.keep) ws.remove();
  }
}

// ---------------------------------------------------------------------------------------------
// Standalone

const USAGE = `usage: npx tsx bench/log-and-scale.ts [--quick] [--row 3|4] [--lines N] [--jobs N]
       [--concurrency N] [--runs N] [--breakdown|--no-breakdown] [--no-floor] [--keep] [--json]
  row 3: log streaming (1,000,000 lines; --quick 100,000)
  row 4: master scale (100,000 true jobs; --quick 4,000), --concurrency at a time (default 8)
  needs the built framework: npm run build`;

async function main(argv: string[]): Promise<number> {
  const flags = new Set<string>();
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (['--row', '--lines', '--jobs', '--concurrency', '--runs'].includes(arg)) values.set(arg, argv[++i] ?? '');
    else if (['--quick', '--breakdown', '--no-breakdown', '--no-floor', '--keep', '--json', '--help', '-h'].includes(arg)) flags.add(arg);
    else {
      process.stderr.write(`unknown argument ${arg}\n${USAGE}\n`);
      return 2;
    }
  }
  if (flags.has('--help') || flags.has('-h')) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const number = (name: string) => (values.has(name) ? Number(values.get(name)) : undefined);
  const which = values.get('--row');
  const progress = (message: string) => process.stderr.write(`${message}\n`);
  const common = { quick: flags.has('--quick'), keep: flags.has('--keep'), progress };
  const rows: BenchRow[] = [];
  if (!which || which === '3') rows.push(...await benchLogStreaming({ ...common, lines: number('--lines'), runs: number('--runs') }));
  if (!which || which === '4') {
    rows.push(...await benchMasterScale({ ...common, jobs: number('--jobs'), concurrency: number('--concurrency'), breakdown: flags.has('--breakdown') ? true : flags.has('--no-breakdown') ? false : undefined, floor: !flags.has('--no-floor') }));
  }
  if (flags.has('--json')) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
  else process.stdout.write(plainRows(rows));
  return rows.every((row) => row.met !== false) ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exit(1);
  });
}
