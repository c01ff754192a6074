#!/usr/bin/env node
/**
 * The host agent (issue 16): started once per host and run over one channel of any launcher, it
 * runs many jobs at once for the master (agent-protocol.ts). Each job runs in its own process
 * group with its mark in its environment; at its end, and when it is cancelled, everything of it
 * is stopped as the shell guard and the node runtime stop it. When the master's channel closes
 * (the run ended, the master died, the connection dropped), every job is stopped and the agent
 * exits; a watchdog outside the agent does the same should the agent itself be killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { ChannelSink } from '../node/runtime.js';
import { UsageSampler } from '../node/usage-sampler.js';
import type { JobUsage } from '../protocol/job-usage.js';
import { LineSplitter } from '../protocol/line-splitter.js';
import { encodeMessage } from '../protocol/messages.js';
import { KILL_GRACE_MS, signalGroup, signalMarkedShellFunction, stopProcesses } from '../protocol/process-group.js';
import { shellQuote } from '../protocol/shell-words.js';
import { AGENT_PROTOCOL_VERSION, AGENT_WINDOW_BYTES, decodeMasterMessage, type AgentJob, type AgentMessage, type AgentStream } from './agent-protocol.js';
import { ColdSpares } from './cold-spares.js';
import { LeftoverSweep } from './leftover-sweep.js';
import { WarmPool, type WarmJobSink, type WarmWorker } from './warm-pool.js';

/** Every process of every job of this agent carries it: what the watchdog stops if the agent is killed. */
export const AGENT_MARK_VARIABLE = 'PIPELINE_AGENT_MARK';
const agentMark = randomBytes(12).toString('hex');

// The master gone (EPIPE on stdout) is the end of the channel, as the end of stdin is.
const channel = new ChannelSink<AgentMessage>(1, () => void shutDown());
const tasks = new Map<number, AgentTask>();
/** What the processes the agent starts ahead of their jobs (warm workers, cold spares) begin with. */
const markedEnv = { ...process.env, [AGENT_MARK_VARIABLE]: agentMark };
const pool = new WarmPool(markedEnv);
const leftovers = new LeftoverSweep();
const coldSpares = new ColdSpares(markedEnv);
const madeDirectories = new Set<string>();
/** When a job's processes are first sampled for its usage (then every USAGE_SAMPLE_MS). */
const FIRST_SAMPLE_MS = 50;

/** What a shell says when it cannot make a directory, so that the master tells a permanent cause the same way on both paths. */
const ERRNO_TEXT: Record<string, string> = {
  EACCES: 'Permission denied', EPERM: 'Operation not permitted', ENOENT: 'No such file or directory', EROFS: 'Read-only file system', ENOTDIR: 'Not a directory',
};

/** A path the master wrote for the hosts, with its leading `~` made this user's home. */
function hostDirectory(path: string): string {
  if (path === '~') return homedir();
  return path.startsWith('~/') ? join(homedir(), path.slice(2)) : path;
}

class AgentTask implements WarmJobSink {
  readonly id: number;
  readonly #job: AgentJob;
  readonly finished: Promise<void>;
  #resolveEnded!: () => void;
  #child: ChildProcess | undefined;
  #worker: WarmWorker | undefined;
  #streams: Readable[] = [];
  #unacked = 0;
  #paused = false;
  #finished = false;
  #cancelled = false;
  #sampler: UsageSampler | undefined;

