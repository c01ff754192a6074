/**
 * Runs one ComputeJob through a launcher: sends its start message, turns the node's messages
 * and output lines into log records and outputs, enforces its timeout, and decides its
 * outcome: exactly one state and, when it failed, one reason.
 */
import { performance } from 'node:perf_hooks';
import type { LogEntry } from 'winston';
import { ProtocolError } from '../errors.js';
import { LineSplitter, type Line } from '../protocol/line-splitter.js';
import { logRecord } from '../logging/direct-log.js';
import type { LogPressure } from '../logging/log-pressure.js';
import type { Logger } from '../logging/run-log.js';
import type { ComputeJob } from './compute-job.js';
import { environmentBlock } from './launch-command.js';
import { readUsageReport, SAMPLE_REQUEST } from './shell-usage.js';
import type { AttemptRecord, FailureReason, JobResults, JobUsage, LaunchProblem, TransferProblem } from '../protocol/job-outcome.js';
import { StagingError, type JobStaging } from './job-staging.js';
import { USAGE_SAMPLE_MS } from '../protocol/job-usage.js';
import { LaunchError, type ExitStatus, type LaunchedProcess } from '../launchers/launcher.js';
import {
  cutText, decodeNodeMessage, encodeMessage, MAX_LOG_MESSAGE_BYTES, MAX_MESSAGE_LINE_BYTES, MAX_OUTPUTS_BYTES, PROTOCOL_VERSION,
  type JsonValue, type LogLevel, type NodeMessage,
} from '../protocol/messages.js';

/** Lines of a plain command's stdout kept in `outputs.stdout`; the log gets all of them. */
const MAX_STDOUT_LINES = 10_000;
/** ...and bytes: 10,000 lines of 64 KiB would be 640 MB held per job. */
const MAX_STDOUT_BYTES = 4 * 1024 * 1024;
const STDERR_TAIL_LINES = 5;
/** When a plain command's guard is first asked for a usage sample: late enough that most short jobs are over, early enough that a job of a tenth of a second is seen. */
const FIRST_SAMPLE_MS = 50;

export interface ExecutionOptions {
  /** Starts the job on its host (through its agent or over a channel of its own); a LaunchError fails it as `launch-failed`. */
  start: () => Promise<LaunchedProcess>;
  /** The job's command line, for the debug log. */
  command: string;
  logger: Logger;
  /** Finest level the node should send. */
  logLevel: LogLevel;
  /** Aborting cancels the job. */
  signal?: AbortSignal;
  /** Seconds; none when undefined or 0. */
  timeout?: number;
  /** Milliseconds between TERM and KILL when stopping a job. */
  graceMs: number;
  /** The job's earlier attempts, when this is a retry. */
  earlier?: readonly AttemptRecord[];
  /** While the log is backlogged the job's output is not read, so the node waits instead of the master's memory filling. */
  logPressure?: LogPressure;
  /** Variables sent on stdin (in the start message, or as the block a plain command's shell reads first). */
  environment?: Record<string, string>;
  /** The job's mark, which ends the environment block of a plain command. */
  mark?: string;
  /** A staged job's copies in and out of its directory on the host (job-staging.ts). */
  staging?: JobStaging;
}

/** What a shell on the host says when a launch can never work as configured. */
const PERMANENT_CAUSE = /Permission denied|No such file or directory|Read-only file system|Not a directory/;
/** What the launch command (or the agent) says when the job's working directory cannot be made or entered, before anything of the job ran. */
const WORKING_DIRECTORY_FAILED = /mkdir: cannot create directory|can't cd to|cd: .*: (Permission denied|No such file or directory|Not a directory)/;

interface Outcome {
  failure?: FailureReason;
  message?: string;
  stack?: string;
  launchProblem?: LaunchProblem;
  transferProblem?: TransferProblem;
}

class JobExecution {
  readonly #job: ComputeJob;
  readonly #options: ExecutionOptions;
  readonly #log: Logger;
  readonly #stderrTail: string[] = [];
  readonly #stdoutLines: string[] = [];
  #stdoutDropped = 0;
  #stdoutBytes = 0;
  #outputs: Record<string, JsonValue> = {};
  /** Bytes of outputs messages so far; once over MAX_OUTPUTS_BYTES the job fails and its outputs are dropped. */
  #outputsBytes = 0;
  #launched: LaunchedProcess | undefined;
  #exception: { name: string; message: string; stack?: string } | undefined;
  /** CPU and peak memory, from the node's result or exception, or a plain command's guard. */
  #usage: JobUsage | undefined;
  #messages = 0;
  /** Where the stageOut files went, once every one of them arrived. */
  #stagedOut: Record<string, string> | undefined;
  #timedOut = false;
  #cancelled = false;

