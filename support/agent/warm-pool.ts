/**
 * The agent's warm workers (warm-worker.ts): per node script, processes kept between jobs so that
 * a job costs no Node start-up and no import. A worker runs one job at a time; the master's
 * per-host limit bounds the busy ones, and idle ones past that many are ended.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LineSplitter } from '../protocol/line-splitter.js';
import { MAX_MESSAGE_LINE_BYTES } from '../protocol/messages.js';
import { signalGroup } from '../protocol/process-group.js';
import type { AgentStream } from './agent-protocol.js';
import type { WarmControl, WarmJob } from './warm-worker.js';

const WORKER_SCRIPT = fileURLToPath(new URL('./warm-worker.js', import.meta.url));

/** Where a worker's job sends what the worker says, and hears of its end. */
export interface WarmJobSink {
  data(stream: AgentStream, chunk: Buffer): void;
  /** The job ended: its return code, or the signal or exit code the worker ended with. */
  ended(code: number | null, signal: string | null): void;
}

export class WarmWorker {
  readonly script: string;
  readonly #child: ChildProcess;
  readonly #pool: WarmPool;
  #job: WarmJobSink | undefined;
  #gone = false;
  #retired = false;

  constructor(pool: WarmPool, executable: string, script: string, env: NodeJS.ProcessEnv) {
    this.#pool = pool;
    this.script = script;
    // Its own process group, so that a cancelled job takes the worker and everything under it; the
    // agent's mark in its environment, so that the agent's watchdog finds it should the agent be killed.
    this.#child = spawn(executable, [WORKER_SCRIPT], { detached: true, env, stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
    // Twice the master's cap: a message line over the master's cap is still over it when passed on, so the master sees it cut (outputs-too-large).
    const messages = new LineSplitter((line) => {
      const control = line.cutBytes === 0 && line.text.startsWith('{"t":') ? controlOf(line.text) : undefined;
      if (control) this.#control(control);
      else this.#job?.data(3, Buffer.from(line.text + '\n', 'utf8'));
    }, 2 * MAX_MESSAGE_LINE_BYTES);
    (this.#child.stdio[3] as NodeJS.ReadableStream).on('data', (chunk: Buffer) => messages.push(chunk));
    // Programs the script started with inherited stdio write here: the running job's.
    for (const stream of [this.#child.stdout!, this.#child.stderr!]) stream.on('data', (chunk: Buffer) => this.#job?.data(2, chunk));
    this.#child.stdin!.on('error', () => {});
    this.#child.on('error', (error) => this.#exit(127, null, `cannot start ${executable}: ${error.message}\n`));
    // The end after its output: what a script wrote before process.exit() still reaches its job.
    this.#child.on('exit', (code, signal) => {
      const late = setTimeout(() => this.#exit(code, signal), 2000);
      this.#child.once('close', () => {
        clearTimeout(late);
        this.#exit(code, signal);
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get busy(): boolean {
    return this.#job !== undefined;
  }

  run(job: WarmJob, sink: WarmJobSink): void {
    this.#job = sink;
    this.#child.stdin!.write(JSON.stringify(job) + '\n');
  }

  /** The running job's output waits in the pipes until the master has taken what it has (agent flow control). */
  pause(): void {
    for (const stream of this.#streams()) stream.pause();
  }

  resume(): void {
    for (const stream of this.#streams()) stream.resume();
  }

  #streams(): NodeJS.ReadableStream[] {
    return [this.#child.stdio[3] as NodeJS.ReadableStream, this.#child.stdout!, this.#child.stderr!];
  }

  /** Ends the worker and its whole group (a cancelled job, a worker no longer needed, the agent's end). */
  kill(signal: NodeJS.Signals): void {
    if (this.#child.pid) signalGroup(this.#child.pid, signal);
  }

  /** The worker's job was cancelled: whatever it does next, it serves no other job. */
  retire(): void {
    this.#retired = true;
  }

  #control(control: WarmControl): void {
    if (control.t === 'out') {
      this.#job?.data(2, Buffer.from(control.d, 'base64'));
      return;
    }
    const job = this.#job;
    this.#job = undefined;
    // Its job may have left it paused (flow control); the next one starts with it reading.
    this.resume();
    job?.ended(control.code, null);
    if (control.retire || this.#retired) this.kill('SIGKILL');
    else this.#pool.idle(this);
  }

  #exit(code: number | null, signal: NodeJS.Signals | null, message?: string): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#pool.gone(this);
    const job = this.#job;
    this.#job = undefined;
    if (job && message) job.data(2, Buffer.from(message));
    // A script that called process.exit(5) ends its job with 5; a killed worker with its signal.
    job?.ended(code, signal);
  }
}

/** A worker's control line, or undefined when the line is not one (then it is passed on as the job's). */
function controlOf(text: string): WarmControl | undefined {
  try {
    const value = JSON.parse(text) as WarmControl;
    return value.t === 'out' ? (typeof value.d === 'string' ? value : undefined) : value.t === 'done' && Number.isInteger(value.code) ? value : undefined;
  } catch {
    return undefined;
  }
}

export class WarmPool {
  readonly #idle: WarmWorker[] = [];
  readonly #env: NodeJS.ProcessEnv;

  /** `env`: what every worker starts with (the agent's variables and its mark); a job's own are set per job. */
  constructor(env: NodeJS.ProcessEnv) {
    this.#env = env;
  }
  readonly #all = new Set<WarmWorker>();
  #mostBusy = 0;

  /** An idle worker for the script, or a new one. */
  take(executable: string, script: string): WarmWorker {
    const index = this.#idle.findIndex((worker) => worker.script === script);
    const worker = index >= 0 ? this.#idle.splice(index, 1)[0]! : new WarmWorker(this, executable, script, this.#env);
    this.#all.add(worker);
    this.#mostBusy = Math.max(this.#mostBusy, [...this.#all].filter((w) => w.busy).length + 1);
    return worker;
  }

  idle(worker: WarmWorker): void {
    this.#idle.push(worker);
    // More idle workers than jobs ever ran at once here: the oldest goes.
    while (this.#idle.length > this.#mostBusy) this.#idle.shift()!.kill('SIGKILL');
  }

  gone(worker: WarmWorker): void {
    this.#all.delete(worker);
    const index = this.#idle.indexOf(worker);
    if (index >= 0) this.#idle.splice(index, 1);
  }

  /** Every worker's process group, for the agent's end. */
  groups(): number[] {
    return [...this.#all].map((worker) => worker.pid).filter((pid): pid is number => pid !== undefined);
  }
}
