/**
 * The report page of a recorded run: one self-contained HTML file (inline CSS, JS and SVG,
 * nothing fetched) with the run's header and counts, a zoomable timeline of every job attempt
 * with a lane per host, CPU and peak memory per job, and the failures with their logs.
 * Why a file and not a server: it can be opened from a cluster's shared disk, attached to a
 * ticket or mailed, long after the run. The counts come from reportRun(), so the page agrees
 * with `pipeline status --json`. Why one JSON blob of columns drawn by the browser: a run of
 * 100,000 jobs must stay a few MB and open in seconds, so the page draws only what is in view and
 * pools bars thinner than a few pixels into buckets, never a DOM node per job.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FailureReason, JobState } from '../protocol/job-outcome.js';
import type { JsonValue } from '../protocol/messages.js';
import { clockTime } from '../logging/clock-time.js';
import { forEachLine, journalPath, type RecordedRun } from './job-journal.js';
import { jobFilesDirectory, jobLogPath } from './job-files.js';
import type { JobEnded, RunEvent } from './run-events.js';
import { reportRun, type RunReport } from './run-report.js';
import { pipelineSteps, type StepState, type StepStatus } from './pipeline-steps.js';

/** One try of a job on a host, as the journal's job-started and job-ended events tell it. */
export interface JobAttempt {
  job: string;
  host: string;
  attempt: number;
  /** Milliseconds since the epoch: the attempt's job-started. */
  start: number;
  /** The next job-started of the job, or its job-ended; undefined while no end is recorded. */
  end: number | undefined;
  /** 'succeeded', the failure reason, 'retried' (another attempt followed), 'running' (no end recorded) or the job's state. */
  outcome: string;
  command: string;
  args: JsonValue[];
}

export interface RunPageInput {
  jobDirectory: string;
  recorded: RecordedRun;
  attempts: readonly JobAttempt[];
  /** The last lines of jobs' job.log, by job id (writeRunPage reads them: the failed first). */
  logTails?: ReadonlyMap<string, readonly string[]>;
  /** A pipeline run's steps (records/pipeline-steps.ts). */
  steps?: readonly StepStatus[];
  /** For a run still going: where its unfinished attempts are drawn up to (ms since the epoch). */
  now?: number;
}

/** Lines of a job's job.log shown, and how far back they are looked for. */
const TAIL_LINES = 20;
const TAIL_BYTES = 16 * 1024;
/** Failed jobs whose logs are read, and jobs in all: bounded, so a run of 100,000 jobs still renders fast and small. */
const TAILED_FAILED_JOBS = 200;
const TAILED_JOBS = 1000;
/** Bytes of log lines in the page at most (1,000 tails of 16 KiB would be 16 MB). */
const TAIL_BUDGET = 2 * 1024 * 1024;
/**
 * Bytes of commands, arguments and messages embedded: past it, details point at command.sh. Less
 * when job names and attempts take much of the page (about 60 bytes of columns per attempt), so a page stays under 20 MB.
 */
const TEXT_BUDGET = 4 * 1024 * 1024;
const PAGE_BUDGET = 15 * 1024 * 1024;
const TEXT_BUDGET_MIN = 512 * 1024;
const TEXT_MAX_CHARS = 4000;
/** Failures listed in the page's table; all are counted, `pipeline status --json` has them all. */
const LISTED_FAILURES = 500;
/** Jobs drawn one by one in the usage chart; more are drawn as a density grid. */
const USAGE_POINTS = 2000;

function endOutcome(event: JobEnded): string {
  return event.state === 'failed' ? (event.failure ?? 'unknown') : event.state;
}

/**
 * Every attempt of every job of one run, in the order they started: RecordedRun keeps only each
 * job's last state, the timeline needs them all. Lines that do not parse are skipped (readJournal
 * reports them); events of other runs, or for a job the run never queued under that key, too.
 */
export function readRunAttempts(journalFile: string, run: string): JobAttempt[] {
  const attempts: JobAttempt[] = [];
  if (!existsSync(journalFile)) return attempts;
  const keys = new Map<string, string>();
  const current = new Map<string, JobAttempt>();
  let inRun = false;
  forEachLine(journalFile, (line) => {
    if (line === '') return;
    let event: RunEvent;
    try {
      event = JSON.parse(line) as RunEvent;
    } catch {
      return;
    }
    if (typeof event !== 'object' || event === null) return;
    if (event.type === 'run-started') {
      inRun = event.run === run;
      return;
    }
    if (!inRun || event.run !== run) return;
    const time = Date.parse(event.time);
    if (Number.isNaN(time)) return; // no time, no place on the timeline
    switch (event.type) {
      case 'job-queued':
        keys.set(event.job, event.key);
        break;
      case 'job-started': {
        if (keys.get(event.job) !== event.key) return;
        const before = current.get(event.job);
        if (before) Object.assign(before, { end: time, outcome: 'retried' });
        const attempt: JobAttempt = { job: event.job, host: event.host, attempt: event.attempt, start: time, end: undefined, outcome: 'running', command: event.command, args: event.args };
        attempts.push(attempt);
        current.set(event.job, attempt);
        break;
      }
      case 'job-ended': {
        if (keys.get(event.job) !== event.key) return;
        const attempt = current.get(event.job);
        if (attempt) Object.assign(attempt, { end: time, outcome: endOutcome(event) });
        current.delete(event.job);
        break;
      }
      default:
        break;
    }
  });
  return attempts;
}

/** The last lines of a file, reading at most its last TAIL_BYTES; undefined when it cannot be read. */
export function readLogTail(path: string, lines = TAIL_LINES): string[] | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    const all = buffer.toString('utf8').split('\n');
    if (length < size) all.shift(); // read from the middle of a line
    if (all.at(-1) === '') all.pop();
    return all.slice(-lines).map((line) => (line.length > 500 ? line.slice(0, 500) + '…' : line));
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** How each outcome is drawn; failures in warm colours, and ranked: a bucket of many attempts shows its worst. */
interface OutcomeStyle { colour: string; severity: number }
const OUTCOMES = {
  succeeded: { colour: '#3a9d5d', severity: 1 },
  skipped: { colour: '#b8c4bb', severity: 1 },
  pending: { colour: '#c9c9c9', severity: 1 },
  retried: { colour: '#e3a32b', severity: 2 },
  running: { colour: '#4a7fd4', severity: 3 },
  cancelled: { colour: '#8d949b', severity: 4 },
  exit: { colour: '#d93f3f', severity: 5 },
  signal: { colour: '#a3224f', severity: 5 },
  timeout: { colour: '#ef6c2a', severity: 5 },
  'connection-lost': { colour: '#8e44ad', severity: 5 },
  'launch-failed': { colour: '#7b4a26', severity: 5 },
  'node-exception': { colour: '#d0357f', severity: 5 },
  'outputs-too-large': { colour: '#b5701d', severity: 5 },
  'stage-in-failed': { colour: '#2f7f86', severity: 5 },
  'stage-out-failed': { colour: '#1d5a61', severity: 5 },
  unknown: { colour: '#555555', severity: 5 },
  // States, for the header's counts.
  failed: { colour: '#d93f3f', severity: 5 },
  queued: { colour: '#c9c9c9', severity: 1 },
} satisfies Record<JobState | 'queued' | 'retried' | FailureReason | 'unknown', OutcomeStyle>;

