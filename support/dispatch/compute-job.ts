/** A ComputeJob: "run this node script (or command) on that host with these arguments". */
import type { JsonValue } from '../protocol/messages.js';
import type { FailureReason, JobResults } from '../protocol/job-outcome.js';

/** A node script to run as a job; made by `recipe.nodeScript(name)`. Any other command is a shell command. */
export class NodeScript {
  /** Absolute path of the built node script (.js) on the control node. */
  readonly path: string;
  readonly name: string;
  constructor(path: string, name: string) {
    this.path = path;
    this.name = name;
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
}

export type RetryOn = readonly FailureReason[] | ((results: JobResults) => boolean);

let nextJobNumber = 1;

export class ComputeJob {
  /** Where the job runs; a job created without a host gets the least busy cluster host when it is scheduled. */
  host: string;
  readonly command: NodeScript | string;
  readonly args: JsonValue[];
  readonly options: ComputeJobOptions;
  /** Run-wide id, used to tag log lines and messages. */
  readonly id: string;
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
    this.options = options;
    this.id = options.name ?? String(nextJobNumber++);
    this.pinned = options.pinned ?? Boolean(host);
    this.results = { state: 'pending', returncode: null, signal: null, outputs: {}, duration: 0, host: this.host, retries: 0, attempts: [] };
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