  constructor(id: number, job: AgentJob) {
    this.id = id;
    // Scripts under an install_root of `~/...`: spawn() expands nothing. No copy of the job for the usual absolute paths.
    const homeRelative = job.kind !== 'shell' && [job.command, job.executable, job.runtimeDirectory].some((path) => path?.startsWith('~'));
    this.#job = !homeRelative ? job : {
      ...job,
      command: hostDirectory(job.command),
      ...(job.executable ? { executable: hostDirectory(job.executable) } : {}),
      ...(job.runtimeDirectory ? { runtimeDirectory: hostDirectory(job.runtimeDirectory) } : {}),
    };
    this.finished = new Promise((resolve) => (this.#resolveEnded = resolve));
  }

  start(): void {
    const job = this.#job;
    let cwd: string | undefined;
    if (job.cwd) {
      cwd = hostDirectory(job.cwd);
      if (!madeDirectories.has(cwd)) {
        try {
          mkdirSync(cwd, { recursive: true });
          madeDirectories.add(cwd);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code ?? '';
          this.data(2, Buffer.from(`mkdir: cannot create directory ${shellQuote(cwd)}: ${ERRNO_TEXT[code] ?? code}\n`));
          this.#finish(126, null);
          return;
        }
      }
    }
    if (job.kind === 'node' && job.warm && job.start) {
      this.#worker = pool.take(job.executable ?? 'node', job.command);
      this.#worker.run({ start: job.start, script: job.command, env: job.env, ...(cwd ? { cwd } : {}) }, this);
      return;
    }
    const env: NodeJS.ProcessEnv = { ...process.env, ...job.env, [AGENT_MARK_VARIABLE]: agentMark };
    let file: string;
    let args: string[];
    if (job.kind === 'shell') {
      [file, args] = ['/bin/sh', ['-c', job.command]];
    } else {
      [file, args] = [job.executable ?? (job.kind === 'python' ? 'python3' : 'node'), [job.command]];
      // The runtime module first on the path, before any PYTHONPATH of the job.
      if (job.kind === 'python' && job.runtimeDirectory) env.PYTHONPATH = env.PYTHONPATH ? `${job.runtimeDirectory}:${env.PYTHONPATH}` : job.runtimeDirectory;
    }
    // A cold node script takes a Node process started ahead of it, unless its variables change how node itself starts (NODE_*, UV_*).
    const spare = job.kind === 'node' && !Object.keys(job.env).some((name) => name.startsWith('NODE_') || name.startsWith('UV_'));
    // detached: a group of its own, so that the whole job can be signalled. A shell command reads nothing (the guard gave it /dev/null).
    let child: ChildProcess;
    try {
      child = spare
        ? coldSpares.take(file, { script: job.command, env: job.env, ...(cwd ? { cwd } : {}) })
        : spawn(file, args, { cwd, env, detached: true, stdio: [job.kind === 'shell' ? 'ignore' : 'pipe', 'pipe', 'pipe', ...(job.kind === 'shell' ? [] : ['pipe' as const])] });
    } catch (error) {
      // Thrown, not emitted: a command line over the kernel's limit (E2BIG), a NUL byte in a value, no descriptors left.
      this.cannotStart(file, error as NodeJS.ErrnoException);
      return;
    }
    this.#child = child;
    child.on('error', (error) => this.cannotStart(file, error as NodeJS.ErrnoException));
    if (!child.pid) return;
    if (job.kind === 'shell') {
      this.#forward(child.stdout!, 1);
      this.#forward(child.stderr!, 2);
    } else {
      // A node script's own stdout joins its stderr; fd 3 carries its messages (DESIGN.md §4).
      this.#forward(child.stdio[3] as Readable, 3);
      this.#forward(child.stdout!, 2);
      this.#forward(child.stderr!, 2);
      child.stdin!.on('error', () => {});
      // stdin stays open while the job runs: its end tells the runtime to stop the job.
      child.stdin!.write(encodeMessage(job.start!));
    }
    // Sampled from FIRST_SAMPLE_MS on, as the channel path's guard is: a job done sooner (a `true`) costs only the last look, and reports what it saw (nothing).
    const sampler = new UsageSampler(job.mark, child.pid);
    this.#sampler = sampler;
    const firstSample = setTimeout(() => sampler.start(), FIRST_SAMPLE_MS);
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    child.on('exit', (code, signal) => {
      clearTimeout(firstSample);
      void this.#reap(code, signal, closed);
    });
  }

  /** The job's program could not be started: said on its stderr as a shell would, and exit 126 (not runnable) or 127 (not found). */
  cannotStart(file: string, error: NodeJS.ErrnoException): void {
    const notFound = error.code === 'ENOENT';
    const text = notFound ? 'not found' : error.code === 'EACCES' ? ERRNO_TEXT.EACCES : error.message;
    this.data(2, Buffer.from(`${file}: ${text}\n`));
    this.#finish(notFound ? 127 : 126, null);
  }

  /** The job's main process ended: stop what it left, wait for its output to end, report. */
  async #reap(code: number | null, signal: NodeJS.Signals | null, closed: Promise<void>): Promise<void> {
    const usage = this.#sampler?.finish();
    this.#child?.stdin?.end();
    const swept = leftovers.add(this.#job.mark, this.#child!.pid!);
    // Nearly always the output ends with the job; else a leftover holds it, until the sweep stops it.
    const ended = await Promise.race([closed.then(() => true), swept.then(() => false)]);
    // Everything of the job is stopped; output still in the pipes arrives unless the master stops taking it.
    while (!ended) {
      const timedOut = await Promise.race([closed.then(() => false), delay(KILL_GRACE_MS).then(() => true)]);
      if (!timedOut) break;
      if (this.#paused) continue;
      // Held open by a process that cleared its environment and left the group: do not wait for it.
      for (const stream of this.#streams) stream.destroy();
      break;
    }
    this.#finish(code, signal, usage);
  }

  #forward(stream: Readable, id: AgentStream): void {
    this.#streams.push(stream);
    stream.on('data', (chunk: Buffer) => this.data(id, chunk));
    stream.on('error', () => {});
  }

  data(stream: AgentStream, chunk: Buffer): void {
    if (this.#finished) return;
    channel.send({ t: 'data', id: this.id, s: stream, d: chunk.toString('base64') });
    this.#unacked += chunk.length;
    if (this.#unacked > AGENT_WINDOW_BYTES && !this.#paused) {
      this.#paused = true;
      for (const s of this.#streams) s.pause();
      this.#worker?.pause();
    }
  }

  ack(bytes: number): void {
    this.#unacked -= bytes;
    if (this.#paused && this.#unacked <= AGENT_WINDOW_BYTES / 2) {
      this.#paused = false;
      for (const s of this.#streams) s.resume();
      this.#worker?.resume();
    }
  }

  /** A warm worker's job ended. */
  ended(code: number | null, signal: string | null): void {
    this.#finish(code, signal);
  }

  cancel(graceMs: number): void {
    if (this.#finished || this.#cancelled) return;
    this.#cancelled = true;
    if (this.#worker) {
      // A warm job's worker goes with it: whatever state the script was in is not another job's.
      const worker = this.#worker;
      worker.retire();
      worker.kill('SIGTERM');
      void delay(graceMs).then(() => worker.kill('SIGKILL'));
      void stopProcesses({ mark: this.#job.mark, graceMs });
      return;
    }
    // The end of stdin lets a node runtime clean up itself; TERM reaches plain commands; KILL what is left after the grace.
    this.#child?.stdin?.end();
    if (this.#child?.pid) void stopProcesses({ group: this.#child.pid, mark: this.#job.mark, except: [process.pid], graceMs });
  }

  #finish(code: number | null, signal: string | null, usage?: JobUsage): void {
    if (this.#finished) return;
    this.#finished = true;
    tasks.delete(this.id);
    channel.send({ t: 'exit', id: this.id, code, signal, ...(usage ? { usage } : {}) });
    this.#resolveEnded();
  }
}

/**
 * Should the agent be killed outright, a watchdog outside it (its own session, reading a pipe
 * only the agent holds) sees the pipe end and stops every process that carries the agent's mark.
 */
function startWatchdog(): void {
  const marked = signalMarkedShellFunction(AGENT_MARK_VARIABLE, agentMark);
  const script = `read -r _; ${marked}; m TERM || exit 0; i=0; while m 0 && [ $i -lt ${KILL_GRACE_MS / 100} ]; do sleep 0.1; i=$((i+1)); done; m KILL; exit 0`;
  const watchdog = spawn('/bin/sh', ['-c', script], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  watchdog.on('error', () => {});
  watchdog.stdin!.on('error', () => {});
  watchdog.unref();
}

let shuttingDown = false;
async function shutDown(): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  coldSpares.close();
  const running = [...tasks.values()];
  for (const task of running) task.cancel(KILL_GRACE_MS);
  for (const group of pool.groups()) signalGroup(group, 'SIGTERM');
  await Promise.race([Promise.all(running.map((task) => task.finished)), delay(KILL_GRACE_MS + 500)]);
  for (const group of pool.groups()) signalGroup(group, 'SIGKILL');
  channel.flush();
  process.exit(0);
}

function onMasterLine(text: string): void {
  if (text === '') return;
  const message = decodeMasterMessage(text);
  switch (message.t) {
    case 'hello':
      if (message.v !== AGENT_PROTOCOL_VERSION) {
        process.stderr.write(`pipeline agent: the master speaks agent protocol ${message.v}, this agent ${AGENT_PROTOCOL_VERSION}\n`);
        process.exit(2);
      }
      break;
    case 'start': {
      const task = new AgentTask(message.id, message.job);
      tasks.set(message.id, task);
      try {
        task.start();
      } catch (error) {
        task.cannotStart(message.job.executable ?? message.job.command.split(' ')[0]!, error as NodeJS.ErrnoException);
      }
      break;
    }
    case 'cancel':
      tasks.get(message.id)?.cancel(message.grace);
      break;
    case 'ack':
      tasks.get(message.id)?.ack(message.n);
      break;
  }
}

function main(): void {
  startWatchdog();
  channel.send({ t: 'hello', v: AGENT_PROTOCOL_VERSION, pid: process.pid, node: process.version });
  channel.flush();
  const lines = new LineSplitter((line) => {
    try {
      onMasterLine(line.text);
    } catch (error) {
      process.stderr.write(`pipeline agent: malformed message from the master (${(error as Error).message})\n`);
    }
  }, 64 * 1024 * 1024);
  process.stdin.on('data', (chunk: Buffer) => lines.push(chunk));
  process.stdin.on('end', () => void shutDown());
  process.stdin.on('error', () => void shutDown());
  process.on('SIGTERM', () => void shutDown());
  process.on('SIGHUP', () => void shutDown());
}

main();
