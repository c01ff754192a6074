/**
 * Dispatch through a warm agent per host (issue 16): the master starts `agent.js` once per host
 * over one channel of the host's launcher and sends it job after job (agent-protocol.ts). Each job
 * looks to JobExecution like a process of its own (AgentProcess). Where the agent cannot start
 * (no node, the framework not at install_root), the host's jobs run one channel each, as with
 * `[remote] dispatch = channel`, and the log says so once per host. A host's first job, too,
 * runs over a channel of its own: its agent starts with its second.
 */
import { PassThrough, Writable } from 'node:stream';
import { UsageError } from '../errors.js';
import { LineSplitter } from '../protocol/line-splitter.js';
import type { Logger } from '../logging/run-log.js';
import { LaunchError, type ExitStatus, type LaunchDetails, type LaunchedProcess, type Launcher } from '../launchers/launcher.js';
import { AGENT_PROTOCOL_VERSION, AGENT_WINDOW_BYTES, decodeAgentMessage, encodeAgentMessage, type AgentJob, type AgentMessage, type MasterMessage } from '../agent/agent-protocol.js';

export type DispatchMode = 'agent' | 'channel';

/** A job as each way of dispatch starts it. */
export interface JobLaunch {
  /** The command line of the job's own channel. */
  command: string;
  /** The job as a host's agent runs it (made only when an agent runs it). */
  agentJob: () => AgentJob;
  /** Its cores and name, for a launcher that uses them (Slurm, a custom command line). */
  details?: LaunchDetails;
}

/** How long an agent may take to greet before its host counts as one without an agent. */
const HELLO_TIMEOUT_MS = 30_000;

/** The master and an agent of different protocol versions cannot work together: the run stops (exit 2). */
export class AgentVersionError extends UsageError {
  constructor(host: string, agentVersion: number, installRoot: string) {
    super(`the agent on ${host} speaks agent protocol ${agentVersion}, this master ${AGENT_PROTOCOL_VERSION} (install_root ${installRoot}); deploy the same framework version on the master and the hosts`);
  }
}

/** A job running inside an agent, as JobExecution sees a launched process. */
class AgentProcess implements LaunchedProcess {
  readonly managed = true;
  readonly stdin = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly exited: Promise<ExitStatus>;
  readonly #id: number;
  readonly #agent: HostAgent;
  #resolve!: (status: ExitStatus) => void;
  #status: ExitStatus | undefined;
  #unacked = 0;
  readonly #waitingForDrain = new Map<PassThrough, number>();
  readonly #shellJob: boolean;

