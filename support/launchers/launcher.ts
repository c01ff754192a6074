/** One way of reaching a host: start a command there, hand back its streams, exit status and a way to stop it. */
import type { Readable, Writable } from 'node:stream';
import { PipelineError } from '../errors.js';
import type { LaunchProblem } from '../protocol/job-outcome.js';
import type { JobUsage } from '../protocol/job-usage.js';
import type { HostFiles } from './host-files.js';

export interface ExitStatus {
  /** Exit code, or null when a signal ended the process or the connection dropped first. */
  code: number | null;
  signal: NodeJS.Signals | string | null;
  /** True when the connection to the host dropped before the exit status arrived. */
  connectionLost?: boolean;
  /** Why, when more is known than that (the host's agent ended). */
  lostBecause?: string;
  /** What the job used, when whatever ran it measured it (a host's agent). */
  usage?: JobUsage;
  /** The launcher could not start the job's process after all, and says why (srun could not create the step). */
  notStarted?: string;
}

export interface LaunchedProcess {
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Resolves once the process has ended and its output streams have been read to the end. */
  readonly exited: Promise<ExitStatus>;
  /**
   * True when what runs the job on the host gives it its variables, guards it and measures it (a
   * host's agent): nothing is written to stdin, not even a node script's start message.
   */
  readonly managed?: boolean;
  /** Stops the job's whole process group: TERM now, KILL after `graceMs`. */
  terminate(graceMs: number): void;
}

/** What a launcher may need to know of what it starts, beyond its command line. */
export interface LaunchDetails {
  /** The cores the job uses (Slurm's --cpus-per-task, a custom command line's {nr_cores}); default 1. */
  cores?: number;
  /** The job's name, where the launcher shows one (a Slurm step's name, {job_name}). */
  name?: string;
  /** A host's agent: it stays for the run and starts jobs itself; it takes no job's resources. */
  resident?: boolean;
  /** The job's variables, for a launcher that puts them on its own command line (a custom command line's {env}). */
  environment?: Record<string, string>;
}

export interface Launcher {
  readonly name: string;
  /**
   * True when the exit status comes only after the job's stdout and stderr have closed (srun), not
   * when its main process ends (sshd, a local child): nothing may then hold them open after it.
   */
  readonly statusAfterOutput?: boolean;
  start(host: string, command: string, details?: LaunchDetails): Promise<LaunchedProcess>;
  /** True for a job that must be a launch of its own rather than run by the host's agent (a Slurm step with the CPUs it asks for). */
  ownLaunch?(details: LaunchDetails): boolean;
  /** The host's files (deploy, job staging); `close()` them when done. */
  files(host: string): Promise<HostFiles>;
  /** Resolves when the host can be reached afresh; rejects with a LaunchError saying why not. */
  probe(host: string): Promise<void>;
  /** Releases connections; running processes are terminated (TERM, then KILL after `graceMs`). */
  close(graceMs?: number): Promise<void>;
}

/** The launcher could not start the command at all; the job fails with `launch-failed`. */
export class LaunchError extends PipelineError {
  readonly host: string;
  readonly problem: LaunchProblem | undefined;
  constructor(host: string, message: string, options?: { cause?: unknown; problem?: LaunchProblem }) {
    super('launch-failed', message, options);
    this.host = host;
    this.problem = options?.problem;
  }
}

/** Waits for a short command started with nothing to read (stdin closed at once) to end, with what it printed. */
export async function outputOf(launched: LaunchedProcess): Promise<{ status: ExitStatus; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  launched.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  launched.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  launched.stdin.end();
  return { status: await launched.exited, stdout, stderr };
}

/** The processes a launcher started and has not seen end, so that close() can stop them all. */
export class RunningProcesses<P extends LaunchedProcess> {
  readonly #running = new Set<P>();

  track(launched: P): P {
    this.#running.add(launched);
    void launched.exited.then(() => this.#running.delete(launched));
    return launched;
  }

  async terminateAll(graceMs: number): Promise<void> {
    for (const launched of this.#running) launched.terminate(graceMs);
    await Promise.all([...this.#running].map((launched) => launched.exited));
  }
}
