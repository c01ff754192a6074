/**
 * Central logging (DESIGN.md §6): one winston root logger per run, a child per job carrying
 * {host, job}. Transports: the console for people, a per-run text file, and JSON lines for
 * machines. `close()` waits until every line is on disk.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import winston from 'winston';
import type { LogLevel } from './protocol.js';

export type Logger = winston.Logger;

export interface RunLogOptions {
  /** Most verbose level shown on the console. */
  consoleLevel: LogLevel;
  /** Where people read the log; default stderr, so stdout stays for outputs and --json. */
  console?: Writable;
  color?: boolean;
  /** Plain-text log of the run, at debug level. */
  logFile?: string;
  /** The same records as JSON lines. */
  jsonFile?: string;
  /** More transports (the per-job logs), closed with the rest. */
  transports?: winston.transport[];
  /** More streams whose backlog pauses job output, looked up each time (they come and go). */
  moreSinks?: () => Writable[];
}

/** Back-pressure from the log sinks: job output is read no faster than the log is written. */
export interface LogPressure {
  /** True while the console, a log file or the logger itself holds more unwritten output than it should. */
  readonly backlogged: boolean;
  /** Resolves once no sink is behind any more; at once for a sink that closed or failed. */
  drained(): Promise<void>;
}

export interface RunLog {
  logger: Logger;
  logFile?: string;
  jsonFile?: string;
  /** Job output pauses while this is backlogged, so a flooding node cannot fill the master's memory. */
  pressure: LogPressure;
  close(): Promise<void>;
}

/** Unwritten bytes the console or a log file may hold before job output is paused. */
export const LOG_BACKLOG_BYTES = 8 * 1024 * 1024;
/** Records the logger may hold queued before job output is paused. */
const LOGGER_BACKLOG_RECORDS = 10_000;
/** A waiting sink is looked at again after this long, in case it went quiet without an event. */
const DRAIN_RECHECK_MS = 1000;

interface Sink {
  stream: Writable;
  /** writableLength above which the sink is behind: bytes, or records for an object-mode stream. */
  limit: number;
}

function isBehind(sink: Sink): boolean {
  return !sink.stream.destroyed && sink.stream.writableLength > sink.limit;
}

/** Resolves on the sink's next 'drain', 'finish' or 'close', or after DRAIN_RECHECK_MS. */
function nextChange(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const events = ['drain', 'finish', 'close'] as const;
    const done = () => {
      clearTimeout(timer);
      for (const event of events) stream.off(event, done);
      resolve();
    };
    const timer = setTimeout(done, DRAIN_RECHECK_MS);
    for (const event of events) stream.on(event, done);
  });
}

class SinkPressure implements LogPressure {
  readonly #fixed: readonly Sink[];
  readonly #more: () => Writable[];
  /** One wait shared by every paused job, so a sink gets one set of listeners, not one per job. */
  #waiting: Promise<void> | undefined;

  constructor(sinks: readonly Sink[], more: () => Writable[] = () => []) {
    this.#fixed = sinks;
    this.#more = more;
  }

  get #sinks(): Sink[] {
    return [...this.#fixed, ...this.#more().map((stream) => ({ stream, limit: LOG_BACKLOG_BYTES }))];
  }

  get backlogged(): boolean {
    return this.#sinks.some(isBehind);
  }

  drained(): Promise<void> {
    this.#waiting ??= this.#wait().finally(() => {
      this.#waiting = undefined;
    });
    return this.#waiting;
  }

  async #wait(): Promise<void> {
    for (let sink = this.#sinks.find(isBehind); sink; sink = this.#sinks.find(isBehind)) await nextChange(sink.stream);
  }
}

const LEVEL_WIDTH = 7;
const HIDDEN_META = new Set(['host', 'job', 'level', 'message', 'timestamp', 'cut', 'stream']);