  constructor(id: number, agent: HostAgent, kind: AgentJob['kind']) {
    this.#id = id;
    this.#agent = agent;
    this.#shellJob = kind === 'shell';
    this.exited = new Promise((resolve) => (this.#resolve = resolve));
    const ended = Promise.all([this.stdout, this.stderr].map((stream) => new Promise((done) => stream.once('end', done))));
    void ended.then(() => this.#resolve(this.#status!));
  }

  /** A piece of the job's output: acked once the consumer has it, so a job the master is not reading waits on its host. */
  data(stream: 1 | 2 | 3, text: string): void {
    if (this.#status) return;
    const chunk = Buffer.from(text, 'base64');
    // A shell command's stdout is its stdout; a node script's message stream (fd 3) is what JobExecution reads as stdout.
    const target = stream === 2 || (stream === 1 && !this.#shellJob) ? this.stderr : this.stdout;
    if (target.write(chunk)) {
      this.#ack(chunk.length);
      return;
    }
    // Acked once this stream drains; an agent that sends far past its window is not one to trust.
    const waiting = (this.#waitingForDrain.get(target) ?? 0) + chunk.length;
    this.#waitingForDrain.set(target, waiting);
    if (waiting > 4 * AGENT_WINDOW_BYTES) this.#agent.misbehaved(`it sent ${waiting} bytes of a job's output past the window of ${AGENT_WINDOW_BYTES}`);
    if (waiting === chunk.length) {
      target.once('drain', () => {
        const bytes = this.#waitingForDrain.get(target) ?? 0;
        this.#waitingForDrain.delete(target);
        this.#ack(bytes);
      });
    }
  }

  #ack(bytes: number): void {
    if (this.#unacked === 0) setImmediate(() => {
      const n = this.#unacked;
      this.#unacked = 0;
      this.#agent.send({ t: 'ack', id: this.#id, n });
    });
    this.#unacked += bytes;
  }

  end(status: ExitStatus): void {
    if (this.#status) return;
    this.#status = status;
    this.stdout.end();
    this.stderr.end();
  }

  terminate(graceMs: number): void {
    this.#agent.send({ t: 'cancel', id: this.#id, grace: graceMs });
  }
}

/** One host's agent: its channel, its greeting, its jobs. */
class HostAgent {
  readonly host: string;
  readonly ready: Promise<boolean>;
  readonly #jobs = new Map<number, AgentProcess>();
  #launched: LaunchedProcess | undefined;
  #nextId = 1;
  #dead = false;
  #greeted = false;
  #outbox: string[] = [];
  #stderrTail: string[] = [];
  #why = '';

  readonly #logger: Logger;

  constructor(host: string, launcher: Launcher, command: string, installRoot: string, logger: Logger, onFatal: (error: Error) => void) {
    this.host = host;
    this.#logger = logger;
    this.ready = this.#start(launcher, command, installRoot, onFatal);
  }

  get dead(): boolean {
    return this.#dead;
  }

  /** Why the agent could not start, when it could not. */
  get why(): string {
    return this.#why;
  }

  async #start(launcher: Launcher, command: string, installRoot: string, onFatal: (error: Error) => void): Promise<boolean> {
    const launched = await launcher.start(this.host, command, { resident: true, name: 'pipeline-agent' }); // a LaunchError (host unreachable) is the job's failure
    this.#launched = launched;
    launched.stdin.on('error', () => {});
    let timer: NodeJS.Timeout | undefined;
    let answer: (ok: boolean) => void;
    const hello = new Promise<boolean>((resolve) => (answer = resolve));
    const greeted = (ok: boolean) => {
      clearTimeout(timer);
      answer(ok);
    };
    const lines = new LineSplitter((line) => {
      let message: AgentMessage;
      try {
        message = decodeAgentMessage(line.text);
      } catch (error) {
        this.#why = `the agent said something that is not its protocol (${(error as Error).message}): ${line.text.slice(0, 200)}`;
        launched.terminate(0);
        return;
      }
      if (message.t === 'hello') {
        if (message.v !== AGENT_PROTOCOL_VERSION) {
          onFatal(new AgentVersionError(this.host, message.v, installRoot));
          launched.stdin.end();
          greeted(false);
          return;
        }
        this.send({ t: 'hello', v: AGENT_PROTOCOL_VERSION });
        this.#greeted = true;
        this.#logger.debug(`agent started on ${this.host} (pid ${message.pid}, node ${message.node})`, { host: this.host });
        greeted(true);
      } else if (message.t === 'data') {
        this.#jobs.get(message.id)?.data(message.s, message.d);
      } else {
        const job = this.#jobs.get(message.id);
        this.#jobs.delete(message.id);
        job?.end({ code: message.code, signal: message.signal, ...(message.usage ? { usage: message.usage } : {}) });
      }
    }, 64 * 1024 * 1024);
    launched.stdout.on('data', (chunk: Buffer) => lines.push(chunk));
    const stderr = new LineSplitter((line) => {
      // Not a job's: what the agent itself says (a start-up failure, a crash), once it greeted.
      if (this.#greeted) this.#logger.warn(`agent: ${line.text}`, { host: this.host });
      this.#stderrTail.push(line.text);
      if (this.#stderrTail.length > 5) this.#stderrTail.shift();
    });
    launched.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    timer = setTimeout(() => {
      this.#why = `it did not answer within ${HELLO_TIMEOUT_MS / 1000} s`;
      launched.terminate(0);
    }, HELLO_TIMEOUT_MS);
    timer.unref();
    void launched.exited.then((status) => {
      clearTimeout(timer);
      lines.end();
      stderr.end();
      this.#dead = true;
      const how = status.connectionLost ? 'the connection was lost' : status.signal ? `killed by ${status.signal}` : `exit ${status.code}`;
      // A dropped connection is said as on the channel path; an agent that ended is named.
      const lostBecause = status.connectionLost ? `connection to ${this.host} lost while the job ran` : `the agent on ${this.host} ended while the job ran (${how})`;
      if (!this.#why) this.#why = `${how}${this.#stderrTail.length ? `: ${this.#stderrTail.join(' | ')}` : ''}`;
      greeted(false);
      for (const job of this.#jobs.values()) job.end({ code: null, signal: null, connectionLost: true, lostBecause });
      this.#jobs.clear();
    });
    return hello;
  }

  /** The agent broke the protocol: its channel is closed, and its jobs end as connection-lost (and are retried). */
  misbehaved(why: string): void {
    if (this.#dead) return;
    this.#why = why;
    this.#logger.error(`the agent on ${this.host} broke its protocol: ${why}; closing it`, { host: this.host });
    this.#launched?.terminate(0);
  }

  start(job: AgentJob): LaunchedProcess {
    const id = this.#nextId++;
    const process = new AgentProcess(id, this, job.kind);
    // An agent that died since its job was sent here: the job ends at once, as one whose connection was lost.
    if (this.#dead) {
      process.end({ code: null, signal: null, connectionLost: true, lostBecause: `the agent on ${this.host} ended before the job started (${this.#why})` });
      return process;
    }
    this.#jobs.set(id, process);
    this.send({ t: 'start', id, job });
    return process;
  }

  /** Messages go out together once per turn of the event loop: a write (a syscall, an SSH packet) per message cost a quarter of the master's CPU at warm-job rates. */
  send(message: MasterMessage): void {
    this.#outbox.push(encodeAgentMessage(message));
    if (this.#outbox.length === 1) setImmediate(() => this.#flush());
  }

  #flush(): void {
    const text = this.#outbox.join('');
    this.#outbox = [];
    if (!this.#dead && this.#launched && !this.#launched.stdin.writableEnded) this.#launched.stdin.write(text);
  }

  close(): void {
    this.#flush();
    this.#launched?.stdin.end();
  }
}

export interface AgentDispatchOptions {
  mode: DispatchMode;
  /** The launcher that reaches a host (local or SSH). */
  launcherFor: (host: string) => Launcher;
  /** The command that starts the agent on a host, asked when it starts: a deploying run's agents start from the version it deployed. */
  agentCommand: () => string;
  installRoot: string;
  logger: Logger;
  /** A problem that must stop the run (the agent's protocol version differs). */
  onFatal: (error: Error) => void;
}

/** Starts each job through its host's agent, or over a channel of its own (the mode, or a host without an agent). */
export class AgentDispatch {
  readonly #options: AgentDispatchOptions;
  readonly #agents = new Map<string, HostAgent>();
  /** Hosts where the agent cannot start: their jobs run one channel each. */
  readonly #withoutAgent = new Set<string>();
  /** Hosts that have had a job. */
  readonly #hostsSeen = new Set<string>();

  constructor(options: AgentDispatchOptions) {
    this.#options = options;
  }

  async start(host: string, launch: JobLaunch): Promise<LaunchedProcess> {
    const launcher = this.#options.launcherFor(host);
    if (this.#options.mode === 'channel' || this.#withoutAgent.has(host) || (launch.details && launcher.ownLaunch?.(launch.details))) {
      return launcher.start(host, launch.command, launch.details);
    }
    // A host's first job goes over a channel of its own and its agent starts with the second: an
    // agent is a Node start-up (~100 ms of CPU), which a run of one job per host would only wait for.
    if (!this.#hostsSeen.has(host)) {
      this.#hostsSeen.add(host);
      return launcher.start(host, launch.command, launch.details);
    }
    let agent = this.#agents.get(host);
    if (!agent || agent.dead) {
      agent = new HostAgent(host, launcher, this.#options.agentCommand(), this.#options.installRoot, this.#options.logger, this.#options.onFatal);
      this.#agents.set(host, agent);
    }
    let ready: boolean;
    try {
      ready = await agent.ready;
    } catch (error) {
      if (this.#agents.get(host) === agent) this.#agents.delete(host); // the next job tries afresh
      throw error;
    }
    if (!ready) {
      if (agent.dead && this.#agents.get(host) === agent && !this.#withoutAgent.has(host)) {
        this.#withoutAgent.add(host);
        this.#options.logger.warn(`the agent cannot start on ${host} (${agent.why}); its jobs run one ${launcher.name === 'ssh' ? 'SSH channel' : 'process'} each`, { host });
      }
      if (!this.#withoutAgent.has(host)) throw new LaunchError(host, `the agent on ${host} is not running (${agent.why})`);
      return launcher.start(host, launch.command, launch.details);
    }
    return agent.start(launch.agentJob());
  }

  /** Ends every agent's channel: each agent stops what still runs and exits. */
  close(): void {
    for (const agent of this.#agents.values()) agent.close();
  }
}

