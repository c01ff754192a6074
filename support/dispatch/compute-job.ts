/** A ComputeJob: "run this node script (or command) on that host with these arguments". */
import { basename, isAbsolute, resolve } from 'node:path';
import { JobDefinitionError } from '../errors.js';
import type { JsonValue } from '../protocol/messages.js';
import { isVariableName } from '../protocol/shell-words.js';
import type { FailureReason, JobResults } from '../protocol/job-outcome.js';

/** A node script to run as a job; made by `recipe.nodeScript(name)`. Any other command is a shell command. */
export class NodeScript {
  /** Absolute path of the built node script (.js), or of a Python one (.py), on the control node. */
  readonly path: string;
  readonly name: string;
  /** What runs it on the host: `node`, or `python` for a script on the Python runtime (lofarpipe_node). */
  readonly language: 'node' | 'python';
  constructor(path: string, name: string) {
    this.path = path;
    this.name = name;
    this.language = path.endsWith('.py') ? 'python' : 'node';
  }
  toString(): string {
    return this.name;
  }
}

export interface ComputeJobOptions {
  /** Seconds after which the job is stopped (TERM, then KILL) and fails with `timeout`. */
  timeout?: number;
  /** A name for logs and records; default: the job's sequence number in the run. */
  name?: string;
  /** Extra environment variables for this job. */
  environment?: Record<string, string>;
  /**
   * Whether the job must run on its host (data locality, as in lofarpipe). An unpinned job moves
   * to another host when its own is unhealthy, and is retried elsewhere. Default: pinned when
   * the job was given a host.
   */
  pinned?: boolean;
  /** Retries after a failure; default the scheduleJobs option, else `[remote] retries`. */
  retries?: number;
  /**
   * Job failures that are retried too (infrastructure failures always are): a list of reasons,
   * or a test on the failed attempt's results, e.g. `(r) => r.returncode === 75`.
   */
  retryOn?: RetryOn;
  /**
   * A JavaScript node script may run in a warm worker: a Node process the host's agent keeps,
   * which imports the script once and runs job after job of it (no start-up per job). Only for
   * scripts that keep no state between jobs; isolation (a fresh process) is the default.
   */
  warm?: boolean;
  /**
   * Files or directories of the control node copied to the job's own directory on its host
   * before it starts (where it runs): a path (copied under its base name), or `{ from, to }`
   * with `to` relative to that directory.
   */
  stageIn?: ReadonlyArray<string | StagedFile>;
  /**
   * Files or directories the job makes in its directory, copied back to the control node once
   * it succeeded: a relative path (to `<job directory>/outputs/<job id>/<path>`), or `{ from, to }`
   * with `to` a path here. One the job did not make fails it with `stage-out-failed`.
   */
  stageOut?: ReadonlyArray<string | StagedFile>;
  /** Remove the job's directory on its host after each attempt (with whatever the job left there). */
  cleanup?: boolean;
  /**
   * Cores the job uses (LOFAR's `resources={'cores': n}`): OMP_NUM_THREADS, `--cpus-per-task`
   * under Slurm, `{nr_cores}` in a custom command line; a host whose cores are known runs jobs
   * while their cores fit. Default 1.
   */
  cores?: number;
}

export interface StagedFile {
  from: string;
  to?: string;
}

/** The options with stageIn and stageOut as { from, to } (stageIn's `to` always set, its `from` absolute). */
export interface ResolvedJobOptions extends ComputeJobOptions {
  stageIn?: ReadonlyArray<Required<StagedFile>>;
  stageOut?: ReadonlyArray<StagedFile>;
}

export type RetryOn = readonly FailureReason[] | ((results: JobResults) => boolean);

let nextJobNumber = 1;

/** Names go into the launch command: one that is not a variable name would be shell code on the host. */
function checkEnvironment(job: string, environment: Record<string, string> | undefined): void {
  if (environment === undefined) return;
  if (typeof environment !== 'object' || environment === null) throw new JobDefinitionError(job, 'environment must be an object of NAME: value strings');
  for (const [name, value] of Object.entries(environment)) {
    if (!isVariableName(name)) {
      throw new JobDefinitionError(job, `environment variable name ${JSON.stringify(name)} is not a valid name (letters, digits and _, not starting with a digit)`);
    }
    if (typeof value !== 'string') throw new JobDefinitionError(job, `environment variable ${name} must be a string, got ${kindOf(value)}`);
  }
}

/** What kind of value this is, for a message: `a Map`, `undefined`, `NaN`. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return `a ${value.constructor?.name ?? 'object without prototype'}`;
  return typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`;
}

/**
 * Arguments travel as JSON: a value JSON cannot carry (undefined, a function, NaN, a Map, a
 * cycle) would arrive as null or {} on the node, so it is refused here, naming where it is.
 */
function checkJson(job: string, value: unknown, where: string, seen: Set<object> = new Set()): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (Number.isFinite(value)) return;
      break;
    case 'object': {
      if (value === null) return;
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return; // a Date: JSON.stringify has a defined text for it
      const proto = Object.getPrototypeOf(value);
      if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) break;
      if (seen.has(value)) throw new JobDefinitionError(job, `${where} refers back to itself; arguments must be JSON (no cycles)`);
      seen.add(value);
      if (Array.isArray(value)) value.forEach((item, i) => checkJson(job, item, `${where}[${i}]`, seen));
      else for (const [key, item] of Object.entries(value)) checkJson(job, item, `${where}.${key}`, seen);
      seen.delete(value);
      return;
    }
  }
  throw new JobDefinitionError(job, `${where} is ${kindOf(value)}, which JSON cannot carry; arguments must be strings, finite numbers, booleans, null, arrays or plain objects`);
}

