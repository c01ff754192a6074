/**
 * The wire protocol between master and node (DESIGN.md §4). JSON only, one object per line,
 * never evaluated. Master to node: one StartMessage on stdin, then stdin stays open until the
 * master is done with the job. Node to master: NodeMessages on the channel's stdout (fd 3 of
 * the node process).
 */
import { ProtocolError } from '../errors.js';
import { usageOf, type JobUsage } from './job-usage.js';

export const PROTOCOL_VERSION = 1;

/** A job's outputs, all its outputs messages together as JSON, arrive whole up to this size; past it the job fails with `outputs-too-large`. */
export const MAX_OUTPUTS_BYTES = 16 * 1024 * 1024;
/** A log message longer than this is cut (on a character boundary) and marked with the bytes dropped; as long as an output line. */
export const MAX_LOG_MESSAGE_BYTES = 64 * 1024;
/** The longest message line the master reads from a node: the largest outputs, and room for the envelope. */
export const MAX_MESSAGE_LINE_BYTES = MAX_OUTPUTS_BYTES + 64 * 1024;

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export type LogLevel = 'error' | 'warn' | 'info' | 'verbose' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'verbose', 'debug'];

export interface StartMessage {
  v: number;
  type: 'start';
  job: string;
  args: JsonValue[];
  /** The most verbose level the master wants; the node drops finer records at the source. */
  logLevel: LogLevel;
  /** Variables set before run(): they travel here rather than on the command line, where `ps` shows them. */
  env?: Record<string, string>;
}

export interface LogMessage {
  type: 'log';
  job: string;
  level: LogLevel;
  message: string;
  meta?: Record<string, JsonValue>;
  /** Bytes cut from the end of the message (it was longer than MAX_LOG_MESSAGE_BYTES). */
  cut?: number;
}

export interface OutputsMessage {
  type: 'outputs';
  job: string;
  outputs: Record<string, JsonValue>;
}

export interface ExceptionMessage {
  type: 'exception';
  job: string;
  name: string;
  message: string;
  stack?: string;
  /** What the job used up to the exception (its end), when the runtime measured it. */
  usage?: JobUsage;
}

export interface ResultMessage {
  type: 'result';
  job: string;
  returncode: number;
  /** The job's CPU and peak memory on its host, when the runtime measured them. */
  usage?: JobUsage;
}

export type NodeMessage = LogMessage | OutputsMessage | ExceptionMessage | ResultMessage;

/** `text` cut to at most `maxBytes` of UTF-8, on a character boundary, and how many bytes were cut. */
export function cutText(text: string, maxBytes: number): { text: string; cut: number } {
  // Each UTF-16 unit is at most 3 bytes: a text this short cannot be over.
  if (text.length * 3 <= maxBytes) return { text, cut: 0 };
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return { text, cut: 0 };
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return { text: bytes.toString('utf8', 0, end), cut: bytes.length - end };
}

export function encodeMessage(message: StartMessage | NodeMessage): string {
  return JSON.stringify(message) + '\n';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parse and check one line from a node. Throws ProtocolError saying what was wrong. */
export function decodeNodeMessage(line: string): NodeMessage {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new ProtocolError('not a JSON object');
  }
  if (!isRecord(value)) throw new ProtocolError('not a JSON object');
  if (typeof value.job !== 'string') throw new ProtocolError('message without a string "job"');
  switch (value.type) {
    case 'log':
      if (typeof value.message !== 'string') throw new ProtocolError('log message without a string "message"');
      if (!LOG_LEVELS.includes(value.level as LogLevel)) throw new ProtocolError(`log message with unknown level ${JSON.stringify(value.level)}`);
      if (value.meta !== undefined && !isRecord(value.meta)) throw new ProtocolError('log message whose "meta" is not an object');
      if (value.cut !== undefined && !(Number.isInteger(value.cut) && (value.cut as number) >= 0)) throw new ProtocolError('log message whose "cut" is not a byte count');
      return value as unknown as LogMessage;
    case 'outputs':
      if (!isRecord(value.outputs)) throw new ProtocolError('outputs message whose "outputs" is not an object');
      return value as unknown as OutputsMessage;
    case 'exception': {
      if (typeof value.message !== 'string') throw new ProtocolError('exception message without a string "message"');
      const exception: ExceptionMessage = {
        type: 'exception',
        job: value.job,
        name: typeof value.name === 'string' ? value.name : 'Error',
        message: value.message,
        stack: typeof value.stack === 'string' ? value.stack : undefined,
      };
      const usage = usageOf(value.usage);
      if (usage) exception.usage = usage;
      return exception;
    }
    case 'result': {
      if (!Number.isInteger(value.returncode)) throw new ProtocolError('result message without an integer "returncode"');
      const result: ResultMessage = { type: 'result', job: value.job, returncode: value.returncode as number };
      // A malformed usage is dropped, not a protocol error: a bad measurement must not cost the job its return code.
      const usage = usageOf(value.usage);
      if (usage) result.usage = usage;
      return result;
    }
    default:
      throw new ProtocolError(`unknown message type ${JSON.stringify(value.type)}`);
  }
}

/** Parse and check the start line on the node side. */
export function decodeStartMessage(line: string): StartMessage {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new ProtocolError('the first line on stdin is not JSON; node scripts are started by the pipeline master');
  }
  if (!isRecord(value) || value.type !== 'start') throw new ProtocolError('the first line on stdin is not a start message');
  if (value.v !== PROTOCOL_VERSION) {
    throw new ProtocolError(`master speaks protocol version ${String(value.v)}, this node runtime speaks ${PROTOCOL_VERSION}; deploy the same framework version on master and hosts`);
  }
  if (typeof value.job !== 'string' || !Array.isArray(value.args)) throw new ProtocolError('start message without "job" and "args"');
  const logLevel = LOG_LEVELS.includes(value.logLevel as LogLevel) ? (value.logLevel as LogLevel) : 'debug';
  if (value.env !== undefined && !(isRecord(value.env) && Object.values(value.env).every((v) => typeof v === 'string'))) {
    throw new ProtocolError('start message whose "env" is not an object of strings');
  }
  const start: StartMessage = { v: PROTOCOL_VERSION, type: 'start', job: value.job, args: value.args as JsonValue[], logLevel };
  if (value.env !== undefined) start.env = value.env as Record<string, string>;
  return start;
}
