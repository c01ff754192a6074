/**
 * The protocol between the master and a host's agent (issue 16): JSON lines over one channel's
 * stdin and stdout, never evaluated, every message after the greetings tagged with the agent's
 * number for the job. Both ends greet with their version and refuse a different one.
 *
 * Master to agent: hello, start (a job), cancel (stop a job), ack (bytes of a job's output the
 * master has taken, for per-job flow control). The end of stdin: stop every job and exit.
 * Agent to master: hello, data (a piece of a job's stdout, stderr or message stream, in base64 so
 * that any bytes pass exactly at a fixed cost: binary output as latin1 JSON text cost 2.3 bytes a
 * byte and its JSON escaping), exit (the job's end: code or signal, usage).
 */
import { ProtocolError } from '../errors.js';
import { usageOf, type JobUsage } from '../protocol/job-usage.js';
import type { StartMessage } from '../protocol/messages.js';

/** Raised when a message changes shape; a master and an agent of different versions refuse each other. */
export const AGENT_PROTOCOL_VERSION = 1;

/** Bytes of a job's output the agent sends ahead of the master's acks; then it stops reading that job's pipes. */
export const AGENT_WINDOW_BYTES = 256 * 1024;

/** What a job is, for the agent: a shell command, or a node script (JavaScript or Python) run cold or warm. */
export interface AgentJob {
  kind: 'shell' | 'node' | 'python';
  /** shell: the command line for `sh -c`; node and python: the script's path on the host. */
  command: string;
  /** node and python: the program that runs the script (`node_executable`, `python_executable`). */
  executable?: string;
  /** python: the directory of the framework's Python runtime, first on PYTHONPATH. */
  runtimeDirectory?: string;
  /** Where the job starts (created when missing); a leading `~` is the home of the agent's user. */
  cwd?: string;
  /** The job's variables, its mark among them. */
  env: Record<string, string>;
  /** The value of PIPELINE_JOB_MARK in env: what the agent looks for under /proc to stop what left the job's group. */
  mark: string;
  /** node and python: the start message the script's runtime reads first. */
  start?: StartMessage;
  /** node: run in a long-lived worker that imports the script once (the job asked for it with `warm: true`). */
  warm?: boolean;
}

/** Streams of a job: 1 stdout, 2 stderr, 3 a node script's message channel. */
export type AgentStream = 1 | 2 | 3;

export type MasterMessage =
  | { t: 'hello'; v: number }
  | { t: 'start'; id: number; job: AgentJob }
  | { t: 'cancel'; id: number; grace: number }
  | { t: 'ack'; id: number; n: number };

export type AgentMessage =
  | { t: 'hello'; v: number; pid: number; node: string }
  | { t: 'data'; id: number; s: AgentStream; d: string }
  | { t: 'exit'; id: number; code: number | null; signal: string | null; usage?: JobUsage };

export function encodeAgentMessage(message: MasterMessage | AgentMessage): string {
  return JSON.stringify(message) + '\n';
}

function record(line: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new ProtocolError('not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ProtocolError('not a JSON object');
  return value as Record<string, unknown>;
}

const isId = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
const isStrings = (value: unknown): value is Record<string, string> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');

/** One line from an agent, checked: a host cannot make the master take a job's end for another's. */
export function decodeAgentMessage(line: string): AgentMessage {
  const value = record(line);
  switch (value.t) {
    case 'hello':
      if (!Number.isInteger(value.v)) throw new ProtocolError('hello without a version');
      return { t: 'hello', v: value.v as number, pid: Number(value.pid), node: String(value.node) };
    case 'data':
      if (!isId(value.id) || ![1, 2, 3].includes(value.s as number) || typeof value.d !== 'string') throw new ProtocolError('malformed data message');
      return { t: 'data', id: value.id, s: value.s as AgentStream, d: value.d };
    case 'exit': {
      if (!isId(value.id)) throw new ProtocolError('exit without a job number');
      const code = Number.isInteger(value.code) ? (value.code as number) : null;
      const signal = typeof value.signal === 'string' ? value.signal : null;
      const usage = usageOf(value.usage);
      return { t: 'exit', id: value.id, code, signal, ...(usage ? { usage } : {}) };
    }
    default:
      throw new ProtocolError(`unknown message ${JSON.stringify(value.t)}`);
  }
}

/** One line from the master, checked on the host side. */
export function decodeMasterMessage(line: string): MasterMessage {
  const value = record(line);
  switch (value.t) {
    case 'hello':
      if (!Number.isInteger(value.v)) throw new ProtocolError('hello without a version');
      return { t: 'hello', v: value.v as number };
    case 'start': {
      const job = value.job as Record<string, unknown> | undefined;
      if (!isId(value.id) || typeof job !== 'object' || job === null) throw new ProtocolError('malformed start');
      if (!['shell', 'node', 'python'].includes(job.kind as string) || typeof job.command !== 'string' || typeof job.mark !== 'string' || !isStrings(job.env)) {
        throw new ProtocolError('malformed start: kind, command, mark and env are required');
      }
      return { t: 'start', id: value.id, job: job as unknown as AgentJob };
    }
    case 'cancel':
      if (!isId(value.id)) throw new ProtocolError('malformed cancel');
      return { t: 'cancel', id: value.id, grace: Number.isFinite(value.grace) ? (value.grace as number) : 2000 };
    case 'ack':
      if (!isId(value.id) || !Number.isSafeInteger(value.n)) throw new ProtocolError('malformed ack');
      return { t: 'ack', id: value.id, n: value.n as number };
    default:
      throw new ProtocolError(`unknown message ${JSON.stringify(value.t)}`);
  }
}