/** A path inside the job's directory on its host: relative, and not climbing out of it. */
function checkInside(job: string, path: unknown, where: string): string {
  if (typeof path !== 'string' || path === '') throw new JobDefinitionError(job, `${where} must be a non-empty path, got ${kindOf(path)}`);
  if (isAbsolute(path) || path.split('/').includes('..')) throw new JobDefinitionError(job, `${where} ${JSON.stringify(path)} must be a path inside the job's directory on its host (relative, without ..)`);
  return path.replace(/\/+$/, '');
}

function resolveStaging(job: string, options: ComputeJobOptions): Pick<ResolvedJobOptions, 'stageIn' | 'stageOut'> {
  const resolved: Pick<ResolvedJobOptions, 'stageIn' | 'stageOut'> = {};
  if (options.stageIn !== undefined) {
    if (!Array.isArray(options.stageIn)) throw new JobDefinitionError(job, 'stageIn must be a list of paths or { from, to } objects');
    resolved.stageIn = options.stageIn.map((entry: string | StagedFile, i) => {
      const from = typeof entry === 'string' ? entry : entry?.from;
      if (typeof from !== 'string' || from === '') throw new JobDefinitionError(job, `stageIn[${i}] must be a path or { from, to }, got ${kindOf(entry)}`);
      const to = typeof entry === 'string' || entry.to === undefined ? basename(from) : entry.to;
      return { from: resolve(from), to: checkInside(job, to, `stageIn[${i}].to`) };
    });
  }
  if (options.stageOut !== undefined) {
    if (!Array.isArray(options.stageOut)) throw new JobDefinitionError(job, 'stageOut must be a list of paths or { from, to } objects');
    resolved.stageOut = options.stageOut.map((entry: string | StagedFile, i) => {
      const from = checkInside(job, typeof entry === 'string' ? entry : entry?.from, `stageOut[${i}]`);
      const to = typeof entry === 'string' || entry.to === undefined ? undefined : resolve(entry.to);
      return to === undefined ? { from } : { from, to };
    });
  }
  return resolved;
}

export class ComputeJob {
  /** Where the job runs; a job created without a host gets the least busy cluster host when it is scheduled. */
  host: string;
  readonly command: NodeScript | string;
  readonly args: JsonValue[];
  readonly options: ResolvedJobOptions;
  #id: string;
  /** The host the job was created with; null when any cluster host will do. Part of its identity for resume. */
  readonly requestedHost: string | null;
  /** Whether the job must stay on its host (see ComputeJobOptions.pinned). */
  readonly pinned: boolean;
  results: JobResults;

  constructor(host: string | null | undefined, command: NodeScript | string, args: readonly JsonValue[] = [], options: ComputeJobOptions = {}) {
    this.host = host ?? '';
    this.requestedHost = host || null;
    this.command = command;
    this.args = [...args];
    this.#id = options.name ?? String(nextJobNumber++);
    this.options = { ...options, ...resolveStaging(this.id, options) } as ResolvedJobOptions;
    checkEnvironment(this.id, options.environment);
    if (options.cores !== undefined && !(Number.isInteger(options.cores) && options.cores >= 1)) {
      throw new JobDefinitionError(this.id, `cores must be a whole number from 1 up, got ${kindOf(options.cores)}`);
    }
    this.args.forEach((arg, index) => checkJson(this.id, arg, `argument ${index}`));
    this.pinned = options.pinned ?? Boolean(host);
    if (options.warm && !(command instanceof NodeScript && command.language !== 'python')) {
      throw new JobDefinitionError(this.id, 'warm is for JavaScript node scripts; shell commands and Python scripts always start afresh');
    }
    this.results = { state: 'pending', returncode: null, signal: null, outputs: {}, duration: 0, host: this.host, retries: 0, attempts: [] };
  }

  /** Run-wide id, used to tag log lines and messages. */
  get id(): string {
    return this.#id;
  }

  /** For the scheduler: a job queued in a later round of a pipeline loop is named apart from the same job of the round before (`<name>.round<r>`, `<name>.round<outer>.<inner>` in nested loops). */
  nameInRound(rounds: readonly number[]): void {
    this.#id = `${this.#id}.round${rounds.join('.')}`;
  }

  /** The cores it asks for (1 unless `cores` says). */
  get cores(): number {
    return this.options.cores ?? 1;
  }

  /** Whether the job has files to copy or a directory to clean: it then runs in a directory of its own on its host. */
  get isStaged(): boolean {
    return Boolean(this.options.stageIn?.length || this.options.stageOut?.length || this.options.cleanup);
  }

  get isNodeScript(): boolean {
    return this.command instanceof NodeScript;
  }

  /** A one-line description for logs and --dry-run. */
  describe(): string {
    const args = this.args.map((arg) => JSON.stringify(arg)).join(' ');
    return `${this.host} ${this.isNodeScript ? 'node script ' : ''}${String(this.command)}${args ? ' ' + args : ''}`;
  }
}
