/**
 * The node side: the base class of node scripts and the runtime that runs one of them on a
 * compute host (DESIGN.md §3, §4). This module is loaded on every job start, so it imports
 * nothing heavy (no winston, no yargs), and what only `exec()` needs (child_process, the line
 * splitter) is loaded when a script first calls it: each module costs a few ms at every start.
 */
import { fstatSync, realpathSync, writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { JOB_MARK_VARIABLE, ownProcessGroup, stopProcesses } from '../protocol/process-group.js';
import {
  cutText, decodeStartMessage, LOG_LEVELS, MAX_LOG_MESSAGE_BYTES,
  type JsonValue, type LogLevel, type NodeMessage, type StartMessage,
} from '../protocol/messages.js';
import type { JobUsage } from '../protocol/job-usage.js';
import { UsageSampler } from './usage-sampler.js';

/** File descriptor the launch command gives the runtime for structured messages (`exec 3>&1 1>&2`). */
export const MESSAGE_FD = 3;
/** Where Node.main hands its class to a warm worker that imported the script (a global: the script may load its own copy of this module). */
export const NODE_CLASS_REGISTRY = Symbol.for('pipeline.node-class-registry');

/** Where a node's messages go: the master's channel, or stderr when run outside the framework. */
export interface MessageSink {
  send(message: NodeMessage): void;
  flush(): void;
}

/** Buffers messages briefly and writes them to fd 3 (or an agent's fd 1) synchronously, so none is lost at exit. */
export class ChannelSink<M extends object = NodeMessage> {
  readonly #fd: number;
  readonly #onError: ((error: Error) => void) | undefined;
  #pending: string[] = [];
  #pendingChars = 0;
  #scheduled = false;
  #broken = false;

  /** `onError`: hears once that the channel cannot be written (the reader has gone); without it, the error is thrown. */
  constructor(fd: number, onError?: (error: Error) => void) {
    this.#fd = fd;
    this.#onError = onError;
  }

  send(message: M): void {
    const line = JSON.stringify(message) + '\n';
    this.#pending.push(line);
    this.#pendingChars += line.length;
    if (this.#pendingChars > 64 * 1024) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#pending.length === 0) return;
    const data = Buffer.from(this.#pending.join(''));
    this.#pending = [];
    this.#pendingChars = 0;
    if (this.#broken) return;
    try {
      writeFully(this.#fd, data);
    } catch (error) {
      if (!this.#onError) throw error;
      this.#broken = true;
      this.#onError(error as Error);
    }
  }
}

const pause = new Int32Array(new SharedArrayBuffer(4));
function writeFully(fd: number, data: Buffer): void {
  let offset = 0;
  while (offset < data.length) {
    try {
      offset += writeSync(fd, data, offset);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      Atomics.wait(pause, 0, 0, 2); // the master is slow to read: wait, do not drop
    }
  }
}

/** For running a node script's class directly (unit tests, a REPL): messages go to stderr as text. */
class StderrSink implements MessageSink {
  send(message: NodeMessage): void {
    if (message.type === 'log') process.stderr.write(`${message.level}: ${message.message}\n`);
    else if (message.type === 'exception') process.stderr.write(`${message.stack ?? message.message}\n`);
  }
  flush(): void {}
}

export interface NodeLogger {
  error(message: string, meta?: Record<string, JsonValue>): void;
  warn(message: string, meta?: Record<string, JsonValue>): void;
  /** Alias of warn, for lofarpipe habits. */
  warning(message: string, meta?: Record<string, JsonValue>): void;
  info(message: string, meta?: Record<string, JsonValue>): void;
  verbose(message: string, meta?: Record<string, JsonValue>): void;
  debug(message: string, meta?: Record<string, JsonValue>): void;
  log(level: LogLevel, message: string, meta?: Record<string, JsonValue>): void;
}

function createNodeLogger(sink: MessageSink, job: string, maxLevel: LogLevel): NodeLogger {
  const limit = LOG_LEVELS.indexOf(maxLevel);
  const log = (level: LogLevel, message: string, meta?: Record<string, JsonValue>): void => {
    if (LOG_LEVELS.indexOf(level) > limit) return;
    const { text, cut } = cutText(String(message), MAX_LOG_MESSAGE_BYTES);
    const record: NodeMessage = meta ? { type: 'log', job, level, message: text, meta } : { type: 'log', job, level, message: text };
    if (cut > 0) record.cut = cut;
    sink.send(record);
  };
  return {
    log,
    error: (m, meta) => log('error', m, meta),
    warn: (m, meta) => log('warn', m, meta),
    warning: (m, meta) => log('warn', m, meta),
    info: (m, meta) => log('info', m, meta),
    verbose: (m, meta) => log('verbose', m, meta),
    debug: (m, meta) => log('debug', m, meta),
  };
}

export interface NodeContext {
  job: string;
  sink: MessageSink;
  logLevel: LogLevel;
}

export interface ExecOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Level for the program's stdout lines; stderr lines are logged at the same level. */
  level?: LogLevel;
}

// Any Node subclass, whatever its run() arguments and outputs.
export type NodeClass = new (context?: NodeContext) => Node<any, any>;

/** What a node script may declare as its outputs: named JSON values (an interface works too). */
export type NodeOutputs<O> = { [K in keyof O]: JsonValue };

/** `this.outputs` while run() fills it: declared names start absent; the untyped default stays as it was. */
export type OutputsSoFar<O> = string extends keyof O ? O : Partial<O>;

/**
 * A node script. `Args` types run()'s arguments (what the recipe's ComputeJob passes), `Outputs`
 * the names and JSON types of `this.outputs`: `class GreetNode extends Node<[name: string], { greeting: string }>`.
 * Without them run() takes anything and `outputs` is any JSON record, as in JavaScript.
 */
export abstract class Node<Args extends unknown[] = any[], Outputs extends NodeOutputs<Outputs> = Record<string, JsonValue>> {
  /** Log records keep their level and metadata when they reach the master. */
  readonly logger: NodeLogger;
  /** Everything put here arrives in `job.results.outputs` on the master; JSON values only. */
  readonly outputs: OutputsSoFar<Outputs> = {} as OutputsSoFar<Outputs>;
  /** The job id the master gave this run. */
  readonly jobId: string;

  constructor(context?: NodeContext) {
    const ctx = context ?? { job: 'local', sink: new StderrSink(), logLevel: 'debug' };
    this.jobId = ctx.job;
    this.logger = createNodeLogger(ctx.sink, ctx.job, ctx.logLevel);
  }

  /** Does the work; the returned number is the job's return code. */
  abstract run(...args: Args): Promise<number | void> | number | void;

  /**
   * Runs an external program with its output streamed into the log line by line; resolves
   * with its exit code (128 + signal number when it was killed). It stays in this job's
   * process group and carries the job's mark, so it dies with the job.
   */
  async exec(file: string, args: readonly string[] = [], options: ExecOptions = {}): Promise<number> {
    const level = options.level ?? 'info';
    const [{ spawn }, { LineSplitter }] = await Promise.all([import('node:child_process'), import('../protocol/line-splitter.js')]);
    return new Promise((resolve, reject) => {
      // A program given its own environment keeps the job's mark, so that it cannot outlive the job.
      const mark = process.env[JOB_MARK_VARIABLE];
      const env = options.env && mark ? { ...options.env, [JOB_MARK_VARIABLE]: mark } : options.env ?? process.env;
      const child = spawn(file, args, { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
      for (const [stream, name] of [[child.stdout, 'stdout'], [child.stderr, 'stderr']] as const) {
        const lines = new LineSplitter((line) => this.logger.log(level, line.text, { program: file, stream: name }));
        stream.on('data', (chunk: Buffer) => lines.push(chunk));
        stream.on('end', () => lines.end());
      }
      child.on('error', reject);
      child.on('close', (code, signal) => {
        resolve(code ?? 128 + (signal ? signalNumber(signal) : 0));
      });
    });
  }

  /**
   * Runs `NodeClass` as a job when its module is the script node was started with; does nothing
   * when the module is merely imported (by a test, or by the master to inspect it).
   */
  static main(NodeClass: NodeClass, meta: ImportMeta): void {
    if (!isMainModule(meta)) {
      // Imported by a host agent's warm worker (agent/warm-worker.ts): the worker runs it, job after job.
      (globalThis as Record<symbol, ((nodeClass: NodeClass) => void) | undefined>)[NODE_CLASS_REGISTRY]?.(NodeClass);
      return;
    }
    void runAsJob(NodeClass);
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };
  return numbers[signal] ?? 0;
}

function isMainModule(meta: ImportMeta): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

function hasMessageChannel(): boolean {
  try {
    fstatSync(MESSAGE_FD);
    return true;
  } catch {
    return false;
  }
}

/** Reads the start line from stdin; afterwards calls `onClose` when stdin closes. */
function readStartLine(onClose: () => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let started = false;
    process.stdin.on('data', (chunk: Buffer) => {
      if (started) return;
      const newline = chunk.indexOf(10);
      if (newline === -1) {
        parts.push(chunk);
        return;
      }
      parts.push(chunk.subarray(0, newline));
      started = true;
      resolve(Buffer.concat(parts).toString('utf8'));
    });
    process.stdin.on('end', () => {
      if (!started) reject(new Error('stdin closed before the start message arrived'));
      else onClose();
    });
    process.stdin.on('error', () => onClose());
  });
}

/**
 * Stops everything the job started: its process group, and whatever left the group but carries
 * the job's mark (`setsid`, `timeout`, detached children): TERM, then KILL to what is still there
 * after the grace, or at once when nothing is. Calls `done` when nothing is left. Once only: a
 * second call (the group TERM reaching us, stdin closing meanwhile) leaves it to the first.
 */
let stopping = false;
function stopJobProcesses(done: () => void): void {
  if (stopping) return;
  stopping = true;
  const pgid = ownProcessGroup();
  // Not our own group when we were started by hand: not ours to clean.
  void stopProcesses({ group: pgid === process.pid ? pgid : undefined, mark: process.env[JOB_MARK_VARIABLE] }).then(done);
}

/**
 * A TERM for the node (a cancelled or timed-out job) reaches what left its group too; then the
 * node ends by TERM as it would have, unless the script handles TERM itself. Also keeps the group
 * TERM of stopJobProcesses from cutting our own clean-up short.
 */
function onTerminate(): void {
  const scriptHandlesTerm = process.listenerCount('SIGTERM') > 1;
  stopJobProcesses(() => {
    if (scriptHandlesTerm) return;
    process.removeAllListeners('SIGTERM');
    process.kill(process.pid, 'SIGTERM');
  });
}

/** The master has gone (stdin closed): take everything of the job down, then ourselves. */
function killOwnGroup(): void {
  stopJobProcesses(() => process.exit(137));
}

/** After a normal end, no process of the job may outlive it; then exit with `code`. */
function reapAndExit(code: number): void {
  stopJobProcesses(() => process.exit(code));
}

/** process.stdout and process.stderr as far as the script (or anything it loaded) has used them. */
const usedStdio: NodeJS.WriteStream[] = [];

/**
 * Node creates process.stdout and process.stderr on first use, and creating one costs a few ms
 * (a pipe or socket stream); most node scripts log through `this.logger` and never touch them.
 * Notes the ones that get created, so that stdioWritten() waits for those without creating the others.
 */
function watchStdio(): void {
  for (const name of ['stdout', 'stderr'] as const) {
    const descriptor = Object.getOwnPropertyDescriptor(process, name);
    if (!descriptor?.get || !descriptor.configurable) {
      usedStdio.push(process[name]);
      continue;
    }
    const create = descriptor.get;
    let stream: NodeJS.WriteStream | undefined;
    Object.defineProperty(process, name, {
      configurable: true,
      enumerable: descriptor.enumerable,
      get() {
        if (stream === undefined) {
          stream = create.call(process) as NodeJS.WriteStream;
          usedStdio.push(stream);
        }
        return stream;
      },
    });
  }
}

/** Pipe writes are asynchronous: wait until what the script printed has left, or process.exit() drops its last lines. */
function stdioWritten(): Promise<void> {
  return Promise.all(usedStdio.map((stream) => new Promise<void>((resolve) => {
    if (stream.destroyed || !stream.writable) resolve();
    else stream.write('', () => resolve());
  }))).then(() => undefined);
}

async function runAsJob(NodeClass: NodeClass): Promise<void> {
  watchStdio();
  if (!hasMessageChannel()) {
    process.stderr.write('this is a node script: it is started by the pipeline master (pipeline run), which gives it its arguments\n');
    process.exit(2);
  }
  const sink = new ChannelSink(MESSAGE_FD);
  // The job's CPU and peak memory travel with its end: the result, or the exception.
  const usage = new UsageSampler(process.env[JOB_MARK_VARIABLE]).start();
  let job = 'unknown';
  const fail = (error: unknown): void => {
    const err = error instanceof Error ? error : new Error(String(error));
    sink.send({ type: 'exception', job, name: err.name, message: err.message, stack: err.stack, usage: usage.finish() });
    sink.flush();
    void stdioWritten().then(() => reapAndExit(1));
  };
  process.on('SIGTERM', onTerminate);
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);

  let line: string;
  try {
    line = await readStartLine(killOwnGroup);
  } catch (error) {
    fail(error);
    return;
  }
  const start = decodeStartMessage(line);
  job = start.job;
  if (start.env) Object.assign(process.env, start.env);
  const returncode = await runNodeJob(NodeClass, start, sink, () => usage.finish());
  await stdioWritten();
  reapAndExit(returncode);
}

/**
 * Runs one job of a node script: run() with the start message's arguments, then its outputs and
 * result messages; the return code. What run() throws, it throws. A cold runtime runs one job,
 * a warm worker one after another.
 */
export async function runNodeJob(NodeClass: NodeClass, start: StartMessage, sink: MessageSink, usage: () => JobUsage): Promise<number> {
  const job = start.job;
  const node = new NodeClass({ job, sink, logLevel: start.logLevel });
  // The arguments are the JSON the master sent: a typed run() trusts its recipe to send what it declares.
  const returned = await node.run(...start.args);
  let returncode = returned ?? 0;
  if (!Number.isInteger(returncode) || returncode < 0 || returncode > 255) {
    node.logger.error(`run() returned ${JSON.stringify(returncode)}; a return code is an integer from 0 to 255`);
    returncode = 1;
  }
  if (Object.keys(node.outputs).length > 0) sink.send({ type: 'outputs', job, outputs: node.outputs });
  sink.send({ type: 'result', job, returncode, usage: usage() });
  sink.flush();
  return returncode;
}
