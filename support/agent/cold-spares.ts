/**
 * Node processes started ahead of cold node-script jobs (cold-start.ts): one spare per `node`
 * executable, started once the agent has had a cold job and again each time one is taken, so
 * a cold job does not wait for Node's start-up. A spare becomes exactly one job's process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { JOB_FD, type ColdStartJob } from './cold-start-job.js';

const COLD_START_SCRIPT = fileURLToPath(new URL('./cold-start.js', import.meta.url));

export class ColdSpares {
  readonly #spares = new Map<string, ChildProcess>();
  readonly #env: NodeJS.ProcessEnv;
  #closed = false;

  /** `env`: what every spare starts with (the agent's variables and its mark); a job's own are set when it arrives. */
  constructor(env: NodeJS.ProcessEnv) {
    this.#env = env;
  }

  /** A process for the job: the spare, or a new one when there is none (or it died); a new spare is started behind it. */
  take(executable: string, job: ColdStartJob): ChildProcess {
    let child = this.#spares.get(executable);
    this.#spares.delete(executable);
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) child = this.#start(executable);
    const jobPipe = child.stdio[JOB_FD] as NodeJS.WritableStream;
    jobPipe.end(JSON.stringify(job) + '\n');
    setImmediate(() => {
      if (!this.#closed && !this.#spares.has(executable)) this.#spares.set(executable, this.#start(executable));
    });
    return child;
  }

  /** Ends the spares (the agent's end): with their job pipe closed they exit. */
  close(): void {
    this.#closed = true;
    for (const spare of this.#spares.values()) (spare.stdio[JOB_FD] as NodeJS.WritableStream).end();
    this.#spares.clear();
  }

  #start(executable: string): ChildProcess {
    // Its own process group, as every job's; fd 3 the message channel, fd 4 its job.
    const child = spawn(executable, [COLD_START_SCRIPT], { detached: true, env: this.#env, stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'] });
    child.on('error', () => {}); // a spare that could not start: the job that takes it hears of it
    for (const stream of [child.stdin, child.stdio[JOB_FD]] as NodeJS.WritableStream[]) stream.on('error', () => {});
    return child;
  }
}