function prefix(info: winston.Logform.TransformableInfo): string {
  const host = info.host as string | undefined;
  const job = info.job as string | undefined;
  if (!host && !job) return '';
  return `${host ?? ''}${job ? '#' + job : ''} `;
}

function cutNote(info: winston.Logform.TransformableInfo): string {
  return info.cut ? ` [line cut: ${String(info.cut)} more bytes dropped]` : '';
}

function extraMeta(info: winston.Logform.TransformableInfo): string {
  const extra: Record<string, unknown> = {};
  let any = false;
  for (const key of Object.keys(info)) {
    if (HIDDEN_META.has(key)) continue;
    extra[key] = info[key];
    any = true;
  }
  return any ? ' ' + JSON.stringify(extra) : '';
}

function clock(date: Date): string {
  return date.toISOString().slice(11, 19);
}

const consoleFormat = (color: boolean) => {
  const colorizer = winston.format.colorize();
  return winston.format.printf((info) => {
    const level = info.level.toUpperCase().padEnd(LEVEL_WIDTH);
    const shown = color ? colorizer.colorize(info.level, level) : level;
    return `${clock(new Date())} ${shown} ${prefix(info)}${String(info.message)}${cutNote(info)}`;
  });
};

/** A record as a line of a log file: time, level, host#job, message, metadata. */
export function fileLine(info: winston.Logform.TransformableInfo): string {
  const stamp = new Date().toISOString().replace('T', ' ').slice(0, 23);
  return `${stamp} ${info.level.toUpperCase().padEnd(LEVEL_WIDTH)} ${prefix(info)}${String(info.message)}${cutNote(info)}${extraMeta(info)}`;
}

const fileFormat = winston.format.printf(fileLine);

const jsonFormat = winston.format.combine(winston.format.timestamp(), winston.format.json());

function fileStream(path: string): WriteStream {
  mkdirSync(dirname(path), { recursive: true });
  return createWriteStream(path, { flags: 'a' });
}

export function wantsColor(stream: Writable): boolean {
  return Boolean((stream as NodeJS.WriteStream).isTTY) && !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb';
}

export function openRunLog(options: RunLogOptions): RunLog {
  const consoleStream = options.console ?? process.stderr;
  const transports: winston.transport[] = [
    new winston.transports.Stream({
      stream: consoleStream,
      level: options.consoleLevel,
      format: consoleFormat(options.color ?? wantsColor(consoleStream)),
    }),
  ];
  const files: WriteStream[] = [];
  if (options.logFile) {
    const stream = fileStream(options.logFile);
    files.push(stream);
    transports.push(new winston.transports.Stream({ stream, level: 'debug', format: fileFormat }));
  }
  if (options.jsonFile) {
    const stream = fileStream(options.jsonFile);
    files.push(stream);
    transports.push(new winston.transports.Stream({ stream, level: 'debug', format: jsonFormat }));
  }
  transports.push(...(options.transports ?? []));
  // No defaultMeta on the root: it would override the {host, job} of the children.
  const logger = winston.createLogger({ level: 'debug', levels: winston.config.npm.levels, transports, exitOnError: false });
  // The console too: process.stderr on a pipe writes asynchronously and buffers without bound behind a slow reader.
  const pressure = new SinkPressure([
    { stream: logger, limit: LOGGER_BACKLOG_RECORDS },
    ...[consoleStream, ...files].map((stream) => ({ stream, limit: LOG_BACKLOG_BYTES })),
  ], options.moreSinks);
  let closing: Promise<void> | undefined;
  return {
    logger,
    logFile: options.logFile,
    jsonFile: options.jsonFile,
    pressure,
    close() {
      closing ??= (async () => {
        const finished = transports.map((transport) => once(transport, 'finish'));
        logger.end();
        await Promise.all(finished);
        await Promise.all(files.map(async (stream) => {
          stream.end();
          await once(stream, 'close');
        }));
      })();
      return closing;
    },
  };
}