function outcomeStyle(outcome: string): OutcomeStyle {
  return (OUTCOMES as Record<string, OutcomeStyle | undefined>)[outcome] ?? OUTCOMES.unknown;
}

/** Interns strings into one table, up to a byte budget: commands and messages repeat across jobs. */
class TextTable {
  readonly texts: string[] = [];
  readonly #index = new Map<string, number>();
  readonly #budget: number;
  #bytes = 0;
  omitted = 0;

  constructor(budget: number) {
    this.#budget = budget;
  }

  add(text: string | undefined): number {
    if (text === undefined || text === '') return -1;
    const cut = text.length > TEXT_MAX_CHARS ? text.slice(0, TEXT_MAX_CHARS) + '…' : text;
    const known = this.#index.get(cut);
    if (known !== undefined) return known;
    const bytes = JSON.stringify(cut).length;
    if (this.#bytes + bytes > this.#budget) {
      this.omitted++;
      return -2; // not embedded: the page says where to find it
    }
    this.#bytes += bytes;
    this.texts.push(cut);
    this.#index.set(cut, this.texts.length - 1);
    return this.texts.length - 1;
  }
}

/** Everything the browser draws, as columns of numbers over a few tables of strings. */
interface PageData {
  start: number;
  span: number;
  jobsDirectory: string;
  hosts: string[];
  /** Rows of each host's lane: how many of its attempts overlapped at most. */
  rows: number[];
  outcomes: string[];
  colours: string[];
  severity: number[];
  states: string[];
  jobs: string[];
  /** Per job: index into states, recorded duration (s), retries, command and arguments (index into texts; -1 none, -2 not embedded). */
  state: number[];
  duration: number[];
  retries: number[];
  command: number[];
  args: number[];
  /** Per job, or null when no job has usage: user and system CPU seconds, peak RSS in KiB (null: not measured). */
  user: Array<number | null> | null;
  system: Array<number | null> | null;
  rss: Array<number | null> | null;
  /** Per attempt, sorted by host then start: job, host, attempt number, start and duration (ms after `start`), outcome, row in its lane. */
  aJob: number[];
  aHost: number[];
  aNum: number[];
  aStart: number[];
  aDur: number[];
  aOut: number[];
  aRow: number[];
  texts: string[];
  omitted: number;
  /** By job index: failure details of jobs that did not succeed. */
  ended: Record<number, { failure?: string; message: number; returncode: number | null; signal: string | null; launchProblem?: string; reused?: boolean }>;
  /** By job index: the last lines of its job.log, for the jobs whose logs were read (the failed first). */
  tails: Record<number, readonly string[]>;
  /** How many jobs' log lines are in the page. */
  tailed: number;
  /** By job index: job directories whose name is not the job id (ids unsafe as a path). */
  dirs: Record<number, string>;
  /** Jobs of the run with no attempt in it: reused from an earlier run, or never started. */
  unstarted: number;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Gives each attempt the lowest row of its host's lane that is free when it starts. */
function packRows(attempts: readonly JobAttempt[], endOf: (attempt: JobAttempt) => number): number[] {
  const rows: number[] = [];
  const busyUntil: number[] = [];
  for (const attempt of attempts) {
    let row = busyUntil.findIndex((until) => until <= attempt.start);
    if (row === -1) row = busyUntil.push(0) - 1;
    busyUntil[row] = Math.max(endOf(attempt), attempt.start);
    rows.push(row);
  }
  return rows;
}

function pageData(input: RunPageInput): PageData {
  const { recorded, jobDirectory } = input;
  const start = Date.parse(recorded.started.time);
  const lastSeen = input.attempts.reduce((last, a) => Math.max(last, a.end ?? a.start), start);
  const runEnd = recorded.ended ? Date.parse(recorded.ended.time) : Math.max(lastSeen, input.now ?? lastSeen);
  const endOf = (attempt: JobAttempt): number => attempt.end ?? Math.max(runEnd, attempt.start);
  const hosts = [...recorded.started.hosts];
  for (const attempt of input.attempts) if (!hosts.includes(attempt.host)) hosts.push(attempt.host);
  const hostIndex = new Map(hosts.map((host, i) => [host, i]));
  const jobs = [...recorded.jobs.keys()];
  const jobIndex = new Map(jobs.map((job, i) => [job, i]));
  const outcomes: string[] = [];
  const outcomeIndex = (outcome: string): number => {
    const known = outcomes.indexOf(outcome);
    return known !== -1 ? known : outcomes.push(outcome) - 1;
  };
  const names = jobs.reduce((sum, job) => sum + job.length + 3, 0);
  const texts = new TextTable(Math.max(TEXT_BUDGET_MIN, Math.min(TEXT_BUDGET, PAGE_BUDGET - names - 60 * input.attempts.length)));

  const data: PageData = {
    start, span: Math.max(1, runEnd - start), jobsDirectory: join(jobDirectory, 'jobs'), hosts, rows: [], outcomes, colours: [], severity: [],
    states: [], jobs, state: [], duration: [], retries: [], command: [], args: [], user: null, system: null, rss: null,
    aJob: [], aHost: [], aNum: [], aStart: [], aDur: [], aOut: [], aRow: [], texts: texts.texts, omitted: 0, ended: {}, tails: {}, tailed: 0, dirs: {}, unstarted: 0,
  };

  const hasUsage = [...recorded.jobs.values()].some((job) => job.ended?.usage);
  if (hasUsage) Object.assign(data, { user: [], system: [], rss: [] });
  const started = new Set(input.attempts.map((attempt) => attempt.job));
  // Messages first: they matter more than commands when the text budget runs out.
  for (const [i, job] of [...recorded.jobs.values()].entries()) {
    let state = data.states.indexOf(job.state);
    if (state === -1) state = data.states.push(job.state) - 1;
    data.state.push(state);
    data.duration.push(round(job.ended?.duration ?? 0, 2));
    data.retries.push(job.ended?.retries ?? 0);
    const usage = job.ended?.usage;
    data.user?.push(usage ? round(usage.userSeconds, 2) : null);
    data.system?.push(usage ? round(usage.systemSeconds, 2) : null);
    data.rss?.push(usage ? Math.round(usage.peakRssBytes / 1024) : null);
    if (job.ended && job.state !== 'succeeded') {
      const { returncode, signal, launchProblem, reused } = job.ended;
      data.ended[i] = { ...(job.ended.failure ? { failure: job.ended.failure } : {}), message: texts.add(job.ended.message), returncode, signal, ...(launchProblem ? { launchProblem } : {}), ...(reused ? { reused } : {}) };
    }
    const tail = input.logTails?.get(job.job);
    if (tail) {
      data.tails[i] = tail;
      data.tailed++;
    }
    if (jobFilesDirectory(jobDirectory, job.job) !== join(data.jobsDirectory, job.job)) data.dirs[i] = jobFilesDirectory(jobDirectory, job.job);
    if (!started.has(job.job)) data.unstarted++;
  }

  const firstAttempt = new Map<string, JobAttempt>();
  for (const attempt of input.attempts) if (!firstAttempt.has(attempt.job)) firstAttempt.set(attempt.job, attempt);
  for (const job of jobs) data.command.push(texts.add(firstAttempt.get(job)?.command));
  for (const job of jobs) {
    const args = firstAttempt.get(job)?.args;
    data.args.push(args && args.length > 0 ? texts.add(JSON.stringify(args)) : -1);
  }
  data.omitted = texts.omitted;

  // Attempts by host, then start: each lane is one run of the columns, its rows packed in order.
  const byHost = hosts.map(() => [] as JobAttempt[]);
  for (const attempt of input.attempts) if (jobIndex.has(attempt.job)) byHost[hostIndex.get(attempt.host)!]!.push(attempt);
  for (const [h, lane] of byHost.entries()) {
    lane.sort((a, b) => a.start - b.start);
    const rows = packRows(lane, endOf);
    data.rows.push(rows.reduce((most, row) => Math.max(most, row + 1), 1));
    for (const [k, attempt] of lane.entries()) {
      data.aJob.push(jobIndex.get(attempt.job)!);
      data.aHost.push(h);
      data.aNum.push(attempt.attempt);
      data.aStart.push(attempt.start - start);
      data.aDur.push(Math.max(0, endOf(attempt) - attempt.start));
      data.aOut.push(outcomeIndex(attempt.outcome));
      data.aRow.push(rows[k]!);
    }
  }
  data.colours = outcomes.map((outcome) => outcomeStyle(outcome).colour);
  data.severity = outcomes.map((outcome) => outcomeStyle(outcome).severity);
  return data;
}

/** Text for HTML content and attribute values. */
function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function bytesText(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** Round steps for axis ticks: 1, 2 or 5 times a power of ten, about `count` of them over `max`. */
function niceStep(max: number, count: number): number {
  const raw = Math.max(max, 1e-9) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= raw) ?? 10 * power;
}

function headerHtml(report: RunReport, recorded: RecordedRun, data: PageData): string {
  const { started } = recorded;
  const elapsed = report.ended ? clockTime((Date.parse(report.ended) - Date.parse(report.started)) / 1000) : null;
  const total = Object.values(report.counts).reduce((sum, n) => sum + n, 0);
  const inputs = JSON.stringify(started.inputs, null, 2);
  const field = (name: string, value: string, id?: string): string => `<div class="field"${id ? ` id="${id}"` : ''}><span class="name">${esc(name)}</span> <span class="value">${value}</span></div>`;
  const counts = Object.entries(report.counts).map(([state, n]) => `<span class="count" data-count="${esc(state)}" data-n="${n}" style="--c:${outcomeStyle(state).colour}"><b>${n}</b> ${esc(state)}</span>`).join(' ');
  const reasons = Object.entries(report.reasons).map(([reason, n]) => `<span class="count" data-reason="${esc(reason)}" data-n="${n}" style="--c:${outcomeStyle(reason).colour}"><b>${n}</b> ${esc(reason)}</span>`).join(' ');
  return `<header id="header" data-status="${esc(report.status)}">
<h1>${esc(report.jobName)} <span class="status status-${esc(report.status)}" id="status">${esc(report.status)}</span></h1>
<div class="fields">
${field('recipe', `${esc(report.recipe)} <span class="dim">(${esc(started.recipePath)})</span>`, 'recipe')}
${field('run', esc(report.run), 'run-id')}
${field('started', esc(report.started), 'started')}
${field('ended', report.ended ? `${esc(report.ended)} <span class="dim">(${esc(elapsed)})</span>` : '<span class="dim">not recorded</span>', 'ended')}
${field('config file', started.configFile ? `<code>${esc(started.configFile)}</code>` : '<span class="dim">not recorded</span>', 'config-file')}
${field('log file', started.logFile ? `<code>${esc(started.logFile)}</code>` : '<span class="dim">none</span>', 'log-file')}
${field('job directory', `<code>${esc(report.jobDirectory)}</code>`)}
${field('hosts', `${started.hosts.length} <span class="dim">(${esc(started.hosts.slice(0, 3).join(', '))}${started.hosts.length > 3 ? ', …' : ''})</span>`)}
${field('master', `pid ${started.pid} on ${esc(started.controlHost)}${started.fresh ? ', fresh start' : ''}`)}
</div>
<details id="inputs"><summary>inputs (${Object.keys(started.inputs).length})</summary><pre>${esc(inputs.length > 20000 ? inputs.slice(0, 20000) + '\n…' : inputs)}</pre></details>
<div class="counts" id="counts"><span class="total" data-total="${total}">${total} jobs:</span> ${counts}</div>
${reasons ? `<div class="counts" id="reasons">failed by reason: ${reasons}</div>` : ''}
<div class="counts dim" id="retries">${plural(report.retried, 'job')} retried ${plural(report.retries, 'time')}; ${report.reused} reused from an earlier run${data.unstarted > 0 ? `; ${plural(data.unstarted, 'job')} with no attempt in this run (reused or never started)` : ''}</div>
${report.unrecorded ? `<div class="warning" id="unrecorded">${esc(report.unrecorded)}</div>` : ''}
</header>`;
}

/** A pipeline run's steps in order, each with its state and jobs, as `pipeline status` shows them. */
function stepsHtml(steps: readonly StepStatus[]): string {
  const rows = steps.map((step) => `<tr class="step" data-step="${esc(step.name)}" data-state="${esc(step.state)}"><td>${esc(step.name)}</td><td><i class="swatch" style="background:${outcomeStyle(STEP_OUTCOMES[step.state]).colour}"></i>${esc(step.state)}</td><td>${step.jobs}</td><td>${step.succeeded}</td><td>${step.failed}</td></tr>`);
  return `<section id="steps"><h2>Steps</h2><table><thead><tr><th>step</th><th>state</th><th>jobs</th><th>succeeded</th><th>failed</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

/** A step's state drawn as the job outcome it is most like. */
const STEP_OUTCOMES: Record<StepState, string> = { done: 'succeeded', running: 'running', failed: 'failed', interrupted: 'cancelled', 'not started': 'pending' };

function legendHtml(data: PageData): string {
  const counts = new Array<number>(data.outcomes.length).fill(0);
  for (const outcome of data.aOut) counts[outcome]!++;
  const items = data.outcomes.map((outcome, i) => ({ outcome, i })).sort((a, b) => data.severity[a.i]! - data.severity[b.i]!)
    .map(({ outcome, i }) => `<span class="legend-item" data-outcome="${esc(outcome)}" data-n="${counts[i]}"><i style="background:${data.colours[i]}"></i>${esc(outcome)} (${counts[i]})</span>`);
  return `<div id="legend">${items.length > 0 ? items.join(' ') : '<span class="dim">no job attempt recorded</span>'}</div>`;
}

/** CPU (user + system) against peak memory, a point per job; many jobs become a density grid. */
function usageHtml(data: PageData, recorded: RecordedRun): string {
  if (!data.user || !data.system || !data.rss) return '<section id="usage"><h2>CPU and memory</h2><p id="no-usage" class="dim">No CPU or memory usage was recorded for this run\'s jobs.</p></section>';
  const points: Array<{ job: number; cpu: number; rss: number }> = [];
  for (let j = 0; j < data.jobs.length; j++) {
    const rss = data.rss[j];
    if (rss === null || rss === undefined) continue;
    points.push({ job: j, cpu: (data.user[j] ?? 0) + (data.system[j] ?? 0), rss: rss * 1024 });
  }
  const W = 720;
  const H = 300;
  const left = 70;
  const bottom = 36;
  const top = 10;
  const plotW = W - left - 16;
  const plotH = H - top - bottom;
  // reduce, not Math.max(...): a spread of 100,000 arguments can overflow the stack.
  const maxCpu = points.reduce((most, p) => Math.max(most, p.cpu), 1e-3);
  const maxRss = points.reduce((most, p) => Math.max(most, p.rss), 1);
  const cpuStep = niceStep(maxCpu, 6);
  // Memory ticks at round numbers of the unit the largest value reads in.
  const unit = [1024 ** 3, 1024 ** 2, 1024].find((size) => maxRss >= 2 * size) ?? 1024;
  const unitName = unit === 1024 ** 3 ? 'GiB' : unit === 1024 ** 2 ? 'MiB' : 'KiB';
  const rssStep = niceStep(maxRss / unit, 5) * unit;
  // Some headroom: the largest job is not drawn on the frame.
  const xMax = Math.ceil((maxCpu * 1.05) / cpuStep) * cpuStep;
  const yMax = Math.ceil((maxRss * 1.05) / rssStep) * rssStep;
  const x = (cpu: number): number => left + (cpu / xMax) * plotW;
  const y = (rss: number): number => top + plotH - (rss / yMax) * plotH;
  const parts: string[] = [];
  for (let t = 0; t <= xMax + cpuStep / 2; t += cpuStep) parts.push(`<line class="grid" x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${top}" y2="${top + plotH}"/><text x="${x(t).toFixed(1)}" y="${H - bottom + 16}" text-anchor="middle">${esc(round(t, 3))}</text>`);
  for (let t = 0; t <= yMax + rssStep / 2; t += rssStep) parts.push(`<line class="grid" x1="${left}" x2="${left + plotW}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}"/><text x="${left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${esc(round(t / unit, 3))} ${unitName}</text>`);
  parts.push(`<text x="${left + plotW / 2}" y="${H - 4}" text-anchor="middle" class="axis-title">CPU seconds (user + system)</text>`);
  if (points.length <= USAGE_POINTS) {
    for (const p of points) {
      const colour = outcomeStyle(data.states[data.state[p.job]!]!).colour;
      parts.push(`<circle class="point" data-job="${esc(data.jobs[p.job])}" data-j="${p.job}" cx="${x(p.cpu).toFixed(1)}" cy="${y(p.rss).toFixed(1)}" r="4" fill="${colour}"><title>${esc(data.jobs[p.job])}: ${p.cpu.toFixed(2)} s CPU, ${esc(bytesText(p.rss))} peak</title></circle>`);
    }
  } else {
    const columns = 120;
    const rows = 50;
    const grid = new Map<number, number>();
    for (const p of points) {
      const cell = Math.min(rows - 1, Math.floor((p.rss / yMax) * rows)) * columns + Math.min(columns - 1, Math.floor((p.cpu / xMax) * columns));
      grid.set(cell, (grid.get(cell) ?? 0) + 1);
    }
    const most = [...grid.values()].reduce((a, b) => Math.max(a, b), 1);
    const cw = plotW / columns;
    const ch = plotH / rows;
    for (const [cell, n] of grid) {
      const r = Math.floor(cell / columns);
      const c = cell % columns;
      const opacity = 0.2 + 0.8 * (Math.log(n + 1) / Math.log(most + 1));
      parts.push(`<rect class="cell" data-count="${n}" x="${(left + c * cw).toFixed(1)}" y="${(top + plotH - (r + 1) * ch).toFixed(1)}" width="${cw.toFixed(2)}" height="${ch.toFixed(2)}" fill="#3467b0" fill-opacity="${opacity.toFixed(2)}"><title>${n} jobs</title></rect>`);
    }
  }
  const total = points.reduce((sum, p) => sum + p.cpu, 0);
  const heaviest = [...points].sort((a, b) => b.rss - a.rss).slice(0, 5)
    .map((p) => `<a href="#details" class="job-link" data-job="${esc(data.jobs[p.job])}" data-j="${p.job}">${esc(data.jobs[p.job])}</a> ${esc(bytesText(p.rss))}`).join(', ');
  const measured = `${points.length} of ${recorded.jobs.size} jobs measured${points.length > USAGE_POINTS ? ' (drawn as a density grid: darker cells hold more jobs)' : ''}`;
  return `<section id="usage"><h2>CPU and memory per job</h2>
<p class="dim">${measured}; ${esc(clockTime(total))} of CPU in all. Largest peak memory: ${heaviest}</p>
<svg id="usage-chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="CPU seconds against peak memory per job">${parts.join('')}<text transform="translate(14 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" class="axis-title">peak memory (RSS)</text></svg></section>`;
}

function failuresHtml(report: RunReport): string {
  if (report.failures.length === 0) return '<section id="failures"><h2>Failures</h2><p class="dim">No job failed.</p></section>';
  const rows = report.failures.slice(0, LISTED_FAILURES).map((row) => `<tr class="failure" data-job="${esc(row.job)}" data-reason="${esc(row.failure)}"><td><a href="#details" class="job-link" data-job="${esc(row.job)}">${esc(row.job)}</a></td><td>${esc(row.host)}</td><td><i class="swatch" style="background:${outcomeStyle(row.failure).colour}"></i>${esc(row.failure)}</td><td>${esc(row.message)}</td><td>${row.log ? `<code>${esc(row.log)}</code>` : '<span class="dim">never started</span>'}</td></tr>`);
  const more = report.failures.length > LISTED_FAILURES ? `<p class="dim">… and ${report.failures.length - LISTED_FAILURES} more failed jobs (<code>pipeline status ${esc(report.jobName)} --json</code> lists them).</p>` : '';
  return `<section id="failures"><h2>Failures (${report.failures.length})</h2><table><thead><tr><th>job</th><th>host</th><th>reason</th><th>message</th><th>log</th></tr></thead><tbody>${rows.join('')}</tbody></table>${more}</section>`;
}

const STYLE = `
:root { font: 14px/1.4 system-ui, -apple-system, 'Segoe UI', sans-serif; color: #1d2228; background: #f6f7f9; }
body { margin: 0; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 0 0 8px; } h2 { font-size: 17px; margin: 24px 0 8px; }
code, pre { font: 12px/1.4 ui-monospace, 'DejaVu Sans Mono', monospace; }
pre { background: #fff; border: 1px solid #dde1e6; padding: 8px; overflow: auto; max-height: 320px; margin: 4px 0; white-space: pre-wrap; overflow-wrap: anywhere; } /* a long command wraps rather than widening the page */
.dim { color: #6b737c; }
.status { font-size: 13px; padding: 2px 8px; border-radius: 10px; vertical-align: middle; color: #fff; background: #6b737c; }
.status-succeeded { background: #3a9d5d; } .status-failed, .status-crashed { background: #d93f3f; } .status-interrupted { background: #e3a32b; } .status-running { background: #4a7fd4; }
.fields { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 2px 24px; }
.field .name { color: #6b737c; display: inline-block; min-width: 96px; }
.counts { margin: 6px 0; }
.count { display: inline-block; border-left: 4px solid var(--c); padding: 0 8px 0 6px; margin-right: 6px; background: #fff; }
.warning { background: #fff3cd; border: 1px solid #e3a32b; padding: 6px 10px; margin: 6px 0; }
#legend { margin: 6px 0; } .legend-item { margin-right: 14px; white-space: nowrap; }
.legend-item i, .swatch { display: inline-block; width: 12px; height: 12px; margin-right: 5px; vertical-align: -1px; border-radius: 2px; }
#controls { display: flex; gap: 8px; align-items: center; margin: 6px 0; flex-wrap: wrap; }
#controls button { font: inherit; padding: 2px 10px; }
#timeline-wrap { background: #fff; border: 1px solid #dde1e6; position: relative; user-select: none; }
#timeline { display: block; width: 100%; cursor: grab; }
#timeline.dragging { cursor: grabbing; }
#timeline text { font-size: 11px; fill: #3b434b; }
#timeline .lane-bg { fill: #f1f3f5; } #timeline .lane:nth-child(odd) .lane-bg { fill: #e9ecef; }
#timeline .bar { cursor: pointer; } #timeline .bar:hover, #timeline .bar.selected { stroke: #111; stroke-width: 1.5; }
#timeline .bar.failed { stroke: #5a0d0d; stroke-width: 0.8; }
#timeline .bucket { cursor: zoom-in; }
#timeline .tick { stroke: #dde1e6; }
#details { background: #fff; border: 1px solid #dde1e6; padding: 8px 12px; margin-top: 8px; min-height: 48px; }
#details dl { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 2px 14px; margin: 0; }
#details dt { color: #6b737c; } #details dd { margin: 0; word-break: break-all; }
#usage-chart { background: #fff; border: 1px solid #dde1e6; max-width: 100%; height: auto; }
#usage-chart text { font-size: 11px; fill: #3b434b; } #usage-chart .grid { stroke: #eceff2; } #usage-chart .point { cursor: pointer; fill-opacity: 0.8; }
table { border-collapse: collapse; background: #fff; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e6e9ec; vertical-align: top; }
tr.failure { cursor: pointer; } tr.failure:hover { background: #fdf1f1; }
footer { margin-top: 24px; font-size: 12px; }
`;

/** The browser's part: draws the timeline from the data blob, zooms and pans it, shows a job's details. Plain ES2017, no template literals. */
const SCRIPT = `
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('run-data').textContent);
  var NS = 'http://www.w3.org/2000/svg';
  var GUTTER = 160, AXIS = 24, ROW_PX = 14, LANE_MIN = 22, BUCKET_PX = 2, MIN_BAR_PX = 3, MAX_BARS = 4000, MIN_SPAN = 50;
  var svg = document.getElementById('timeline');
  var details = document.getElementById('details');
  var n = D.aJob.length;
  var aStart = Float64Array.from(D.aStart), aDur = Float64Array.from(D.aDur);
  var view = { from: 0, to: D.span };
  var pinned = -1, selectedJob = -1;

  // Lane geometry: a lane's rows are the most attempts that overlapped on its host, squeezed to at least 2 px each.
  var LANE_MAX = Math.max(40, Math.min(96, Math.floor(900 / Math.max(1, D.hosts.length))));
  var laneY = [], laneH = [], dispRows = [], rowBase = [], totalRows = 0, y = AXIS;
  for (var h = 0; h < D.hosts.length; h++) {
    var rows = Math.max(1, D.rows[h]);
    var hgt = Math.max(LANE_MIN, Math.min(LANE_MAX, rows * ROW_PX + 4));
    laneY.push(y); laneH.push(hgt);
    dispRows.push(Math.max(1, Math.min(rows, Math.floor((hgt - 4) / 2))));
    rowBase.push(totalRows); totalRows += dispRows[h];
    y += hgt + 2;
  }
  var HEIGHT = y + 4;
  var laneCount = D.hosts.map(function () { return 0; });
  for (var i = 0; i < n; i++) laneCount[D.aHost[i]]++;
  // Each job's attempts, for its details; and job index by name, for links.
  var lastAttempt = new Int32Array(D.jobs.length).fill(-1), attemptsOf = new Int32Array(D.jobs.length);
  for (i = 0; i < n; i++) { var j0 = D.aJob[i]; attemptsOf[j0]++; if (lastAttempt[j0] === -1 || D.aNum[i] >= D.aNum[lastAttempt[j0]]) lastAttempt[j0] = i; }
  var jobByName = new Map(D.jobs.map(function (name, j) { return [name, j]; }));

  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function clock(ms) {
    var s = Math.round(ms / 1000), neg = s < 0; s = Math.abs(s);
    var hh = Math.floor(s / 3600), mm = Math.floor(s % 3600 / 60), ss = s % 60;
    return (neg ? '-' : '') + (hh > 0 ? hh + ':' + String(mm).padStart(2, '0') : String(mm)) + ':' + String(ss).padStart(2, '0');
  }
  function tickLabel(t, step) {
    if (step >= 1000) return clock(t);
    var whole = Math.floor(t / 1000);
    return clock(whole * 1000) + ((t - whole * 1000) / 1000).toFixed(step < 10 ? 3 : step < 100 ? 2 : 1).slice(1);
  }
  function seconds(ms) { return ms < 10000 ? (ms / 1000).toFixed(ms < 1000 ? 3 : 2) + ' s' : clock(ms); }
  function iso(ms) { return new Date(D.start + ms).toISOString(); }
  function niceStep(span, count) {
    var steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000, 300000, 600000, 900000, 1800000, 3600000, 7200000, 10800000, 21600000, 43200000, 86400000];
    var raw = span / count;
    for (var s = 0; s < steps.length; s++) if (steps[s] >= raw) return steps[s];
    return Math.ceil(raw / 86400000) * 86400000;
  }
  function plotWidth() { return Math.max(200, svg.parentNode.clientWidth - GUTTER - 12); }

  var frame = 0;
  function schedule() { if (!frame) frame = requestAnimationFrame(function () { frame = 0; render(); }); }

  function render() {
    var W = plotWidth(), k = W / (view.to - view.from);
    svg.setAttribute('width', GUTTER + W + 12); svg.setAttribute('height', HEIGHT);
    svg.setAttribute('viewBox', '0 0 ' + (GUTTER + W + 12) + ' ' + HEIGHT);
    svg.textContent = '';
    var axis = el('g', { id: 'axis' }, svg);
    var step = niceStep(view.to - view.from, Math.max(2, Math.floor(W / 110)));
    for (var t = Math.ceil(view.from / step) * step; t <= view.to; t += step) {
      var x = GUTTER + (t - view.from) * k;
      el('line', { class: 'tick', x1: x, x2: x, y1: AXIS - 6, y2: HEIGHT }, axis);
      el('text', { x: x, y: AXIS - 10, 'text-anchor': 'middle' }, axis).textContent = tickLabel(t, step);
    }
    var lanes = [];
    for (var h = 0; h < D.hosts.length; h++) {
      var g = el('g', { class: 'lane', 'data-host': D.hosts[h], 'data-rows': D.rows[h], 'data-attempts': laneCount[h] }, svg);
      el('rect', { class: 'lane-bg', x: 0, y: laneY[h], width: GUTTER + W + 12, height: laneH[h] }, g);
      var label = el('text', { x: 6, y: laneY[h] + Math.min(laneH[h] / 2 + 4, 16) }, g);
      label.textContent = D.hosts[h].length > 20 ? D.hosts[h].slice(0, 19) + '…' : D.hosts[h];
      el('title', {}, label).textContent = D.hosts[h] + ': ' + laneCount[h] + ' attempts, up to ' + D.rows[h] + ' at once';
      var sub = el('text', { x: 6, y: laneY[h] + Math.min(laneH[h] / 2 + 4, 16) + 12, class: 'dim' }, g);
      if (laneH[h] >= 34) sub.textContent = laneCount[h] + ' attempts';
      lanes.push(el('svg', { x: GUTTER, y: laneY[h], width: W, height: laneH[h], overflow: 'hidden' }, g));
    }
    // Attempts wide enough to see are drawn one by one, unless there are too many; the rest go to buckets of BUCKET_PX.
    var wide = 0;
    for (var i = 0; i < n; i++) {
      var s = aStart[i], e = s + aDur[i];
      if (e < view.from || s > view.to) continue;
      if ((Math.min(e, view.to) - Math.max(s, view.from)) * k >= MIN_BAR_PX) wide++;
    }
    var bucketsOnly = wide > MAX_BARS;
    var cols = Math.ceil(W / BUCKET_PX), cell = new Uint8Array(totalRows * cols), count = new Uint32Array(totalRows * cols), bars = 0;
    for (i = 0; i < n; i++) {
      s = aStart[i]; e = s + aDur[i];
      if (e < view.from || s > view.to) continue;
      var hh = D.aHost[i], x0 = Math.max(0, (s - view.from) * k), x1 = Math.min(W, (e - view.from) * k);
      var rowsHere = Math.max(1, D.rows[hh]), dr = Math.floor(D.aRow[i] * dispRows[hh] / rowsHere), rowH = (laneH[hh] - 4) / dispRows[hh];
      var o = D.aOut[i];
      if (!bucketsOnly && x1 - x0 >= MIN_BAR_PX) {
        var failed = D.severity[o] >= 4;
        el('rect', { class: failed ? 'bar failed' : 'bar', x: x0.toFixed(1), y: (2 + dr * rowH).toFixed(1), width: Math.max(1, x1 - x0).toFixed(1), height: Math.max(1, rowH - 1).toFixed(1),
          fill: D.colours[o], 'data-job': D.jobs[D.aJob[i]], 'data-attempt': D.aNum[i], 'data-outcome': D.outcomes[o], 'data-i': i }, lanes[hh]);
        bars++;
        continue;
      }
      var r = rowBase[hh] + dr, c0 = Math.floor(x0 / BUCKET_PX), c1 = Math.min(cols - 1, Math.floor(x1 / BUCKET_PX));
      count[r * cols + c0]++;
      for (var c = c0; c <= c1; c++) {
        var at = r * cols + c, was = cell[at];
        if (was === 0 || D.severity[o] > D.severity[was - 1]) cell[at] = o + 1;
      }
    }
    // Buckets: runs of neighbouring cells of one outcome in a row become one rect.
    var buckets = 0;
    for (h = 0; h < D.hosts.length; h++) {
      var rowH2 = (laneH[h] - 4) / dispRows[h];
      for (var dr2 = 0; dr2 < dispRows[h]; dr2++) {
        var base = (rowBase[h] + dr2) * cols;
        for (c = 0; c < cols;) {
          var v = cell[base + c];
          if (v === 0) { c++; continue; }
          var first = c, sum = 0;
          while (c < cols && cell[base + c] === v) { sum += count[base + c]; c++; }
          el('rect', { class: 'bucket', x: first * BUCKET_PX, y: (2 + dr2 * rowH2).toFixed(1), width: (c - first) * BUCKET_PX, height: Math.max(1, rowH2 - (rowH2 > 3 ? 1 : 0)).toFixed(1),
            fill: D.colours[v - 1], 'data-outcome': D.outcomes[v - 1], 'data-count': sum, 'data-host': D.hosts[h] }, lanes[h]);
          buckets++;
        }
      }
    }
    svg.setAttribute('data-bars', bars); svg.setAttribute('data-buckets', buckets);
    document.getElementById('view-range').textContent = clock(view.from) + ' to ' + clock(view.to) + ' of ' + clock(D.span) + ' (' + bars + ' bars' + (buckets ? ', ' + buckets + ' buckets of attempts too thin to draw alone: click one to zoom in' : '') + ')';
    if (pinned >= 0) { var sel = svg.querySelector('.bar[data-i="' + pinned + '"]'); if (sel) sel.classList.add('selected'); }
  }

  function zoom(factor, atMs) {
    var span = view.to - view.from;
    var next = Math.min(D.span, Math.max(MIN_SPAN, span * factor));
    var at = atMs === undefined ? view.from + span / 2 : atMs;
    var from = at - (at - view.from) * next / span;
    setView(from, from + next);
  }
  function setView(from, to) {
    var span = to - from;
    if (from < 0) { from = 0; to = span; }
    if (to > D.span) { to = D.span; from = Math.max(0, to - span); }
    view.from = from; view.to = to; schedule();
  }
  function timeAt(clientX) {
    var box = svg.getBoundingClientRect();
    return view.from + (clientX - box.left - GUTTER) / plotWidth() * (view.to - view.from);
  }

  function add(dl, name, value, pre) {
    if (value === undefined || value === null || value === '') return;
    var dt = document.createElement('dt'); dt.textContent = name; dl.appendChild(dt);
    var dd = document.createElement('dd');
    if (pre) { var p = document.createElement('pre'); p.textContent = value; dd.appendChild(p); } else dd.textContent = value;
    dl.appendChild(dd);
  }
  function text(index) { return index >= 0 ? D.texts[index] : undefined; }
  function jobDir(j) { return D.dirs[j] || D.jobsDirectory + '/' + D.jobs[j]; }
  function bytes(kib) { var u = ['KiB', 'MiB', 'GiB', 'TiB'], v = kib, x = 0; while (v >= 1024 && x < 3) { v /= 1024; x++; } return v.toFixed(1) + ' ' + u[x]; }

  /** Shows a job, at one of its attempts (its last when none is given). */
  function show(j, i) {
    if (i === undefined || i < 0) i = lastAttempt[j];
    details.textContent = '';
    details.setAttribute('data-job', D.jobs[j]);
    var head = document.createElement('h3'); head.style.margin = '0 0 6px';
    head.textContent = D.jobs[j] + ' — ' + D.states[D.state[j]];
    details.appendChild(head);
    var dl = document.createElement('dl'); details.appendChild(dl);
    var ended = D.ended[j];
    if (i >= 0) {
      details.setAttribute('data-attempt', D.aNum[i]);
      details.setAttribute('data-outcome', D.outcomes[D.aOut[i]]);
      add(dl, 'attempt', D.aNum[i] + ' of ' + attemptsOf[j] + ': ' + D.outcomes[D.aOut[i]]);
      add(dl, 'host', D.hosts[D.aHost[i]]);
      add(dl, 'ran', iso(aStart[i]) + ' to ' + iso(aStart[i] + aDur[i]) + ' (' + seconds(aDur[i]) + ')');
    } else {
      add(dl, 'attempts', ended && ended.reused ? 'none: reused from an earlier run' : 'none in this run');
    }
    add(dl, 'job duration', D.duration[j] ? seconds(D.duration[j] * 1000) + (D.retries[j] ? ' (last attempt), ' + D.retries[j] + ' retries' : '') : '');
    if (ended) {
      add(dl, 'failure', ended.failure);
      add(dl, 'message', text(ended.message));
      add(dl, 'return code', ended.returncode);
      add(dl, 'signal', ended.signal);
      add(dl, 'launch problem', ended.launchProblem);
    }
    if (D.user && D.rss[j] !== null) add(dl, 'usage', D.user[j] + ' s user, ' + D.system[j] + ' s system, ' + bytes(D.rss[j]) + ' peak memory');
    var cmd = D.command[j];
    add(dl, 'command', cmd === -2 ? 'not embedded (page size): see ' + jobDir(j) + '/command.sh' : text(cmd), true);
    var args = D.args[j];
    add(dl, 'arguments', args === -2 ? 'not embedded (page size): see ' + jobDir(j) + '/args.json' : text(args), true);
    add(dl, 'log file', jobDir(j) + '/job.log');
    var tail = D.tails[j];
    if (tail) {
      var p = document.createElement('pre'); p.id = 'log-tail'; p.textContent = tail.join('\\n');
      var caption = document.createElement('div'); caption.className = 'dim'; caption.textContent = tail.length ? 'last ' + tail.length + ' lines of job.log:' : 'job.log is empty';
      details.appendChild(caption); details.appendChild(p);
    } else if (i >= 0) {
      var none = document.createElement('div'); none.className = 'dim'; none.id = 'log-tail-none';
      none.textContent = 'its log lines are not in the page (the page holds the logs of ' + D.tailed + ' jobs, the failed first): see the log file';
      details.appendChild(none);
    }
  }
  function showBucket(target) {
    details.textContent = '';
    details.removeAttribute('data-job');
    details.textContent = target.getAttribute('data-count') + ' attempt(s) on ' + target.getAttribute('data-host') + ' starting here, the worst of them ' + target.getAttribute('data-outcome') + '; click to zoom in.';
  }

  svg.addEventListener('mouseover', function (event) {
    if (pinned >= 0 || drag) return;
    var t = event.target;
    if (t.classList.contains('bar')) show(D.aJob[+t.getAttribute('data-i')], +t.getAttribute('data-i'));
    else if (t.classList.contains('bucket')) showBucket(t);
  });
  svg.addEventListener('click', function (event) {
    if (moved) return;
    var t = event.target;
    var old = svg.querySelector('.bar.selected'); if (old) old.classList.remove('selected');
    if (t.classList.contains('bar')) {
      var i = +t.getAttribute('data-i');
      if (pinned === i) { pinned = -1; return; }
      pinned = i; t.classList.add('selected'); show(D.aJob[i], i);
    } else if (t.classList.contains('bucket')) {
      pinned = -1; zoom(1 / 8, timeAt(event.clientX));
    } else pinned = -1;
  });
  svg.addEventListener('wheel', function (event) {
    event.preventDefault();
    zoom(Math.exp(Math.max(-3, Math.min(3, event.deltaY * (event.deltaMode ? 40 : 1) * 0.002))), timeAt(event.clientX));
  }, { passive: false });
  var drag = null, moved = false;
  svg.addEventListener('mousedown', function (event) { drag = { x: event.clientX, from: view.from, to: view.to }; moved = false; });
  window.addEventListener('mousemove', function (event) {
    if (!drag) return;
    var dx = event.clientX - drag.x;
    if (Math.abs(dx) > 3) { moved = true; svg.classList.add('dragging'); }
    if (moved) { var shift = dx / plotWidth() * (drag.to - drag.from); setView(drag.from - shift, drag.to - shift); }
  });
  window.addEventListener('mouseup', function () { drag = null; svg.classList.remove('dragging'); setTimeout(function () { moved = false; }, 0); });
  document.getElementById('zoom-in').addEventListener('click', function () { zoom(0.5); });
  document.getElementById('zoom-out').addEventListener('click', function () { zoom(2); });
  document.getElementById('zoom-reset').addEventListener('click', function () { setView(0, D.span); });
  document.addEventListener('keydown', function (event) { if (event.key === 'Escape') { pinned = -1; var old = svg.querySelector('.bar.selected'); if (old) old.classList.remove('selected'); } });
  document.addEventListener('click', function (event) {
    var link = event.target.closest && event.target.closest('.job-link, tr.failure, .point');
    if (!link) return;
    var j = jobByName.get(link.getAttribute('data-job'));
    if (j === undefined) return;
    pinned = lastAttempt[j] >= 0 ? lastAttempt[j] : -1;
    show(j);
    if (pinned >= 0) {
      var span = view.to - view.from, s = aStart[pinned], e = s + aDur[pinned];
      if (s < view.from || e > view.to || aDur[pinned] * plotWidth() / span < MIN_BAR_PX) {
        var want = Math.max(MIN_SPAN, Math.min(D.span, Math.max(aDur[pinned] * 20, MIN_SPAN)));
        setView(s + aDur[pinned] / 2 - want / 2, s + aDur[pinned] / 2 + want / 2);
      } else schedule();
    }
    details.scrollIntoView({ block: 'nearest' });
  });
  window.addEventListener('resize', schedule);
  render();
  document.body.setAttribute('data-ready', '1');
})();
`;

/** The page, as one HTML string: pure, so it can be tested and written anywhere. */
export function renderRunPage(input: RunPageInput): string {
  const report = reportRun(input.jobDirectory, input.recorded);
  const data = pageData(input);
  // In a <script> element only "</" can end it early: every "<" of the data is escaped.
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  const title = `${report.jobName}: ${report.status} (run ${report.run})`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${STYLE}</style></head>
<body>
${headerHtml(report, input.recorded, data)}
<section id="timeline-section"><h2>Timeline: every attempt, a lane per host</h2>
${legendHtml(data)}
<div id="controls"><button id="zoom-in" type="button" title="zoom in">+</button><button id="zoom-out" type="button" title="zoom out">−</button><button id="zoom-reset" type="button">whole run</button>
<span id="view-range" class="dim"></span><span class="dim">· wheel zooms, drag pans, hover or click a bar for its job</span></div>
<div id="timeline-wrap"><svg id="timeline" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="job attempts over time, a lane per host"></svg></div>
<div id="details"><span class="dim">Hover over or click a bar, a failure or a point for the job's details.</span></div>
</section>
${input.steps ? stepsHtml(input.steps) : ''}
${usageHtml(data, input.recorded)}
${failuresHtml(report)}
<footer class="dim">${esc(input.attempts.length)} attempts of ${esc(input.recorded.jobs.size)} jobs${data.omitted > 0 ? `; ${data.omitted} commands or arguments not embedded to keep the page small (each job's files have them)` : ''}. Written by pipeline report from <code>${esc(journalPath(input.jobDirectory))}</code>.</footer>
<script type="application/json" id="run-data">${json}</script>
<script>${SCRIPT}</script>
</body></html>
`;
}

/** Jobs whose log lines go into the page: ones that started, real failures first (at most TAILED_FAILED_JOBS), then cancellations, then the rest in order, at most TAILED_JOBS. */
function tailedJobs(recorded: RecordedRun): string[] {
  const started = [...recorded.jobs.values()].filter((job) => job.attempt > 0);
  const failed = started.filter((job) => job.state === 'failed' && job.ended?.failure !== 'cancelled').slice(0, TAILED_FAILED_JOBS);
  const cancelled = started.filter((job) => job.state === 'failed' && job.ended?.failure === 'cancelled');
  const rest = started.filter((job) => job.state !== 'failed');
  return [...failed, ...cancelled, ...rest].slice(0, TAILED_JOBS).map((job) => job.job);
}

/**
 * Writes the page of `recorded` (a run of the journal in `jobDirectory`) to `file`, whole or not
 * at all (written beside it, then renamed: a browser never opens half a page). Returns its size in bytes.
 */
export function writeRunPage(jobDirectory: string, recorded: RecordedRun, file: string): number {
  const attempts = readRunAttempts(journalPath(jobDirectory), recorded.started.run);
  const logTails = new Map<string, string[]>();
  let tailBytes = 0;
  for (const job of tailedJobs(recorded)) {
    if (tailBytes > TAIL_BUDGET) break; // the page stays within its size: later jobs point at their job.log
    const tail = readLogTail(jobLogPath(jobDirectory, job));
    if (!tail) continue;
    logTails.set(job, tail);
    tailBytes += tail.reduce((sum, line) => sum + line.length + 4, 0);
  }
  const steps = pipelineSteps(jobDirectory, recorded);
  const html = renderRunPage({ jobDirectory, recorded, attempts, logTails, ...(steps ? { steps } : {}), ...(recorded.status === 'running' ? { now: Date.now() } : {}) });
  const partial = `${file}.${process.pid}.partial`;
  writeFileSync(partial, html, { mode: 0o600 }); // as every record: its log tails may hold what only the user may read
  renameSync(partial, file);
  return Buffer.byteLength(html);
}

/** The page every run writes into its job directory when it ends (and `pipeline report` by default). */
export const RUN_PAGE_FILE = 'report.html';
