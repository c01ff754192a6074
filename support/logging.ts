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
}

export interface RunLog {
  logger: Logger;
  logFile?: string;
  jsonFile?: string;
  close(): Promise<void>;
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

const fileFormat = winston.format.printf((info) => {
  const stamp = new Date().toISOString().replace('T', ' ').slice(0, 23);
  return `${stamp} ${info.level.toUpperCase().padEnd(LEVEL_WIDTH)} ${prefix(info)}${String(info.message)}${cutNote(info)}${extraMeta(info)}`;
});

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
  // No defaultMeta on the root: it would override the {host, job} of the children.
  const logger = winston.createLogger({ level: 'debug', levels: winston.config.npm.levels, transports, exitOnError: false });
  let closing: Promise<void> | undefined;
  return {
    logger,
    logFile: options.logFile,
    jsonFile: options.jsonFile,
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