  constructor(job: ComputeJob, options: ExecutionOptions) {
    this.#job = job;
    this.#options = options;
    this.#log = options.logger.child({ host: job.host, job: job.id });
  }

  async run(): Promise<JobResults> {
    const job = this.#job;
    const began = performance.now();
    const attempts = [...(this.#options.earlier ?? [])];
    job.results = { state: 'running', returncode: null, signal: null, outputs: {}, duration: 0, host: job.host, retries: attempts.length, attempts };
    this.#log.debug(`starting ${job.describe()} as: ${this.#options.command}`);
    let outcome: Outcome;
    let status: ExitStatus = { code: null, signal: null };
    if (this.#options.signal?.aborted) {
      outcome = { failure: 'cancelled', message: 'cancelled before it started' };
    } else {
      const staging = this.#options.staging;
      // A cancelled run does not wait for a transfer: closing the session fails it at once.
      const stopStaging = () => staging?.stop();
      this.#options.signal?.addEventListener('abort', stopStaging, { once: true });
      try {
        await staging?.stageIn();
        this.#options.signal?.removeEventListener('abort', stopStaging);
        const launched = await this.#options.start();
        status = await this.#watch(launched);
        outcome = this.#classify(status);
        if (!outcome.failure && staging && job.options.stageOut?.length) {
          this.#options.signal?.addEventListener('abort', stopStaging, { once: true });
          this.#stagedOut = await staging.stageOut();
        }
      } catch (error) {
        if (this.#options.signal?.aborted && error instanceof StagingError) outcome = { failure: 'cancelled', message: 'cancelled while its files were copied' };
        else if (error instanceof StagingError) outcome = { failure: error.reason as FailureReason, message: error.message, transferProblem: error.problem };
        else if (error instanceof LaunchError) outcome = { failure: 'launch-failed', message: error.message, ...(error.problem ? { launchProblem: error.problem } : {}) };
        else throw error;
      } finally {
        this.#options.signal?.removeEventListener('abort', stopStaging);
        // Not after a cancellation: the run is stopping, and the next attempt empties the directory anyway.
        if (staging && job.options.cleanup && !staging.stopped) {
          const problem = await staging.cleanup();
          if (problem) this.#log.warn(problem);
        }
      }
    }
    job.results = {
      state: outcome.failure ? 'failed' : 'succeeded',
      returncode: status.code,
      signal: status.signal,
      outputs: this.#outputs,
      duration: (performance.now() - began) / 1000,
      host: job.host,
      retries: attempts.length,
      attempts,
      ...outcome,
      ...(this.#usage ? { usage: this.#usage } : {}),
      ...(this.#stagedOut && !outcome.failure ? { stagedOut: this.#stagedOut } : {}),
    };
    this.#report();
    return job.results;
  }

  async #watch(launched: LaunchedProcess): Promise<ExitStatus> {
    const job = this.#job;
    this.#launched = launched;
    const abort = () => {
      this.#cancelled = true;
      launched.terminate(this.#options.graceMs);
    };
    this.#options.signal?.addEventListener('abort', abort, { once: true });
    if (this.#options.signal?.aborted) abort(); // cancelled while the launch was under way
    const timer = this.#options.timeout
      ? setTimeout(() => {
        this.#timedOut = true;
        launched.terminate(this.#options.graceMs);
      }, this.#options.timeout * 1000)
      : undefined;

    const stdout = job.isNodeScript
      ? new LineSplitter((line) => this.#onMessageLine(line), MAX_MESSAGE_LINE_BYTES)
      : new LineSplitter((line) => this.#onStdoutLine(line));
    const stderr = new LineSplitter((line) => this.#onStderrLine(line));
    const pressure = this.#options.logPressure;
    let paused = false;
    // Both streams: an SSH channel's stdout and stderr share one window, and a local child blocks on either pipe.
    const throttle = () => {
      if (paused || !pressure?.backlogged) return;
      paused = true;
      launched.stdout.pause();
      launched.stderr.pause();
      void pressure.drained().then(() => {
        paused = false;
        launched.stdout.resume();
        launched.stderr.resume();
      });
    };
    launched.stdout.on('data', (chunk: Buffer) => {
      stdout.push(chunk);
      throttle();
    });
    launched.stdout.on('end', () => stdout.end());
    launched.stderr.on('data', (chunk: Buffer) => {
      stderr.push(chunk);
      throttle();
    });
    launched.stderr.on('end', () => stderr.end());

    // stdin stays open while the job runs: its closing tells the node (or a plain command's guard) to stop.
    let sampling: { stop(): void } | undefined;
    const environment = this.#options.environment ?? {};
    const hasEnvironment = Object.keys(environment).length > 0;
    if (launched.managed) {
      // The agent gave the job its start message and variables, and measures it.
    } else if (job.isNodeScript) {
      launched.stdin.write(encodeMessage({
        v: PROTOCOL_VERSION, type: 'start', job: job.id, args: job.args, logLevel: this.#options.logLevel, ...(hasEnvironment ? { env: environment } : {}),
      }));
    } else if (this.#options.mark) {
      if (hasEnvironment) launched.stdin.write(environmentBlock(environment, this.#options.mark));
      sampling = this.#requestSamples(launched);
    }
    try {
      const status = await launched.exited;
      if (status.usage && !this.#usage) this.#usage = status.usage; // a node runtime's own measure is the exact one
      return status;
    } finally {
      sampling?.stop();
      clearTimeout(timer);
      this.#options.signal?.removeEventListener('abort', abort);
      launched.stdin.end();
    }
  }

  /**
   * A plain command's guard samples the job's processes on each line it reads from stdin: the
   * first FIRST_SAMPLE_MS in, then every USAGE_SAMPLE_MS while the job runs. It reports at the end
   * whether or not any came, so a job done sooner (a `true`) costs no request and no sample.
   */
  #requestSamples(launched: LaunchedProcess): { stop(): void } {
    let timer: NodeJS.Timeout;
    const request = () => {
      // Not into a stdin that ended (the job exited) or backs up (a guard not reading): a missed sample only costs precision.
      if (!launched.stdin.writableEnded && !launched.stdin.writableNeedDrain) launched.stdin.write(SAMPLE_REQUEST);
      timer = setTimeout(request, USAGE_SAMPLE_MS);
    };
    timer = setTimeout(request, FIRST_SAMPLE_MS);
    return { stop: () => clearTimeout(timer) };
  }

  #onMessageLine(line: Line): void {
    if (line.text === '') return;
    if (line.cutBytes > 0 && /^\s*\{\s*"type"\s*:\s*"outputs"/.test(line.text.slice(0, 64))) {
      this.#countOutputs(Buffer.byteLength(line.text) + line.cutBytes);
      return;
    }
    let message: NodeMessage;
    try {
      if (line.cutBytes > 0) throw new ProtocolError(`message longer than the line cap (${line.cutBytes} bytes dropped)`);
      message = decodeNodeMessage(line.text);
      if (message.job !== this.#job.id) throw new ProtocolError(`message for job ${JSON.stringify(message.job)}`);
    } catch (error) {
      this.#log.warn(`malformed message from the node (${(error as Error).message}): ${line.text.slice(0, 200)}`, { stream: 'protocol' });
      return;
    }
    this.#messages++;
    switch (message.type) {
      case 'log': {
        // host and job last: a node cannot pass itself off as another job. (Set again rather than
        // spread last, to keep the keys in the order the child logger's copy had: host, job, meta...)
        // The object form: with (message, meta) winston treats %s, %d... in the message as format tokens and drops the meta.
        const host = this.#job.host;
        const job = this.#job.id;
        // The runtime cuts long messages; a message cut here came from a node that does not.
        const { text, cut } = cutText(message.message, MAX_LOG_MESSAGE_BYTES);
        const info: LogEntry = { host, job, ...message.meta, level: message.level, message: text };
        info.host = host;
        info.job = job;
        if (cut + (message.cut ?? 0) > 0) info.cut = cut + (message.cut ?? 0);
        logRecord(this.#options.logger, info); // the run's logger, with host and job in the record: no child logger's copy per line
        break;
      }
      case 'outputs':
        if (this.#countOutputs(Buffer.byteLength(line.text))) Object.assign(this.#outputs, message.outputs);
        break;
      case 'exception':
        this.#exception = { name: message.name, message: message.message, stack: message.stack };
        if (message.usage) this.#usage = message.usage;
        this.#log.error(`node script threw ${message.stack ?? `${message.name}: ${message.message}`}`);
        break;
      case 'result':
        if (message.usage) this.#usage = message.usage;
        break;
    }
  }

  /**
   * Counts an outputs message's bytes; false once the sum is over the cap. Outputs over the cap
   * cannot all arrive: the job fails, what came is dropped, and a job still sending is stopped.
   */
  #countOutputs(bytes: number): boolean {
    const wasOver = this.#outputsBytes > MAX_OUTPUTS_BYTES;
    this.#outputsBytes += bytes;
    if (this.#outputsBytes <= MAX_OUTPUTS_BYTES) return true;
    if (!wasOver) {
      this.#outputs = {};
      this.#launched?.terminate(this.#options.graceMs);
    }
    return false;
  }

  #logLine(line: Line, stream: 'stdout' | 'stderr'): void {
    const info: LogEntry = { host: this.#job.host, job: this.#job.id, level: 'info', message: line.text, stream };
    if (line.cutBytes) info.cut = line.cutBytes;
    logRecord(this.#options.logger, info); // the run's logger, with host and job in the record: no child logger's copy per line
  }

  #onStdoutLine(line: Line): void {
    this.#logLine(line, 'stdout');
    if (this.#stdoutLines.length < MAX_STDOUT_LINES && this.#stdoutBytes + line.text.length <= MAX_STDOUT_BYTES) {
      this.#stdoutLines.push(line.text);
      this.#stdoutBytes += line.text.length;
    } else {
      this.#stdoutDropped++;
    }
  }

  #onStderrLine(line: Line): void {
    const report = this.#job.isNodeScript || !this.#options.mark ? undefined : readUsageReport(line.text, this.#options.mark);
    if (report) {
      // The guard's usage report is not the job's output; a last line of the command's that lacked its newline is.
      this.#usage = report.usage;
      if (report.before === '') return;
      line = { ...line, text: report.before };
    }
    this.#logLine(line, 'stderr');
    this.#stderrTail.push(line.text);
    if (this.#stderrTail.length > STDERR_TAIL_LINES) this.#stderrTail.shift();
  }

  #classify(status: ExitStatus): Outcome {
    if (!this.#job.isNodeScript) {
      this.#outputs = { stdout: this.#stdoutLines };
      if (this.#stdoutDropped > 0) this.#outputs.stdoutLinesDropped = this.#stdoutDropped;
    }
    if (this.#cancelled) return { failure: 'cancelled', message: 'cancelled' };
    if (this.#timedOut) return { failure: 'timeout', message: `timed out after ${this.#options.timeout} s` };
    if (this.#outputsBytes > MAX_OUTPUTS_BYTES) {
      return {
        failure: 'outputs-too-large',
        message: `outputs reached ${this.#outputsBytes} bytes, over the cap of 16 MiB (${MAX_OUTPUTS_BYTES} bytes); write large results to files and put their paths in outputs`,
      };
    }
    if (status.connectionLost) return { failure: 'connection-lost', message: status.lostBecause ?? `connection to ${this.#job.host} lost while the job ran` };
    // The same on every try (more CPUs than the node has in the allocation, the allocation gone): not retried.
    if (status.notStarted) return { failure: 'launch-failed', launchProblem: 'not-startable', message: status.notStarted };
    if (this.#exception) {
      return { failure: 'node-exception', message: `node script threw ${this.#exception.name}: ${this.#exception.message}`, stack: this.#exception.stack };
    }
    if (status.signal) return { failure: 'signal', message: `killed by ${status.signal}` };
    if (status.code === 0) return {};
    const tail = this.#stderrTail.length ? `: ${this.#stderrTail.join(' | ')}` : '';
    if (!this.#job.isNodeScript && status.code === 126 && this.#stdoutLines.length === 0 && WORKING_DIRECTORY_FAILED.test(tail) && (PERMANENT_CAUSE.test(tail) || /can't cd to/.test(tail))) {
      // The working directory cannot be made on the host: the command never ran, and no try will do better.
      return { failure: 'launch-failed', launchProblem: 'not-startable', message: `the working directory cannot be made or entered on the host (exit 126)${tail}` };
    }
    if (this.#job.isNodeScript && this.#messages === 0 && (status.code === 126 || status.code === 127)) {
      // A permission or a missing path fails every try alike: no retry (it was retried twice, each as slow as the first).
      const problem = PERMANENT_CAUSE.test(tail) ? 'not-startable' : 'not-started';
      return { failure: 'launch-failed', launchProblem: problem, message: `node script could not be started (exit ${status.code})${tail}` };
    }
    return { failure: 'exit', message: `exited with return code ${status.code}` };
  }

  #report(): void {
    const { results } = this.#job;
    if (results.state === 'succeeded') this.#log.verbose(`succeeded in ${results.duration.toFixed(2)} s`);
    else this.#log.error(`failed (${results.failure}): ${results.message}`);
  }
}

export function executeJob(job: ComputeJob, options: ExecutionOptions): Promise<JobResults> {
  return new JobExecution(job, options).run();
}
