/**
 * A warm worker (issue 16): a long-lived Node process a host's agent keeps for one node script.
 * It imports the script once and runs job after job of it, each asked for on stdin as one JSON
 * line. Everything goes out on fd 3, in order: the script's node messages as the cold runtime
 * writes them, and the worker's own control lines (`{"t":...}`): what the script printed, and
 * `done` at each job's end. A job that throws, or a script whose class says `static warm = false`,
 * retires the worker after its job; the agent kills a worker whose job is cancelled or times out.
 */
import { ChildProcess } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { pathToFileURL } from 'node:url';
import { LineSplitter } from '../protocol/line-splitter.js';
import { decodeStartMessage, type NodeMessage, type StartMessage } from '../protocol/messages.js';
import { JOB_MARK_VARIABLE, stopProcesses } from '../protocol/process-group.js';
import { ChannelSink, MESSAGE_FD, NODE_CLASS_REGISTRY, runNodeJob, type NodeClass } from '../node/runtime.js';

/** One job for the worker: the start message, the script, the job's variables and directory. */
export interface WarmJob {
  start: StartMessage;
  script: string;
  env: Record<string, string>;
  cwd?: string;
}

/** What the worker says besides the script's messages; node messages never have a `t`. */
export type WarmControl =
  /** What the script printed, base64 (any bytes), in pieces of at most OUT_PIECE_BYTES. */
  | { t: 'out'; d: string }
  | { t: 'done'; code: number; retire: boolean };

const sink = new ChannelSink<NodeMessage | WarmControl>(MESSAGE_FD);
const baseline = { ...process.env };
const classes = new Map<string, NodeClass>();
let current: WarmJob | undefined;
/** Whether the current job started a process: only then is there anything to look for at its end. */
let spawned = false;

// Every asynchronous way Node starts a process (spawn, exec, execFile, fork) goes through ChildProcess's
// spawn method (not in its types); the synchronous ones are wrapped where scripts import them from.
const childPrototype = ChildProcess.prototype as unknown as { spawn: (...args: unknown[]) => unknown };
const spawnProcess = childPrototype.spawn;
childPrototype.spawn = function (this: ChildProcess, ...args: unknown[]) {
  spawned = true;
  return spawnProcess.apply(this, args);
};
const childProcessModule = createRequire(import.meta.url)('node:child_process') as Record<string, (...args: unknown[]) => unknown>;
for (const name of ['spawnSync', 'execSync', 'execFileSync']) {
  const original = childProcessModule[name]!;
  childProcessModule[name] = (...args: unknown[]) => {
    spawned = true;
    return original(...args);
  };
}
syncBuiltinESMExports();

/** A piece of printed output per control line: its base64 stays well under the agent's line cap. */
const OUT_PIECE_BYTES = 1024 * 1024;

// What the script prints goes out on fd 3 with its messages, so it keeps its place among them and its job.
for (const stream of [process.stdout, process.stderr]) {
  stream.write = ((chunk: string | Uint8Array, encoding?: unknown, callback?: unknown) => {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : Buffer.from(chunk);
    for (let at = 0; at < bytes.length; at += OUT_PIECE_BYTES) sink.send({ t: 'out', d: bytes.subarray(at, at + OUT_PIECE_BYTES).toString('base64') });
    const done = typeof encoding === 'function' ? encoding : callback;
    if (typeof done === 'function') queueMicrotask(() => (done as () => void)());
    return true;
  }) as typeof stream.write;
}

async function nodeClassOf(script: string): Promise<NodeClass> {
  const known = classes.get(script);
  if (known) return known;
  let found: NodeClass | undefined;
  const registry = globalThis as Record<symbol, ((nodeClass: NodeClass) => void) | undefined>;
  registry[NODE_CLASS_REGISTRY] = (nodeClass) => (found ??= nodeClass);
  try {
    await import(pathToFileURL(realpathSync(script)).href);
  } finally {
    registry[NODE_CLASS_REGISTRY] = undefined;
  }
  if (!found) throw new Error(`${script} does not call Node.main(YourNode, import.meta), so a warm worker cannot find its Node class`);
  classes.set(script, found);
  return found;
}

/** The job's variables over the worker's own, as a fresh process would have them. */
function setEnvironment(env: Record<string, string>): void {
  for (const name of Object.keys(process.env)) if (!(name in baseline)) delete process.env[name];
  Object.assign(process.env, baseline, env);
}

let failed = false;
function fail(error: unknown): void {
  if (!current || failed) return;
  failed = true;
  const err = error instanceof Error ? error : new Error(String(error));
  sink.send({ type: 'exception', job: current.start.job, name: err.name, message: err.message, stack: err.stack, usage: usageSince(began) });
}

let began = process.resourceUsage();
function usageSince(from: NodeJS.ResourceUsage) {
  const now = process.resourceUsage();
  return {
    userSeconds: Math.round((now.userCPUTime - from.userCPUTime) / 1000) / 1000,
    systemSeconds: Math.round((now.systemCPUTime - from.systemCPUTime) / 1000) / 1000,
    peakRssBytes: process.memoryUsage.rss(),
  };
}

async function runJob(job: WarmJob): Promise<void> {
  current = job;
  failed = false;
  spawned = false;
  began = process.resourceUsage();
  let code = 1;
  let retire = false;
  try {
    setEnvironment(job.env);
    if (job.cwd) process.chdir(job.cwd);
    const NodeClass = await nodeClassOf(job.script);
    retire = (NodeClass as { warm?: boolean }).warm === false;
    code = await runNodeJob(NodeClass, job.start, sink, () => usageSince(began));
  } catch (error) {
    fail(error);
  }
  if (failed) retire = true; // a script that threw may have left its module state half-changed
  // Nothing the job started may outlive it; a job that started nothing leaves nothing to look for.
  if (spawned) {
    // The group's TERM reaches this worker too (it leads the group): it is for the job's processes, not for us.
    const ignore = () => {};
    process.on('SIGTERM', ignore);
    try {
      await stopProcesses({ group: process.pid, mark: job.env[JOB_MARK_VARIABLE] });
    } finally {
      process.off('SIGTERM', ignore);
    }
  }
  current = undefined;
  sink.send({ t: 'done', code: failed ? 1 : code, retire });
  sink.flush();
  if (retire) process.exit(0);
}

/** An error thrown outside run()'s promise (a timer, an event handler): run() may never settle, so the job ends here, and the worker with it. */
function crashed(error: unknown): void {
  if (!current) process.exit(1);
  fail(error);
  sink.send({ t: 'done', code: 1, retire: true });
  sink.flush();
  process.exit(1);
}
process.on('uncaughtException', crashed);
process.on('unhandledRejection', crashed);

const queue: WarmJob[] = [];
let running = false;
async function drain(): Promise<void> {
  if (running) return;
  running = true;
  for (let job = queue.shift(); job; job = queue.shift()) await runJob(job);
  running = false;
}

const lines = new LineSplitter((line) => {
  if (line.text === '') return;
  const request = JSON.parse(line.text) as WarmJob;
  queue.push({ ...request, start: decodeStartMessage(JSON.stringify(request.start)) });
  void drain();
}, 64 * 1024 * 1024);
process.stdin.on('data', (chunk: Buffer) => lines.push(chunk));
// The agent has gone: it stops this worker's group itself; should it have been killed, go.
process.stdin.on('end', () => process.exit(0));
