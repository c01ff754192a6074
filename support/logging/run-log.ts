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
import type { LogLevel } from '../protocol/messages.js';
import { enableDirectLog } from './direct-log.js';
import { consoleLine, logFileLine } from './log-lines.js';
import { LOG_BACKLOG_BYTES, SinkPressure, type LogPressure } from './log-pressure.js';
import { LineTransport } from './sync-transport.js';

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
  /** Hears why the log file (or the JSON file) could not be written; the run goes on. */
  onFileError?: (error: Error) => void;
}

export interface RunLog {
  logger: Logger;
  logFile?: string;
  jsonFile?: string;
  /** Job output pauses while this is backlogged, so a flooding node cannot fill the master's memory. */
  pressure: LogPressure;
  /** Writes nothing more to the files (the records failed): the console goes on. */
  stopFiles(): void;
  close(): Promise<void>;
}

/** Records the logger may hold queued before job output is paused. */
const LOGGER_BACKLOG_RECORDS = 10_000;

/** The root logger's own format: none. Each transport formats; winston's default would JSON-encode every record for nobody. */
const passThrough: winston.Logform.Format = { transform: (info) => info };

const jsonFormat = winston.format.combine(winston.format.timestamp(), winston.format.json());

function fileStream(path: string, onError: (error: Error) => void): WriteStream {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  return createWriteStream(path, { flags: 'a', mode: 0o600 }).on('error', onError);
}

export function wantsColor(stream: Writable): boolean {
  return Boolean((stream as NodeJS.WriteStream).isTTY) && !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb';
}

export function openRunLog(options: RunLogOptions): RunLog {
  const consoleStream = options.console ?? process.stderr;
  const color = options.color ?? wantsColor(consoleStream);
  const colorizer = winston.format.colorize();
  const transports: winston.transport[] = [
    new LineTransport(consoleStream, options.consoleLevel, (info) => consoleLine(info, color, colorizer)),
  ];
  const files: WriteStream[] = [];
  const onFileError = (error: Error) => options.onFileError?.(error);
  if (options.logFile) {
    const stream = fileStream(options.logFile, onFileError);
    files.push(stream);
    transports.push(new LineTransport(stream, 'debug', logFileLine));
  }
  if (options.jsonFile) {
    const stream = fileStream(options.jsonFile, onFileError);
    files.push(stream);
    transports.push(new winston.transports.Stream({ stream, level: 'debug', format: jsonFormat }));
  }
  transports.push(...(options.transports ?? []));
  // No defaultMeta on the root: it would override the {host, job} of the children.
  const logger = winston.createLogger({ level: 'debug', levels: winston.config.npm.levels, format: passThrough, transports, exitOnError: false });
  enableDirectLog(logger);
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
    stopFiles() {
      for (const stream of files) stream.destroy(); // a destroyed stream drops what is written to it
    },
    close() {
      closing ??= (async () => {
        const finished = transports.map((transport) => once(transport, 'finish'));
        logger.end();
        await Promise.all(finished);
        await Promise.all(files.map(async (stream) => {
          if (stream.closed) return;
          // Not once(): it rejects on 'error', and a file that could not be written is the records' problem, reported already.
          await new Promise<void>((resolve) => stream.once('close', () => resolve()).end());
        }));
      })();
      return closing;
    },
  };
}
